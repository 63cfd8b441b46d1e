"""Section 6 of the report: standby pools (warm deploys against the CLI and against the
cold deploys of section 1, 8 deploys at once against a pool of 8, what a standby holds,
the refill of a pool of 8), and the summary rows of its targets."""

from __future__ import annotations

from ..constants import CLIENT_FOR, TARGETS
from .results import per_daemon
from .text import client_word, fmt_s, fmt_x, labelled, table, verdict


def fmt_mb(value):
    """Bytes in MB (10^6), or kB below a megabyte (a btrfs standby's own blocks)."""
    if value is None:
        return "—"
    return f"{value / 1e6:.1f} MB" if value >= 1e6 else f"{value / 1e3:.0f} kB"


def warm_pass(mode_figures, cli_median):
    """Both warm targets: median ≤ 0.25 s and ≤ 0.2× the CLI (None: not measured)."""
    median = (mode_figures.get("lxpack") or {}).get("median")
    r = mode_figures.get("ratio")
    if median is None or r is None or cli_median is None:
        return None
    return median <= TARGETS["warm_seconds"] and r <= TARGETS["warm_ratio"]


def warm_target():
    return f"≤ {TARGETS['warm_seconds']:g} s and ≤ {TARGETS['warm_ratio']:g}× CLI"


def cold_row(res, image, pool):
    """Section 1's row of the same image and pool, if the results have one."""
    return next((r for r in res.get("deploy") or [] if r["image"] == image and r["pool"] == pool), None)


def summary_rows(results, kind):
    """The pool section's rows of the results against the targets."""
    pool = results.get("pool")
    if not pool:
        return []
    client = CLIENT_FOR[kind]
    rows = []
    for row in pool.get("warm") or []:
        cli = row["cli"]["median"]
        for mode in ("wait", "background"):
            figures = row.get(mode) or {}
            lx = figures.get("lxpack") or {}
            failures = lx.get("failures") or 0
            rows.append({
                "metric": f"warm deploy (standby claimed), {row['image']} on {row['pool']} pool, "
                          f"`cleanup: {mode}` (median)",
                "lxpack": fmt_s(lx.get("median")),
                "baseline": fmt_s(cli) + f" ({client} launch + exec + delete)",
                "result": f"{fmt_s(lx.get('median'))}, {fmt_x(figures.get('ratio'))} CLI"
                          + (f" ({failures} run(s) failed or ran cold, left out)" if failures else ""),
                "target": warm_target(),
                "pass": warm_pass(figures, cli),
            })
    burst = pool.get("burst")
    for row in (burst or {}).get("rows") or []:
        r = row["ratio"]
        rows.append({
            "metric": f"{burst['deploys']} concurrent warm deploys, pool of {burst['deploys']}, "
                      f"`cleanup: {row['cleanup']}`, total wall time",
            "lxpack": fmt_s(row["many"].get("median")),
            "baseline": f"one warm deploy {fmt_s(row['one'].get('median'))}",
            "result": f"{fmt_x(r)} one deploy"
                      + (f" ({n} round(s) failed, left out)" if (n := row["many"].get("failures")) else ""),
            "target": f"≤ {TARGETS['pool_burst_ratio']:g}× one",
            "pass": None if r is None else r <= TARGETS["pool_burst_ratio"],
        })
    return rows


