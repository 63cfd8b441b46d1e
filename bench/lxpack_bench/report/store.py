"""Section 9 of the report: the shared store's cost (deploys on PostgreSQL against the
SQLite file; 8 deploys at once from two hosts on one cluster), and its target row."""

from __future__ import annotations

from ..constants import TARGETS
from .text import fmt_s, labelled, table, verdict


def fmt_added(value):
    return "—" if value is None else f"{value * 1000:+.1f} ms"


def added_pass(store):
    added = (store or {}).get("deploy_added")
    return None if added is None else added <= TARGETS["store_added_s"]


def fmt_ms(value):
    return "—" if value is None else f"{value * 1000:.1f} ms"


def fmt_range(summary):
    if not summary or summary.get("min") is None:
        return "—"
    return f"{summary['min']:.3f}–{summary['max']:.3f} s"


def summary_rows(results, kind):
    store = results.get("store")
    if not store or "deploy" not in store:
        return []
    deploy = store["deploy"]
    failures = sum((deploy[s].get("failures") or 0) for s in ("sqlite", "postgres"))
    return [{
        "metric": f"deploy on a PostgreSQL store, {store['image']} on {store['pool']} pool (median − SQLite)",
        "lxpack": fmt_s(deploy["postgres"].get("median")),
        "baseline": f"SQLite {fmt_s(deploy['sqlite'].get('median'))}",
        "result": fmt_added(store.get("deploy_added"))
                  + (f" ({failures} run(s) failed, left out)" if failures else ""),
        "target": f"≤ +{TARGETS['store_added_s'] * 1000:g} ms",
        "pass": added_pass(store),
    }]


def render(runs):
    have = [(kind, res["store"]) for kind, res in runs if (res.get("store") or {}).get("deploy")]
    if not have:
        return []
    first = have[0][1]
    lines = [
        "## 9. The shared store: PostgreSQL against SQLite",
        "",
        f"`lxpack deploy` of the no-op buildpack, {first['image']} on the {first['pool']} pool",
        f"(project `{first['project']}`, `cleanup: wait`), with the store a SQLite file (`--store`) or",
        "a database of PostgreSQL " + ", ".join(sorted({s.get("postgres", "?") for _, s in have}))
        + " on loopback (scripts/postgres-up; TLS verified, scram-sha-256, a",
        "database of the run's own), interleaved after one warm-up of each. `app list` opens",
        "the store and reads it, nothing else: the store's own cost per command.",
        "",
        table(
            ["store", "deploy (median)", "min–max", "− SQLite", "`app list` (median)", "− SQLite", "failed"],
            [(kind, [[name, fmt_s(s["deploy"][key].get("median")), fmt_range(s["deploy"][key]),
                      "—" if key == "sqlite" else fmt_added(s.get("deploy_added")),
                      fmt_ms(s["app_list"][key].get("median")),
                      "—" if key == "sqlite" else fmt_added(s.get("app_list_added")),
                      s["deploy"][key].get("failures", 0)]
                     for key, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))])
             for kind, s in have],
        ),
        "",
    ]
    clustered = [(kind, s["two_hosts"]) for kind, s in have if (s.get("two_hosts") or {}).get("postgres")]
    if clustered:
        lines += [
            "**Two hosts on one cluster.** 8 deploys at once on the 3-member test cluster of",
            "scripts/cluster-up (placed by the cluster; builds without a NIC, since the members",
            "share this machine's network namespace): 4 from each of two hosts (a HOME and a",
            "config each) on the PostgreSQL store, against all 8 from one host on a SQLite file.",
            "",
            table(
                ["8 deploys at once", "median", "min–max", "failed"],
                [(kind, [["two hosts, PostgreSQL", fmt_s(t["postgres"].get("median")),
                          fmt_range(t["postgres"]), t["postgres"].get("failures", 0)],
                         ["one host, SQLite", fmt_s(t["sqlite"].get("median")), fmt_range(t["sqlite"]),
                          t["sqlite"].get("failures", 0)]])
                 for kind, t in clustered],
            ),
            "",
        ]
    for kind, s in have:
        two = s.get("two_hosts") or {}
        lines.append("- " + labelled(runs, (
            f"a PostgreSQL store adds {fmt_added(s.get('deploy_added'))} to a deploy "
            f"({verdict(added_pass(s))}, ≤ +{TARGETS['store_added_s'] * 1000:g} ms) and "
            f"{fmt_added(s.get('app_list_added'))} to `app list`"
            + (f"; 8 deploys at once from two hosts take {two['ratio']:.2f}× the time from one host on SQLite"
               if two.get("ratio") is not None else "")
            + "."), kind))
    lines.append("")
    return lines
