"""Section 8, the network policy's cost (issue 23): cold deploys of the no-op buildpack
on the busybox image with `lxpack.network.mode` none, egress and open, interleaved
after one warm-up, and warm deploys (a standby claimed) under egress.

They run in the project whose `default` profile has a NIC on the bench's own bridge, as
a host set up with `lxd init --auto` gives every instance: `open` (the daemon's profile
as it is) is a job on that NIC, the baseline; `egress` replaces it by a NIC on lxpack's
bridge with its ACL (and the `network` step, where a new lxpack process makes the daemon
hold them); `none` asks for loopback only. `open` in the project without a NIC
(`open-bare`) is the deploy as it was before the policy, for the record. The first
egress deploy of a run creates the bridge and the ACL if they are absent: the warm-up
takes that. Warm deploys run with the default cleanup (`background`), the target's,
and with `wait`."""

from __future__ import annotations

from ..constants import DEPLOY_IMAGE_JOB
from ..proc import json_lines, log, step_seconds, tail, timed
from ..sides.lxpack import check_clean
from ..stalls import note_lxpack
from ..stats import median, rnd, summarize
from .pool import PoolError, check_after, drain, fill, settle_fills, step_medians, wait_pool, warm_deploy

MODES = ("none", "egress", "open")
# Each variant: (mode, project key of `projects`).
VARIANTS = {"none": ("none", "nic"), "egress": ("egress", "nic"), "open": ("open", "nic"),
            "open-bare": ("open", "dir")}
IMAGE = "busybox"
POOL = "dir"


def network_event(stdout):
    """The mode the job announced (its `network` event), or None."""
    for event in json_lines(stdout):
        if event.get("event") == "network":
            return event.get("mode")
    return None


def cold_deploy(lx, config, app, mode):
    """One cold deploy: (seconds or None, error, steps, stalled launch). A job that
    announced another network mode than `mode` counts as failed."""
    seconds, proc = timed(lx.deploy_argv(config, app, "noop"), env=lx.env, timeout=900)
    steps = step_seconds(proc.stdout)
    stalled = note_lxpack(proc.stdout, proc.stderr, proc.returncode == 0, steps)
    if proc.returncode != 0:
        return None, f"lxpack deploy exited {proc.returncode}: {tail(proc.stderr)}", steps, stalled
    announced = network_event(proc.stdout)
    if announced != mode:
        return None, f"the job announced network mode {announced!r}, not {mode!r}", steps, stalled
    return seconds, None, steps, stalled


def measure_cold(daemon, lx, projects, runs, notes):
    """The variants' cold deploys, interleaved (each goes first in turn), after one
    warm-up of each: {variant: summary}, the differences to `open`, the step medians."""
    app = f"bench-{IMAGE}"
    names = list(VARIANTS)
    configs = {name: lx.config(projects[where], network=mode)
               for name, (mode, where) in VARIANTS.items()}
    log(f"network: cold deploys, {IMAGE} on {POOL} with {', '.join(names)} "
        f"({runs} runs each, interleaved, 1 warm-up)")
    samples = {name: [] for name in names}
    stalled = {name: 0 for name in names}
    steps = {name: [] for name in names}
    errors = []
    for i in range(runs + 1):
        warm_up = i == 0
        turn = i % len(names)
        for name in names[turn:] + names[:turn]:
            mode, where = VARIANTS[name]
            seconds, error, step, stall = cold_deploy(lx, configs[name], app, mode)
            check_clean(daemon, projects[where], notes, f"network cold deploy ({name})")
            if error:
                errors.append(f"cold, {name}{' (warm-up)' if warm_up else ''}: {error}")
                log(f"  {name} failed: {error}")
            if warm_up:
                continue
            samples[name].append(seconds)
            stalled[name] += 1 if stall else 0
            if step and seconds is not None:
                steps[name].append(step)
            if seconds is not None:
                log(f"  run {i}: {name} {seconds:.2f} s")
    cold = {name: summarize(samples[name]) for name in names}
    base = cold["open"]["median"]
    added = {name: (None if base is None or cold[name]["median"] is None
                    else rnd(cold[name]["median"] - base, 4))
             for name in names if name != "open"}
    return {
        "cold": cold,
        "added_to_open": added,
        "stalled_runs": stalled,
        "steps": {name: step_medians(steps[name]) for name in names},
        "errors": errors,
    }


def measure_warm(daemon, lx, project, runs, notes, cleanup):
    """Warm deploys under egress from a pool of 1 with `cleanup`, after one warm-up;
    before each, the harness waits (untimed) for the refill the previous one started."""
    app = f"bench-{IMAGE}"
    config = lx.config(project, pool_size=1, network="egress", cleanup=cleanup)
    grace = 30.0 if cleanup == "background" else 0.0
    log(f"network: warm deploys under egress, cleanup {cleanup}, {IMAGE} on {POOL} "
        f"({runs} runs, 1 warm-up)")
    samples, steps, waits, errors = [], [], [], []
    cold_runs = 0
    try:
        fill(lx, config, app)
        wait_pool(lx, config, app, 1)
        for i in range(runs + 1):
            warm_up = i == 0
            wait_pool(lx, config, app, 1)
            seconds, error, step, claimed, cold = warm_deploy(lx, config, app)
            if error is None and not claimed:
                error = f"started cold ({cold}) with a ready standby in the pool"
                cold_runs += 0 if warm_up else 1
                seconds = None
            check_after(daemon, project, {claimed} if claimed else set(), notes,
                        f"network warm deploy (egress, cleanup {cleanup})", grace=grace)
            waits.append(wait_pool(lx, config, app, 1))
            if error:
                errors.append(f"warm, egress, {cleanup}{' (warm-up)' if warm_up else ''}: {error}")
                log(f"  warm failed: {error}")
            if warm_up:
                continue
            samples.append(seconds)
            if step and seconds is not None:
                steps.append(step)
            if seconds is not None:
                log(f"  run {i}: warm, egress, {cleanup} {seconds:.2f} s")
    except PoolError as error:
        errors.append(f"warm, egress, {cleanup}: {error}")
        log(f"  pool error: {error}")
    finally:
        settle_fills(lx)
        errors += drain(daemon, lx, config, project, app)
    return {
        "mode": "egress",
        "cleanup": cleanup,
        "lxpack": summarize(samples),
        "cold_runs": cold_runs,
        "steps": step_medians(steps),
        "refill_wait_median": rnd(median(waits)),
        "errors": errors,
    }


def profile_nics(daemon, project):
    """The NICs of the project's `default` profile: what `open` gives a job."""
    profile = daemon.query(f"/1.0/profiles/default?project={project}", check=False) or {}
    return sorted(name for name, device in (profile.get("devices") or {}).items()
                  if device.get("type") == "nic")


def measure_network(daemon, lx, projects, runs, notes):
    """The whole section on one daemon; None without lxpack (no CLI side here)."""
    if not lx.available:
        return None
    project = projects["nic"]
    result = {"image": IMAGE, "pool": POOL, "project": project, "bare_project": projects[POOL],
              "job_image": DEPLOY_IMAGE_JOB[IMAGE],
              "open_profile_nics": profile_nics(daemon, project),
              "bare_profile_nics": profile_nics(daemon, projects[POOL])}
    result.update(measure_cold(daemon, lx, projects, runs, notes))
    result["warm"] = measure_warm(daemon, lx, project, runs, notes, "background")
    result["warm_wait"] = measure_warm(daemon, lx, project, runs, notes, "wait")
    result["errors"] = result["errors"] + result["warm"]["errors"] + result["warm_wait"]["errors"]
    return result
