//! The fake daemon's networks and network ACLs: what a real daemon holds for the
//! egress policy (a bridge, lxpack's or the operator's, and an ACL whose rules are
//! replaced in place, each write bumping its revision like an `ETag`), so a workflow
//! test can see what was made, what a launch attached to, and what was written.

use std::net::IpAddr;

use lxpack_core::domain::{EgressNetwork, EgressRule, EgressState, NetworkAttachment};
use lxpack_core::ports::RuntimeError;

use crate::daemon::Daemon;

/// A bridge of the fake daemon, as a test can inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeNetwork {
    /// Its name.
    pub name: String,
    /// Made by lxpack (`false`: the operator's, which lxpack never changes).
    pub lxpack: bool,
    /// The ACL set on it (lxpack's bridges only).
    pub acl: Option<String>,
    /// Its description.
    pub description: String,
}

/// A network ACL of the fake daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeAcl {
    /// Its name.
    pub name: String,
    /// Its egress rules (allow only; the rest is rejected).
    pub rules: Vec<EgressRule>,
    /// Its description.
    pub description: String,
    /// 1 when created, one more at each write: the fake's `ETag`.
    pub revision: u64,
}

impl Daemon {
    /// What `ensure_egress` does: only what differs is written.
    pub(crate) fn ensure_egress(&mut self, network: &EgressNetwork) -> Result<(), RuntimeError> {
        let name = network.network.as_str();
        match self.networks.get_mut(name) {
            None if !network.owned => {
                return Err(RuntimeError::NotFound {
                    what: "network",
                    name: name.to_owned(),
                });
            }
            Some(found) if !network.owned && found.lxpack => {
                return Err(RuntimeError::Rejected {
                    operation: format!("use network {name}"),
                    message: "it is lxpack's own bridge, not an operator's".to_owned(),
                });
            }
            _ => {}
        }
        let acl = network.acl.as_str();
        match self.acls.get_mut(acl) {
            Some(found) if found.rules == network.rules => {}
            Some(found) => {
                found.rules.clone_from(&network.rules);
                found.revision += 1;
            }
            None => {
                self.acls.insert(
                    acl.to_owned(),
                    FakeAcl {
                        name: acl.to_owned(),
                        rules: network.rules.clone(),
                        description: network.description.clone(),
                        revision: 1,
                    },
                );
            }
        }
        if network.owned {
            let bridge = self
                .networks
                .entry(name.to_owned())
                .or_insert_with(|| FakeNetwork {
                    name: name.to_owned(),
                    lxpack: true,
                    acl: None,
                    description: network.description.clone(),
                });
            if bridge.acl.as_deref() != Some(acl) {
                bridge.acl = Some(acl.to_owned());
            }
        }
        Ok(())
    }

    /// What `egress_state` answers.
    pub(crate) fn egress_state(&self, network: &EgressNetwork) -> EgressState {
        let bridge = self.networks.get(network.network.as_str());
        let acl = self.acls.get(network.acl.as_str());
        match (bridge, acl) {
            (Some(bridge), Some(acl))
                if !network.owned || bridge.acl.as_deref() == Some(network.acl.as_str()) =>
            {
                if acl.rules == network.rules {
                    EgressState::Matches
                } else {
                    EgressState::Differs
                }
            }
            _ => EgressState::Missing,
        }
    }

    /// Refuses a launch whose egress network or ACL is not on the daemon, as a real
    /// daemon refuses a NIC on a missing network.
    pub(crate) fn check_attachment(
        &self,
        attachment: &NetworkAttachment,
    ) -> Result<(), RuntimeError> {
        let NetworkAttachment::Egress { network, acl, .. } = attachment else {
            return Ok(());
        };
        if !self.networks.contains_key(network.as_str()) {
            return Err(RuntimeError::NotFound {
                what: "network",
                name: network.to_string(),
            });
        }
        if !self.acls.contains_key(acl.as_str()) {
            return Err(RuntimeError::NotFound {
                what: "network ACL",
                name: acl.to_string(),
            });
        }
        Ok(())
    }

    /// The host's addresses, as `host_addresses` reports them.
    pub(crate) fn host_addresses(&self) -> Vec<IpAddr> {
        self.host_addresses.clone()
    }
}

#[cfg(test)]
mod tests {
    use lxpack_core::domain::{NetworkName, NetworkPolicy, PolicyScope, egress_rules};
    use lxpack_core::ports::NetworkPolicies as _;

    use super::*;
    use crate::FakeRuntime;

    fn plan(bridge: Option<&str>) -> EgressNetwork {
        let bridge = bridge.map_or_else(lxpack_core::domain::DefaultBridge::default, |name| {
            lxpack_core::domain::DefaultBridge::Operator(NetworkName::parse(name).unwrap())
        });
        EgressNetwork::plan(
            &PolicyScope::Default,
            &NetworkPolicy::default(),
            &bridge,
            &[],
        )
    }

    #[tokio::test]
    async fn an_ensure_writes_only_what_differs() {
        let runtime = FakeRuntime::new();
        let network = plan(None);
        runtime.ensure_egress(&network).await.unwrap();
        runtime.ensure_egress(&network).await.unwrap();
        assert_eq!(runtime.acls()[0].revision, 1, "the second wrote nothing");
        let changed = EgressNetwork {
            rules: egress_rules(&[], &["203.0.113.9".parse().unwrap()]),
            ..network.clone()
        };
        assert_eq!(
            runtime.egress_state(&changed).await.unwrap(),
            EgressState::Differs
        );
        runtime.ensure_egress(&changed).await.unwrap();
        assert_eq!(runtime.acls()[0].revision, 2, "updated in place");
        assert_eq!(runtime.networks().len(), 1);
        assert!(runtime.remove_network("lxpackbr0"));
        assert_eq!(
            runtime.egress_state(&changed).await.unwrap(),
            EgressState::Missing
        );
    }

    #[tokio::test]
    async fn an_operators_bridge_must_exist_and_is_never_changed() {
        let runtime = FakeRuntime::new();
        let theirs = plan(Some("br-builds"));
        let missing = runtime.ensure_egress(&theirs).await.unwrap_err();
        assert!(matches!(
            missing,
            RuntimeError::NotFound {
                what: "network",
                ..
            }
        ));
        assert!(runtime.acls().is_empty(), "nothing made");
        runtime.add_operator_network("br-builds");
        runtime.ensure_egress(&theirs).await.unwrap();
        assert_eq!(runtime.networks()[0].acl, None);
        assert_eq!(
            runtime.egress_state(&theirs).await.unwrap(),
            EgressState::Matches
        );
    }
}
