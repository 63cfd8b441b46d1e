//! The network policies port on recorded replies of LXD 5.0 and Incus 6.0: what is
//! created when absent, that nothing is written when all matches, the ACL's update
//! under its `ETag` and every way it is lost, and the refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use lxpack_core::domain::{
    AclName, Cidr, EgressNetwork, EgressRule, EgressState, ImageAlias, ImageRef, ImageSelector,
    InstanceName, LaunchSpec, NetworkAttachment, NetworkName, NetworkRefusal,
};
use lxpack_core::ports::{ContainerRuntime, NetworkPolicies, RuntimeError};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, etag_of, metadata_of, on_both, recorded};

on_both!(
    an_absent_acl_and_bridge_are_created,
    on_a_cluster_the_bridge_is_made_pending_on_every_member_then_created,
    a_matching_acl_and_bridge_write_nothing,
    differing_rules_are_replaced_under_the_etag,
    a_lost_update_is_read_again_and_tried_again,
    an_acl_that_keeps_changing_is_changed,
    an_acl_a_concurrent_process_created_is_read_back,
    a_network_of_that_name_not_lxpack_s_is_refused_untouched,
    an_operator_bridge_is_checked_and_never_written,
    egress_state_compares_without_writing,
    host_addresses_are_every_interface_s,
    a_launch_masks_the_base_nics_and_adds_the_bridge_s,
);

/// The bridge of the recordings (capture.py's `FIXTURE_BRIDGE`).
fn bridge(daemon: Daemon) -> &'static str {
    match daemon {
        Daemon::Lxd => "lxpkfix0",
        Daemon::Incus => "lxpkfix1",
    }
}

/// The rules the recordings hold (capture.py's `FIXTURE_RULES`).
fn recorded_rules() -> Vec<EgressRule> {
    vec![
        EgressRule {
            destinations: vec![
                Cidr::parse("1.0.0.0/8").unwrap(),
                Cidr::parse("2.0.0.0/7").unwrap(),
            ],
            protocol: None,
            ports: Vec::new(),
        },
        EgressRule::parse_allow("10.9.0.5 tcp:80,8000-8100").unwrap(),
    ]
}

fn egress(daemon: Daemon, owned: bool, rules: Vec<EgressRule>) -> EgressNetwork {
    EgressNetwork {
        network: NetworkName::parse(if owned { bridge(daemon) } else { "lxpkop0" }).unwrap(),
        owned,
        acl: AclName::parse("lxpack-fixture-acl").unwrap(),
        description: "lxpack: egress of builds (default)".into(),
        rules,
    }
}

fn methods(mock: &MockTransport) -> Vec<String> {
    mock.requests()
        .iter()
        .map(|r| r.method.to_string())
        .collect()
}

/// Queues `networks` and one state (eth0's) per network it lists.
fn play_interfaces(mock: &MockTransport, daemon: Daemon) {
    mock.one(daemon, "networks", 0);
    let listed = metadata_of(daemon, "networks", 0).as_array().unwrap().len();
    for _ in 0..listed {
        mock.one(daemon, "networks", 1);
    }
}

/// The replies to `host_addresses`: the recorded networks' names (as URLs, the reply
/// without recursion), then each one's state.
fn play_addresses(mock: &MockTransport, daemon: Daemon) {
    let mut names = recorded(daemon, "networks")["exchanges"][0]["reply"].clone();
    let urls: Vec<String> = names["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|network| format!("/1.0/networks/{}", network["name"].as_str().unwrap()))
        .collect();
    names["metadata"] = json!(urls);
    mock.reply_json(200, &names);
    for _ in 0..urls.len() {
        mock.one(daemon, "networks", 1);
    }
}

async fn an_absent_acl_and_bridge_are_created(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "acl-create", 0)
        .one(daemon, "acl-create", 1)
        .one(daemon, "network-create", 0);
    play_interfaces(&mock, daemon);
    mock.one(daemon, "network-create", 1);
    let network = egress(daemon, true, recorded_rules());
    client(&mock).ensure_egress(&network).await.unwrap();
    let requests = mock.requests();
    // The ACL as the recording's, which the daemon took.
    let acl = requests[2].body_json().unwrap();
    let sent = &recorded(daemon, "acl-create")["exchanges"][1]["request"]["body"];
    assert_eq!(&acl, sent);
    let created = requests.last().unwrap();
    assert_eq!(created.line(), "POST /1.0/networks");
    let body = created.body_json().unwrap();
    assert_eq!(body["name"], bridge(daemon));
    assert_eq!(body["config"]["security.acls"], "lxpack-fixture-acl");
    assert_eq!(
        body["config"]["security.acls.default.egress.action"],
        "reject"
    );
    assert_eq!(body["config"]["user.lxpack.network"], "egress");
    assert_eq!(body["config"]["ipv6.address"], "none");
    let gateway = body["config"]["ipv4.address"].as_str().unwrap();
    assert!(
        gateway.starts_with("10.") && gateway.ends_with(".1/24"),
        "{gateway}"
    );
    assert_eq!(mock.unused(), 0);
}

