"""The command line and the run: build (or take) lxpack, then on each daemon in turn
prepare it, measure the chosen sections and clean up; then write results.json, the
chart and docs/benchmarks.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import stalls, venv
from .chart import draw_cache, draw_deploy, draw_pool
from .constants import DAEMONS, DOC_PATH, RESULTS_PATH, SECTIONS, TARGETS
from .daemon import Daemon
from .environment import machine_info, versions
from .prepare import check_idmap, prepare
from .proc import CHILDREN, CHILDREN_LOCK, log
from .report.doc import write_doc
from .report.results import assemble, carry_over, per_daemon, previous_figures, write
from .report.summary import summary_rows, summary_table
from .sections import cache, cluster, concurrency, deploy, network, pool, publish, rss, store, streaming
from .sides.lxpack import Lxpack, build_lxpack


def daemon_list(text: str) -> list:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if not kinds or any(k not in DAEMONS for k in kinds) or len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"{text!r}: one or more of {', '.join(DAEMONS)}, comma-separated")
    return kinds


def parse_args(description):
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 repetitions (publish: 1)")
    parser.add_argument("--runs", type=int, help="repetitions per measurement (default 5)")
    parser.add_argument("--publish-runs", type=int, help="repetitions of publish (default: --runs, at most 3)")
    parser.add_argument("--daemon", type=daemon_list, default=["lxd"],
                        help="which daemon and client, or several in turn: lxd (the default, with "
                             "lxc), incus, or lxd,incus")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated sections to run")
    parser.add_argument("--no-build", action="store_true", help="use the existing binary")
    parser.add_argument("--lxpack", type=Path, help="the lxpack binary to use (implies --no-build)")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH, help="JSON output")
    parser.add_argument("--doc", type=Path, default=DOC_PATH, help="Markdown output")
    return parser.parse_args()


class Interrupted(Exception):
    pass


def measure_daemon(kind, binary, build_note, args, sections, runs, publish_runs, previous):
    """Prepares daemon `kind`, measures `sections` on it and cleans up: its results."""
    notes = []
    stalls.reset()
    daemon = Daemon(kind)
    daemon.wait_ready()
    daemon.info = daemon.query("/1.0") or {}
    projects = prepare(daemon, notes)
    check_idmap(notes)
    workdir = Path(tempfile.mkdtemp(prefix="lxpack-bench-"))
    os.chmod(workdir, 0o755)
    lx = Lxpack(binary, daemon, workdir)
    res = {"versions": versions(daemon, binary, build_note)}
    carry_over(res, previous, kind, sections, notes)
    interrupted = False
    try:
        if lx.available:
            lx.import_apps(lx.config(projects["dir"]))
        if "deploy" in sections:
            res["deploy"] = deploy.measure_deploy(daemon, lx, projects, runs, notes)
        if "publish" in sections:
            res["publish_project"] = projects["btrfs"]
            res["publish"] = publish.measure_publish(daemon, lx, projects["btrfs"], publish_runs, notes)
            res["publish_verdict"] = publish.publish_verdict(res["publish"], daemon.client)
        if "concurrency" in sections:
            res["concurrency"] = concurrency.measure_concurrency(daemon, lx, projects["dir"], runs,
                                                                 [1, 4, 8], notes)
        if "streaming" in sections:
            res["streaming"] = streaming.measure_streaming(daemon, lx, projects["dir"], runs, notes)
        if "rss" in sections:
            res["rss"] = rss.measure_rss(daemon, lx, projects["dir"], max(1, min(runs, 3)), notes)
        if "pool" in sections:
            res["pool"] = pool.measure_pool(daemon, lx, projects, runs, notes)
        if "cache" in sections:
            res["cache"] = cache.measure_cache(daemon, lx, projects, runs, notes)
        if "network" in sections:
            res["network"] = network.measure_network(daemon, lx, projects, runs, notes)
        if "store" in sections:
            res["store"] = store.measure_store(daemon, lx, projects, runs, notes)
        if "cluster" in sections and lx.available:
            res["cluster"] = cluster.measure_cluster(lx, runs, notes, kind=kind)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        interrupted = True
    finally:
        leftovers = daemon.cleanup(projects.values())
        if leftovers:
            notes.append("removed at the end: " + ", ".join(leftovers))
        shutil.rmtree(workdir, ignore_errors=True)
    if interrupted:
        raise Interrupted()
    res["notes"] = notes
    res["start_flake"] = stalls.snapshot()
    res["summary"] = summary_rows(res, kind)
    return res


def main(script: Path, description: str):
    args = parse_args(description)
    if os.geteuid() != 0:
        raise SystemExit("run as root: it creates pools, projects and images")
    venv.ensure(script)
    runs = args.runs or (2 if args.quick else 5)
    publish_runs = args.publish_runs or (1 if args.quick else min(runs, 3))
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    command = "bench/run" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    notes = []
    started = time.monotonic()

    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/lxpack-target"))
    binary = args.lxpack or target_dir / "release" / "lxpack"
    build_note = "as found (--no-build)" if args.no_build else "given with --lxpack"
    if not args.no_build and not args.lxpack:
        built = build_lxpack(target_dir, notes)
        build_note = "cargo build --release -p lxpack-cli" + ("" if built else " (failed)")
    if not binary.exists():
        notes.append(f"{binary} does not exist: only the CLI side was measured")
        log(f"{binary} is missing: measuring the CLI side only")

    single = len(args.daemon) == 1
    config = {"runs": runs, "publish_runs": publish_runs, "sections": sorted(sections), "targets": TARGETS}
    config.update({"daemon": args.daemon[0]} if single else {"daemons": args.daemon})
    common = {
        "schema": 1,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "config": config,
        "machine": machine_info(),
    }
    previous = previous_figures(args.results)

    def on_sigterm(signum, _frame):
        if interrupted_once:
            return  # already cleaning up
        interrupted_once.append(signum)
        with CHILDREN_LOCK:
            children = list(CHILDREN)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        raise KeyboardInterrupt(f"signal {signum}")

    interrupted_once = []
    signal.signal(signal.SIGTERM, on_sigterm)
    daemons = []
    try:
        for kind in args.daemon:
            if not single:
                log(f"daemon {kind}: {', '.join(sorted(sections))}")
            daemons.append((kind, measure_daemon(kind, binary, build_note, args, sections, runs,
                                                 publish_runs, previous)))
    except (Interrupted, KeyboardInterrupt):
        raise SystemExit(130)

    common["machine"]["loadavg_end"] = list(os.getloadavg())
    common["duration_minutes"] = round((time.monotonic() - started) / 60, 1)
    if single:
        daemons[0][1]["notes"] = notes + daemons[0][1]["notes"]
    else:
        common["notes"] = notes
    results = assemble(common, daemons)
    charts = {}
    for name, draw in (("deploy", draw_deploy), ("pool", draw_pool), ("cache", draw_cache)):
        chart = args.doc.with_name(f"{args.doc.stem}-{name}.svg")
        try:
            if draw(results, chart):
                charts[name] = chart
        except Exception as error:  # the figures and the tables matter more than the charts
            log(f"the {name} chart could not be drawn: {error!r}")
    write(results, args.results)
    write_doc(results, args.doc, *(charts[n].name if n in charts else None
                                   for n in ("deploy", "pool", "cache")))
    log(f"wrote {args.results}, {args.doc}" + "".join(f" and {c}" for c in charts.values()))
    print(summary_table(per_daemon(results)))
