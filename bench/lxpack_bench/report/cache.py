"""Section 7 of the report: dependency caches (a ccache build of SQLite, first deploy
against second; the overhead of a declared cache) and buildimage's step snapshots (cold
against a re-run with only the post hook changed), the summary rows of their targets,
and the groups of their chart."""

from __future__ import annotations

from ..constants import TARGETS
from ..sections.cache import PRE_STEP
from .results import per_daemon
from .text import fmt_s, fmt_x, labelled, table, verdict


def fmt_size(size_bytes, files=None):
    if size_bytes is None:
        return "—"
    text = f"{size_bytes / 1e6:.1f} MB" if size_bytes >= 1e5 else f"{size_bytes / 1e3:.0f} kB"
    return text + (f", {files} files" if files is not None else "")


def fmt_overhead(value):
    return "—" if value is None else f"{value:+.2f} s"


def speedup_pass(value, target):
    return None if value is None else value >= target


def overhead_pass(row):
    """On btrfs: both declared caches within the target of the undeclared deploy; on dir
    there is no target (the copy is a real copy), "n/a"."""
    if row["pool"] != "btrfs":
        return "n/a"
    values = [v for v in (row.get("overhead") or {}).values()]
    if not values or any(v is None for v in values):
        return None
    return max(values) <= TARGETS["cache_overhead_seconds"]


def resumed_text(row):
    resumed = row.get("warm_resumed_steps") or []
    done = [steps for steps in resumed if steps]
    text = f"{len(done)} of {len(resumed)}"
    if done:
        text += f" ({', '.join(f'`{s}`' for s in done[-1])})"
    return text


def failures(*sums):
    return "/".join(str((s or {}).get("failures", "—")) for s in sums)


def summary_rows(results, kind):
    cache = results.get("cache")
    if not cache:
        return []
    rows = []
    for row in cache.get("builds") or []:
        first, second = row["first"], row["second"]
        rows.append({
            "metric": f"deploy with a warm dependency cache (ccache, SQLite at -O2), {row['pool']} pool: "
                      "first deploy (empty cache) / second (median)",
            "lxpack": f"second {fmt_s(second.get('median'))}",
            "baseline": f"first {fmt_s(first.get('median'))}",
            "result": f"{fmt_x(row['speedup'])} faster"
                      + (f" ({n} run(s) failed, left out)" if (n := (first.get("failures") or 0)
                                                                   + (second.get("failures") or 0)) else ""),
            "target": f"≥ {TARGETS['cache_speedup']:g}× faster",
            "pass": speedup_pass(row["speedup"], TARGETS["cache_speedup"]),
        })
    for row in cache.get("overhead") or []:
        over = row.get("overhead") or {}
        deps = (row.get("sizes") or {}).get("deps") or {}
        rows.append({
            "metric": f"overhead of a declared cache, no-op buildpack, {row['pool']} pool (median, "
                      "declared minus not declared)",
            "lxpack": f"{fmt_s(row['deps'].get('median'))} ({fmt_size(deps.get('bytes'))} cache), "
                      f"{fmt_s(row['ccache'].get('median'))} (ccache)",
            "baseline": f"{fmt_s(row['none'].get('median'))} (not declared)",
            "result": f"{fmt_overhead(over.get('deps'))} ({fmt_size(deps.get('bytes'))}), "
                      f"{fmt_overhead(over.get('ccache'))} (ccache)",
            "target": f"≤ {TARGETS['cache_overhead_seconds']:g} s" if row["pool"] == "btrfs"
                      else "(no target: a real copy)",
            "pass": overhead_pass(row),
        })
    for row in cache.get("buildimage") or []:
        rows.append({
            "metric": f"buildimage re-run, only `post_buildimage` changed, {row['pool']} pool: "
                      "cold (`--no-cache`) / warm (median)",
            "lxpack": f"warm {fmt_s(row['warm'].get('median'))}",
            "baseline": f"cold {fmt_s(row['cold'].get('median'))} (pre hook "
                        f"{fmt_s((row.get('cold_steps') or {}).get(PRE_STEP))})",
            "result": f"{fmt_x(row['speedup'])} faster"
                      + (f" ({n} run(s) failed, left out)" if (n := (row["cold"].get("failures") or 0)
                                                                   + (row["warm"].get("failures") or 0)) else ""),
            "target": f"≥ {TARGETS['snapshot_speedup']:g}× faster",
            "pass": speedup_pass(row["speedup"], TARGETS["snapshot_speedup"]),
        })
    return rows


