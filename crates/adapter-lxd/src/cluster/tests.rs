//! A cluster's replies, recorded through member m1 of the test clusters
//! (`tests/fixtures/capture_cluster.py`): placement on a target member, and a member
//! whose daemon stopped, told as that member being unreachable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector, InstanceName, LaunchSpec};
use lxpack_core::ports::{ClusterMembers as _, ContainerRuntime, ResourceKind, RuntimeError};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, REQUEST_TIMEOUT, on_both, operation_of, recorded};
use crate::{LxdClient, LxdOptions};

on_both!(
    a_launch_on_a_target_member_says_where_it_runs,
    a_call_forwarded_to_a_stopped_member_names_the_member,
    a_launch_targeted_at_a_stopped_member_names_it,
    resources_and_members_say_which_member_holds_what,
    a_member_that_stops_answering_a_wait_is_unreachable_within_the_call_deadline,
);

const NAME: &str = "lxpack-fixture-c";

fn client(mock: &MockTransport, target: Option<&str>) -> LxdClient {
    LxdClient::connect_with_mock(
        mock.clone(),
        LxdOptions {
            request_timeout: REQUEST_TIMEOUT,
            target: target.map(str::to_owned),
            ..LxdOptions::default()
        },
    )
}

fn spec() -> LaunchSpec {
    LaunchSpec {
        name: InstanceName::parse(NAME).unwrap(),
        image: ImageRef::Local(ImageSelector::Alias(
            ImageAlias::parse("lxpack-test-busybox").unwrap(),
        )),
        profile: None,
        ephemeral: false,
        isolation: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: Duration::from_secs(60),
    }
}

/// Member `name` of the recorded member list `scenario`, as `GET /1.0/cluster/members/NAME`
/// answers it.
fn member_reply(daemon: Daemon, scenario: &str, index: usize, name: &str) -> Value {
    let members = recorded(daemon, scenario)["exchanges"][index]["reply"]["metadata"].clone();
    let member = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["server_name"] == name)
        .unwrap()
        .clone();
    json!({"type": "sync", "status": "Success", "status_code": 200, "metadata": member})
}

/// Queues the recorded launch of NAME on m2 (through m1).
fn launched(daemon: Daemon, mock: &MockTransport) {
    mock.one(daemon, "cluster-server", 0);
    let exchanges = match daemon {
        Daemon::Lxd => 0..4,
        Daemon::Incus => 0..2,
    };
    for index in exchanges {
        mock.one(daemon, "cluster-launch", index);
    }
}

async fn a_launch_on_a_target_member_says_where_it_runs(daemon: Daemon) {
    let mock = MockTransport::new();
    launched(daemon, &mock);
    let placement = client(&mock, Some("m2"))
        .launch_instance(&spec(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(placement.member.unwrap().as_str(), "m2");
    let lines = mock.lines();
    assert_eq!(lines[1], "POST /1.0/instances?target=m2");
    // The operation URL carries `?project=default` on a cluster: the wait is on the
    // operation's path, with the query after `/wait`.
    let operation = operation_of(daemon, "cluster-launch", 0);
    let (path, query) = operation.split_once('?').unwrap();
    assert_eq!(
        lines[2],
        format!(
            "GET {path}/wait?{query}&timeout={}",
            REQUEST_TIMEOUT.as_secs()
        )
    );
}

async fn a_call_forwarded_to_a_stopped_member_names_the_member(daemon: Daemon) {
    let mock = MockTransport::new();
    launched(daemon, &mock);
    let client = client(&mock, None);
    client
        .launch_instance(&spec(), &CancellationToken::new())
        .await
        .unwrap();
    // The stop forwarded to m2, refused by the cluster; then what m1 knows of m2.
    mock.one(daemon, "cluster-member-stopping", 2);
    mock.reply_json(
        200,
        &member_reply(daemon, "cluster-member-offline", 0, "m2"),
    );
    let error = client
        .stop_instance(&InstanceName::parse(NAME).unwrap(), None)
        .await
        .unwrap_err();
    let RuntimeError::Unreachable(unreachable) = &error else {
        panic!("{error:?}");
    };
    assert!(
        unreachable
            .endpoint
            .starts_with("cluster member m2 (https://"),
        "{unreachable:?}"
    );
    assert!(unreachable.endpoint.contains(NAME), "{unreachable:?}");
    assert!(
        unreachable
            .reason
            .contains("reports it offline (No heartbeat"),
        "{unreachable:?}"
    );
    assert!(unreachable.hint.contains("lxpack gc"), "{unreachable:?}");
    assert_eq!(mock.lines().last().unwrap(), "GET /1.0/cluster/members/m2");
}

async fn a_launch_targeted_at_a_stopped_member_names_it(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "cluster-server", 0);
    mock.one(daemon, "cluster-member-stopping", 3);
    mock.reply_json(200, &member_reply(daemon, "cluster-members", 0, "m2"));
    let error = client(&mock, Some("m2"))
        .launch_instance(&spec(), &CancellationToken::new())
        .await
        .unwrap_err();
    let RuntimeError::Unreachable(unreachable) = &error else {
        panic!("{error:?}");
    };
    assert!(
        unreachable.endpoint.starts_with("cluster member m2"),
        "{unreachable:?}"
    );
    // Still online for the cluster (no missed heartbeat yet): the cluster's own words.
    assert!(
        unreachable.reason.contains("Unable to connect to"),
        "{unreachable:?}"
    );
}

async fn resources_and_members_say_which_member_holds_what(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "cluster-member-offline", 1)
        .reply(200, r#"{"type":"sync","metadata":[]}"#);
    let client = client(&mock, None);
    let resources = client.list_resources().await.unwrap();
    let instance = resources
        .iter()
        .find(|r| r.kind == ResourceKind::Instance && r.name == NAME)
        .unwrap();
    assert_eq!(instance.member.as_ref().unwrap().as_str(), "m2");

    mock.one(daemon, "cluster-server", 0)
        .one(daemon, "cluster-member-offline", 0);
    let members = client.cluster_members().await.unwrap();
    let states: Vec<(&str, bool)> = members
        .iter()
        .map(|m| (m.name.as_str(), m.is_reachable()))
        .collect();
    assert_eq!(states, [("m1", true), ("m2", false), ("m3", true)]);
    assert!(
        members[1].message.starts_with("No heartbeat"),
        "{members:?}"
    );
}

async fn a_member_that_stops_answering_a_wait_is_unreachable_within_the_call_deadline(
    daemon: Daemon,
) {
    let mock = MockTransport::new();
    mock.one(daemon, "cluster-server", 0);
    mock.one(daemon, "cluster-launch", 0);
    // The member froze: the forwarded wait never comes back.
    mock.hang();
    mock.reply_json(200, &member_reply(daemon, "cluster-members", 0, "m2"));
    let started = tokio::time::Instant::now();
    let error = client(&mock, Some("m2"))
        .launch_instance(&spec(), &CancellationToken::new())
        .await
        .unwrap_err();
    let RuntimeError::Unreachable(unreachable) = &error else {
        panic!("{error:?}");
    };
    assert!(
        unreachable.endpoint.starts_with("cluster member m2"),
        "{unreachable:?}"
    );
    assert!(
        unreachable.reason.contains("did not answer"),
        "{unreachable:?}"
    );
    // One wait slice (the call deadline) and its margin, not the launch's 60 s.
    assert!(
        started.elapsed() <= REQUEST_TIMEOUT + Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
