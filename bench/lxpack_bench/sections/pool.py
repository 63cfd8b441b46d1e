"""Section 6, standby pools (`lxpack.pool`): warm deploys, where a deploy claims a
standby started ahead of time, against the raw CLI sequence; 8 warm deploys at once
against a pool of 8; what an idle standby holds (memory, disk); and the time to refill
a pool of 8.

Every timed warm deploy starts on an idle daemon with a full pool: the harness waits,
untimed, until the background fill the previous deploy started has ended (no `pool
fill` of the bench's store runs, `lxpack pool list` shows the pool's standbys ready and
none starting). Everything the section creates is drained (per app and project) at its
end, on failure and Ctrl-C too; the run's cleanup then removes any instance left in the
bench projects."""

from __future__ import annotations

import os
import re
import signal
import tempfile
import time
from pathlib import Path

from ..constants import DEPLOY_IMAGE_JOB
from ..proc import json_lines, log, reap, run, spawn, step_seconds, tail, timed
from ..sides.cli import cli_deploy
from ..sides.lxpack import check_clean
from ..stalls import note_lxpack
from ..stats import median, ratio, rnd, summarize

# The size of the pool that 8 concurrent deploys draw from, and that is refilled.
POOL_OF = 8
# How long a fill may take before the harness gives up on it (Debian on a dir pool
# copies its image once per standby).
FILL_TIMEOUT = 900.0
STANDBY_PREFIX = "lxpack-standby-"


class PoolError(Exception):
    """lxpack's pool did not reach the state the measurement needs (a fill failed or
    never ended): the row stops there, with this as its error."""


# --- the pool through lxpack's own commands ------------------------------------------

def fills_running(lx) -> list:
    """Pids of the `lxpack pool fill` processes of this run's store: the background fills
    that deploys start (detached, their own process group) and the harness's own."""
    store = str(lx.store)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if store in args and any(a == "pool" and b == "fill" for a, b in zip(args, args[1:])):
            pids.append(int(entry.name))
    return pids


def fill_log_tail(lx, lines=8) -> str:
    path = lx.store.parent / "jobs" / "pool-fill.log"
    try:
        return tail(path.read_text(errors="replace"), lines)
    except OSError:
        return f"({path} not found)"


def pool_status(lx, config, app) -> list:
    """The app's pools as `lxpack --json pool list APP` shows them."""
    proc = run(lx.argv(config, "pool", "list", app), env=lx.env, check=False, timeout=120)
    if proc.returncode != 0:
        raise PoolError(f"`lxpack pool list {app}` exited {proc.returncode}: {tail(proc.stderr)}")
    for event in json_lines(proc.stdout):
        if event.get("event") == "result":
            return event.get("pools") or []
    raise PoolError(f"`lxpack pool list {app}` printed no result: {tail(proc.stdout)}")


def counts(pools) -> dict:
    found = {}
    for pool in pools:
        for standby in pool.get("standbys") or []:
            found[standby["state"]] = found.get(standby["state"], 0) + 1
    return found


def ready_standbys(pools) -> list:
    return [s["instance"] for pool in pools for s in pool.get("standbys") or [] if s["state"] == "ready"]


def wait_pool(lx, config, app, size, timeout=FILL_TIMEOUT) -> float:
    """Waits until no fill of the store runs and the app has `size` ready standbys and
    none starting: the seconds it waited. PoolError when the fills ended without that,
    or after `timeout`."""
    start = time.monotonic()
    while True:
        running = fills_running(lx)
        found = counts(pool_status(lx, config, app))
        if not running and found.get("starting", 0) == 0:
            if found.get("ready", 0) >= size:
                return time.monotonic() - start
            raise PoolError(f"the fills of {app} ended with {found} (want {size} ready); "
                            f"pool-fill.log: {fill_log_tail(lx)}")
        if time.monotonic() - start > timeout:
            raise PoolError(f"the pool of {app} is not full after {timeout:.0f} s "
                            f"(fills running: {running}, standbys: {found}); "
                            f"pool-fill.log: {fill_log_tail(lx)}")
        time.sleep(0.2)


