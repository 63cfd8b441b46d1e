"""The results against the targets: one row per target, per daemon."""

from __future__ import annotations

from ..constants import CLIENT_FOR, TARGETS
from . import cache, network, pool, store
from .text import failed_note, fmt_s, fmt_x, steady_note, table, verdict


def summary_rows(results, kind):
    """The rows of one daemon's results (`kind`: lxd or incus)."""
    client = CLIENT_FOR[kind]
    rows = []
    for row in results.get("deploy") or []:
        lx = row["lxpack"] or {}
        r = row["ratio"]
        rows.append({
            "metric": f"deploy overhead, {row['image']} on {row['pool']} pool (median)",
            "lxpack": fmt_s(lx.get("median")),
            "baseline": fmt_s(row["cli"]["median"]) + f" ({client} launch + exec + delete)",
            "result": fmt_x(r) + failed_note(row) + steady_note(
                row.get("lxpack_stalled_runs"), row.get("cli_stalled_runs"),
                row.get("ratio_without_stalls"), "CLI"),
            "target": f"≤ {TARGETS['deploy_ratio']}× CLI",
            "pass": None if r is None else r <= TARGETS["deploy_ratio"],
        })
        bg = row.get("lxpack_background") or {}
        rb = row.get("ratio_background")
        if bg:
            rows.append({
                "metric": f"deploy overhead, {row['image']} on {row['pool']} pool, `cleanup: background` (median)",
                "lxpack": fmt_s(bg.get("median")),
                "baseline": fmt_s(row["cli"]["median"]) + " (same CLI runs)",
                "result": fmt_x(rb) + (f" ({bg.get('failures')} run(s) failed, left out)" if bg.get("failures") else ""),
                "target": f"≤ {TARGETS['deploy_ratio']}× CLI",
                "pass": None if rb is None else rb <= TARGETS["deploy_ratio"],
            })
    rows += pool.summary_rows(results, kind)
    rows += cache.summary_rows(results, kind)
    rows += network.summary_rows(results, kind)
    rows += store.summary_rows(results, kind)
    pub = results.get("publish_verdict")
    if pub:
        times = ", ".join(f"{a} {t:.2f} s" for a, t in sorted(pub["times"].items(), key=lambda x: x[1]))
        rows.append({
            "metric": "publish: default algorithm is the fastest compressed one",
            "lxpack": f"default {pub['default']}",
            "baseline": f"fastest compressed: {pub['fastest_compressed']} ({pub['basis']}: {times})",
            "result": pub["fastest_compressed"] or "—",
            "target": "default = fastest compressed",
            "pass": pub["pass"],
        })
    conc = results.get("concurrency")
    if conc:
        for row in conc["rows"]:
            if row["deploys"] == 1:
                continue
            lx = row["lxpack"] or {}
            r = row["lxpack_ratio_to_one"]
            target = row["deploys"] == 8
            rows.append({
                "metric": f"{row['deploys']} concurrent deploys, total wall time",
                "lxpack": fmt_s(lx.get("median")),
                "baseline": f"CLI {fmt_s(row['cli']['median'])} ({fmt_x(row['cli_ratio_to_one'])} one)",
                "result": f"{fmt_x(r)} one deploy" + failed_note(row) + steady_note(
                    row.get("lxpack_stalled_rounds"), row.get("cli_stalled_rounds"),
                    row.get("lxpack_ratio_to_one_without_stalls"), "one"),
                "target": f"≤ {TARGETS['concurrency_ratio']}× one" if target else "(no target)",
                "pass": (None if r is None else r <= TARGETS["concurrency_ratio"]) if target else "n/a",
            })
    stream = results.get("streaming")
    if stream:
        lx = stream.get("lxpack_all_lines") or {}
        cli = stream.get("cli_all_lines") or {}
        value = lx.get("median_ms")
        rows.append({
            "metric": "first-byte latency, guest print → JSON event read (median of all lines)",
            "lxpack": "—" if value is None else f"{value:.1f} ms (p95 {lx['p95_ms']:.1f}, max {lx['max_ms']:.1f})",
            "baseline": "—" if not cli else f"{client} exec {cli['median_ms']:.1f} ms (p95 {cli['p95_ms']:.1f})",
            "result": ("—" if value is None else f"{value:.1f} ms") + (
                f" ({n} lxpack run(s) failed)"
                if (n := sum(1 for e in stream.get("errors", []) if e.startswith("lxpack"))) else ""),
            "target": f"≤ {TARGETS['latency_ms']:.0f} ms",
            "pass": None if value is None else value <= TARGETS["latency_ms"],
        })
    rss = results.get("rss")
    if rss:
        lx = rss.get("lxpack_json") or {}
        value = lx.get("median_mb")
        plain = (rss.get("lxpack_plain") or {}).get("median_mb")
        cli = (rss.get("cli") or {}).get("median_mb")
        rows.append({
            "metric": "peak RSS of lxpack --json while the buildpack prints 100 MiB",
            "lxpack": "—" if value is None else f"{value:.1f} MB (plain view {plain if plain is not None else '—'} MB)",
            "baseline": "—" if cli is None else f"{client} exec {cli:.1f} MB",
            "result": ("—" if value is None else f"{value:.1f} MB") + (
                f" ({n} lxpack run(s) failed, left out)"
                if (n := sum(1 for x in lx.get("samples_mb", []) if x is None)) else ""),
            "target": f"≤ {TARGETS['rss_mb']:.0f} MB",
            "pass": None if value is None else value <= TARGETS["rss_mb"],
        })
    return rows


def summary_table(runs):
    """The summary rows of each daemon [(kind, results)] as one Markdown table."""
    return table(
        ["measurement", "lxpack", "baseline", "result", "target", "verdict"],
        [(kind, [[r["metric"], r["lxpack"], r["baseline"], r["result"], r["target"],
                  r["pass"] if r["pass"] == "n/a" else verdict(r["pass"])] for r in res["summary"]])
         for kind, res in runs],
    )
