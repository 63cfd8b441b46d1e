"""docs/benchmarks.md: the run, the results against the targets, a section per
measurement, the notes; the sections written by hand are kept."""

from __future__ import annotations

import re
from pathlib import Path

from ..constants import CC_ALIAS, CC_IMAGE_JOB, DEPLOY_IMAGE_JOB, STALL_SECONDS
from . import cache, cluster, concurrency, deploy, network, pool, publish, store, streaming
from .results import per_daemon
from .summary import summary_table


def run_lines(results, runs):
    m, c = results["machine"], results["config"]
    v = runs[0][1]["versions"]
    return [
        "## Run",
        "",
        f"- Date: {results['date']} (took {results['duration_minutes']} min)",
        f"- Command: `{results['command']}` ({c['runs']} repetitions per measurement, "
        f"{c['publish_runs']} for publish, after one warm-up)",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}, "
        f"kernel {m['kernel']}; load average {', '.join(f'{x:.2f}' for x in m['loadavg_start'])} "
        f"at the start, {', '.join(f'{x:.2f}' for x in m.get('loadavg_end', []))} at the end",
        f"- lxpack: {v['lxpack'] or 'not available'} at git {v['lxpack_git']}, "
        f"`{v['lxpack_binary']}` ({v['lxpack_build']}), {v['rustc']}",
        *[f"- Daemon: {d['daemon']} (client {d['client']}), liblxc {d['liblxc']}; "
          f"btrfs-progs {d['btrfs_progs']}; Python {d['python']}"
          for d in (res["versions"] for _, res in runs)],
        f"- Compressors on the host (the daemon runs them): zstd {v['zstd']}, xz {v['xz']}, "
        f"lz4 {v['lz4']}, gzip {v['gzip']}",
        "",
    ]


def flake_line(flake, lead):
    return [
        f"- {lead} start stall (a start that hangs 30 s in the pre-start hook while a",
        "  silent client connection blocks the daemon's accept loop; see \"The accept-loop",
        f"  stall\" in docs/architecture.md), over the whole run: lxpack met it in "
        f"{flake['lxpack_launches_over_20s']} of its {flake['lxpack_jobs']} jobs (launch over "
        f"{STALL_SECONDS:.0f} s or a logged restart; {flake['lxpack_start_retries_logged']} restarts "
        f"logged), and {flake['lxpack_failed_jobs']} of its jobs failed for any reason. CLI: "
        f"{flake['cli_launches_over_20s']} of {flake['cli_launches']} launches took over "
        f"{STALL_SECONDS:.0f} s and {flake['cli_failed_launches']} failed.",
    ]


def notes_lines(results, runs):
    single = len(runs) == 1
    lines = [
        "## Notes",
        "",
        "- Medians over the repetitions; min/max and every sample are in `bench/results.json`.",
        "  The machine has two cores and other work may run on it: compare the columns of one",
        "  run, not figures across runs.",
        "- A failed repetition (non-zero exit) is left out of its median and counted in",
        "  `failures`; its error is in `bench/results.json`.",
        "- Left in place for the next run: the pool `lxpack-bench-btrfs`, the projects",
        "  `lxpack-bench-dir`, `lxpack-bench-btrfs` and `lxpack-bench-nic` (with its bridge",
        "  `lxpbench-lxd` or `lxpbench-incus`, no NAT, no routing), the image `lxpack-bench-debian12` (tarball",
        "  cached in /var/tmp/lxpack-bench/), and the aliases "
        + ", ".join(f"`{j}`" for j in DEPLOY_IMAGE_JOB.values())
        + " (the apps' `container_image`) on the busybox and Debian images.",
        "  Every instance, standby (the pool section drains its pools) and published image of a",
        "  run is deleted before it ends.",
    ]
    if any(res.get("cache") for _, res in runs):
        lines += [
            f"- The cache section also leaves the image `{CC_ALIAS}` (tarball cached in",
            f"  /var/tmp/lxpack-bench/) and its alias `{CC_IMAGE_JOB}`; it purges its caches",
            "  (`lxpack cache purge`) and deletes any custom volume left in the bench projects.",
        ]
    for kind, res in runs:
        if res.get("start_flake"):
            lines += flake_line(res["start_flake"], "The daemon's" if single else f"{kind}: the daemon's")
    if not single:
        lines += [f"- {note}" for note in results.get("notes", [])]
    for kind, res in runs:
        lines += [f"- {note if single else f'{kind}: {note}'}" for note in res.get("notes", [])]
    errors = []
    for kind, res in runs:
        found = []
        for section in ("deploy", "publish"):
            for row in res.get(section) or []:
                found += row.get("errors", [])
        for section in ("concurrency", "streaming", "rss", "pool", "cache", "network", "store"):
            found += (res.get(section) or {}).get("errors", [])
        errors += found if single else [f"{kind}: {e}" for e in found]
    if errors:
        lines += ["", "### Errors during the run", ""]
        lines += [f"- {e}" for e in errors[:40]]
    return lines


def write_doc(results, path: Path, chart=None, pool_chart=None, cache_chart=None):
    """Writes the report of `results` (either schema) to `path`; `chart`, `pool_chart` and
    `cache_chart` are the file names of the deploy, pool and cache charts beside it, if
    they were drawn."""
    runs = per_daemon(results)
    lines = [
        "# Benchmarks",
        "",
        "Measured by `bench/run` against a real daemon, lxpack and the raw CLI side by side in",
        "the same run, interleaved (the order alternates every repetition), reporting medians.",
        "This file and `bench/results.json` are written by the harness; re-run it rather than",
        "editing them.",
        "",
        *run_lines(results, runs),
        "## Results against the targets",
        "",
        summary_table(runs),
        "",
        *deploy.render(runs, chart),
        *publish.render(runs),
        *concurrency.render(runs),
        *cluster.render(runs),
        *streaming.render_latency(runs),
        *streaming.render_memory(runs),
        *pool.render(runs, (results.get("config") or {}).get("sections"), pool_chart),
        *cache.render(runs, cache_chart),
        *network.render(runs),
        *store.render(runs),
        *notes_lines(results, runs),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Sections written by hand (their heading says "keep it when re-running") stay, from
    # the first such heading to the end of the old file.
    kept = ""
    if path.exists():
        hand = re.search(r"^## .*keep it when re-running.*$", path.read_text(), re.M)
        if hand:
            kept = "\n" + path.read_text()[hand.start():]
    path.write_text("\n".join(lines) + "\n" + kept)
