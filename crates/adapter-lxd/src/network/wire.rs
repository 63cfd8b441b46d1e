//! The network module's bodies and checks, built from the core's values by pure
//! functions: the ACL and its rules, the bridge lxpack owns, the subnet it picks, the
//! NIC devices of a launch, and what a daemon must offer for all this.

use std::net::{IpAddr, Ipv4Addr};

use lxpack_core::domain::{EgressNetwork, EgressRule, NetworkAttachment, NetworkRefusal};
use lxpack_core::ports::RuntimeError;
use serde_json::{Map, Value, json};

use super::reply::{Acl, AclRule, Network, NetworkAddress};
use crate::reply::Server;
use crate::wire::mark_key;

/// The mark of a bridge lxpack made (`user.lxpack.network: egress`): the only kind of
/// bridge it ever changes.
pub(crate) fn owner_key() -> String {
    mark_key("network")
}

/// The value of [`owner_key`].
pub(crate) const OWNER_VALUE: &str = "egress";

/// The most destinations one ACL rule carries. Neither daemon documents a limit
/// (LXD 5.0 and Incus 6.0 both took a rule of 300 ranges, measured); the rules are
/// split anyway so that a rule stays readable in `network acl show` and far from any
/// request size limit.
pub(crate) const DESTINATIONS_PER_RULE: usize = 64;

/// The ACL's rules for the core's egress rules: one `allow` rule per egress rule (more
/// when its destinations are many), in the same order.
pub(crate) fn acl_rules(rules: &[EgressRule]) -> Vec<AclRule> {
    let mut out = Vec::new();
    for rule in rules {
        let protocol = rule.protocol.map(|p| p.as_str().to_owned());
        let ports: Vec<String> = rule.ports.iter().map(ToString::to_string).collect();
        for chunk in rule.destinations.chunks(DESTINATIONS_PER_RULE) {
            let destinations: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            out.push(AclRule {
                action: "allow".into(),
                destination: destinations.join(","),
                protocol: protocol.clone().unwrap_or_default(),
                destination_port: ports.join(","),
                state: "enabled".into(),
                ..AclRule::default()
            });
        }
    }
    out
}

/// `POST /1.0/network-acls`: the ACL with its egress rules and no ingress rule (what
/// no rule allows, the default action of the bridge or NIC rejects).
pub(crate) fn acl_create(network: &EgressNetwork) -> Value {
    let mut body = acl_replace(network);
    body["name"] = json!(network.acl.as_str());
    body
}

/// `PUT /1.0/network-acls/NAME`: its whole content.
pub(crate) fn acl_replace(network: &EgressNetwork) -> Value {
    json!({
        "description": network.description,
        "egress": acl_rules(&network.rules),
        "ingress": [],
        "config": {},
    })
}

/// Whether the daemon's ACL holds exactly what lxpack would write.
pub(crate) fn acl_matches(acl: &Acl, network: &EgressNetwork) -> bool {
    acl.egress == acl_rules(&network.rules) && acl.ingress.is_empty()
}

/// The keys that put the ACL on a bridge (or a NIC), with unmatched traffic rejected
/// both ways (the daemons' default, written anyway so that it does not depend on it).
pub(crate) fn acl_settings(acl: &str) -> Map<String, Value> {
    let mut config = Map::new();
    config.insert("security.acls".into(), json!(acl));
    config.insert(
        "security.acls.default.egress.action".into(),
        json!("reject"),
    );
    config.insert(
        "security.acls.default.ingress.action".into(),
        json!("reject"),
    );
    config
}

/// Whether a bridge carries the ACL settings of [`acl_settings`].
pub(crate) fn holds_acl(network: &Network, acl: &str) -> bool {
    acl_settings(acl)
        .iter()
        .all(|(key, value)| network.config.get(key).map(String::as_str) == value.as_str())
}

/// Whether lxpack made this network.
pub(crate) fn is_owned(network: &Network) -> bool {
    network.config.get(&owner_key()).map(String::as_str) == Some(OWNER_VALUE)
}

/// `POST /1.0/networks`: lxpack's bridge, IPv4 on `subnet` with NAT, no IPv6, marked,
/// with the ACL on it.
pub(crate) fn bridge_create(network: &EgressNetwork, gateway: &str) -> Value {
    let mut config = acl_settings(network.acl.as_str());
    config.insert("ipv4.address".into(), json!(gateway));
    config.insert("ipv4.nat".into(), json!("true"));
    config.insert("ipv6.address".into(), json!("none"));
    config.insert(owner_key(), json!(OWNER_VALUE));
    json!({
        "name": network.network.as_str(),
        "type": "bridge",
        "description": network.description,
        "config": config,
    })
}

/// `POST /1.0/networks?target=MEMBER`: the bridge pending on one cluster member
/// (only member-specific keys may be given there; a bridge needs none).
pub(crate) fn bridge_on_member(network: &EgressNetwork) -> Value {
    json!({ "name": network.network.as_str(), "type": "bridge", "config": {} })
}

