"""Section 1 of the report: deploy overhead, its chart, and lxpack's step times."""

from __future__ import annotations

from ..constants import STALL_SECONDS
from .text import client_word, fmt_s, fmt_x, table


def render(runs, chart=None):
    """Markdown lines for [(daemon, results)] that have deploy figures; `chart`: the file
    name of the deploy chart beside the document, if one was drawn."""
    have = [(kind, res["deploy"]) for kind, res in runs if res.get("deploy")]
    if not have:
        return []
    client = client_word(runs)
    lines = [
        "## 1. Deploy overhead",
        "",
        "`lxpack deploy APP --module noop --checkout DIR` (profile with the checkout mount,",
        "launch, readiness probe, script push, buildpack `true`, delete instance and profile)",
        f"against `{client} launch IMAGE NAME`, `{client} exec NAME -- true`, `{client} delete --force NAME`",
        "(three client processes). Both start the same image: the app's `container_image`",
        "alias points at the base image. Each pool has its own project",
        "(`lxpack-bench-dir`, `lxpack-bench-btrfs`), whose default profile puts the root disk",
        "on it; lxpack gets it through `lxpack.runtime.project`. The checkout is owned by",
        "1000:1000, as a pipeline's build user would own it (lxpack maps it with `raw.idmap` on",
        "LXD, and refuses a root-owned checkout there).",
        "",
        "lxpack runs twice per repetition: with the default `lxpack.cleanup: wait` (the job",
        "ends when the instance and its profile are gone), and with `cleanup: background`",
        "(the profile is detached and deleted, then the job ends once the daemon has taken",
        "the stop of the ephemeral instance; the harness then waits, untimed, until the",
        "daemon has deleted it, so the next run starts on an idle daemon). The three sides",
        "take turns going first.",
        "",
        f"A *stalled* run is one whose launch took more than {STALL_SECONDS:.0f} s (lxpack's `launch`",
        "step, or `lxc launch`), or where lxpack logged `start failed in forkstart`: the",
        "daemon's accept-loop stall (docs/architecture.md), which lxpack no longer sets off",
        "itself. The columns \"without them\" leave those runs out. The verdicts use all",
        "successful runs.",
        "",
    ]
    if chart:
        lines += [f"![Deploy time, median: lxpack against {client} launch + exec + delete, "
                  f"per image, pool and cleanup mode]({chart})", ""]
    lines.append(table(
        ["image", "pool", "lxpack median", "CLI median", "ratio",
         "stalled runs (lxpack/CLI)", "lxpack without them", "CLI without them", "ratio without them",
         "lxpack min–max", "CLI min–max", "failures (lxpack/CLI)"],
        [(kind, [[r["image"], r["pool"], fmt_s((r["lxpack"] or {}).get("median")), fmt_s(r["cli"]["median"]),
                  fmt_x(r["ratio"]), f"{r.get('lxpack_stalled_runs', '—')}/{r.get('cli_stalled_runs', '—')}",
                  fmt_s((r.get("lxpack_without_stalls") or {}).get("median")),
                  fmt_s((r.get("cli_without_stalls") or {}).get("median")),
                  fmt_x(r.get("ratio_without_stalls")),
                  f"{fmt_s((r['lxpack'] or {}).get('min'))}–{fmt_s((r['lxpack'] or {}).get('max'))}",
                  f"{fmt_s(r['cli']['min'])}–{fmt_s(r['cli']['max'])}",
                  f"{(r['lxpack'] or {}).get('failures', '—')}/{r['cli']['failures']}"] for r in deploy])
         for kind, deploy in have],
        key_columns=2,
    ))
    lines.append("")
    rows = [r for _, deploy in have for r in deploy]
    if any(r.get("lxpack_background") for r in rows):
        lines += ["With `lxpack.cleanup: background`:", ""]
        lines.append(table(
            ["image", "pool", "lxpack median", "CLI median", "ratio", "lxpack min–max",
             "failures", "cleanup step (median)"],
            [(kind, [[r["image"], r["pool"], fmt_s((r.get("lxpack_background") or {}).get("median")),
                      fmt_s(r["cli"]["median"]), fmt_x(r.get("ratio_background")),
                      f"{fmt_s((r.get('lxpack_background') or {}).get('min'))}–"
                      f"{fmt_s((r.get('lxpack_background') or {}).get('max'))}",
                      (r.get("lxpack_background") or {}).get("failures", "—"),
                      fmt_s((r.get("lxpack_background_steps") or {}).get("cleanup"))] for r in deploy])
             for kind, deploy in have],
            key_columns=2,
        ))
        lines.append("")
    if any(r["lxpack_steps"] for r in rows):
        names = []
        for r in rows:
            for k in r["lxpack_steps"]:
                if k not in names:
                    names.append(k)
        lines += ["lxpack's own step times (medians of its `step_finished` events):", ""]
        lines.append(table(
            ["image", "pool", *names],
            [(kind, [[r["image"], r["pool"], *[fmt_s(r["lxpack_steps"].get(n)) for n in names]]
                     for r in deploy]) for kind, deploy in have],
            key_columns=2,
        ))
        lines.append("")
    return lines
