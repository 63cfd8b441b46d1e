#![allow(clippy::unwrap_used, clippy::expect_used)]

use lxpack_core::domain::{AclName, Cidr, NetworkName, egress_rules};

use super::*;

fn server(extensions: &[&str], firewall: &str) -> Server {
    let mut server = Server {
        api_extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        ..Server::default()
    };
    server.environment.server = "lxd".into();
    server.environment.firewall = firewall.into();
    server
}

#[test]
fn each_egress_rule_is_one_allow_rule_split_when_its_destinations_are_many() {
    let host: IpAddr = "192.0.2.2".parse().unwrap();
    let allow = [EgressRule::parse_allow("10.9.0.5 tcp:80,8000-8100").unwrap()];
    let rules = acl_rules(&egress_rules(&allow, &[host]));
    assert!(
        rules
            .iter()
            .all(|r| r.action == "allow" && r.state == "enabled")
    );
    assert!(
        rules
            .iter()
            .all(|r| r.destination.split(',').count() <= DESTINATIONS_PER_RULE)
    );
    let last = rules.last().unwrap();
    assert_eq!(
        (
            last.destination.as_str(),
            last.protocol.as_str(),
            last.destination_port.as_str()
        ),
        ("10.9.0.5/32", "tcp", "80,8000-8100")
    );
    // Every range the core allows is in exactly one rule, in order.
    let written: Vec<String> = rules
        .iter()
        .flat_map(|r| r.destination.split(',').map(str::to_owned))
        .collect();
    let wanted: Vec<String> = egress_rules(&allow, &[host])
        .iter()
        .flat_map(|r| r.destinations.iter().map(Cidr::to_string))
        .collect();
    assert_eq!(written, wanted);
    assert!(!written.iter().any(|d| d == "192.0.2.2/32"));
}

#[test]
fn the_gateway_avoids_every_taken_range_and_is_stable() {
    let first = choose_gateway("lxpackbr0", &[]).unwrap();
    assert_eq!(choose_gateway("lxpackbr0", &[]).unwrap(), first);
    let (address, _) = configured_range(Some(&first)).unwrap();
    // Taken: the first candidate's subnet, as a host's /16.
    let taken = [(address, 16)];
    let second = choose_gateway("lxpackbr0", &taken).unwrap();
    let (other, prefix) = configured_range(Some(&second)).unwrap();
    assert_eq!(prefix, 24);
    let (IpAddr::V4(a), IpAddr::V4(b)) = (address, other) else {
        panic!()
    };
    assert_ne!(a.octets()[..2], b.octets()[..2], "{first} {second}");
    // Everything taken: none.
    let all: [(IpAddr, u8); 1] = [("10.0.0.0".parse().unwrap(), 8)];
    assert_eq!(choose_gateway("lxpackbr0", &all), None);
}

#[test]
fn member_addresses_are_read_from_their_urls() {
    assert_eq!(
        member_address("https://10.0.0.2:8443"),
        Some("10.0.0.2".parse().unwrap())
    );
    assert_eq!(
        member_address("https://[fd00::2]:8443"),
        Some("fd00::2".parse().unwrap())
    );
    assert_eq!(member_address("https://m1.example:8443"), None);
}

#[test]
fn a_daemon_that_cannot_filter_is_refused_with_the_fix() {
    let full = [
        "network_acl",
        "network_bridge_acl",
        "network_bridge_acl_devices",
    ];
    assert!(check_support(&server(&full, "nftables"), false).is_ok());
    let refusal = |server: &Server, owned| match check_support(server, owned) {
        Err(RuntimeError::NetworkRefused { reason, detail }) => (reason, detail),
        other => panic!("{other:?}"),
    };
    let (reason, detail) = refusal(&server(&["network_acl"], "nftables"), true);
    assert_eq!(reason, NetworkRefusal::NoBridgeAcls);
    assert!(detail.contains("network_bridge_acl"), "{detail}");
    let (reason, detail) = refusal(&server(&full, "xtables"), true);
    assert_eq!(reason, NetworkRefusal::FirewallNotNftables);
    assert!(detail.contains("\"xtables\""), "{detail}");
    let lxd = server(&full[..2], "nftables");
    assert!(check_support(&lxd, true).is_ok());
    let (reason, detail) = refusal(&lxd, false);
    assert_eq!(reason, NetworkRefusal::NoNicAcls);
    assert!(detail.contains("network_bridge_acl_devices"), "{detail}");
}

#[test]
fn nic_devices_mask_the_base_nics_per_attachment() {
    let base = vec!["eth0".to_owned(), "eth1".to_owned()];
    assert!(nic_devices(&NetworkAttachment::DaemonDefault, &base).is_empty());
    assert_eq!(
        Value::Object(nic_devices(&NetworkAttachment::Loopback, &base)),
        json!({"eth0": {"type": "none"}, "eth1": {"type": "none"}})
    );
    let theirs = NetworkAttachment::Egress {
        network: NetworkName::parse("br-builds").unwrap(),
        acl: AclName::parse("lxpack-egress").unwrap(),
        owned_network: false,
    };
    assert_eq!(
        Value::Object(nic_devices(&theirs, &base)),
        json!({
            "eth0": {
                "type": "nic",
                "network": "br-builds",
                "security.port_isolation": "true",
                "security.acls": "lxpack-egress",
                "security.acls.default.egress.action": "reject",
                "security.acls.default.ingress.action": "reject",
            },
            "eth1": {"type": "none"},
        })
    );
}

#[test]
fn a_bridge_holds_the_acl_only_with_both_default_actions() {
    let mut network = Network::default();
    network.config.insert(owner_key(), OWNER_VALUE.into());
    assert!(is_owned(&network));
    for (key, value) in acl_settings("lxpack-egress") {
        network
            .config
            .insert(key, value.as_str().unwrap().to_owned());
    }
    assert!(holds_acl(&network, "lxpack-egress"));
    assert!(!holds_acl(&network, "other"));
    network
        .config
        .insert("security.acls.default.egress.action".into(), "allow".into());
    assert!(!holds_acl(&network, "lxpack-egress"));
}
