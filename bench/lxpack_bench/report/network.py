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


VARIANTS = ("none", "egress", "open", "open-bare")


def nic_lines(have):
    """What `open` and `open-bare` meant on each daemon: their projects' NICs."""
    return ["The NICs of the `default` profiles, per daemon: "
            + "; ".join(f"{kind}: `{net['project']}` {', '.join(net.get('open_profile_nics') or []) or 'none'}, "
                        f"`{net.get('bare_project', '?')}` {', '.join(net.get('bare_profile_nics') or []) or 'none'}"
                        for kind, net in have) + "."]


def pool_context(res):
    """Section 6's warm deploys of the same image and pool, for comparison, with the
    date of their run when they were carried over."""
    net = res["network"]
    row = next((r for r in (res.get("pool") or {}).get("warm") or []
                if r["image"] == net["image"] and r["pool"] == net["pool"]), None)
    medians = {cleanup: (((row or {}).get(cleanup) or {}).get("lxpack") or {}).get("median")
               for cleanup in ("background", "wait")}
    if all(median is None for median in medians.values()):
        return ""
    when = (res.get("carried_from") or {}).get("pool")
    return ("; section 6's warm deploys of the same image and pool (no NIC) take "
            + " and ".join(f"{fmt_s(median)} with `{cleanup}`" for cleanup, median in medians.items()
                           if median is not None)
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
                        + ("" if net.get("open_profile_nics") else " (no NIC in its profile)"),
            "result": fmt_added(added) + (f" ({failures} run(s) failed, left out)" if failures else ""),
            "target": f"≤ +{TARGETS['network_cold_added_s']:g} s",
            "pass": cold_pass(added),
        })
    warm = net.get("warm") or {}
    lx = warm.get("lxpack") or {}
    failures = lx.get("failures") or 0
    rows.append({
        "metric": f"warm deploy (standby claimed) under network policy `egress`, {where}, "
                  f"cleanup `{warm.get('cleanup', 'wait')}` (median)",
        "lxpack": fmt_s(lx.get("median")),
        "baseline": "—",
        "result": fmt_s(lx.get("median"))
                  + (f" ({failures} run(s) failed or ran cold, left out)" if failures else ""),
        "target": f"≤ {TARGETS['warm_seconds']:g} s",
        "pass": warm_pass(warm),
    })
    return rows


def cold_rows(net):
    return [[f"`{name}`", fmt_ms(net["cold"][name].get("median")), fmt_range(net["cold"][name]),
             "—" if name == "open" else fmt_added((net.get("added_to_open") or {}).get(name)),
             step(net["steps"].get(name), "network"), step(net["steps"].get(name), "launch"),
             step(net["steps"].get(name), "cleanup"), net["cold"][name].get("failures", 0),
             (net.get("stalled_runs") or {}).get(name, 0)]
            for name in VARIANTS if name in net["cold"]]


def warm_rows(net):
    rows = []
    for key in ("warm", "warm_wait"):
        warm = net.get(key) or {}
        w = warm.get("lxpack") or {}
        if not w:
            continue
        rows.append([f"`{warm.get('cleanup', 'wait')}`", fmt_s(w.get("median")), fmt_range(w),
                     len(w.get("samples") or []), w.get("failures", 0),
                     fmt_s(warm.get("refill_wait_median")),
                     ", ".join(f"{k} {v:.3f} s" for k, v in (warm.get("steps") or {}).items()
                               if v is not None) or "—"])
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
        "as in section 1 (`cleanup: wait`), with `lxpack.network.mode` set to `none`",
        "(loopback only), `egress` (the default: a NIC on lxpack's bridge `lxpackbr0`, or",
        "`lxpackbr1` on Incus, filtered by its ACL) and `open` (the daemon's profile as it is).",
        "The project's `default` profile gives every instance a NIC on a bridge of the",
        "bench's own (`lxpbench-lxd`, `lxpbench-incus`: no NAT, no routing), as a host set up",
        "with `lxd init --auto` gives `lxdbr0`: `open` is a job on the daemon's usual",
        "network, the baseline of the target, and `egress` and `none` replace that NIC.",
        "`open-bare` is `open` in the project whose profile has no NIC (`lxpack-bench-dir`):",
        "the deploy as it was before the policy, for the record.",
        *nic_lines(have),
        "The four take turns going first, after one warm-up of each (the first egress job",
        "of a run creates the bridge and the ACL if they are absent: the warm-up takes it).",
        "Each job's `network` event must announce the mode its config sets, or the run",
        "counts as failed. Step `network` is where a new lxpack process makes the daemon",
        "hold the egress bridge and ACL: it reads the host's addresses (every network and its",
        "state, to deny them), reads the ACL and the bridge at once, and changes them only",
        "when they differ.",
        "",
        "**Warm**: deploys that claim a standby of a pool of 1 (`lxpack.pool.size: 1`) under",
        "`egress`, as in section 6: the standby was started with the policy's NIC, and the",
        "harness waits, untimed, for the refill before each run. With the default cleanup",
        "(`background`, the target's) and with `wait`.",
        "",
        "Configs without a `network` key (every other section's) get the default, `egress`:",
        "figures of other sections measured before the policy existed (see their dates in the",
        "notes) had no NIC, as `open-bare` here.",
        "",
        table(
            ["mode", "cold deploy (median)", "min–max", "− `open`", "step `network`",
             "step `launch`", "step `cleanup`", "failed", "stalled"],
            [(kind, cold_rows(net)) for kind, net in have],
        ),
        "",
        table(
            ["warm deploy under `egress`, cleanup", "median", "min–max", "runs", "failed or cold",
             "refill wait (median)", "steps (medians)"],
            [(kind, warm_rows(net)) for kind, net in have],
        ),
        "",
    ]
    for kind, net in have:
        added = net.get("added_to_open") or {}
        warm = net.get("warm") or {}
        wait = (net.get("warm_wait") or {}).get("lxpack") or {}
        res = dict(runs)[kind]
        lines.append("- " + labelled(runs, (
            f"`egress` adds {fmt_added(added.get('egress'))} to a cold deploy "
            f"({verdict(cold_pass(added.get('egress')))}), `none` {fmt_added(added.get('none'))} "
            f"({verdict(cold_pass(added.get('none')))}), against ≤ +{TARGETS['network_cold_added_s']:g} s "
            f"(`open-bare`: {fmt_added(added.get('open-bare'))}); "
            f"a warm deploy under `egress` takes {fmt_s((warm.get('lxpack') or {}).get('median'))} "
            f"with cleanup `{warm.get('cleanup', 'wait')}` ({verdict(warm_pass(warm))}, "
            f"≤ {TARGETS['warm_seconds']:g} s), {fmt_s(wait.get('median'))} with `wait`"
            + pool_context(res) + "."), kind))
    lines.append("")
    return lines
