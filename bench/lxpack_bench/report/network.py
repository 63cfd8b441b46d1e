"""Section 8 of the report: the network policy's cost (cold deploys with mode none,
egress and open; warm deploys under egress), and the summary rows of its targets."""

from __future__ import annotations

from ..constants import TARGETS
from .text import fmt_s, labelled, table, verdict


def fmt_added(value):
    """A difference of medians in seconds, signed, to the millisecond."""
    return "—" if value is None else f"{value:+.3f} s"


def cold_pass(added):
    return None if added is None else added <= TARGETS["network_cold_added_s"]


def warm_pass(warm):
    value = ((warm or {}).get("lxpack") or {}).get("median")
    return None if value is None else value <= TARGETS["warm_seconds"]


def fmt_ms(value):
    return "—" if value is None else f"{value:.3f} s"


def fmt_range(summary):
    if not summary or summary.get("min") is None:
        return "—"
    return f"{summary['min']:.2f}–{summary['max']:.2f} s"


def step(figures, name):
    value = (figures or {}).get(name)
    return "—" if value is None else f"{value:.3f} s"


def open_lines(have):
    """What `open` meant on each daemon: its project's `default` profile's NICs."""
    with_nic = [(kind, net["open_profile_nics"]) for kind, net in have if net.get("open_profile_nics")]
    if not with_nic:
        return ["The bench project's `default` profile has no NIC, so `open` here is the deploy",
                "as it was before the policy: the baseline, a job without a NIC."]
    return ["The `default` profile of the bench project has NICs ("
            + "; ".join(f"{kind}: {', '.join(nics)}" for kind, nics in with_nic)
            + "), so `open` here is a job on the daemon's own network: the baseline."]


def pool_context(res):
    """Section 6's warm deploy of the same image and pool (`cleanup: wait`), for
    comparison, with the date of its run when it was carried over."""
    net = res["network"]
    row = next((r for r in (res.get("pool") or {}).get("warm") or []
                if r["image"] == net["image"] and r["pool"] == net["pool"]), None)
    median = (((row or {}).get("wait") or {}).get("lxpack") or {}).get("median")
    if median is None:
        return ""
    when = (res.get("carried_from") or {}).get("pool")
    return (f"; section 6's warm deploy of the same image and pool takes {fmt_s(median)}"
            + (f" (run of {when})" if when else ""))


def summary_rows(results, kind):
    """The network section's rows of the results against the targets."""
    net = results.get("network")
    if not net:
        return []
    where = f"{net['image']} on {net['pool']} pool"
    cold = net["cold"]
    rows = []
    for mode in ("egress", "none"):
        added = (net.get("added_to_open") or {}).get(mode)
        failures = (cold[mode].get("failures") or 0) + (cold["open"].get("failures") or 0)
        rows.append({
            "metric": f"network policy `{mode}`: time added to a cold deploy, {where} (median − `open`)",
            "lxpack": fmt_s(cold[mode].get("median")),
            "baseline": f"`open` {fmt_s(cold['open'].get('median'))}"
                        + ("" if net.get("open_profile_nics") else " (no NIC on this daemon)"),
            "result": fmt_added(added) + (f" ({failures} run(s) failed, left out)" if failures else ""),
            "target": f"≤ +{TARGETS['network_cold_added_s']:g} s",
            "pass": cold_pass(added),
        })
    warm = net.get("warm") or {}
    lx = warm.get("lxpack") or {}
    failures = lx.get("failures") or 0
    rows.append({
        "metric": f"warm deploy (standby claimed) under network policy `egress`, {where} (median)",
        "lxpack": fmt_s(lx.get("median")),
        "baseline": "—",
        "result": fmt_s(lx.get("median"))
                  + (f" ({failures} run(s) failed or ran cold, left out)" if failures else ""),
        "target": f"≤ {TARGETS['warm_seconds']:g} s",
        "pass": warm_pass(warm),
    })
    return rows


