//! Claims, changes of mark and attached profiles on recorded replies of LXD 5.0 and
//! Incus 6.0: the read with its `ETag`, the `PATCH` with `If-Match`, and every way the
//! compare-and-set is lost (412, the daemon's update lock, a mark read that differs).
//! They call the client's own methods, not the ports'.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lxpack_core::domain::{
    AppKey, InstanceName, JobCommand, JobId, Labels, ProfileName, StandbyLabel, StandbyMark,
};
use lxpack_core::ports::RuntimeError;
use serde_json::Value;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, etag_of, on_both, reply_of};
use crate::transport::Request;

on_both!(
    a_claim_writes_the_job_labels_if_the_standby_is_unchanged,
    a_claim_refused_with_412_is_changed,
    a_claim_that_lost_to_a_concurrent_update_is_changed,
    a_claim_of_a_standby_whose_mark_differs_is_changed_without_a_write,
    a_claim_of_a_missing_instance_is_not_found,
    a_claim_without_an_etag_is_refused_without_a_write,
    a_new_mark_replaces_the_old_and_empties_the_labels_it_drops,
    a_new_mark_refused_with_412_is_changed,
    a_new_mark_of_a_missing_instance_is_not_found,
    attach_adds_the_profile_last_if_the_profiles_are_unchanged,
    attach_refused_with_412_is_changed_and_names_the_instance,
    attach_that_lost_to_a_concurrent_update_is_changed,
    attach_of_a_profile_already_there_writes_nothing,
    attach_of_a_missing_profile_names_the_profile,
    attach_to_a_missing_instance_names_the_instance,
    attach_without_an_etag_is_refused_without_a_write,
);

/// The instance the recordings read.
fn standby() -> InstanceName {
    InstanceName::parse("lxpack-fixture-c").unwrap()
}

/// The mark the recorded standby carries (capture.py's `STANDBY_MARK`).
fn recorded_mark() -> StandbyMark {
    StandbyMark::read(
        |label| match label {
            StandbyLabel::Pool => Some("0123456789abcdef"),
            StandbyLabel::Image => Some("65f0a1b2c3d4e5f60718293a"),
            StandbyLabel::Since => Some("1764748800"),
            StandbyLabel::Ready => Some("true"),
            _ => None,
        },
        Some("web/prod/front"),
    )
    .unwrap()
}

fn labels() -> Labels {
    Labels {
        job: JobId::parse("65f0a1b2c3d4e5f60718293b").unwrap(),
        command: JobCommand::Deploy,
        app: AppKey::new("web", "prod", "front"),
    }
}

fn profile(name: &str) -> ProfileName {
    ProfileName::parse(name).unwrap()
}

/// The `If-Match` of a request.
fn if_match(request: &Request) -> Option<&str> {
    request.header_value("If-Match")
}

/// The config of a `PATCH`.
fn patched_config(request: &Request) -> serde_json::Map<String, Value> {
    request.body_json().unwrap()["config"]
        .as_object()
        .unwrap()
        .clone()
}

/// Only the read of reply `index` of `scenario`, without its `ETag`.
fn read_without_etag(mock: &MockTransport, daemon: Daemon, scenario: &str) {
    let (status, body) = reply_of(daemon, scenario, 0);
    mock.reply(status, body);
}

fn assert_changed(result: Result<(), RuntimeError>) {
    match result {
        Err(RuntimeError::Changed { name, .. }) => assert_eq!(name, standby().as_str()),
        other => panic!("{other:?}"),
    }
}

async fn a_claim_writes_the_job_labels_if_the_standby_is_unchanged(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "claim");
    client(&mock)
        .claim(&standby(), &recorded_mark(), &labels())
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/instances/lxpack-fixture-c",
            "PATCH /1.0/instances/lxpack-fixture-c"
        ]
    );
    let patch = &mock.requests()[1];
    assert_eq!(if_match(patch), etag_of(daemon, "claim", 0).as_deref());
    let config = patched_config(patch);
    assert_eq!(config["user.lxpack.job"], "65f0a1b2c3d4e5f60718293b");
    assert_eq!(config["user.lxpack.command"], "deploy");
    assert_eq!(config["user.lxpack.app"], "web/prod/front");
    assert_eq!(mock.unused(), 0);
}

async fn a_claim_refused_with_412_is_changed(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "claim-stale");
    let result = client(&mock)
        .claim(&standby(), &recorded_mark(), &labels())
        .await;
    assert_changed(result);
    assert_eq!(
        if_match(&mock.requests()[1]),
        etag_of(daemon, "claim-stale", 0).as_deref()
    );
}

/// LXD refuses a change that waited for another on its update lock ("A matching
/// non-reusable operation has now succeeded"); Incus says 412.
async fn a_claim_that_lost_to_a_concurrent_update_is_changed(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "update-concurrent", 0)
        .one(daemon, "update-concurrent", 2);
    let result = client(&mock)
        .claim(&standby(), &recorded_mark(), &labels())
        .await;
    assert_changed(result);
}

