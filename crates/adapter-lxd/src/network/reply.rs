//! The replies of the network module, as typed structs (only the fields it uses, each
//! with a default), and the ACL rule, which is written and read back in one shape so
//! that "does the daemon hold these rules" is an equality.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A network (`GET /1.0/networks/NAME`, or one of `?recursion=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Network {
    /// Its name (the interface's, on the host).
    pub(crate) name: String,
    /// `bridge`, `physical`, `loopback`, `unknown`…
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// Whether the daemon manages it (an unmanaged one is a host interface).
    pub(crate) managed: bool,
    /// Its config (empty for an unmanaged one).
    pub(crate) config: BTreeMap<String, String>,
    /// `Created`, or `Pending` between a cluster's per-member and global creates.
    pub(crate) status: String,
}

/// `GET /1.0/networks/NAME/state`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct NetworkState {
    /// Its addresses.
    pub(crate) addresses: Vec<NetworkAddress>,
}

/// One address of a network's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct NetworkAddress {
    /// `inet` or `inet6`.
    pub(crate) family: String,
    /// The address, without its prefix.
    pub(crate) address: String,
    /// The prefix length, as text (`"24"`).
    pub(crate) netmask: String,
}

/// A network ACL (`GET /1.0/network-acls/NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Acl {
    /// Its description.
    pub(crate) description: String,
    /// Its egress rules, in order.
    pub(crate) egress: Vec<AclRule>,
    /// Its ingress rules, in order.
    pub(crate) ingress: Vec<AclRule>,
}

/// One ACL rule, as sent and as read back: every field the daemons keep, so that two
/// rule lists compare equal exactly when the daemon holds what lxpack would write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct AclRule {
    /// `allow`, `reject` or `drop`.
    pub(crate) action: String,
    /// Source subjects (lxpack leaves it empty: any).
    pub(crate) source: String,
    /// Destination subjects, comma-separated.
    pub(crate) destination: String,
    /// `tcp`, `udp`, `icmp4`, `icmp6`, or empty for any.
    pub(crate) protocol: String,
    /// Source ports (empty: any).
    pub(crate) source_port: String,
    /// Destination ports and ranges, comma-separated (empty: any).
    pub(crate) destination_port: String,
    /// ICMP type (ICMP rules only).
    pub(crate) icmp_type: String,
    /// ICMP code (ICMP rules only).
    pub(crate) icmp_code: String,
    /// What it is for, for people.
    pub(crate) description: String,
    /// `enabled`, `disabled` or `logged`.
    pub(crate) state: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Daemon, recorded};

    fn metadata(daemon: Daemon, scenario: &str, index: usize) -> serde_json::Value {
        recorded(daemon, scenario)["exchanges"][index]["reply"]["metadata"].clone()
    }

    #[test]
    fn recorded_networks_acls_and_states_are_read_on_both_daemons() {
        for daemon in [Daemon::Lxd, Daemon::Incus] {
            let networks: Vec<Network> =
                serde_json::from_value(metadata(daemon, "networks", 0)).unwrap();
            let eth0 = networks.iter().find(|n| n.name == "eth0").unwrap();
            assert!(!eth0.managed, "{daemon:?}");
            let state: NetworkState =
                serde_json::from_value(metadata(daemon, "networks", 1)).unwrap();
            assert!(
                state.addresses.iter().any(|a| a.family == "inet"),
                "{daemon:?}: {state:?}"
            );
            let acl: Acl = serde_json::from_value(metadata(daemon, "acl-create", 2)).unwrap();
            assert!(!acl.egress.is_empty(), "{daemon:?}");
            assert!(acl.egress.iter().all(|rule| rule.action == "allow"));
        }
    }
}