def step_table(have, part, columns, key_columns=1):
    """A table of lxpack's step medians of `part`'s rows, one row per (pool, column)."""
    names = []
    for _, cache in have:
        for row in cache.get(part) or []:
            for column, _ in columns:
                for name in row.get(column) or {}:
                    if name not in names:
                        names.append(name)
    if not names:
        return []
    return [table(
        ["pool", "run", *names],
        [(kind, [[row["pool"], label, *[fmt_s((row.get(column) or {}).get(n)) for n in names]]
                 for row in cache.get(part) or [] for column, label in columns])
         for kind, cache in have],
        key_columns=2,
    ), ""]


def render(runs, chart=None):
    have = [(kind, res["cache"]) for kind, res in runs if res.get("cache")]
    if not have:
        return []
    c = have[0][1]
    lines = [
        "## 7. Dependency caches and step snapshots",
        "",
        f"Image `{c['image']}`: Debian 12 minbase with {', '.join(c.get('packages') or [])} "
        "(debootstrap `--include`,",
        "tarball cached in /var/tmp/lxpack-bench/), and the SQLite amalgamation that rusqlite",
        f"bundles (SQLite {c.get('sqlite_version')}, sqlite3.c {fmt_size(c.get('sqlite_bytes'))}) "
        "in /usr/local/src/sqlite for the buildimage",
        "hooks. Deploys get sqlite3.c in the module's checkout (owned by 1000:1000, as in",
        "section 1; the buildpack runs as that user, in the checkout). The module's declared",
        f"cache is `{c['cache_dir']}` (`lxpack.cache.apps.bench-cc/bench/bench.MODULE`),",
        "not under /root, which the build user cannot write. lxpack's default",
        "`cleanup: background`; after each job the harness waits, untimed, until the daemon",
        "has deleted its container, so every run starts on an idle daemon.",
        "",
        "**Deploy with a dependency cache.** The buildpack runs `CCACHE_DIR=" + c["cache_dir"],
        "ccache gcc -O2 -c sqlite3.c -o sqlite3.o`. Each run: `lxpack cache purge",
        "bench-cc/bench/bench --module sqlite`, then the first deploy (empty cache: gcc",
        "compiles) and the second (warm cache: ccache copies the object out). One untimed",
        "deploy on each pool first brings the image onto it.",
        "",
    ]
    if chart:
        lines += [f"![Cold against warm, median: first and second deploy of the ccache build, and "
                  f"buildimage --no-cache against a re-run with only the post hook changed]({chart})", ""]
    if any(cache.get("builds") for _, cache in have):
        lines.append(table(
            ["pool", "first deploy (median)", "second deploy (median)", "speedup",
             f"verdict (≥ {TARGETS['cache_speedup']:g}×)", "buildpack step, first/second",
             "first min–max", "second min–max", "cache after (du)", "purge (median)",
             "failed (first/second)"],
            [(kind, [[r["pool"], fmt_s(r["first"].get("median")), fmt_s(r["second"].get("median")),
                      fmt_x(r["speedup"]), verdict(speedup_pass(r["speedup"], TARGETS["cache_speedup"])),
                      f"{fmt_s((r.get('first_steps') or {}).get('buildpack'))} / "
                      f"{fmt_s((r.get('second_steps') or {}).get('buildpack'))}",
                      f"{fmt_s(r['first'].get('min'))}–{fmt_s(r['first'].get('max'))}",
                      f"{fmt_s(r['second'].get('min'))}–{fmt_s(r['second'].get('max'))}",
                      fmt_size(r.get("cache_bytes"), r.get("cache_files")),
                      fmt_s((r.get("purge") or {}).get("median")),
                      failures(r["first"], r["second"])]
                     for r in cache.get("builds") or []])
             for kind, cache in have],
        ))
        lines += ["", "lxpack's own step times (medians of its `step_finished` events):", ""]
        lines += step_table(have, "builds", [("first_steps", "first"), ("second_steps", "second")])
    if any(cache.get("overhead") for _, cache in have):
        lines += [
            "**Overhead of a declared cache.** A no-op buildpack, deployed with the module's cache",
            "not declared, declared with the SQLite ccache above (the cache after the build runs),",
            "and declared with a dependency cache of realistic size (module `deps`: its first",
            "deploy, untimed, copies the image's /usr/include and /usr/lib/gcc into the cache, then",
            "does nothing). The three take turns going first, after one warm-up. The overhead is",
            "the declared median minus the undeclared one. On btrfs the job's copy of the cache",
            "is a snapshot; on dir it is a real copy, so its cost grows with the cache.",
            "",
        ]
        lines.append(table(
            ["pool", "not declared (median)", "declared: ccache (median)", "ccache overhead",
             "ccache size", "declared: deps cache (median)", "deps overhead", "deps cache size",
             f"verdict (btrfs: ≤ {TARGETS['cache_overhead_seconds']:g} s)", "failed (none/ccache/deps)"],
            [(kind, [[r["pool"], fmt_s(r["none"].get("median")), fmt_s(r["ccache"].get("median")),
                      fmt_overhead((r.get("overhead") or {}).get("ccache")),
                      fmt_size(r["sizes"]["ccache"].get("bytes"), r["sizes"]["ccache"].get("files")),
                      fmt_s(r["deps"].get("median")),
                      fmt_overhead((r.get("overhead") or {}).get("deps")),
                      fmt_size(r["sizes"]["deps"].get("bytes"), r["sizes"]["deps"].get("files")),
                      (lambda p: p if p == "n/a" else verdict(p))(overhead_pass(r)),
                      failures(r["none"], r["ccache"], r["deps"])]
                     for r in cache.get("overhead") or []])
             for kind, cache in have],
        ))
        lines += ["", "Step times of those deploys (medians):", ""]
        lines += step_table([(k, {"overhead": [{"pool": r["pool"], **{f"{n}_steps": s for n, s in r["steps"].items()}}
                                               for r in cache.get("overhead") or []]}) for k, cache in have],
                            "overhead", [("none_steps", "not declared"), ("ccache_steps", "ccache"),
                                         ("deps_steps", "deps cache")])
    if any(cache.get("buildimage") for _, cache in have):
        lines += [
            "**buildimage re-run.** App `bench-cc-image` (source image the one above): its",
            "`pre_buildimage` hook builds SQLite into a shared library (`gcc -O2 -shared -fPIC`,",
            "no ccache), its `post_buildimage` hook checks that library and writes a marker that",
            "differs on every build. Each run: `lxpack buildimage bench-cc-image/bench/bench --job ID",
            "--no-cache` (cold: every step runs, and is snapshotted), then the app re-imported with",
            "only the post hook's marker changed and `lxpack buildimage` again (warm: it starts",
            "from the snapshot after the pre hook, `steps_from_snapshot` in its events). Both",
            "publish with lxpack's default compression. Before each run, untimed, the previous",
            "run's images and step holders (the stopped build instances that keep the snapshots)",
            "are deleted, as retention would take them with their images. On a dir pool every",
            "snapshot, and the warm build's copy of it, is a full copy of the container.",
            "",
        ]
        lines.append(table(
            ["pool", "cold (median)", "warm (median)", "speedup",
             f"verdict (≥ {TARGETS['snapshot_speedup']:g}×)", "pre hook step (cold)",
             "warm runs that resumed (steps from the snapshot)", "publish step, cold/warm", "cold min–max",
             "warm min–max", "failed (cold/warm)"],
            [(kind, [[r["pool"], fmt_s(r["cold"].get("median")), fmt_s(r["warm"].get("median")),
                      fmt_x(r["speedup"]), verdict(speedup_pass(r["speedup"], TARGETS["snapshot_speedup"])),
                      fmt_s((r.get("cold_steps") or {}).get(PRE_STEP)),
                      resumed_text(r),
                      f"{fmt_s((r.get('cold_steps') or {}).get('publish'))} / "
                      f"{fmt_s((r.get('warm_steps') or {}).get('publish'))}",
                      f"{fmt_s(r['cold'].get('min'))}–{fmt_s(r['cold'].get('max'))}",
                      f"{fmt_s(r['warm'].get('min'))}–{fmt_s(r['warm'].get('max'))}",
                      failures(r["cold"], r["warm"])]
                     for r in cache.get("buildimage") or []])
             for kind, cache in have],
        ))
        lines += ["", "Step times of the builds (medians):", ""]
        lines += step_table(have, "buildimage", [("cold_steps", "cold"), ("warm_steps", "warm")])
    for kind, cache in have:
        if cache.get("errors"):
            lines += [labelled(runs, f"Cache errors ({len(cache['errors'])}; all in the notes' error list):",
                               kind), ""]
            lines += [f"- `{e[:300]}`" for e in cache["errors"][:8]]
            lines.append("")
    return lines


def chart_groups(results) -> list:
    """[(label, warm seconds, cold seconds, target ratio)]: per daemon and pool, the
    second deploy against the first, and the warm buildimage against the cold one."""
    runs = per_daemon(results)
    groups = []
    target = 1 / TARGETS["cache_speedup"]
    for kind, res in runs:
        cache = res.get("cache") or {}
        prefix = f"{kind}: " if len(runs) > 1 else ""
        for row in cache.get("builds") or []:
            groups.append((f"{prefix}{row['pool']}, deploy (ccache)", row["second"].get("median"),
                           row["first"].get("median"), target))
        for row in cache.get("buildimage") or []:
            groups.append((f"{prefix}{row['pool']}, buildimage", row["warm"].get("median"),
                           row["cold"].get("median"), 1 / TARGETS["snapshot_speedup"]))
    return groups
