"""Section 5 of the report: concurrency on a cluster."""

from __future__ import annotations

from .text import fmt_s, fmt_x, labelled, table

NAMES = {"spread": "spread over the 3 members", "one_member": "all on m1",
         "cluster": "placed by the cluster"}


def render(runs):
    have = [(kind, res["cluster"]) for kind, res in runs if res.get("cluster")]
    if not have:
        return []
    first = have[0][1]
    which = " and ".join(clu["daemon"] for _, clu in have)
    lines = [
        "## 5. Concurrency on a cluster",
        "",
        f"{first['deploys']} `lxpack deploy` processes started at once on the {which} test "
        f"cluster{'s' if len(have) > 1 else ''} of",
        f"`scripts/cluster-up` ({first['members']} members, each its own daemon, all on this one machine),",
        "through member m1, rounds interleaved, after one warm-up round that brings the image to",
        "every member. Total wall time until the last deploy exits. *Spread*: deploy i targets",
        "member m((i-1) mod 3 + 1) (`lxpack.runtime.target`); *one member*: all target m1;",
        "*placed by the cluster*: no target.",
        "",
    ]
    lines.append(table(
        ["placement", "total (median)", "runs", "failed", "instances per member (all runs)"],
        [(kind, [[NAMES[mode], fmt_s(clu[mode].get("median")), len(clu[mode]["samples"]),
                  clu[mode].get("failures", "—"),
                  ", ".join(f"{k}: {v}" for k, v in sorted(clu["placement"][mode].items()))]
                 for mode in ("spread", "one_member", "cluster") if mode in clu])
         for kind, clu in have],
    ))
    ratios = ", ".join(f"**{fmt_x(clu['ratio'])}**" + ("" if len(have) == 1 else f" ({kind})")
                       for kind, clu in have)
    lines += [
        "",
        f"Ratio, spread to one member: {ratios}. Every member here shares the same",
        "2 cores and disk, so spreading adds no hardware: the ratio shows only what placement",
        "and the cluster's forwarding cost or save (each member's daemon handles its own",
        "instances' starts and stops). On members on separate hosts, each with its own cores",
        "and disk, the spread deploys run on 3× the hardware, so for CPU-bound buildpacks the",
        "spread total tends towards the one-member total divided by the member count. The",
        "cluster's own placement (no target) is not an even spread when launches arrive at",
        "once: it picks the member with the fewest instances when each request lands, and",
        "concurrent requests see the same counts; set targets (or groups) to spread for sure.",
        "",
    ]
    for kind, clu in have:
        if clu.get("errors"):
            lines += [
                labelled(runs, f"Failed deploys ({len(clu['errors'])}), all with an instance on a member "
                               "other than m1:", kind),
                "",
                *[f"- `{e[:300]}`" for e in clu["errors"][:5]],
                "",
            ]
    return lines
