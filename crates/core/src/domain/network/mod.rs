//! What a build may reach over the network. A build is untrusted code on a shared
//! host: by default (`egress`) it reaches the internet and nothing of the host's,
//! through a network and ACL of the daemon's own that lxpack names and keeps in step
//! with the policy; lxpack writes no firewall rule itself. The rules and the names
//! live here; adapters only create what these values describe.

mod cidr;
mod egress;
mod refusal;

use std::fmt;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

pub use cidr::Cidr;
pub use egress::{ALWAYS_DENIED, EgressRule, PortRange, Protocol, egress_rules};
pub use refusal::NetworkRefusal;

use super::text::text_enum;
use super::{AppKey, ValidationError};

text_enum! {
    /// How a build is connected (`lxpack.network.mode`, per app and module).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum NetworkMode as "network mode" {
        /// No network interface at all: loopback only.
        None = "none",
        /// The internet, but nothing private: not the host, its private networks,
        /// link-local addresses (cloud metadata) or other builds (the default).
        #[default]
        Egress = "egress",
        /// Whatever the daemon's profile gives, unfiltered: an explicit opt-in that
        /// doctor and every job warn about.
        Open = "open",
    }
}

/// A network policy: the mode, and for `egress` the extra destinations it opens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NetworkPolicy {
    /// The mode.
    pub mode: NetworkMode,
    /// Destinations opened beyond the egress rule (an internal package mirror);
    /// meaningful for `egress` only.
    pub allow: Vec<EgressRule>,
}

/// Whose policy a job runs under: the default, an app's, or one module's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PolicyScope {
    /// `lxpack.network`.
    Default,
    /// `lxpack.network.apps.NAME/ENV/ROLE`.
    App(AppKey),
    /// A module of an app, where it differs from its app.
    Module(AppKey, String),
}

impl fmt::Display for PolicyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::App(app) => write!(f, "app {app}"),
            Self::Module(app, module) => write!(f, "module {module} of app {app}"),
        }
    }
}

/// A name on the daemon: a network (at most 15 characters, an interface name) or an
/// ACL (at most 63), letters, digits and dashes, starting with a letter.
macro_rules! daemon_name {
    ($(#[$doc:meta])* $name:ident, $max:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Reads a name.
            ///
            /// # Errors
            /// [`ValidationError::Network`] naming it and the rule it breaks.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                let valid = (1..=$max).contains(&text.len())
                    && text.starts_with(|c: char| c.is_ascii_alphabetic())
                    && !text.ends_with('-')
                    && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if valid {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(ValidationError::Network {
                        input: text.to_owned(),
                        reason: concat!(
                            "a ", $what, " name has 1 to ", stringify!($max),
                            " letters, digits and dashes, starts with a letter and does not end with a dash"
                        ),
                    })
                }
            }

            /// The name.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

daemon_name!(
    /// The name of a daemon network (a bridge).
    NetworkName, 15, "network"
);
daemon_name!(
    /// The name of a daemon network ACL.
    AclName, 63, "network ACL"
);

/// The bridge the default scope's builds attach to: lxpack's own (made when absent;
/// `lxpackbr0` unless `lxpack.network.own_bridge` names it otherwise, so that several
/// daemons on one host each have theirs), or an operator's (`lxpack.network.bridge`),
/// which lxpack never changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DefaultBridge {
    /// lxpack's own bridge, of this name.
    Own(NetworkName),
    /// The operator's managed bridge.
    Operator(NetworkName),
}

impl Default for DefaultBridge {
    fn default() -> Self {
        Self::Own(NetworkName(EgressNetwork::DEFAULT_BRIDGE.to_owned()))
    }
}

impl DefaultBridge {
    /// The bridge's name.
    #[must_use]
    pub fn name(&self) -> &NetworkName {
        match self {
            Self::Own(name) | Self::Operator(name) => name,
        }
    }

    /// What tells pools on this bridge from others: nothing for the default (so
    /// pools keep their ids), else whose bridge it is and its name.
    #[must_use]
    pub fn pool_part(&self) -> Option<String> {
        match self {
            own @ Self::Own(_) if *own == Self::default() => None,
            Self::Own(name) => Some(format!("own:{name}")),
            Self::Operator(name) => Some(name.to_string()),
        }
    }
}

/// The egress network of one scope, as the daemon must hold it: the bridge, whether
/// lxpack made it, and its ACL with the rules computed for this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressNetwork {
    /// The bridge builds attach to.
    pub network: NetworkName,
    /// Made by lxpack (created when absent, its ACL set on the network); `false`
    /// for a bridge the operator named, which must exist and is never changed: the
    /// ACL then goes on each build's NIC.
    pub owned: bool,
    /// The ACL.
    pub acl: AclName,
    /// A description for people listing the daemon's networks and ACLs.
    pub description: String,
    /// The egress rules (allow only; the ACL rejects the rest).
    pub rules: Vec<EgressRule>,
}

impl EgressNetwork {
    /// The bridge lxpack makes for the default scope.
    pub const DEFAULT_BRIDGE: &str = "lxpackbr0";

    /// The ACL of the default scope.
    pub const DEFAULT_ACL: &str = "lxpack-egress";

