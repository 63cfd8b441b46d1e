"""Section 7, dependency caches and step snapshots (issue 15), per pool (dir, btrfs):

- **build**: a deploy whose buildpack compiles the SQLite amalgamation with ccache into
  the module's declared cache (`lxpack.cache.apps`): the first deploy after `lxpack cache
  purge APP --module M` (empty cache) against the second (warm cache). Each run is purge
  + first + second.
- **overhead**: the same no-op buildpack with the module's cache declared and not
  declared: the ccache of the build above (small), and a dependency cache of realistic
  size (about 90 MB, filled by an untimed deploy first). Interleaved, after one warm-up.
- **buildimage**: an app whose `pre_buildimage` hook builds SQLite (tens of seconds) and
  whose `post_buildimage` hook writes a marker that changes every build: `lxpack
  buildimage --no-cache` (cold), then again with only the post hook changed (warm: it
  resumes after the last unchanged step's snapshot).

The compiler image (CC_ALIAS) is prepared here, not in `prepare`: only this section uses
it. Every deploy is followed, untimed, by a wait until the daemon has deleted its
container (lxpack's default `cleanup: background`), so each starts on an idle daemon.
Everything the section makes (caches, published images, containers) is removed at its
end, on failure and Ctrl-C too."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil

from ..buildpacks import (CACHE_SIZE_MARK, DEPS_BUILDPACK, PRE_BUILDIMAGE_HOOK, SQLITE_BUILDPACK,
                          TRIVIAL_MARK, post_buildimage_hook)
from ..constants import (BTRFS_POOL, CC_ALIAS, CC_IMAGE_JOB, CC_PACKAGES, CCACHE_GUEST_DIR,
                         CHECKOUT_OWNER)
from ..prepare import ensure_cc_image, sqlite_amalgamation, sqlite_version
from ..proc import json_lines, log, run, step_seconds, tail, timed
from ..sides.lxpack import b64, check_clean, new_job_id
from ..stalls import note_lxpack
from ..stats import median, ratio, rnd, summarize

APP = "bench-cc"
IMAGE_APP = "bench-cc-image"
ENV = ROLE = "bench"
SQLITE = "sqlite"
DEPS = "deps"
MODULES = (SQLITE, DEPS)
POOL_OF = {"dir": "default", "btrfs": BTRFS_POOL}
DEPLOY_TIMEOUT = 1800
# How long the daemon may take to delete a container after lxpack's job ended
# (`cleanup: background`): the harness waits for it, untimed.
SETTLE = 120.0


def key(app):
    return f"{app}/{ENV}/{ROLE}"


class CacheError(Exception):
    """A part of the section could not go on (a purge failed, a command is missing): the
    part stops there, with this as its error."""


# --- apps, configs, checkouts ----------------------------------------------------------

def import_apps(lx, config, marker):
    """The deploy app (modules sqlite and deps, on the compiler image through its job
    alias) and the buildimage app, whose post hook writes `marker`."""
    apps = [
        {"name": APP, "env": ENV, "role": ROLE, "region": "local",
         "modules": [{"name": SQLITE, "path": f"/srv/{SQLITE}", "build_pack": b64(SQLITE_BUILDPACK)},
                     {"name": DEPS, "path": f"/srv/{DEPS}", "build_pack": b64(DEPS_BUILDPACK)}],
         "build_infos": {"container_image": CC_IMAGE_JOB}},
        {"name": IMAGE_APP, "env": ENV, "role": ROLE, "region": "local", "modules": [],
         "lifecycle_hooks": {"pre_buildimage": b64(PRE_BUILDIMAGE_HOOK),
                             "post_buildimage": b64(post_buildimage_hook(marker))},
         "build_infos": {"source_container_image": CC_ALIAS}},
    ]
    doc = lx.workdir / "apps-cache.json"
    doc.write_text(json.dumps(apps, indent=2))
    proc = run(lx.argv(config, "app", "import", str(doc), json_view=False), env=lx.env,
               check=False, timeout=120)
    if proc.returncode != 0:
        raise CacheError(f"`lxpack app import` exited {proc.returncode}: {tail(proc.stderr)}")


def configs(lx, project):
    """(the config that declares both modules' caches, the one that declares none); both
    with lxpack's default cleanup, `background`."""
    declared = {"apps": {key(APP): {m: [CCACHE_GUEST_DIR] for m in MODULES}}}
    return (lx.config(project, cleanup="background", cache=declared),
            lx.config(project, cleanup="background"))


def checkouts(lx):
    """{name: directory}: the SQLite module's checkout (sqlite3.c, sqlite3.h), the same
    module's trivial one (a mark that makes its buildpack a no-op), and the deps
    module's (empty). All owned by the checkout owner."""
    sqlite = sqlite_amalgamation()
    found = {"sqlite": lx.checkout("cache-sqlite"), "trivial": lx.checkout("cache-trivial"),
             "deps": lx.checkout("cache-deps")}
    for name in ("sqlite3.c", "sqlite3.h"):
        target = found["sqlite"] / name
        if not target.exists():
            shutil.copyfile(sqlite / name, target)
            target.chmod(0o644)
    mark = found["trivial"] / TRIVIAL_MARK
    mark.touch()
    for path in [*found["sqlite"].iterdir(), mark]:
        os.chown(path, *CHECKOUT_OWNER)
    return found


# --- lxpack's commands -------------------------------------------------------------------

def outputs(stdout) -> str:
    return "".join(e.get("text", "") for e in json_lines(stdout) if e.get("event") == "output")


def cache_size(stdout):
    """(bytes, files) the buildpack printed about its cache, or (None, None)."""
    found = re.findall(rf"{CACHE_SIZE_MARK} (\d+) bytes (\d+) files", outputs(stdout))
    return (int(found[-1][0]), int(found[-1][1])) if found else (None, None)


def empty_restores(stdout) -> int:
    """How many of the job's caches lxpack restored empty (its `cache_restored` events
    without a generation to copy, `from_job`): a warm run should have none."""
    return sum(1 for e in json_lines(stdout) if e.get("event") == "cache_restored" and not e.get("from_job"))


def unsaved(stdout) -> list:
    """Why lxpack did not make the job's copies the caches (`cache_saved` events with
    `saved: false`)."""
    return [f"{e.get('path')}: {e.get('detail')}" for e in json_lines(stdout)
            if e.get("event") == "cache_saved" and e.get("saved") is False]


def deploy(daemon, lx, project, config, module, checkout, notes, context):
    """One `lxpack deploy`, then (untimed) until its container is gone: (seconds or None,
    error, steps, (cache bytes, files) as the buildpack printed them, caches restored
    empty)."""
    argv = lx.argv(config, "deploy", APP, "--module", module, "--checkout", str(checkout))
    seconds, proc = timed(argv, env=lx.env, timeout=DEPLOY_TIMEOUT)
    steps = step_seconds(proc.stdout)
    note_lxpack(proc.stdout, proc.stderr, proc.returncode == 0, steps)
    check_clean(daemon, project, notes, context, grace=SETTLE)
    size = cache_size(proc.stdout)
    empty = empty_restores(proc.stdout)
    for problem in unsaved(proc.stdout):
        notes.append(f"{context}: the cache was not saved: {problem}")
    if proc.returncode != 0:
        return (None, f"lxpack deploy --module {module} exited {proc.returncode}: {tail(proc.stderr)}",
                steps, size, empty)
    return seconds, None, steps, size, empty


def purge(lx, config, app, module=None):
    """`lxpack cache purge APP [--module M]`: seconds; CacheError when it fails."""
    argv = lx.argv(config, "cache", "purge", key(app))
    if module:
        argv += ["--module", module]
    seconds, proc = timed(argv, env=lx.env, timeout=600)
    if proc.returncode != 0:
        raise CacheError(f"`lxpack cache purge {key(app)}{f' --module {module}' if module else ''}` "
                         f"exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
    return seconds


def cache_list(lx, config):
    """`lxpack --json cache list`: its result event (None when it fails)."""
    proc = run(lx.argv(config, "cache", "list"), env=lx.env, check=False, timeout=120)
    if proc.returncode != 0:
        return None
    events = [e for e in json_lines(proc.stdout) if e.get("event") == "result"]
    if events:
        return events[-1]
    try:
        return json.loads(proc.stdout)
    except ValueError:
        return None


def has_cache_command(lx):
    proc = run([str(lx.binary), "cache", "--help"], env=lx.env, check=False, timeout=60)
    return proc.returncode == 0


def has_step_snapshots(lx):
    """Does this lxpack's buildimage know `--no-cache` (step snapshots)?"""
    proc = run([str(lx.binary), "buildimage", "--help"], env=lx.env, check=False, timeout=60)
    return proc.returncode == 0 and "--no-cache" in proc.stdout


def record(samples, errors, i, label, seconds, error) -> bool:
    """Keeps a run's time; notes its error. False when the run failed."""
    samples.append(seconds)
    if error:
        errors.append(f"run {i} {label}: {error}")
        log(f"  run {i}: {label} failed: {error}")
        return False
    return True


def step_medians(steps):
    return {name: rnd(median([s.get(name) for s in steps]))
            for name in sorted({k for s in steps for k in s})}


# --- the measurements ----------------------------------------------------------------------

def measure_build(daemon, lx, project, pool, runs, notes, ck):
    """purge + first deploy (empty cache) + second deploy (warm), `runs` times."""
    declared, _ = configs(lx, project)
    log(f"cache: SQLite with ccache, {pool} pool ({runs} runs: purge, first, second)")
    first, second, first_steps, second_steps, purges, sizes, errors = [], [], [], [], [], [], []
    for i in range(1, runs + 1):
        try:
            purges.append(purge(lx, declared, APP, SQLITE))
        except CacheError as error:
            errors.append(str(error))
            log(f"  {error}")
            first.append(None)
            second.append(None)
            continue
        for samples, steps, label in ((first, first_steps, "first"), (second, second_steps, "second")):
            (ck["sqlite"] / "sqlite3.o").unlink(missing_ok=True)
            seconds, error, step, size, empty = deploy(daemon, lx, project, declared, SQLITE, ck["sqlite"],
                                                       notes, f"cache build {pool} ({label})")
            if label == "second" and empty and not error:
                errors.append(f"run {i} second: lxpack restored the cache empty (no `from_job` in its "
                              "cache_restored event): not a warm run")
            if not record(samples, errors, i, label, seconds, error):
                continue
            steps.append(step)
            if size[0] is not None:
                sizes.append(size)
            log(f"  run {i}: {label} deploy {seconds:.2f} s (buildpack {step.get('buildpack', 0):.2f} s)")
    first_sum, second_sum = summarize(first), summarize(second)
    return {
        "pool": pool, "project": project,
        "first": first_sum, "second": second_sum,
        "speedup": ratio(first_sum["median"], second_sum["median"]),
        "first_steps": step_medians(first_steps), "second_steps": step_medians(second_steps),
        "purge": summarize(purges),
        "cache_bytes": sizes[-1][0] if sizes else None,
        "cache_files": sizes[-1][1] if sizes else None,
        "errors": errors,
    }


def measure_overhead(daemon, lx, project, pool, runs, notes, ck, ccache_size):
    """The no-op buildpack, cache not declared against declared (the SQLite ccache, and
    the ~90 MB dependency cache filled first), interleaved after one warm-up."""
    declared, plain = configs(lx, project)
    log(f"cache: overhead of a declared cache, {pool} pool ({runs} runs each, interleaved, 1 warm-up)")
    errors = []
    purge(lx, declared, APP, DEPS)
    seconds, error, _, deps_size, _ = deploy(daemon, lx, project, declared, DEPS, ck["deps"], notes,
                                             f"cache overhead {pool} (fill)")
    if error:
        raise CacheError(f"filling the deps cache: {error}")
    log(f"  filled the deps cache in {seconds:.2f} s: {deps_size[0]} bytes, {deps_size[1]} files")
    variants = {
        "none": (plain, SQLITE, ck["trivial"]),
        "ccache": (declared, SQLITE, ck["trivial"]),
        "deps": (declared, DEPS, ck["deps"]),
    }
    names = list(variants)
    samples = {n: [] for n in names}
    steps = {n: [] for n in names}
    for i in range(runs + 1):
        warm_up = i == 0
        for name in names[i % 3:] + names[:i % 3]:
            config, module, checkout = variants[name]
            seconds, error, step, _, empty = deploy(daemon, lx, project, config, module, checkout, notes,
                                                    f"cache overhead {pool} ({name})")
            if name != "none" and empty and not error:
                errors.append(f"{name}: lxpack restored the cache empty: it lost its contents")
            if error:
                errors.append(f"{name}{' (warm-up)' if warm_up else ''}: {error}")
                log(f"  {name} failed: {error}")
            if warm_up:
                continue
            samples[name].append(seconds)
            if error is None:
                steps[name].append(step)
                log(f"  run {i}: {name} {seconds:.2f} s")
    sums = {n: summarize(samples[n]) for n in names}
    base = sums["none"]["median"]
    return {
        "pool": pool, "project": project,
        "none": sums["none"], "ccache": sums["ccache"], "deps": sums["deps"],
        "overhead": {n: (None if base is None or sums[n]["median"] is None else rnd(sums[n]["median"] - base))
                     for n in ("ccache", "deps")},
        "steps": {n: step_medians(steps[n]) for n in names},
        "sizes": {"ccache": {"bytes": ccache_size[0], "files": ccache_size[1]},
                  "deps": {"bytes": deps_size[0], "files": deps_size[1]}},
        "errors": errors,
    }


STEPS_KEY = "user.lxpack.steps"
# The pre hook's step as lxpack's `step_finished` events name it (their display name;
# `steps_from_snapshot` names steps by key, `pre_buildimage_hook`).
PRE_STEP = "pre_buildimage hook"


def step_holders(daemon, project) -> list:
    """The instances buildimage left to hold its step snapshots (`user.lxpack.steps`
    set): stopped, kept on purpose until their image goes."""
    return [i["name"] for i in daemon.query(f"/1.0/instances?project={project}&recursion=1", check=False) or []
            if (i.get("config") or {}).get(STEPS_KEY)]


def app_images(daemon) -> list:
    return [i["fingerprint"] for i in daemon.query("/1.0/images?recursion=1", check=False) or []
            if (i.get("properties") or {}).get("lxpack.app") == IMAGE_APP]


def retire_builds(daemon, project):
    """Untimed, between runs and at the end: the image app's published images and step
    holders go, as lxpack's retention would take them with their images."""
    for name in step_holders(daemon, project):
        daemon.delete_instance(project, name)
    for fingerprint in app_images(daemon):
        daemon.delete_image(fingerprint)


def buildimage(daemon, lx, project, config, notes, context, extra=()):
    """`lxpack buildimage IMAGE_APP --job ID [extra]`, then (untimed) the check that it
    left no instance but its step holder: (seconds or None, error, steps, the steps it
    took from a snapshot or None). The image stays (its snapshots go with it) until
    `retire_builds`."""
    job = new_job_id()
    with daemon.lock:
        daemon.images.add(job)
    argv = lx.argv(config, "buildimage", key(IMAGE_APP), "--job", job, *extra)
    seconds, proc = timed(argv, env=lx.env, timeout=DEPLOY_TIMEOUT)
    steps = step_seconds(proc.stdout)
    note_lxpack(proc.stdout, proc.stderr, proc.returncode == 0, steps)
    resumed = None
    for event in json_lines(proc.stdout):
        if event.get("event") == "steps_from_snapshot":
            resumed = list(event.get("steps") or [])
    holders = set(step_holders(daemon, project))
    check_clean(daemon, project, notes, context, grace=SETTLE,
                is_leftover=lambda n: n.startswith("lxpack-") and n not in holders)
    if proc.returncode != 0:
        return None, f"lxpack buildimage exited {proc.returncode}: {tail(proc.stderr)}", steps, resumed
    return seconds, None, steps, resumed


def measure_buildimage(daemon, lx, project, pool, runs, notes):
    """Cold (`--no-cache`) then warm (only the post hook changed), `runs` times; before
    each run, untimed, the previous run's images and step holders go."""
    _, plain = configs(lx, project)
    log(f"cache: buildimage cold (--no-cache) and warm (post hook changed), {pool} pool ({runs} runs)")
    cold, warm, cold_steps, warm_steps, errors = [], [], [], [], []
    warm_ran_pre, warm_resumed = [], []
    try:
        for i in range(1, runs + 1):
            retire_builds(daemon, project)
            token = secrets.token_hex(4)
            for label, samples, steps, extra in (("cold", cold, cold_steps, ["--no-cache"]),
                                                  ("warm", warm, warm_steps, [])):
                import_apps(lx, plain, f"{label}-{i}-{token}")
                seconds, error, step, resumed = buildimage(daemon, lx, project, plain, notes,
                                                           f"cache buildimage {pool} ({label})", extra)
                if not record(samples, errors, i, label, seconds, error):
                    continue
                steps.append(step)
                if label == "warm":
                    warm_ran_pre.append(PRE_STEP in step)
                    warm_resumed.append(resumed or [])
                    if not resumed:
                        errors.append(f"run {i} warm: no `steps_from_snapshot` event: it did not resume")
                pre = step.get(PRE_STEP)
                log(f"  run {i}: {label} buildimage {seconds:.2f} s ("
                    + (f"pre hook {pre:.2f} s" if pre is not None else f"resumed after {resumed}") + ")")
    finally:
        retire_builds(daemon, project)
    cold_sum, warm_sum = summarize(cold), summarize(warm)
    return {
        "pool": pool, "project": project,
        "cold": cold_sum, "warm": warm_sum,
        "speedup": ratio(cold_sum["median"], warm_sum["median"]),
        "cold_steps": step_medians(cold_steps), "warm_steps": step_medians(warm_steps),
        "warm_ran_pre_hook": warm_ran_pre,
        "warm_resumed_steps": warm_resumed,
        "errors": errors,
    }


# --- the section ------------------------------------------------------------------------------

def measure_cache(daemon, lx, projects, runs, notes):
    """The whole section on one daemon; None without lxpack."""
    if not lx.available:
        return None
    sqlite = sqlite_amalgamation()
    result = {"image": CC_ALIAS, "packages": list(CC_PACKAGES), "sqlite_version": sqlite_version(sqlite),
              "sqlite_bytes": (sqlite / "sqlite3.c").stat().st_size, "cache_dir": CCACHE_GUEST_DIR,
              "builds": [], "overhead": [], "buildimage": [], "cache_list": {}, "errors": []}
    if not has_cache_command(lx):
        result["errors"].append(f"{lx.binary} has no `cache` command (issue 15 not in this build): "
                                "the section was not measured")
        log(f"  {result['errors'][-1]}")
        return result
    ensure_cc_image(daemon, notes)
    snapshots = has_step_snapshots(lx)
    ck = checkouts(lx)
    cleaned = set()
    try:
        import_apps(lx, configs(lx, next(iter(projects.values())))[1], "initial")
        for pool, project in projects.items():
            declared, plain = configs(lx, project)
            # Untimed: the image unpacked on this pool, and both caches emptied.
            for module in MODULES:
                purge(lx, declared, APP, module)
            seconds, error, _, _, _ = deploy(daemon, lx, project, plain, SQLITE, ck["trivial"], notes,
                                             f"cache warm-up {pool}")
            if error:
                result["errors"].append(f"{pool}: warm-up: {error}")
            build = None
            try:
                build = measure_build(daemon, lx, project, pool, runs, notes, ck)
                result["builds"].append(build)
            except CacheError as error:
                result["errors"].append(f"{pool}: build: {error}")
                log(f"  cache error: {error}")
            try:
                ccache_size = ((build or {}).get("cache_bytes"), (build or {}).get("cache_files"))
                result["overhead"].append(measure_overhead(daemon, lx, project, pool, runs, notes,
                                                           ck, ccache_size))
            except CacheError as error:
                result["errors"].append(f"{pool}: overhead: {error}")
                log(f"  cache error: {error}")
            # What lxpack says it holds, before the cleanup purges it.
            result["cache_list"][pool] = cache_list(lx, declared)
            if not snapshots:
                result["errors"].append(f"{pool}: buildimage: {lx.binary}'s buildimage has no --no-cache "
                                        "(step snapshots not in this build): not measured")
            else:
                try:
                    result["buildimage"].append(measure_buildimage(daemon, lx, project, pool, runs, notes))
                except CacheError as error:
                    result["errors"].append(f"{pool}: buildimage: {error}")
                    log(f"  cache error: {error}")
            result["errors"] += cleanup(daemon, lx, project, pool)
            cleaned.add(pool)
    finally:
        # On failure and Ctrl-C too.
        for pool, project in projects.items():
            if pool not in cleaned:
                result["errors"] += cleanup(daemon, lx, project, pool)
    for part in ("builds", "overhead", "buildimage"):
        for row in result[part]:
            result["errors"] += [f"{part} {row['pool']}: {e}" for e in row["errors"]]
    return result


def custom_volumes(daemon, project, pool):
    data = daemon.query(f"/1.0/storage-pools/{pool}/volumes/custom?project={project}", check=False) or []
    return [v.split("?", 1)[0].rsplit("/", 1)[-1] for v in data]


def cleanup(daemon, lx, project, pool) -> list:
    """Purges both apps' caches in `project` (the image app's step snapshots too, if
    lxpack keeps them under the app), then deletes any custom volume left in the
    project's pool: problems seen."""
    problems = []
    declared, _ = configs(lx, project)
    for app in (APP, IMAGE_APP):
        try:
            purge(lx, declared, app)
        except CacheError as error:
            if app == APP:
                problems.append(f"{pool}: {error}")
    for volume in custom_volumes(daemon, project, POOL_OF[pool]):
        problems.append(f"{pool}: custom volume {volume} left after `lxpack cache purge` (deleted)")
        daemon.lxc("storage", "volume", "delete", POOL_OF[pool], volume, project=project, check=False)
    for problem in problems:
        log(f"  {problem}")
    return problems