async fn a_claim_of_a_standby_whose_mark_differs_is_changed_without_a_write(daemon: Daemon) {
    let others = [
        recorded_mark().retired(),
        StandbyMark {
            ready: false,
            ..recorded_mark()
        },
        StandbyMark {
            app: AppKey::new("web", "prod", "back"),
            ..recorded_mark()
        },
    ];
    for expected in others {
        let mock = MockTransport::new();
        mock.one(daemon, "claim", 0);
        let result = client(&mock).claim(&standby(), &expected, &labels()).await;
        assert_changed(result);
        assert_eq!(mock.lines(), ["GET /1.0/instances/lxpack-fixture-c"]);
    }
}

async fn a_claim_of_a_missing_instance_is_not_found(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance-missing");
    let result = client(&mock)
        .claim(&standby(), &recorded_mark(), &labels())
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::NotFound { what: "instance", name }) if name == "lxpack-fixture-c"),
        "{result:?}"
    );
}

async fn a_claim_without_an_etag_is_refused_without_a_write(daemon: Daemon) {
    let mock = MockTransport::new();
    read_without_etag(&mock, daemon, "claim");
    let result = client(&mock)
        .claim(&standby(), &recorded_mark(), &labels())
        .await;
    match result {
        Err(RuntimeError::Rejected { message, .. }) => {
            assert!(message.contains("ETag"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.requests().len(), 1);
}

async fn a_new_mark_replaces_the_old_and_empties_the_labels_it_drops(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "claim");
    let not_ready = StandbyMark {
        ready: false,
        ..recorded_mark()
    };
    client(&mock)
        .remark(&standby(), &recorded_mark(), &not_ready.retired())
        .await
        .unwrap();
    let patch = &mock.requests()[1];
    assert_eq!(if_match(patch), etag_of(daemon, "claim", 0).as_deref());
    let config = patched_config(patch);
    assert_eq!(config["user.lxpack.standby_retiring"], "true");
    assert_eq!(config["user.lxpack.standby_ready"], "");
    assert_eq!(config["user.lxpack.standby"], "0123456789abcdef");
    assert_eq!(config["user.lxpack.app"], "web/prod/front");
}

async fn a_new_mark_refused_with_412_is_changed(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "claim-stale");
    let result = client(&mock)
        .remark(&standby(), &recorded_mark(), &recorded_mark().retired())
        .await;
    assert_changed(result);
}

async fn a_new_mark_of_a_missing_instance_is_not_found(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance-missing");
    let result = client(&mock)
        .remark(&standby(), &recorded_mark(), &recorded_mark().retired())
        .await;
    assert!(
        matches!(
            result,
            Err(RuntimeError::NotFound {
                what: "instance",
                ..
            })
        ),
        "{result:?}"
    );
}

async fn attach_adds_the_profile_last_if_the_profiles_are_unchanged(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "attach");
    client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-cp"))
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/instances/lxpack-fixture-c",
            "PATCH /1.0/instances/lxpack-fixture-c"
        ]
    );
    let patch = &mock.requests()[1];
    assert_eq!(if_match(patch), etag_of(daemon, "attach", 0).as_deref());
    assert_eq!(
        patch.body_json().unwrap()["profiles"],
        serde_json::json!(["default", "lxpack-fixture-cp"])
    );
}

async fn attach_refused_with_412_is_changed_and_names_the_instance(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "attach-stale");
    let result = client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-cp"))
        .await;
    match result {
        Err(RuntimeError::Changed { name, reason }) => {
            assert_eq!(name, "lxpack-fixture-c");
            assert!(reason.contains("lxpack-fixture-cp"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        if_match(&mock.requests()[1]),
        etag_of(daemon, "attach-stale", 0).as_deref()
    );
}

async fn attach_that_lost_to_a_concurrent_update_is_changed(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "update-concurrent", 0)
        .one(daemon, "update-concurrent", 2);
    let result = client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-cp"))
        .await;
    assert_changed(result);
}

async fn attach_of_a_profile_already_there_writes_nothing(daemon: Daemon) {
    let mock = MockTransport::new();
    // Its read lists `default` and `lxpack-fixture-co`.
    mock.one(daemon, "attach-profile-missing", 0);
    client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-co"))
        .await
        .unwrap();
    assert_eq!(mock.lines(), ["GET /1.0/instances/lxpack-fixture-c"]);
}

async fn attach_of_a_missing_profile_names_the_profile(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "attach-profile-missing");
    let result = client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-nope"))
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::NotFound { what: "profile", name }) if name == "lxpack-fixture-nope"),
        "{result:?}"
    );
}

async fn attach_to_a_missing_instance_names_the_instance(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance-missing");
    let result = client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-cp"))
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::NotFound { what: "instance", name }) if name == "lxpack-fixture-c"),
        "{result:?}"
    );
}

async fn attach_without_an_etag_is_refused_without_a_write(daemon: Daemon) {
    let mock = MockTransport::new();
    read_without_etag(&mock, daemon, "attach");
    let result = client(&mock)
        .attach(&standby(), &profile("lxpack-fixture-cp"))
        .await;
    assert!(
        matches!(&result, Err(RuntimeError::Rejected { message, .. }) if message.contains("ETag")),
        "{result:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}