    /// The egress network of `scope` under `policy`: the default scope uses
    /// `default_bridge`; an app or module of its own gets a bridge and an ACL named
    /// by a digest of the scope (and of lxpack's own bridge name, when it is not the
    /// default), so changing its policy updates them in place. `host_addresses` are
    /// the daemon host's and the cluster members' addresses.
    #[must_use]
    pub fn plan(
        scope: &PolicyScope,
        policy: &NetworkPolicy,
        default_bridge: &DefaultBridge,
        host_addresses: &[IpAddr],
    ) -> Self {
        let rules = egress_rules(&policy.allow, host_addresses);
        let description = format!("lxpack: egress of builds ({scope})");
        match scope {
            PolicyScope::Default => Self {
                network: default_bridge.name().clone(),
                owned: matches!(default_bridge, DefaultBridge::Own(_)),
                acl: match default_bridge {
                    DefaultBridge::Own(name) if *default_bridge != DefaultBridge::default() => {
                        AclName(format!("lxpack-egress-{name}"))
                    }
                    _ => AclName(Self::DEFAULT_ACL.to_owned()),
                },
                description,
                rules,
            },
            scoped => {
                let digest = scope_digest(scoped, default_bridge);
                Self {
                    network: NetworkName(format!("lxpk{}", &digest[..8])),
                    owned: true,
                    acl: AclName(format!("lxpack-egress-{digest}")),
                    description,
                    rules,
                }
            }
        }
    }
}

fn scope_digest(scope: &PolicyScope, default_bridge: &DefaultBridge) -> String {
    let mut hasher = Sha256::new();
    if let Some(bridge) = default_bridge.pool_part() {
        hasher.update(format!("bridge\0{bridge}\0"));
    }
    match scope {
        PolicyScope::Default => hasher.update(b"default"),
        PolicyScope::App(app) => hasher.update(format!("app\0{app}")),
        PolicyScope::Module(app, module) => hasher.update(format!("module\0{app}\0{module}")),
    }
    super::digest_id::digest_id_text(&hasher.finalize())
}

/// How an instance is connected, as the adapter must create it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkAttachment {
    /// Whatever NICs the daemon's base profile gives (mode `open`, and instances that
    /// run no build).
    #[default]
    DaemonDefault,
    /// No NIC: the base profile's NICs are masked, leaving loopback (mode `none`).
    Loopback,
    /// One NIC on `network`, filtered by `acl` (mode `egress`); the base profile's
    /// NICs are masked. Builds on the same bridge cannot reach each other.
    Egress {
        /// The bridge.
        network: NetworkName,
        /// The ACL, set on the NIC when the bridge is not lxpack's.
        acl: AclName,
        /// Whether the bridge is lxpack's (its ACL is on the network itself).
        owned_network: bool,
    },
}

impl NetworkAttachment {
    /// The attachment to an egress network.
    #[must_use]
    pub fn egress(network: &EgressNetwork) -> Self {
        Self::Egress {
            network: network.network.clone(),
            acl: network.acl.clone(),
            owned_network: network.owned,
        }
    }
}

/// What the daemon holds of an egress network, for doctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EgressState {
    /// The bridge or its ACL does not exist yet (the first job creates them).
    Missing,
    /// Both exist, and the ACL's rules are the policy's.
    Matches,
    /// Both exist, but the ACL's rules differ (the next job updates them).
    Differs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scope_uses_lxpacks_bridge_unless_the_operator_names_one() {
        let policy = NetworkPolicy::default();
        let plan = EgressNetwork::plan(
            &PolicyScope::Default,
            &policy,
            &DefaultBridge::default(),
            &[],
        );
        assert_eq!(plan.network.as_str(), "lxpackbr0");
        assert!(plan.owned);
        assert_eq!(plan.acl.as_str(), "lxpack-egress");
        let theirs = NetworkName::parse("br-builds").unwrap();
        let plan = EgressNetwork::plan(
            &PolicyScope::Default,
            &policy,
            &DefaultBridge::Operator(theirs.clone()),
            &[],
        );
        assert_eq!(plan.network, theirs);
        assert!(!plan.owned);
    }

    #[test]
    fn an_app_scope_is_named_by_its_digest_within_interface_limits() {
        let app = AppKey::new("web", "prod", "front");
        let policy = NetworkPolicy::default();
        let plan = EgressNetwork::plan(
            &PolicyScope::App(app.clone()),
            &policy,
            &DefaultBridge::default(),
            &[],
        );
        assert_eq!(plan.network.as_str().len(), 12);
        assert!(NetworkName::parse(plan.network.as_str()).is_ok());
        assert!(AclName::parse(plan.acl.as_str()).is_ok());
        let module = EgressNetwork::plan(
            &PolicyScope::Module(app.clone(), "api".into()),
            &policy,
            &DefaultBridge::default(),
            &[],
        );
        assert_ne!(module.network, plan.network);
        assert_ne!(module.acl, plan.acl);
        // Another daemon's own bridge on the same host gets other names throughout.
        let other = DefaultBridge::Own(NetworkName::parse("lxpackbr1").unwrap());
        let default = EgressNetwork::plan(&PolicyScope::Default, &policy, &other, &[]);
        assert_eq!(default.network.as_str(), "lxpackbr1");
        assert!(default.owned);
        assert_eq!(default.acl.as_str(), "lxpack-egress-lxpackbr1");
        let scoped = EgressNetwork::plan(&PolicyScope::App(app), &policy, &other, &[]);
        assert_ne!(scoped.network, plan.network);
        assert_ne!(scoped.acl, plan.acl);
    }

    #[test]
    fn daemon_names_follow_the_daemons_rules() {
        assert!(NetworkName::parse("lxpackbr0").is_ok());
        for bad in ["", "0br", "br-", "a-very-long-bridge-name", "br_0"] {
            assert!(NetworkName::parse(bad).is_err(), "{bad}");
        }
        assert!(AclName::parse(&"a".repeat(63)).is_ok());
        assert!(AclName::parse(&"a".repeat(64)).is_err());
    }
}
