//! The lives of instances on recorded replies of LXD 5.0 and Incus 6.0, through the
//! client's own methods (the runtime port's tests go through the port): state
//! changes, a clean stop, deletes that race, profiles deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::api::StateChange;
use crate::classify::Cause;
use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, on_both, operation_of};

on_both!(
    a_start_is_awaited,
    a_start_that_fails_in_forkstart_says_so,
    a_clean_stop_of_a_stopped_instance_is_not_forced,
    a_delete_another_delete_won_succeeds,
    a_delete_that_won_is_awaited,
    profiles_are_deleted_or_refused_with_their_cause,
);

/// `GET OPERATION/wait?timeout=SECONDS` of the operation reply `index` of `scenario`
/// started.
fn wait(daemon: Daemon, scenario: &str, index: usize, seconds: u64) -> String {
    format!(
        "GET {}/wait?timeout={seconds}",
        operation_of(daemon, scenario, index)
    )
}

async fn a_start_is_awaited(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "start");
    client(&mock)
        .change_state(
            "lxpack-fixture-s",
            StateChange::START,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "PUT /1.0/instances/lxpack-fixture-s/state".to_owned(),
            wait(daemon, "start", 0, 30),
        ]
    );
    assert_eq!(
        mock.requests()[0].body_json().unwrap(),
        serde_json::json!({"action": "start", "force": true, "timeout": -1})
    );
}

async fn a_start_that_fails_in_forkstart_says_so(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "start-forkstart");
    let error = client(&mock)
        .change_state(
            "lxpack-fixture-f",
            StateChange::START,
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
    assert_eq!(error.cause(), Some(Cause::FailedStart), "{error:?}");
    assert_eq!(mock.unused(), 0, "a failed start is not tried again here");
}

async fn a_clean_stop_of_a_stopped_instance_is_not_forced(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "stop-already-stopped");
    client(&mock)
        .stop("lxpack-fixture-s", Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "PUT /1.0/instances/lxpack-fixture-s/state".to_owned(),
            wait(daemon, "stop-already-stopped", 0, 65),
        ]
    );
    assert_eq!(
        mock.requests()[0].body_json().unwrap(),
        serde_json::json!({"action": "stop", "force": false, "timeout": 5})
    );
}

/// Four deletes at once: the losers' operations fail with "A matching non-reusable
/// operation has now succeeded" (both daemons), which means the instance is deleted.
async fn a_delete_another_delete_won_succeeds(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "delete-concurrent", 2)
        .one(daemon, "delete-concurrent", 3);
    client(&mock).delete("lxpack-fixture-cd").await.unwrap();
    assert_eq!(
        mock.lines(),
        [
            "DELETE /1.0/instances/lxpack-fixture-cd".to_owned(),
            wait(daemon, "delete-concurrent", 2, 120),
        ]
    );
}

async fn a_delete_that_won_is_awaited(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "delete-concurrent", 0)
        .one(daemon, "delete-concurrent", 1);
    client(&mock).delete("lxpack-fixture-cd").await.unwrap();
    assert_eq!(mock.unused(), 0);
}

async fn profiles_are_deleted_or_refused_with_their_cause(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "delete-profile")
        .all(daemon, "delete-profile-in-use")
        .all(daemon, "delete-profile-missing");
    let client = client(&mock);
    client.remove_profile("lxpack-fixture-p").await.unwrap();
    let in_use = client.remove_profile("lxpack-fixture-p").await.unwrap_err();
    assert_eq!(in_use.cause(), Some(Cause::InUse), "{in_use:?}");
    let missing = client.remove_profile("lxpack-fixture-p").await.unwrap_err();
    assert!(
        missing.is_gone() || missing.cause() == Some(Cause::ProfileMissing),
        "{missing:?}"
    );
    assert_eq!(mock.lines(), ["DELETE /1.0/profiles/lxpack-fixture-p"; 3]);
}
