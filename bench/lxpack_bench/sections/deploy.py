"""Section 1, deploy overhead: `lxpack deploy` of a no-op buildpack (with `cleanup: wait`
and `cleanup: background`) against `lxc launch` + `exec true` + `delete --force`, per
image and pool, interleaved, after one warm-up."""

from __future__ import annotations

from ..constants import DEPLOY_IMAGE_JOB
from ..proc import log
from ..sides.cli import cli_deploy
from ..sides.lxpack import check_clean, lxpack_deploy
from ..stats import median, ratio, rnd, summarize


def measure_deploy(daemon, lx, projects, runs, notes):
    rows = []
    for pool, project in projects.items():
        for image in ("busybox", "debian"):
            job_alias = DEPLOY_IMAGE_JOB[image]
            app = f"bench-{image}"
            config = lx.config(project) if lx.available else None
            bg_config = lx.config(project, cleanup="background") if lx.available else None
            log(f"deploy overhead: {image} on {pool} ({runs} runs each, interleaved, 1 warm-up)")
            cli_s, lx_s, cli_stall, lx_stall, errors, steps = [], [], [], [], [], []
            bg_s, bg_stall, bg_steps = [], [], []
            sides = ("cli", "lxpack", "lxpack_bg")
            for i in range(runs + 1):
                warm_up = i == 0
                # Each side goes first, second and third in turn.
                order = sides[i % 3:] + sides[:i % 3]
                for side in order:
                    if side == "cli":
                        seconds, error, stalled = cli_deploy(daemon, project, job_alias)
                        if not warm_up:
                            cli_s.append(seconds)
                            cli_stall.append(stalled)
                    elif side == "lxpack":
                        if not lx.available:
                            continue
                        seconds, error, step, stalled = lxpack_deploy(lx, config, app, "noop")
                        check_clean(daemon, project, notes, f"deploy {image}/{pool}")
                        if not warm_up:
                            lx_s.append(seconds)
                            lx_stall.append(stalled)
                            if step:
                                steps.append(step)
                    else:
                        if not lx.available:
                            continue
                        seconds, error, step, stalled = lxpack_deploy(lx, bg_config, app, "noop")
                        # The daemon finishes the stop after lxpack ends: wait for it
                        # (outside the timing) so the next run starts on an idle daemon.
                        check_clean(daemon, project, notes, f"deploy {image}/{pool} (background)",
                                    grace=30.0)
                        if not warm_up:
                            bg_s.append(seconds)
                            bg_stall.append(stalled)
                            if step:
                                bg_steps.append(step)
                    if error:
                        errors.append(f"{side}{' (warm-up)' if warm_up else ''}: {error}")
                        log(f"  {side} failed: {error}")
                    elif not warm_up:
                        log(f"  run {i}: {side} {seconds:.2f} s")
            cli_sum = summarize(cli_s)
            lx_sum = summarize(lx_s) if lx.available else None
            # The same runs without those whose launch met the host's start stall (either
            # side): the overheads apart from the flake.
            lx_steady = summarize([t for t, r in zip(lx_s, lx_stall) if not r]) if lx.available else None
            cli_steady = summarize([t for t, r in zip(cli_s, cli_stall) if not r])
            step_medians = {}
            for name in sorted({k for s in steps for k in s}):
                step_medians[name] = rnd(median([s.get(name) for s in steps]))
            bg_sum = summarize(bg_s) if lx.available else None
            bg_step_medians = {}
            for name in sorted({k for s in bg_steps for k in s}):
                bg_step_medians[name] = rnd(median([s.get(name) for s in bg_steps]))
            rows.append({
                "image": image, "pool": pool, "project": project,
                "cli": cli_sum, "lxpack": lx_sum,
                "ratio": ratio(lx_sum and lx_sum["median"], cli_sum["median"]),
                "lxpack_stalled_runs": sum(lx_stall),
                "cli_stalled_runs": sum(cli_stall),
                "lxpack_without_stalls": lx_steady,
                "cli_without_stalls": cli_steady,
                "ratio_without_stalls": ratio(lx_steady and lx_steady["median"], cli_steady["median"]),
                "lxpack_steps": step_medians,
                "lxpack_background": bg_sum,
                "lxpack_background_stalled_runs": sum(bg_stall),
                "ratio_background": ratio(bg_sum and bg_sum["median"], cli_sum["median"]),
                "lxpack_background_steps": bg_step_medians,
                "errors": errors,
            })
    return rows