async fn a_matching_acl_and_bridge_write_nothing(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "acl-create", 2)
        .one(daemon, "network-create", 2);
    client(&mock)
        .ensure_egress(&egress(daemon, true, recorded_rules()))
        .await
        .unwrap();
    assert_eq!(methods(&mock), ["GET", "GET", "GET"]);
}

async fn differing_rules_are_replaced_under_the_etag(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "acl-update", 0)
        .one(daemon, "acl-update", 1)
        .one(daemon, "network-create", 2);
    let rules = recorded_rules()[..1].to_vec();
    client(&mock)
        .ensure_egress(&egress(daemon, true, rules))
        .await
        .unwrap();
    let put = &mock.requests()[2];
    assert_eq!(put.line(), "PUT /1.0/network-acls/lxpack-fixture-acl");
    assert_eq!(
        put.header_value("If-Match"),
        etag_of(daemon, "acl-update", 0).as_deref()
    );
    assert_eq!(
        put.body_json().unwrap(),
        recorded(daemon, "acl-update")["exchanges"][1]["request"]["body"]
    );
    assert_eq!(mock.unused(), 0);
}

async fn a_lost_update_is_read_again_and_tried_again(daemon: Daemon) {
    let mock = MockTransport::new();
    // Read (other rules), 412, read again: what another process wrote meanwhile is
    // what this one wants.
    mock.one(daemon, "server", 0)
        .one(daemon, "acl-stale", 0)
        .one(daemon, "acl-stale", 1)
        .one(daemon, "acl-create", 2)
        .one(daemon, "network-create", 2);
    client(&mock)
        .ensure_egress(&egress(daemon, true, recorded_rules()))
        .await
        .unwrap();
    assert_eq!(methods(&mock), ["GET", "GET", "PUT", "GET", "GET"]);
}

async fn an_acl_that_keeps_changing_is_changed(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0);
    for _ in 0..super::ACL_ATTEMPTS {
        mock.one(daemon, "acl-stale", 0).one(daemon, "acl-stale", 1);
    }
    let error = client(&mock)
        .ensure_egress(&egress(daemon, true, recorded_rules()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Changed { name, .. } if name.contains("lxpack-fixture-acl")),
        "{error:?}"
    );
    assert_eq!(mock.unused(), 0);
}

async fn an_acl_a_concurrent_process_created_is_read_back(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "acl-create", 0)
        .one(daemon, "acl-exists", 0)
        .one(daemon, "acl-create", 2)
        .one(daemon, "network-create", 2);
    client(&mock)
        .ensure_egress(&egress(daemon, true, recorded_rules()))
        .await
        .unwrap();
    assert_eq!(methods(&mock), ["GET", "GET", "POST", "GET", "GET"]);
}

async fn a_network_of_that_name_not_lxpack_s_is_refused_untouched(daemon: Daemon) {
    let mock = MockTransport::new();
    let mut theirs = recorded(daemon, "network-create")["exchanges"][2]["reply"].clone();
    theirs["metadata"]["config"]
        .as_object_mut()
        .unwrap()
        .remove("user.lxpack.network");
    mock.one(daemon, "server", 0)
        .one(daemon, "acl-create", 2)
        .reply_json(200, &theirs);
    let error = client(&mock)
        .ensure_egress(&egress(daemon, true, recorded_rules()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::NetworkRefused { reason: NetworkRefusal::NameTaken, detail } if detail.contains("lxpack did not make")),
        "{error:?}"
    );
    assert_eq!(methods(&mock), ["GET", "GET", "GET"]);
}

async fn an_operator_bridge_is_checked_and_never_written(daemon: Daemon) {
    let network = egress(daemon, false, recorded_rules());
    // A bridge that does not exist is the first thing to fix, on either daemon.
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "network-missing", 0);
    let error = client(&mock).ensure_egress(&network).await.unwrap_err();
    assert!(
        matches!(&error, RuntimeError::NotFound { what: "network", name } if name == "lxpkop0"),
        "{error:?}"
    );
    assert_eq!(methods(&mock), ["GET", "GET"]);
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "network-create", 2);
    if daemon == Daemon::Lxd {
        // LXD 5.0 cannot put an ACL on a NIC: refused before anything is made.
        let error = client(&mock).ensure_egress(&network).await.unwrap_err();
        assert!(
            matches!(&error, RuntimeError::NetworkRefused { reason: NetworkRefusal::NoNicAcls, detail } if detail.contains("network_bridge_acl_devices")),
            "{error:?}"
        );
        assert_eq!(methods(&mock), ["GET", "GET"]);
        return;
    }
    // An operator's bridge that exists: read, never written.
    mock.one(daemon, "acl-create", 2);
    client(&mock).ensure_egress(&network).await.unwrap();
    assert_eq!(methods(&mock), ["GET", "GET", "GET"]);
}