/// Where lxpack's bridge lives: `10.A.B.1/24`, the first of up to 256 candidates
/// (from the bridge's name, so that each bridge tends to its own) that overlaps no
/// range in `taken` (the host's interface addresses with their prefixes, and the
/// subnets of the daemon's bridges). The daemons' own `auto` would probe candidates
/// by pinging and connecting to them over the host's routes, which is traffic to
/// other machines, and fails where a gateway answers everything: lxpack does not use it.
pub(crate) fn choose_gateway(name: &str, taken: &[(IpAddr, u8)]) -> Option<String> {
    let seed = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    (0..256u32).find_map(|attempt| {
        let pick = seed.wrapping_add(attempt.wrapping_mul(40_503));
        // 10.100.0.0 to 10.227.255.0: away from the 10.0.x.x and 10.1.x.x most
        // networks start at.
        let second = 100 + (pick >> 8) % 128;
        let third = pick % 256;
        let subnet = u32::from(Ipv4Addr::new(10, second as u8, third as u8, 0));
        let free = taken.iter().all(|(address, prefix)| match address {
            IpAddr::V4(address) => !overlaps(subnet, 24, u32::from(*address), *prefix),
            IpAddr::V6(_) => true,
        });
        free.then(|| format!("{}/24", Ipv4Addr::from(subnet | 1)))
    })
}

/// Whether two IPv4 ranges share an address.
fn overlaps(a: u32, a_prefix: u8, b: u32, b_prefix: u8) -> bool {
    let prefix = a_prefix.min(b_prefix).min(32);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    a & mask == b & mask
}

/// The addresses of a network's state, with their prefixes.
pub(crate) fn addresses(state: &[NetworkAddress]) -> Vec<(IpAddr, u8)> {
    state
        .iter()
        .filter_map(|a| {
            let address: IpAddr = a.address.parse().ok()?;
            let prefix = a
                .netmask
                .parse()
                .unwrap_or(if address.is_ipv4() { 32 } else { 128 });
            Some((address, prefix))
        })
        .collect()
}

/// The range a managed bridge's `ipv4.address` or `ipv6.address` names (`10.1.2.1/24`);
/// `None` for `none`, `auto` or an empty value.
pub(crate) fn configured_range(value: Option<&String>) -> Option<(IpAddr, u8)> {
    let (address, prefix) = value?.split_once('/')?;
    Some((address.parse().ok()?, prefix.parse().ok()?))
}

/// The address of a cluster member, from its API URL (`https://10.0.0.2:8443`,
/// `https://[fd00::2]:8443`).
pub(crate) fn member_address(url: &str) -> Option<IpAddr> {
    let host = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or(host);
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    host.split(':').next()?.parse().ok()
}

/// Refuses a daemon that cannot filter the bridge (or, for an operator's bridge, the
/// NIC) with the daemon's own ACLs, saying how to fix it.
pub(crate) fn check_support(server: &Server, owned: bool) -> Result<(), RuntimeError> {
    let daemon = &server.environment.server;
    let missing = ["network_acl", "network_bridge_acl"]
        .into_iter()
        .find(|extension| !server.has_extension(extension));
    if let Some(extension) = missing {
        return Err(RuntimeError::NetworkRefused {
            reason: NetworkRefusal::NoBridgeAcls,
            detail: format!(
                "the {daemon} daemon cannot filter a bridge with a network ACL (it lacks the API extension {extension})"
            ),
        });
    }
    let firewall = server.environment.firewall.as_str();
    if firewall != "nftables" {
        return Err(RuntimeError::NetworkRefused {
            reason: NetworkRefusal::FirewallNotNftables,
            detail: format!(
                "the {daemon} daemon uses the firewall driver {firewall:?}, whose bridge ACLs lxpack does not rely on"
            ),
        });
    }
    if !owned && !server.has_extension("network_bridge_acl_devices") {
        return Err(RuntimeError::NetworkRefused {
            reason: NetworkRefusal::NoNicAcls,
            detail: format!(
                "the {daemon} daemon cannot put a network ACL on a build's NIC (it lacks the API extension network_bridge_acl_devices), which an operator's bridge needs"
            ),
        });
    }
    Ok(())
}

/// The instance devices of `attachment`: every NIC of the base profiles (`base_nics`)
/// masked by a device of the same name of type `none`, and for egress one NIC `eth0`
/// on the bridge, isolated from the bridge's other ports, carrying the ACL itself
/// when the bridge is not lxpack's. Empty for the daemon's default.
pub(crate) fn nic_devices(
    attachment: &NetworkAttachment,
    base_nics: &[String],
) -> Map<String, Value> {
    let mut devices = Map::new();
    if matches!(attachment, NetworkAttachment::DaemonDefault) {
        return devices;
    }
    for name in base_nics {
        devices.insert(name.clone(), json!({ "type": "none" }));
    }
    if let NetworkAttachment::Egress {
        network,
        acl,
        owned_network,
    } = attachment
    {
        let mut nic = Map::new();
        nic.insert("type".into(), json!("nic"));
        nic.insert("network".into(), json!(network.as_str()));
        nic.insert("security.port_isolation".into(), json!("true"));
        if !owned_network {
            nic.extend(acl_settings(acl.as_str()));
        }
        devices.insert("eth0".into(), Value::Object(nic));
    }
    devices
}

#[cfg(test)]
mod tests;
