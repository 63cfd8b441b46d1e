//! Why a daemon cannot give a build the network its policy asks for, as a reason the
//! operator fixes: the adapter says which (with the daemon's facts in words of its
//! own), and the CLI's hint names the config keys that change it, so no adapter knows
//! lxpack's config.

/// What stands in the way of a build's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkRefusal {
    /// A network or host interface has the name of lxpack's bridge, and lxpack did not
    /// make it (another daemon on the host may own it).
    NameTaken,
    /// No private subnet is free for lxpack's bridge on this host.
    NoFreeSubnet,
    /// The operator's bridge is not a bridge the daemon manages.
    NotAManagedBridge,
    /// The daemon cannot filter a bridge with a network ACL (too old).
    NoBridgeAcls,
    /// The daemon's firewall driver is not nftables, whose bridge ACLs lxpack relies on.
    FirewallNotNftables,
    /// The daemon cannot put a network ACL on a build's NIC, which an operator's bridge
    /// needs.
    NoNicAcls,
    /// The kernel lacks the bridge conntrack an ACL on a build's NIC needs.
    NoBridgeConntrack,
}
