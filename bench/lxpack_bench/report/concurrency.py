"""Section 3 of the report: concurrent deploys."""

from __future__ import annotations

from .text import fmt_s, fmt_x, table


def render(runs):
    have = [(kind, res["concurrency"]) for kind, res in runs if res.get("concurrency")]
    if not have:
        return []
    lines = [
        "## 3. Concurrent deploys",
        "",
        "N `lxpack deploy` processes started at once, each for a different module (m1…mN) of",
        f"the same app, busybox image, project `{have[0][1]['project']}`; total wall time until the",
        "last exits. The CLI baseline runs N launch/exec/delete sequences in parallel threads.",
        "",
    ]
    lines.append(table(
        ["deploys at once", "lxpack total", "lxpack ratio to one", "CLI total", "CLI ratio to one",
         "failed rounds (lxpack/CLI)", "stalled rounds (lxpack/CLI)",
         "lxpack ratio without stalled rounds", "CLI ratio without stalled rounds"],
        [(kind, [[r["deploys"], fmt_s((r["lxpack"] or {}).get("median")), fmt_x(r["lxpack_ratio_to_one"]),
                  fmt_s(r["cli"]["median"]), fmt_x(r["cli_ratio_to_one"]),
                  f"{(r['lxpack'] or {}).get('failures', '—')}/{r['cli']['failures']}",
                  f"{r.get('lxpack_stalled_rounds', '—')}/{r.get('cli_stalled_rounds', '—')}",
                  fmt_x(r.get("lxpack_ratio_to_one_without_stalls")),
                  fmt_x(r.get("cli_ratio_to_one_without_stalls"))] for r in conc["rows"]])
         for kind, conc in have],
    ))
    lines.append("")
    return lines
