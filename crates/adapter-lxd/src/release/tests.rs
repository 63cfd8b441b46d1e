//! Releases on recorded replies of LXD 5.0 and Incus 6.0, through the client's own
//! method: what ends the release early, and which name each failure carries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lxpack_core::domain::{InstanceName, ProfileName};
use lxpack_core::ports::RuntimeError;
use serde_json::json;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, on_both};

on_both!(
    a_release_asks_for_the_stop_and_does_not_wait_for_it,
    a_release_of_an_instance_the_daemon_removed_already_succeeds,
    a_release_of_a_missing_instance_names_the_instance,
    a_release_whose_profile_is_still_used_names_the_profile,
);

const NAME: &str = "lxpack-fixture-l";

fn instance() -> InstanceName {
    InstanceName::parse(NAME).unwrap()
}

fn profile() -> ProfileName {
    ProfileName::parse("lxpack-fixture-p").unwrap()
}

async fn a_release_asks_for_the_stop_and_does_not_wait_for_it(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance")
        .all(daemon, "detach-profile")
        .all(daemon, "delete-profile")
        .all(daemon, "release-stop");
    client(&mock)
        .release_in_background(&instance(), &profile())
        .await
        .unwrap();
    let lines = mock.lines();
    assert_eq!(
        lines.last().unwrap(),
        &format!("PUT /1.0/instances/{NAME}/state")
    );
    assert!(!lines.iter().any(|l| l.contains("/wait")), "{lines:?}");
    assert_eq!(
        mock.requests().last().unwrap().body_json().unwrap(),
        json!({"action": "stop", "force": true, "timeout": -1})
    );
    assert_eq!(mock.unused(), 0);
}

async fn a_release_of_an_instance_the_daemon_removed_already_succeeds(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance")
        .all(daemon, "detach-profile")
        .all(daemon, "delete-profile")
        .all(daemon, "release-stop-gone");
    client(&mock)
        .release_in_background(&instance(), &profile())
        .await
        .unwrap();
}

async fn a_release_of_a_missing_instance_names_the_instance(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance-missing");
    let result = client(&mock)
        .release_in_background(&instance(), &profile())
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::NotFound { what: "instance", name }) if name == NAME),
        "{result:?}"
    );
    assert_eq!(mock.lines().len(), 1);
}

async fn a_release_whose_profile_is_still_used_names_the_profile(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance")
        .all(daemon, "detach-profile")
        .all(daemon, "delete-profile-in-use");
    let result = client(&mock)
        .release_in_background(&instance(), &profile())
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::InUse { what: "profile", name }) if name == "lxpack-fixture-p"),
        "{result:?}"
    );
    // The stop is not asked for: the job's mount would stay.
    assert!(!mock.lines().iter().any(|l| l.ends_with("/state")));
}