def fill(lx, config, app, size=None):
    """`lxpack pool fill APP --checkout DIR [--size N]`, the checkout owned like the
    deploys' (on LXD the pool is keyed by the owner): (seconds, its result event)."""
    argv = lx.argv(config, "pool", "fill", app, "--checkout", str(lx.checkout("noop")))
    if size is not None:
        argv += ["--size", str(size)]
    seconds, proc = timed(argv, env=lx.env, timeout=FILL_TIMEOUT)
    if proc.returncode != 0:
        raise PoolError(f"`lxpack pool fill {app}` exited {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
    result = next((e for e in json_lines(proc.stdout) if e.get("event") == "result"), {})
    return seconds, result


def app_standbys(daemon, project, app) -> list:
    """The standbys of `app` (its name) in `project`, whatever their state: the instances
    labelled with lxpack's standby mark and the app (`user.lxpack.app`: NAME/ENV/ROLE)."""
    found = []
    for instance in daemon.query(f"/1.0/instances?project={project}&recursion=1", check=False) or []:
        config = instance.get("config") or {}
        if config.get("user.lxpack.standby") and config.get("user.lxpack.app", "").split("/")[0] == app:
            found.append(instance["name"])
    return found


def drain(daemon, lx, config, project, app, timeout=120.0) -> list:
    """`lxpack pool drain APP`, then waits until the project holds none of the app's
    standbys (a drained standby is stopped, and deleted as an ephemeral instance):
    problems seen."""
    problems = []
    proc = run(lx.argv(config, "pool", "drain", app), env=lx.env, check=False, timeout=600)
    if proc.returncode != 0:
        problems.append(f"`lxpack pool drain {app}` ({project}) exited {proc.returncode}: "
                        f"{tail(proc.stderr or proc.stdout)}")
    deadline = time.monotonic() + timeout
    while True:
        left = app_standbys(daemon, project, app)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if left:
        problems.append(f"{project}: standbys still there {timeout:.0f} s after `lxpack pool drain "
                        f"{app}`: {left}")
    return problems


def settle_fills(lx, timeout=300.0):
    """Waits for the store's fills to end; after `timeout` (an interrupted run) stops
    them, by pid: they are this run's."""
    deadline = time.monotonic() + timeout
    while (pids := fills_running(lx)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in fills_running(lx):
        log(f"  stopping pool fill {pid} (still running after {timeout:.0f} s)")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 60
    while fills_running(lx) and time.monotonic() < deadline:
        time.sleep(0.5)


# --- deploys ---------------------------------------------------------------------------

def events_of(stdout):
    """(claimed standby or None, cold-start reason or None) from a deploy's events."""
    claimed = cold = None
    for event in json_lines(stdout):
        if event.get("event") == "standby_claimed":
            claimed = event.get("instance")
        elif event.get("event") == "cold_start":
            cold = event.get("reason") or "cold start"
    return claimed, cold


def warm_deploy(lx, config, app, module="noop"):
    """One deploy that should claim a standby: (seconds or None, error, steps, claimed
    instance, cold-start reason)."""
    seconds, proc = timed(lx.deploy_argv(config, app, module), env=lx.env, timeout=900)
    steps = step_seconds(proc.stdout)
    note_lxpack(proc.stdout, proc.stderr, proc.returncode == 0, steps)
    claimed, cold = events_of(proc.stdout)
    if proc.returncode != 0:
        return None, f"lxpack deploy exited {proc.returncode}: {tail(proc.stderr)}", steps, claimed, cold
    return seconds, None, steps, claimed, cold


def burst(lx, config, app, k):
    """k deploys at once (modules m1…mk): (seconds or None, errors, claimed, cold)."""
    start = time.monotonic()
    procs = []
    for i in range(1, k + 1):
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        procs.append((spawn(lx.deploy_argv(config, app, f"m{i}"), env=lx.env, stdout=out, stderr=err),
                      out, err))
    for proc, _, _ in procs:
        reap(proc, timeout=1800)
    seconds = time.monotonic() - start
    errors, claimed, cold = [], [], []
    for proc, out, err in procs:
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        out.close()
        err.close()
        note_lxpack(stdout, stderr, proc.returncode == 0)
        got, why = events_of(stdout)
        if got:
            claimed.append(got)
        if why:
            cold.append(why)
        if proc.returncode != 0:
            errors.append(f"exit {proc.returncode}: {tail(stderr)}")
    return (None if errors else seconds), errors, claimed, cold


def check_after(daemon, project, claimed, notes, context, grace):
    """After warm deploys: the instances they claimed are gone (`grace`: how long the
    daemon may take to finish a stop left to it, cleanup: background), and no job's
    instance or profile is left. Standbys waiting in the pool are not leftovers."""
    check_clean(daemon, project, notes, context, grace, is_leftover=lambda n: (
        n in claimed or (n.startswith("lxpack-") and not n.startswith(STANDBY_PREFIX))))


def step_medians(steps):
    return {name: rnd(median([s.get(name) for s in steps])) for name in sorted({k for s in steps for k in s})}


# --- what a standby holds -----------------------------------------------------------

def storage_driver(daemon, pool, cache={}):
    key = (daemon.kind, pool)
    if key not in cache:
        cache[key] = (daemon.query(f"/1.0/storage-pools/{pool}", check=False) or {}).get("driver")
    return cache[key]


def standby_cost(daemon, project, name) -> dict:
    """Memory (the daemon's `state.memory.usage`, the instance's cgroup) and disk of one
    running standby: the daemon's `state.disk.root.usage` where it reports one, else on
    a dir pool `du` of its root file system and on btrfs its subvolume's exclusive bytes
    (`btrfs filesystem du`: the blocks it does not share with the image)."""
    state = daemon.query(f"/1.0/instances/{name}/state?project={project}", check=False) or {}
    memory = (state.get("memory") or {}).get("usage")
    disk = ((state.get("disk") or {}).get("root") or {}).get("usage")
    if disk:
        return {"memory_bytes": memory, "disk_bytes": disk, "disk_method": "state.disk"}
    instance = daemon.query(f"/1.0/instances/{name}?project={project}", check=False) or {}
    pool = ((instance.get("expanded_devices") or {}).get("root") or {}).get("pool")
    driver = storage_driver(daemon, pool) if pool else None
    volume = name if project == "default" else f"{project}_{name}"
    path = Path(daemon.socket).parent / "storage-pools" / str(pool) / "containers" / volume
    disk, method = None, None
    if driver == "dir" and path.is_dir():
        proc = run(["du", "-sx", "--block-size=1", str(path)], check=False, timeout=600)
        if proc.returncode == 0 and proc.stdout.split():
            disk, method = int(proc.stdout.split()[0]), "du"
    elif driver == "btrfs" and path.is_dir():
        proc = run(["btrfs", "filesystem", "du", "-s", "--raw", str(path)], check=False, timeout=600)
        # "     Total   Exclusive  Set shared  Filename" then the figures.
        figures = [line.split() for line in proc.stdout.splitlines() if line.strip().endswith(str(path))]
        if proc.returncode == 0 and figures and re.fullmatch(r"\d+", figures[-1][1]):
            disk, method = int(figures[-1][1]), "btrfs exclusive"
    return {"memory_bytes": memory, "disk_bytes": disk, "disk_method": method or f"unknown ({driver})"}


# --- the section ------------------------------------------------------------------------

def measure_warm(daemon, lx, project, pool, image, runs, notes):
    """Warm deploys with cleanup: wait and cleanup: background against the CLI sequence,
    interleaved, after one warm-up: one row."""
    app = f"bench-{image}"
    configs = {mode: lx.config(project, cleanup=mode, pool_size=1) for mode in ("wait", "background")}
    log(f"pool: warm deploys, {image} on {pool} ({runs} runs each, interleaved, 1 warm-up)")
    samples = {"cli": [], "wait": [], "background": []}
    steps = {"wait": [], "background": []}
    cold_runs = {"wait": 0, "background": 0}
    waits = []
    errors = []
    fill(lx, configs["wait"], app)
    wait_pool(lx, configs["wait"], app, 1)
    sides = ("cli", "wait", "background")
    for i in range(runs + 1):
        warm_up = i == 0
        for side in sides[i % 3:] + sides[:i % 3]:
            if side == "cli":
                seconds, error, _ = cli_deploy(daemon, project, DEPLOY_IMAGE_JOB[image])
                if not warm_up:
                    samples["cli"].append(seconds)
            else:
                config = configs[side]
                wait_pool(lx, config, app, 1)
                seconds, error, step, claimed, cold = warm_deploy(lx, config, app)
                if error is None and not claimed:
                    error = f"started cold ({cold}) with a ready standby in the pool"
                    cold_runs[side] += 0 if warm_up else 1
                    seconds = None
                check_after(daemon, project, {claimed} if claimed else set(), notes,
                            f"pool warm deploy {image}/{pool} ({side})",
                            grace=30.0 if side == "background" else 0.0)
                # Untimed: the refill this deploy started, so the next run starts on an
                # idle daemon with a full pool.
                waits.append(wait_pool(lx, config, app, 1))
                if not warm_up:
                    samples[side].append(seconds)
                    if step and seconds is not None:
                        steps[side].append(step)
            if error:
                errors.append(f"warm {image}/{pool} {side}{' (warm-up)' if warm_up else ''}: {error}")
                log(f"  {side} failed: {error}")
            elif not warm_up:
                log(f"  run {i}: {'CLI' if side == 'cli' else f'warm, cleanup: {side}'} {seconds:.2f} s")
    cli = summarize(samples["cli"])
    row = {"image": image, "pool": pool, "project": project, "cli": cli, "errors": errors,
           "refill_wait_median": rnd(median(waits))}
    for mode in ("wait", "background"):
        lx_sum = summarize(samples[mode])
        row[mode] = {
            "lxpack": lx_sum,
            "ratio": ratio(lx_sum["median"], cli["median"]),
            "cold_runs": cold_runs[mode],
            "steps": step_medians(steps[mode]),
        }
    return row


def measure_burst(daemon, lx, project, runs, notes, deploys=POOL_OF):
    """`deploys` warm deploys at once against a pool of as many, against one warm deploy
    from the same pool, rounds interleaved after one warm-up of each, per cleanup mode."""
    image = "busybox"
    app = f"bench-{image}"
    log(f"pool: {deploys} warm deploys at once against a pool of {deploys}, {image} on {project} "
        f"({runs} runs, interleaved, 1 warm-up)")
    rows = []
    errors = []
    for mode in ("wait", "background"):
        config = lx.config(project, cleanup=mode, pool_size=deploys)
        fill(lx, config, app)
        wait_pool(lx, config, app, deploys)
        samples = {1: [], deploys: []}
        claimed_counts = {1: [], deploys: []}
        for i in range(runs + 1):
            warm_up = i == 0
            for k in ((1, deploys) if i % 2 == 0 else (deploys, 1)):
                wait_pool(lx, config, app, deploys)
                seconds, failed, claimed, cold = burst(lx, config, app, k)
                check_after(daemon, project, set(claimed), notes, f"pool burst x{k} ({mode})",
                            grace=30.0 if mode == "background" else 0.0)
                wait_pool(lx, config, app, deploys)
                if cold:
                    errors.append(f"x{k}, cleanup: {mode}: {len(cold)} of {k} started cold: {cold[0]}")
                errors.extend(f"x{k}, cleanup: {mode}: {f}" for f in failed)
                if failed:
                    log(f"  x{k} ({mode}) failed: {failed}")
                if warm_up:
                    continue
                samples[k].append(seconds)
                claimed_counts[k].append(len(claimed))
                if seconds is not None:
                    log(f"  run {i}: x{k}, cleanup: {mode} {seconds:.2f} s ({len(claimed)} claimed)")
        one, many = summarize(samples[1]), summarize(samples[deploys])
        rows.append({
            "cleanup": mode,
            "one": one,
            "many": many,
            "ratio": ratio(many["median"], one["median"]),
            "claimed": claimed_counts[deploys],
            "one_claimed": claimed_counts[1],
        })
        errors += drain(daemon, lx, config, project, app)
    return {"image": image, "project": project, "deploys": deploys, "rows": rows, "errors": errors}


def measure_refill(daemon, lx, project, pool, image, runs, notes, size=POOL_OF):
    """Drain, then `lxpack pool fill APP --size 8` timed until it exits, `runs` times; the
    memory and disk of each standby of the last fill."""
    app = f"bench-{image}"
    config = lx.config(project, pool_size=size)
    log(f"pool: refill of {size}, {image} on {pool} ({runs} runs), then what each standby holds")
    samples, errors = [], []
    for i in range(runs):
        errors += drain(daemon, lx, config, project, app)
        seconds, result = fill(lx, config, app, size)
        started = sum(len(p.get("started") or []) for p in result.get("pools") or [])
        failures = [f for p in result.get("pools") or [] for f in p.get("failures") or []]
        errors += [f"refill {image}/{pool}: {f}" for f in failures]
        wait_pool(lx, config, app, size, timeout=60)
        samples.append(seconds if started == size and not failures else None)
        log(f"  run {i + 1}: refill of {size} in {seconds:.2f} s ({started} started)")
    time.sleep(2)  # let the last ones settle before their memory is read
    names = ready_standbys(pool_status(lx, config, app))
    costs = [standby_cost(daemon, project, name) for name in names]
    errors += drain(daemon, lx, config, project, app)
    memory = [c["memory_bytes"] for c in costs]
    disk = [c["disk_bytes"] for c in costs]
    return {
        "image": image, "pool": pool, "project": project, "size": size,
        "refill": summarize(samples),
        "standbys_measured": len(costs),
        "memory_bytes_median": median(memory),
        "memory_bytes": memory,
        "disk_bytes_median": median(disk),
        "disk_bytes": disk,
        "disk_method": ", ".join(sorted({c["disk_method"] for c in costs})) or None,
        "errors": errors,
    }


def measure_pool(daemon, lx, projects, runs, notes):
    """The whole section on one daemon: {warm, burst, standbys, errors}; None without
    lxpack (the section has no CLI side of its own)."""
    if not lx.available:
        return None
    result = {"pool_of": POOL_OF, "warm": [], "burst": None, "standbys": [], "errors": []}
    try:
        for pool, project in projects.items():
            for image in ("busybox", "debian"):
                try:
                    result["warm"].append(measure_warm(daemon, lx, project, pool, image, runs, notes))
                except PoolError as error:
                    result["errors"].append(f"warm {image}/{pool}: {error}")
                    log(f"  pool error: {error}")
                result["errors"] += cleanup_app(daemon, lx, project, f"bench-{image}")
                try:
                    result["standbys"].append(measure_refill(daemon, lx, project, pool, image,
                                                             max(1, min(runs, 3)), notes))
                except PoolError as error:
                    result["errors"].append(f"refill {image}/{pool}: {error}")
                    log(f"  pool error: {error}")
                result["errors"] += cleanup_app(daemon, lx, project, f"bench-{image}")
        try:
            result["burst"] = measure_burst(daemon, lx, projects["dir"], runs, notes)
        except PoolError as error:
            result["errors"].append(f"burst: {error}")
            log(f"  pool error: {error}")
    finally:
        # On failure and Ctrl-C too: the fills end (or are stopped), then every bench
        # app's pool in every project is drained.
        for pool, project in projects.items():
            for image in ("busybox", "debian"):
                result["errors"] += cleanup_app(daemon, lx, project, f"bench-{image}")
    for row in result["warm"]:
        result["errors"] += row["errors"]
    for row in result["standbys"]:
        result["errors"] += row["errors"]
    if result["burst"]:
        result["errors"] += result["burst"]["errors"]
    return result


def cleanup_app(daemon, lx, project, app) -> list:
    """Lets the store's fills end, then drains `app`'s pool in `project`."""
    settle_fills(lx)
    problems = drain(daemon, lx, lx.config(project), project, app)
    for problem in problems:
        log(f"  {problem}")
    return problems