def render(runs, measured_sections=None, chart=None):
    """Markdown lines for [(daemon, results)] with pool figures. `measured_sections`: the
    sections this run measured (the cold figures of section 1 may be an earlier run's);
    `chart`: the file name of the pool chart beside the document, if one was drawn."""
    have = [(kind, res, res["pool"]) for kind, res in runs if res.get("pool")]
    if not have:
        return []
    client = client_word(runs)
    pool_of = have[0][2].get("pool_of", 8)
    cold_from = ("this run's section 1" if measured_sections is None or "deploy" in measured_sections
                 else "section 1, from an earlier run (see the notes)")
    lines = [
        "## 6. Standby pools: warm deploys",
        "",
        "With `lxpack.pool.size: N` an app keeps N containers started ahead of time from its",
        "image; `lxpack deploy` claims one (`standby_claimed` in its events), hot-plugs the",
        "checkout, runs the buildpack and discards the container, then starts a background",
        "`lxpack pool fill` that replaces it (docs/operator-guide.md, \"Standby pools\"). The",
        "checkout is owned by 1000:1000 as in section 1, and the standbys are filled with",
        "`lxpack pool fill APP --checkout DIR` of such a checkout (on LXD a pool is keyed by",
        "the owner it maps).",
        "",
        "**Warm deploy**: `lxpack deploy` of the no-op buildpack with a pool of 1 whose",
        f"standby is ready, against the same `{client} launch` + `exec true` + `delete --force`",
        "sequence as section 1, with `cleanup: wait` (the job ends when the claimed",
        "container is gone: its forced stop is on the critical path) and `cleanup:",
        "background`; the three take turns going first, after one warm-up. Before each",
        "timed run the harness waits, untimed, until the fill the previous deploy started has",
        "ended (no `pool fill` of its store runs, `lxpack pool list` shows the standby ready",
        "and none starting), and after a background cleanup until the daemon has deleted the",
        "container: each run starts on an idle daemon with a full pool. A run that started",
        "cold is counted as failed. The cold figures, the default deploy without a pool, are",
        f"{cold_from}.",
        "",
    ]
    if chart:
        lines += [f"![Deploy time, median: warm (standby claimed) and cold lxpack deploys against "
                  f"{client} launch + exec + delete, per image and pool]({chart})", ""]
    if any(p.get("warm") for _, _, p in have):
        body = []
        for kind, res, p in have:
            rows = []
            for row in p.get("warm") or []:
                cold = cold_row(res, row["image"], row["pool"]) or {}
                cli = row["cli"]["median"]
                for mode in ("wait", "background"):
                    figures = row.get(mode) or {}
                    lx = figures.get("lxpack") or {}
                    cold_lx = (cold.get("lxpack") if mode == "wait" else cold.get("lxpack_background")) or {}
                    rows.append([
                        row["image"], row["pool"], mode, fmt_s(lx.get("median")), fmt_s(cli),
                        fmt_x(figures.get("ratio")), verdict(warm_pass(figures, cli)),
                        fmt_s(cold_lx.get("median")),
                        fmt_x(cold.get("ratio") if mode == "wait" else cold.get("ratio_background")),
                        f"{fmt_s(lx.get('min'))}–{fmt_s(lx.get('max'))}",
                        f"{lx.get('failures', '—')} ({figures.get('cold_runs', 0)} cold)/{row['cli']['failures']}",
                    ])
            body.append((kind, rows))
        lines.append(table(
            ["image", "pool", "cleanup", "warm median", "CLI median", "warm ratio",
             f"verdict ({warm_target()})", "cold median (section 1)", "cold ratio (target ≤ 0.8×)",
             "warm min–max", "failed (lxpack/CLI)"],
            body, key_columns=3,
        ))
        lines.append("")
        names = []
        for _, _, p in have:
            for row in p.get("warm") or []:
                for mode in ("wait", "background"):
                    for name in (row.get(mode) or {}).get("steps") or {}:
                        if name not in names:
                            names.append(name)
        if names:
            lines += ["lxpack's own step times in warm deploys (medians of its `step_finished` events):", ""]
            lines.append(table(
                ["image", "pool", "cleanup", *names],
                [(kind, [[row["image"], row["pool"], mode,
                          *[fmt_s(((row.get(mode) or {}).get("steps") or {}).get(n)) for n in names]]
                         for row in p.get("warm") or [] for mode in ("wait", "background")])
                 for kind, _, p in have],
                key_columns=3,
            ))
            lines.append("")
    bursts = [(kind, p["burst"]) for kind, _, p in have if p.get("burst")]
    if bursts:
        b = bursts[0][1]
        lines += [
            f"**{b['deploys']} deploys at once against a pool of {b['deploys']}** ({b['image']}, project",
            f"`{b['project']}`, modules m1…m{b['deploys']}): total wall time until the last exits, against one",
            f"warm deploy from the same full pool; rounds interleaved after one warm-up, the pool",
            "refilled and the daemon idle before each.",
            "",
        ]
        lines.append(table(
            ["cleanup", "one warm deploy", f"{b['deploys']} at once", "ratio to one",
             f"verdict (≤ {TARGETS['pool_burst_ratio']:g}×)", "standbys claimed per round",
             "failed rounds (one/all)"],
            [(kind, [[r["cleanup"], fmt_s(r["one"].get("median")), fmt_s(r["many"].get("median")),
                      fmt_x(r["ratio"]),
                      verdict(None if r["ratio"] is None else r["ratio"] <= TARGETS["pool_burst_ratio"]),
                      ", ".join(f"{c}/{b['deploys']}" for c in r["claimed"]) or "—",
                      f"{r['one'].get('failures', '—')}/{r['many'].get('failures', '—')}"]
                     for r in b["rows"]])
             for kind, b in bursts],
        ))
        lines.append("")
    if any(p.get("standbys") for _, _, p in have):
        lines += [
            f"**What a standby holds, and the refill of a pool of {pool_of}**: `lxpack pool drain APP`,",
            f"then `lxpack pool fill APP --checkout DIR --size {pool_of}` timed until it exits (it",
            "returns once every standby answers a command). Then, per idle standby of the last",
            "fill: memory is the daemon's `state.memory.usage` (the container's cgroup: its",
            "processes and the page cache charged to it: the files it read first, which on a dir",
            "pool the daemon's copy of the image may have cached already, charged to the daemon);",
            "disk is the daemon's `state.disk` where it reports one, else `du`",
            "of the root file system on a dir pool (a full copy of the image) and, on btrfs,",
            "the subvolume's exclusive bytes (`btrfs filesystem du`: the data it does not share",
            "with the image; btrfs metadata is not counted). MB = 10^6 bytes, kB = 10^3.",
            "",
        ]
        lines.append(table(
            ["image", "pool", f"refill of {pool_of} (median)", "refill runs (failed)",
             "memory per standby (median)", "disk per standby (median)", "disk measured by",
             f"the {pool_of} standbys together (memory, disk)"],
            [(kind, [[s["image"], s["pool"], fmt_s(s["refill"].get("median")),
                      f"{len(s['refill']['samples'])} ({s['refill']['failures']})",
                      fmt_mb(s.get("memory_bytes_median")), fmt_mb(s.get("disk_bytes_median")),
                      s.get("disk_method") or "—",
                      f"{fmt_mb(sum(v for v in s['memory_bytes'] if v) or None)}, "
                      f"{fmt_mb(sum(v for v in s['disk_bytes'] if v) or None)}"]
                     for s in p.get("standbys") or []])
             for kind, _, p in have],
            key_columns=2,
        ))
        lines.append("")
    for kind, _, p in have:
        if p.get("errors"):
            lines += [labelled(runs, f"Pool errors ({len(p['errors'])}; all in the notes' error list):", kind), ""]
            lines += [f"- `{e[:300]}`" for e in p["errors"][:8]]
            lines.append("")
    return lines


def chart_groups(results) -> list:
    """[(label, lxpack seconds, CLI seconds, target ratio)] for the pool chart: per daemon,
    image and pool, the warm deploys (both cleanup modes) and section 1's cold ones."""
    runs = per_daemon(results)
    groups = []
    for kind, res in runs:
        for row in (res.get("pool") or {}).get("warm") or []:
            where = f"{row['image']} on {row['pool']}"
            if len(runs) > 1:
                where = f"{kind}: {where}"
            cli = row["cli"]["median"]
            for mode in ("wait", "background"):
                groups.append((f"{where}, warm, cleanup: {mode}",
                               ((row.get(mode) or {}).get("lxpack") or {}).get("median"), cli,
                               TARGETS["warm_ratio"]))
            cold = cold_row(res, row["image"], row["pool"])
            if cold:
                groups.append((f"{where}, cold (section 1), cleanup: wait",
                               (cold.get("lxpack") or {}).get("median"), cold["cli"]["median"],
                               TARGETS["deploy_ratio"]))
    return groups
