//! Step snapshots and the step holder on recorded replies of LXD 5.0 and Incus 6.0.
//! These calls are port methods (no inner method of the client to call instead); the
//! ports are imported whole so that the tests find them whichever port trait holds
//! them.

use lxpack_core::domain::{InstanceName, StepKey};
#[allow(clippy::wildcard_imports)]
use lxpack_core::ports::*;
use serde_json::json;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, on_both, operation_of};

on_both!(
    a_snapshot_is_asked_for_without_state_and_awaited,
    a_snapshot_of_a_name_taken_already_exists,
    a_snapshot_of_a_missing_instance_is_not_found,
    a_step_holder_keeps_only_the_base_profiles_and_its_keys,
    a_step_holder_of_a_missing_instance_is_not_found,
);

/// The instance the recordings snapshot.
fn holder() -> InstanceName {
    InstanceName::parse("lxpack-fixture-c").unwrap()
}

const SNAPSHOT: &str = "lxpack-step-0123456789abcdef";

async fn a_snapshot_is_asked_for_without_state_and_awaited(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "snapshot");
    client(&mock)
        .snapshot_instance(&holder(), SNAPSHOT)
        .await
        .unwrap();
    // The wait is as long as a copy of every file may take (30 minutes).
    assert_eq!(
        mock.lines(),
        [
            "POST /1.0/instances/lxpack-fixture-c/snapshots".to_owned(),
            format!(
                "GET {}/wait?timeout=1800",
                operation_of(daemon, "snapshot", 0)
            ),
        ]
    );
    assert_eq!(
        mock.requests()[0].body_json().unwrap(),
        json!({ "name": SNAPSHOT, "stateful": false })
    );
}

async fn a_snapshot_of_a_name_taken_already_exists(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "snapshot-exists");
    let result = client(&mock).snapshot_instance(&holder(), SNAPSHOT).await;
    assert!(
        matches!(result, Err(RuntimeError::AlreadyExists { .. })),
        "{result:?}"
    );
    assert_eq!(mock.unused(), 0);
}

async fn a_snapshot_of_a_missing_instance_is_not_found(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "snapshot-missing");
    let missing = InstanceName::parse("lxpack-fixture-nope").unwrap();
    let result = client(&mock).snapshot_instance(&missing, SNAPSHOT).await;
    assert!(
        matches!(&result, Err(RuntimeError::NotFound { what: "instance", name }) if name == "lxpack-fixture-nope"),
        "{result:?}"
    );
}

async fn a_step_holder_keeps_only_the_base_profiles_and_its_keys(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "keep-step-holder");
    let keys = StepKey::split("0123456789abcdef,fedcba9876543210");
    client(&mock)
        .keep_as_step_holder(&holder(), &keys)
        .await
        .unwrap();
    assert_eq!(mock.lines(), ["PATCH /1.0/instances/lxpack-fixture-c"]);
    assert_eq!(
        mock.requests()[0].body_json().unwrap(),
        json!({
            "profiles": ["default"],
            "config": { "user.lxpack.steps": "0123456789abcdef,fedcba9876543210" },
        })
    );
}

async fn a_step_holder_of_a_missing_instance_is_not_found(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "keep-step-holder-missing");
    let missing = InstanceName::parse("lxpack-fixture-nope").unwrap();
    let result = client(&mock)
        .keep_as_step_holder(&missing, &StepKey::split("0123456789abcdef"))
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::NotFound { what: "instance", name }) if name == "lxpack-fixture-nope"),
        "{result:?}"
    );
}