async fn egress_state_compares_without_writing(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "acl-create", 0);
    let network = egress(daemon, true, recorded_rules());
    let state = client(&mock).egress_state(&network).await.unwrap();
    assert_eq!(state, EgressState::Missing);
    let mock = MockTransport::new();
    mock.one(daemon, "acl-create", 2)
        .one(daemon, "network-create", 2)
        .one(daemon, "acl-create", 2)
        .one(daemon, "network-create", 2);
    let client = client(&mock);
    assert_eq!(
        client.egress_state(&network).await.unwrap(),
        EgressState::Matches
    );
    let changed = egress(daemon, true, recorded_rules()[..1].to_vec());
    assert_eq!(
        client.egress_state(&changed).await.unwrap(),
        EgressState::Differs
    );
    assert!(methods(&mock).iter().all(|m| m == "GET"));
}

async fn host_addresses_are_every_interface_s(daemon: Daemon) {
    let mock = MockTransport::new();
    play_addresses(&mock, daemon);
    // Whether it is a cluster (it is not: no member is asked for).
    mock.one(daemon, "server", 0);
    let found = client(&mock).host_addresses().await.unwrap();
    for address in ["192.0.2.2", "fd00::2"] {
        assert!(
            found.contains(&address.parse().unwrap()),
            "{address}: {found:?}"
        );
    }
    assert_eq!(mock.unused(), 0);
    let lines = mock.lines();
    assert_eq!(lines[0], "GET /1.0/networks", "the list without recursion");
    assert!(
        lines[1..].iter().any(|l| l.ends_with("/state")),
        "{lines:?}"
    );
}

#[test]
fn a_network_s_name_is_the_end_of_its_url() {
    assert_eq!(
        super::network_name_of("/1.0/networks/lxpackbr0"),
        "lxpackbr0"
    );
    assert_eq!(
        super::network_name_of("/1.0/networks/eth0?project=builds"),
        "eth0"
    );
}

async fn a_launch_masks_the_base_nics_and_adds_the_bridge_s(daemon: Daemon) {
    let mock = MockTransport::new();
    let mut profile = recorded(daemon, "profile-default")["exchanges"][0]["reply"].clone();
    profile["metadata"]["devices"]["eth0"] =
        json!({"type": "nic", "nictype": "bridged", "parent": "lxdbr0"});
    profile["metadata"]["devices"]["wan"] = json!({"type": "nic", "network": "wan"});
    mock.one(daemon, "server", 0)
        .reply_json(200, &profile)
        .all(daemon, "launch");
    let spec = LaunchSpec {
        name: InstanceName::parse("lxpack-fixture-l").unwrap(),
        image: ImageRef::Local(ImageSelector::Alias(
            ImageAlias::parse("lxpack-test-busybox").unwrap(),
        )),
        profile: None,
        ephemeral: true,
        isolation: Default::default(),
        limits: Default::default(),
        network: NetworkAttachment::egress(&egress(daemon, true, Vec::new())),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: Duration::from_secs(60),
    };
    client(&mock)
        .launch_instance(&spec, &CancellationToken::new())
        .await
        .unwrap();
    let lines = mock.lines();
    assert_eq!(lines[1], "GET /1.0/profiles/default");
    let body = mock.requests()[2].body_json().unwrap();
    assert_eq!(
        body["devices"],
        json!({
            "eth0": {"type": "nic", "network": bridge(daemon), "security.port_isolation": "true"},
            "wan": {"type": "none"},
        })
    );
}

async fn on_a_cluster_the_bridge_is_made_pending_on_every_member_then_created(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "cluster-server", 0)
        .one(daemon, "acl-create", 2)
        .one(daemon, "network-create", 0);
    play_interfaces(&mock, daemon);
    mock.one(daemon, "cluster-members", 0);
    for _ in 0..4 {
        mock.one(daemon, "network-create", 1);
    }
    let network = egress(daemon, true, recorded_rules());
    client(&mock).ensure_egress(&network).await.unwrap();
    let lines = mock.lines();
    let posts: Vec<&String> = lines.iter().filter(|l| l.starts_with("POST")).collect();
    assert_eq!(
        posts,
        [
            "POST /1.0/networks?target=m1",
            "POST /1.0/networks?target=m2",
            "POST /1.0/networks?target=m3",
            "POST /1.0/networks",
        ]
    );
    let requests = mock.requests();
    let pending = requests[requests.len() - 2].body_json().unwrap();
    assert_eq!(
        pending,
        json!({"name": bridge(daemon), "type": "bridge", "config": {}})
    );
    let global = requests.last().unwrap().body_json().unwrap();
    assert_eq!(global["config"]["security.acls"], "lxpack-fixture-acl");
    assert_eq!(mock.unused(), 0);
    // The members' addresses are host addresses too.
    let mock = MockTransport::new();
    play_addresses(&mock, daemon);
    mock.one(daemon, "cluster-server", 0)
        .one(daemon, "cluster-members", 0);
    let found = client(&mock).host_addresses().await.unwrap();
    for member in metadata_of(daemon, "cluster-members", 0)
        .as_array()
        .unwrap()
    {
        let address = super::wire::member_address(member["url"].as_str().unwrap()).unwrap();
        assert!(found.contains(&address), "{address}: {found:?}");
    }
}
