//! The daemon's own network isolation: a bridge and an ACL per egress scope, made and
//! kept in step by lxpack. A capability, because a runtime without network ACLs (or an
//! integrator's) can still run builds in modes `none` and `open`; a config that needs
//! `egress` on such a runtime is refused when the workflows are wired.
//!
//! Launches: an adapter with this capability honours `LaunchSpec::network`, and a
//! launch whose egress network or ACL the daemon does not hold MUST fail `NotFound`
//! with `what` `"network"` (or `"network ACL"`): the workflows then ensure the
//! network again and launch once more (an operator removed it while lxpack ran).

use std::net::IpAddr;

use async_trait::async_trait;

use super::RuntimeError;
use crate::domain::{EgressNetwork, EgressState};

/// Network policies on the daemon.
#[async_trait]
pub trait NetworkPolicies: Send + Sync {
    /// The addresses a build must not reach because they are the host's: every
    /// address of the daemon host's interfaces and, on a cluster, every member's
    /// address. The core adds them to what the egress rule denies.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn host_addresses(&self) -> Result<Vec<IpAddr>, RuntimeError>;

    /// Makes the daemon hold `network` as described: an owned bridge is created
    /// when absent (IPv4 with NAT, no IPv6, labelled as lxpack's) with the ACL set on
    /// it; an operator's bridge must exist and is never changed. The ACL is created
    /// when absent, and its rules replaced in place when they differ, under the
    /// daemon's `ETag`, so two processes starting at once create it once and the last
    /// policy wins. Nothing is written when everything already matches.
    ///
    /// # Errors
    /// `NotFound` when an operator's bridge does not exist; `Unsupported` when the
    /// daemon cannot filter the bridge (no `network_bridge_acl`, a firewall driver
    /// without ACLs, or an operator's bridge on a daemon that cannot put an ACL on a
    /// NIC), with the fix; `Changed` when another process kept changing the ACL.
    async fn ensure_egress(&self, network: &EgressNetwork) -> Result<(), RuntimeError>;

    /// What the daemon holds of `network` now, changing nothing (for doctor).
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn egress_state(&self, network: &EgressNetwork) -> Result<EgressState, RuntimeError>;
}
