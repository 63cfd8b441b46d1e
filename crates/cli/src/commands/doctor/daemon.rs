//! The checks of a daemon that answers: its storage, its API extensions, how it mounts
//! a checkout, and, on a cluster, its members and the placement target.

use super::checks::{check, fail};
use super::host::root_has_subids;
use super::{Check, Verdict};
use crate::config::{Config, RuntimeConfig};
use crate::wiring::{DaemonReadiness, daemon_readiness};

/// Whether the daemon answers, and then its storage, extensions, mounts and cluster;
/// those are skipped when it does not.
pub(super) async fn daemon_and_cluster_checks(
    runtime: &RuntimeConfig,
    config: Option<&Config>,
    checks: &mut Vec<Check>,
) {
    match daemon_readiness(runtime).await {
        Ok(daemon) => {
            daemon_checks(&daemon, checks);
            let target = config.and_then(|c| c.runtime.target.as_ref());
            cluster_checks(&daemon.readiness.members, target, checks);
        }
        Err(error) => {
            checks.push(check(
                "daemon running",
                fail(error.error.to_string(), error.hint.unwrap_or_default()),
            ));
            for name in ["storage", "api extensions", "mount ownership"] {
                checks.push(check(
                    name,
                    Verdict::Skipped("the daemon cannot be reached".into()),
                ));
            }
        }
    }
}

/// The daemon's product and version, its storage, its API extensions and how it
/// mounts a checkout.
fn daemon_checks(daemon: &DaemonReadiness, checks: &mut Vec<Check>) {
    let readiness = &daemon.readiness;
    let server = &readiness.server;
    checks.push(check(
        "daemon running",
        Verdict::Pass(format!(
            "{} {} at {}",
            server.product, server.version, daemon.endpoint
        )),
    ));
    checks.push(check(
        "storage",
        match (&readiness.root_disk_pool, readiness.pools.is_empty()) {
            (_, true) => fail(
                "the daemon has no storage pool",
                "`lxc storage create default dir` (or `incus storage create default dir`)",
            ),
            (None, false) => fail(
                format!(
                    "pools {} exist, but the default profile has no root disk",
                    readiness.pools.join(", ")
                ),
                format!(
                    "`lxc profile device add default root disk path=/ pool={}`",
                    readiness.pools[0]
                ),
            ),
            (Some(pool), false) => Verdict::Pass(format!(
                "pools: {}; the default profile's root disk is on {pool}",
                readiness.pools.join(", ")
            )),
        },
    ));
    checks.push(check(
        "api extensions",
        if readiness.missing_extensions.is_empty() {
            Verdict::Pass(format!(
                "all {} required are present",
                lxpack_lxd::REQUIRED_EXTENSIONS.len()
            ))
        } else {
            fail(
                format!(
                    "missing: {}",
                    readiness
                        .missing_extensions
                        .iter()
                        .map(|(name, why)| format!("{name} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "upgrade to LXD 5.0 or newer, or Incus 6.0 or newer",
            )
        },
    ));
    checks.push(check(
        "mount ownership",
        if server.can_shift_mounts {
            Verdict::Pass("idmapped mounts: the checkout is shifted into the container".into())
        } else if root_has_subids() {
            Verdict::Pass(
                "no idmapped mounts here; lxpack maps the checkout's owner with raw.idmap instead".into(),
            )
        } else {
            fail(
                "neither idmapped mounts nor a subordinate id range for root",
                "add `root:1000000:1000000000` to /etc/subuid and /etc/subgid (and `root:1000:1` for uid 1000 checkouts), then restart the daemon",
            )
        },
    ));
}

/// The members and their state, and whether the configured target can be honoured.
/// Nothing on a daemon that is not clustered and has no target.
fn cluster_checks(
    members: &[lxpack_core::domain::ClusterMember],
    target: Option<&lxpack_core::domain::PlacementTarget>,
    checks: &mut Vec<Check>,
) {
    if !members.is_empty() {
        let listing = members
            .iter()
            .map(|m| {
                if m.is_online() {
                    format!("{} online", m.name)
                } else {
                    format!("{} {} ({})", m.name, m.status.to_lowercase(), m.message)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let down: Vec<&str> = members
            .iter()
            .filter(|m| !m.is_reachable())
            .map(|m| m.name.as_str())
            .collect();
        checks.push(check(
            "cluster members",
            if down.is_empty() {
                Verdict::Pass(listing)
            } else {
                Verdict::Warn(format!(
                    "{listing}; jobs placed on {} fail, and gc skips what they hold until they are back",
                    down.join(", ")
                ))
            },
        ));
    }
    match target {
        None if members.is_empty() => {}
        None => checks.push(check(
            "placement target",
            Verdict::Pass("none set: the cluster places each instance".into()),
        )),
        Some(target) => checks.push(check(
            "placement target",
            match target.check(members) {
                Ok(()) => Verdict::Pass(format!("{target} (lxpack.runtime.target)")),
                Err(problem) => fail(
                    problem,
                    "set lxpack.runtime.target to an online member's name or @ and a group with online members, or remove it to let the cluster place",
                ),
            },
        )),
    }
}