def render(runs):
    """Markdown lines for [(daemon, results)] with network figures."""
    have = [(kind, res["network"]) for kind, res in runs if res.get("network")]
    if not have:
        return []
    first = have[0][1]
    where = f"{first['image']} on the {first['pool']} pool (project `{first['project']}`)"
    lines = [
        "## 8. Network policy: the cost of `none`, `egress` and `open`",
        "",
        f"`lxpack deploy` of the no-op buildpack, {where},",
        "as in section 1 (`cleanup: wait`),",
        "with `lxpack.network.mode` set to `none` (loopback only), `egress` (the default: a NIC",
        "on lxpack's bridge `lxpackbr0` filtered by its ACL `lxpack-egress`) and `open` (the",
        "daemon's profile as it is).",
        *open_lines(have),
        "The three take turns going first, after one warm-up of each (the first egress job",
        "of a run creates the bridge and the ACL if they are absent: the warm-up takes it).",
        "Each job's `network` event must announce the mode its config sets, or the run",
        "counts as failed. Step `network` is where a new lxpack process makes the daemon",
        "hold the egress bridge and ACL: it reads the host's addresses (every network and its",
        "state, to deny them), reads the ACL and the bridge, and changes them only when they",
        "differ.",
        "",
        "**Warm**: deploys that claim a standby of a pool of 1 (`lxpack.pool.size: 1`) under",
        "`egress`, as in section 6: the standby was started with the policy's NIC, and the",
        "harness waits, untimed, for the refill before each run.",
        "",
        "Configs without a `network` key (every other section's) get the default, `egress`:",
        "figures of other sections measured before the policy existed (see their dates in the",
        "notes) had no NIC, as `open` here.",
        "",
        table(
            ["mode", "cold deploy (median)", "min–max", "− `open`", "step `network`",
             "step `launch`", "step `cleanup`", "failed", "stalled"],
            [(kind, [[f"`{mode}`", fmt_ms(net["cold"][mode].get("median")), fmt_range(net["cold"][mode]),
                      "—" if mode == "open" else fmt_added((net.get("added_to_open") or {}).get(mode)),
                      step(net["steps"].get(mode), "network"), step(net["steps"].get(mode), "launch"),
                      step(net["steps"].get(mode), "cleanup"), net["cold"][mode].get("failures", 0),
                      (net.get("stalled_runs") or {}).get(mode, 0)]
                     for mode in ("none", "egress", "open")])
             for kind, net in have],
        ),
        "",
        table(
            ["warm deploy under `egress`", "median", "min–max", "runs", "failed or cold",
             "refill wait (median)", "steps (medians)"],
            [(kind, [["standby claimed", fmt_s(w.get("median")), fmt_range(w), len(w.get("samples") or []),
                      w.get("failures", 0), fmt_s((net.get("warm") or {}).get("refill_wait_median")),
                      ", ".join(f"{k} {v:.3f} s" for k, v in ((net.get("warm") or {}).get("steps") or {}).items()
                                if v is not None) or "—"]])
             for kind, net in have
             for w in [((net.get("warm") or {}).get("lxpack") or {})]],
        ),
        "",
    ]
    for kind, net in have:
        added = net.get("added_to_open") or {}
        warm = net.get("warm") or {}
        res = dict(runs)[kind]
        lines.append("- " + labelled(runs, (
            f"`egress` adds {fmt_added(added.get('egress'))} to a cold deploy "
            f"({verdict(cold_pass(added.get('egress')))}), `none` {fmt_added(added.get('none'))} "
            f"({verdict(cold_pass(added.get('none')))}), against ≤ +{TARGETS['network_cold_added_s']:g} s; "
            f"a warm deploy under `egress` takes {fmt_s((warm.get('lxpack') or {}).get('median'))} "
            f"({verdict(warm_pass(warm))}, ≤ {TARGETS['warm_seconds']:g} s)" + pool_context(res)
            + "."), kind))
    lines.append("")
    return lines
