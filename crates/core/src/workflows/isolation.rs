//! The effective isolation of every network policy in force, for `doctor`: the mode
//! of each scope and, for `egress`, whether the daemon holds its bridge and ACL as
//! the policy says. It changes nothing on the daemon.

use crate::domain::{EgressNetwork, EgressState, NetworkMode, NetworkPolicy, PolicyScope};
use crate::ports::{NetworkPolicies, RuntimeError};

use super::NetworkSettings;

/// What the daemon holds of one scope's egress network.
#[derive(Debug)]
#[non_exhaustive]
pub enum EgressCheck {
    /// The network as planned for this host, and its state on the daemon.
    State {
        /// The bridge and ACL the policy needs.
        network: EgressNetwork,
        /// Whether they exist and match.
        state: EgressState,
    },
    /// The runtime has no network policies: jobs of this scope are refused.
    Unsupported,
    /// The daemon could not be asked.
    Failed(RuntimeError),
}

/// The isolation of one scope.
#[derive(Debug)]
pub struct ScopeIsolation {
    /// Whose policy it is.
    pub scope: PolicyScope,
    /// The policy.
    pub policy: NetworkPolicy,
    /// For `egress`, what the daemon holds of its network.
    pub egress: Option<EgressCheck>,
}

/// The isolation of every scope of `settings` (the default first), asking `port`
/// (when the runtime has one) about each egress network.
pub async fn network_isolation(
    settings: &NetworkSettings,
    port: Option<&dyn NetworkPolicies>,
) -> Vec<ScopeIsolation> {
    let mut hosts = None;
    let mut report = Vec::new();
    for (scope, policy) in settings.scopes() {
        let egress = match (policy.mode, port) {
            (NetworkMode::Egress, None) => Some(EgressCheck::Unsupported),
            (NetworkMode::Egress, Some(port)) => {
                Some(egress_check(port, &mut hosts, settings, &scope, policy).await)
            }
            _ => None,
        };
        report.push(ScopeIsolation {
            scope,
            policy: policy.clone(),
            egress,
        });
    }
    report
}

/// The state of `scope`'s egress network, the host's addresses read once.
async fn egress_check(
    port: &dyn NetworkPolicies,
    hosts: &mut Option<Vec<std::net::IpAddr>>,
    settings: &NetworkSettings,
    scope: &PolicyScope,
    policy: &NetworkPolicy,
) -> EgressCheck {
    let addresses = match hosts {
        Some(addresses) => addresses.clone(),
        None => match port.host_addresses().await {
            Ok(addresses) => hosts.insert(addresses).clone(),
            Err(error) => return EgressCheck::Failed(error),
        },
    };
    let network = EgressNetwork::plan(scope, policy, &settings.bridge, &addresses);
    match port.egress_state(&network).await {
        Ok(state) => EgressCheck::State { network, state },
        Err(error) => EgressCheck::Failed(error),
    }
}
