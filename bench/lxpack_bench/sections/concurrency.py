"""Section 3, concurrent deploys: N `lxpack deploy` processes at once against N CLI
sequences in parallel threads, busybox on the dir pool."""

from __future__ import annotations

import concurrent.futures
import tempfile
import time

from ..constants import DEPLOY_IMAGE_JOB
from ..proc import log, reap, spawn, tail
from ..sides.cli import cli_deploy
from ..sides.lxpack import check_clean
from ..stalls import note_lxpack
from ..stats import ratio, summarize


def measure_concurrency(daemon, lx, project, runs, levels, notes):
    image = "busybox"
    job_alias = DEPLOY_IMAGE_JOB[image]
    app = f"bench-{image}"
    config = lx.config(project) if lx.available else None
    log(f"concurrency: {levels} deploys at once, {image} on {project} ({runs} runs, interleaved)")
    results = {}
    errors = []

    def lxpack_round(k):
        start = time.monotonic()
        procs = []
        for i in range(1, k + 1):
            out = tempfile.TemporaryFile()
            err = tempfile.TemporaryFile()
            procs.append((spawn(lx.deploy_argv(config, app, f"m{i}"), env=lx.env,
                                stdout=out, stderr=err), out, err))
        failed = []
        stalled = False
        for proc, out, err in procs:
            reap(proc, timeout=1800)
        seconds = time.monotonic() - start
        for proc, out, err in procs:
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            stalled = note_lxpack(stdout, stderr, proc.returncode == 0) or stalled
            if proc.returncode != 0:
                failed.append(f"exit {proc.returncode}: {tail(stderr)}")
            out.close()
            err.close()
        check_clean(daemon, project, notes, f"concurrency {k}")
        return (None if failed else seconds), failed, stalled

    def cli_round(k):
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=k) as pool:
            outcomes = list(pool.map(lambda _: cli_deploy(daemon, project, job_alias), range(k)))
        seconds = time.monotonic() - start
        failed = [e for _, e, _ in outcomes if e]
        return (None if failed else seconds), failed, any(st for _, _, st in outcomes)

    # One warm-up of each side.
    cli_round(1)
    if lx.available:
        lxpack_round(1)
    for k in levels:
        cli_s, lx_s, cli_stall, lx_stall = [], [], [], []
        for i in range(runs):
            order = ("cli", "lxpack") if i % 2 == 0 else ("lxpack", "cli")
            for side in order:
                if side == "lxpack" and not lx.available:
                    continue
                seconds, failed, stalled = (cli_round if side == "cli" else lxpack_round)(k)
                (cli_s if side == "cli" else lx_s).append(seconds)
                (cli_stall if side == "cli" else lx_stall).append(stalled)
                if failed:
                    errors.extend(f"{side} x{k}: {f}" for f in failed)
                    log(f"  {side} x{k} failed: {failed}")
                else:
                    log(f"  x{k} run {i + 1}: {side} {seconds:.2f} s")
        results[k] = {
            "cli": summarize(cli_s),
            "lxpack": summarize(lx_s) if lx.available else None,
            "lx_stalled": sum(lx_stall),
            "cli_stalled": sum(cli_stall),
            "steady": summarize([t for t, r in zip(lx_s, lx_stall) if not r]) if lx.available else None,
            "cli_steady": summarize([t for t, r in zip(cli_s, cli_stall) if not r]),
        }
    one_cli = results[levels[0]]["cli"]["median"]
    one_lx = results[levels[0]]["lxpack"]["median"] if lx.available else None
    one_steady = results[levels[0]]["steady"]["median"] if lx.available else None
    one_cli_steady = results[levels[0]]["cli_steady"]["median"]
    rows = []
    for k in levels:
        rows.append({
            "deploys": k,
            "cli": results[k]["cli"],
            "lxpack": results[k]["lxpack"],
            "cli_ratio_to_one": ratio(results[k]["cli"]["median"], one_cli),
            "lxpack_ratio_to_one": ratio(results[k]["lxpack"]["median"], one_lx) if lx.available else None,
            "lxpack_stalled_rounds": results[k]["lx_stalled"],
            "cli_stalled_rounds": results[k]["cli_stalled"],
            "lxpack_without_stalls": results[k]["steady"],
            "cli_without_stalls": results[k]["cli_steady"],
            "lxpack_ratio_to_one_without_stalls":
                ratio(results[k]["steady"]["median"], one_steady) if lx.available else None,
            "cli_ratio_to_one_without_stalls": ratio(results[k]["cli_steady"]["median"], one_cli_steady),
        })
    return {"image": image, "project": project, "rows": rows, "errors": errors}
