//! The runtime port on recorded replies of LXD 5.0 and Incus 6.0: the exact requests
//! made, in order, and the port's result, for every retry and error path. The clock
//! is paused, so the retries' pauses and the deadlines take no time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use lxpack_core::domain::{
    DiskMount, FileSpec, GuestPath, ImageAlias, ImageRef, ImageSelector, InstanceName, LaunchSpec,
    Owner, ProfileName, ProfileSpec,
};
use lxpack_core::ports::{ContainerRuntime, ResourceKind, RuntimeError};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, REQUEST_TIMEOUT, client, on_both, operation_of, recorded};

on_both!(
    launch_starts_in_the_create_request_only_where_the_daemon_can,
    launch_of_a_taken_name_is_already_exists,
    launch_from_a_missing_image_is_image_not_found,
    launch_with_a_missing_profile_names_the_profile,
    launch_starts_again_after_a_failed_start,
    launch_creates_an_ephemeral_instance_again_once_the_daemon_removed_it,
    delete_of_a_running_instance_stops_it_first,
    delete_while_busy_waits_and_asks_again,
    stop_of_a_stopped_instance_succeeds,
    a_clean_stop_that_fails_is_forced,
    create_profile_maps_the_owner_and_refuses_a_taken_name,
    delete_profile_in_use_or_missing,
    push_file_writes_or_names_the_missing_directory,
    release_detaches_deletes_the_profile_and_asks_for_the_stop,
    resources_are_read_from_both_lists,
);

const NAME: &str = "lxpack-fixture-l";
const LIMIT: Duration = Duration::from_secs(60);

/// The launch of the recorded instance, with `profile`.
fn spec(name: &str, ephemeral: bool) -> LaunchSpec {
    LaunchSpec {
        name: InstanceName::parse(name).unwrap(),
        image: ImageRef::Local(ImageSelector::Alias(
            ImageAlias::parse("lxpack-test-busybox").unwrap(),
        )),
        profile: Some(ProfileName::parse("lxpack-fixture-p").unwrap()),
        ephemeral,
        isolation: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: LIMIT,
    }
}

fn name(text: &str) -> InstanceName {
    InstanceName::parse(text).unwrap()
}

/// `GET OPERATION/wait?timeout=SECONDS` of the operation reply `index` of `scenario`
/// started.
fn wait(daemon: Daemon, scenario: &str, index: usize, seconds: u64) -> String {
    format!(
        "GET {}/wait?timeout={seconds}",
        operation_of(daemon, scenario, index)
    )
}

async fn launch_starts_in_the_create_request_only_where_the_daemon_can(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0).all(daemon, "launch");
    let client = client(&mock);
    client
        .launch_instance(&spec(NAME, true), &CancellationToken::new())
        .await
        .unwrap();
    let create = &mock.requests()[1];
    let body = create.body_json().unwrap();
    assert_eq!(body["name"], NAME);
    assert_eq!(body["profiles"], json!(["default", "lxpack-fixture-p"]));
    assert_eq!(body["ephemeral"], true);
    match daemon {
        Daemon::Lxd => {
            assert!(body.get("start").is_none(), "{body}");
            assert_eq!(
                mock.lines(),
                [
                    "GET /1.0".to_owned(),
                    "POST /1.0/instances".into(),
                    wait(daemon, "launch", 0, 60),
                    format!("PUT /1.0/instances/{NAME}/state"),
                    wait(daemon, "launch", 2, 60),
                ]
            );
            assert_eq!(
                mock.requests()[3].body_json().unwrap(),
                json!({"action": "start", "force": true, "timeout": -1})
            );
        }
        Daemon::Incus => {
            assert_eq!(body["start"], true);
            assert_eq!(
                mock.lines(),
                [
                    "GET /1.0".to_owned(),
                    "POST /1.0/instances".into(),
                    wait(daemon, "launch", 0, 60),
                ]
            );
        }
    }
    assert_eq!(mock.unused(), 0);
}

async fn launch_of_a_taken_name_is_already_exists(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0).all(daemon, "launch-exists");
    let error = client(&mock)
        .launch_instance(&spec(NAME, false), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::AlreadyExists { what: "instance", name } if name == NAME),
        "{error:?}"
    );
    assert_eq!(
        mock.lines().len(),
        3,
        "GET /1.0, POST, wait: {:?}",
        mock.lines()
    );
}

async fn launch_from_a_missing_image_is_image_not_found(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .all(daemon, "launch-image-missing");
    let error = client(&mock)
        .launch_instance(&spec("lxpack-fixture-m", false), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::ImageNotFound { image } if image.contains("lxpack-test-busybox")),
        "{error:?}"
    );
    // LXD refuses the alias at once; Incus fails the create operation.
    let expected = match daemon {
        Daemon::Lxd => 2,
        Daemon::Incus => 3,
    };
    assert_eq!(mock.lines().len(), expected, "{:?}", mock.lines());
}

async fn launch_with_a_missing_profile_names_the_profile(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .all(daemon, "launch-profile-missing");
    let error = client(&mock)
        .launch_instance(&spec("lxpack-fixture-m", false), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::NotFound { what: "profile", name } if name == "lxpack-fixture-p"),
        "{error:?}"
    );
}

/// A non-ephemeral instance whose start fails in `forkstart` is started again: on
/// LXD the daemon is first busy with its own stop (a pause, then another start); on
/// Incus, whose start is in the create request, the second start fails in forkstart
/// too, and the third works.
async fn launch_starts_again_after_a_failed_start(daemon: Daemon) {
    let mock = MockTransport::new();
    let started = Instant::now();
    let client = client(&mock);
    let name = "lxpack-fixture-f";
    let state = format!("PUT /1.0/instances/{name}/state");
    match daemon {
        Daemon::Lxd => {
            mock.one(daemon, "server", 0)
                .one(daemon, "launch", 0)
                .one(daemon, "launch", 1)
                .all(daemon, "start-forkstart")
                .all(daemon, "delete-busy")
                .all(daemon, "start");
            client
                .launch_instance(&spec(name, false), &CancellationToken::new())
                .await
                .unwrap();
            assert_eq!(
                mock.lines(),
                [
                    "GET /1.0".to_owned(),
                    "POST /1.0/instances".into(),
                    wait(daemon, "launch", 0, 60),
                    state.clone(),
                    wait(daemon, "start-forkstart", 0, 60),
                    state.clone(),
                    wait(daemon, "delete-busy", 0, 60),
                    state,
                    wait(daemon, "start", 0, 60),
                ]
            );
            assert_eq!(
                started.elapsed(),
                Duration::from_secs(2),
                "one pause while busy"
            );
        }
        Daemon::Incus => {
            mock.one(daemon, "server", 0)
                .one(daemon, "launch-forkstart-ephemeral", 0)
                .one(daemon, "launch-forkstart-ephemeral", 1)
                .all(daemon, "start-forkstart")
                .all(daemon, "start");
            client
                .launch_instance(&spec(name, false), &CancellationToken::new())
                .await
                .unwrap();
            assert_eq!(
                mock.lines(),
                [
                    "GET /1.0".to_owned(),
                    "POST /1.0/instances".into(),
                    wait(daemon, "launch-forkstart-ephemeral", 0, 60),
                    state.clone(),
                    wait(daemon, "start-forkstart", 0, 60),
                    state,
                    wait(daemon, "start", 0, 60),
                ]
            );
            assert_eq!(started.elapsed(), Duration::ZERO);
        }
    }
    assert_eq!(mock.unused(), 0);
}

/// An ephemeral instance whose start fails is removed by the daemon: the adapter
/// waits until it is gone (one look while it still exists), then creates it again.
async fn launch_creates_an_ephemeral_instance_again_once_the_daemon_removed_it(daemon: Daemon) {
    let mock = MockTransport::new();
    let recording = recorded(daemon, "launch-forkstart-ephemeral");
    let exchanges = recording["exchanges"].as_array().unwrap().len();
    mock.one(daemon, "server", 0);
    for index in 0..exchanges - 1 {
        mock.one(daemon, "launch-forkstart-ephemeral", index);
    }
    // Still there at the first look, gone at the second.
    mock.one(daemon, "get-instance", 0)
        .one(daemon, "launch-forkstart-ephemeral", exchanges - 1)
        .all(daemon, "launch");
    let started = Instant::now();
    client(&mock)
        .launch_instance(&spec("lxpack-fixture-f", true), &CancellationToken::new())
        .await
        .unwrap();
    let lines = mock.lines();
    let get = "GET /1.0/instances/lxpack-fixture-f";
    assert_eq!(lines.iter().filter(|l| *l == get).count(), 2, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| *l == "POST /1.0/instances").count(),
        2,
        "{lines:?}"
    );
    let first_get = lines.iter().position(|l| l == get).unwrap();
    assert_eq!(
        lines[first_get - 1],
        wait(daemon, "launch-forkstart-ephemeral", exchanges - 3, 60),
        "the look follows the failed start: {lines:?}"
    );
    assert_eq!(lines[first_get + 2], "POST /1.0/instances");
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(mock.unused(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_ephemeral_instance_is_created_three_times_at_most() {
    let daemon = Daemon::Incus;
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0);
    for _ in 0..3 {
        mock.all(daemon, "launch-forkstart-ephemeral");
    }
    let error = client(&mock)
        .launch_instance(&spec("lxpack-fixture-f", true), &CancellationToken::new())
        .await
        .unwrap_err();
    let RuntimeError::Rejected { message, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("forkstart"), "{message}");
    let posts = mock
        .lines()
        .iter()
        .filter(|l| *l == "POST /1.0/instances")
        .count();
    assert_eq!(posts, 3);
    // The third failure is returned without looking for the instance again.
    assert_eq!(mock.unused(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_launch_that_outlives_its_limit_is_timed_out_at_the_limit() {
    let daemon = Daemon::Incus;
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "launch", 0)
        .hang();
    let started = Instant::now();
    let error = client(&mock)
        .launch_instance(&spec(NAME, true), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::TimedOut { operation, after } if operation == "launch lxpack-fixture-l" && *after == LIMIT),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), LIMIT);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_launch_is_cancelled() {
    let daemon = Daemon::Lxd;
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .one(daemon, "launch", 0)
        .hang();
    let cancel = CancellationToken::new();
    let client = client(&mock);
    let launch = spec(NAME, true);
    let run = client.launch_instance(&launch, &cancel);
    let trigger = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(run, trigger);
    assert!(
        matches!(&result, Err(RuntimeError::Cancelled { operation }) if operation == "launch lxpack-fixture-l"),
        "{result:?}"
    );
}

async fn delete_of_a_running_instance_stops_it_first(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "delete-running")
        .all(daemon, "stop")
        .all(daemon, "delete");
    client(&mock)
        .delete_instance(&name("lxpack-fixture-s"))
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "DELETE /1.0/instances/lxpack-fixture-s".to_owned(),
            "PUT /1.0/instances/lxpack-fixture-s/state".into(),
            wait(daemon, "stop", 0, 120),
            "DELETE /1.0/instances/lxpack-fixture-s".into(),
            wait(daemon, "delete", 0, 120),
        ]
    );
    assert_eq!(
        mock.requests()[1].body_json().unwrap(),
        json!({"action": "stop", "force": true, "timeout": -1})
    );
}

/// The busy refusal comes as a failed operation on LXD and as an error envelope on
/// Incus: both are waited out.
async fn delete_while_busy_waits_and_asks_again(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "delete-busy")
        .all(daemon, "delete-busy")
        .all(daemon, "delete");
    let started = Instant::now();
    client(&mock)
        .delete_instance(&name("lxpack-fixture-b"))
        .await
        .unwrap();
    let delete = "DELETE /1.0/instances/lxpack-fixture-b".to_owned();
    assert_eq!(
        mock.lines(),
        [
            delete.clone(),
            wait(daemon, "delete-busy", 0, 120),
            delete.clone(),
            wait(daemon, "delete-busy", 0, 120),
            delete,
            wait(daemon, "delete", 0, 120),
        ]
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "two pauses of 1 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delete_busy_past_its_limit_gives_the_daemon_s_refusal() {
    let daemon = Daemon::Lxd;
    let mock = MockTransport::new();
    for _ in 0..130 {
        mock.all(daemon, "delete-busy");
    }
    let started = Instant::now();
    let error = client(&mock)
        .delete_instance(&name("lxpack-fixture-b"))
        .await
        .unwrap_err();
    let RuntimeError::Rejected { message, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("busy running a \"start\" operation"),
        "{message}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(120));
    assert_eq!(mock.lines().len(), 121 * 2);
}

#[tokio::test(start_paused = true)]
async fn delete_of_a_missing_instance_is_not_found() {
    for daemon in Daemon::BOTH {
        let mock = MockTransport::new();
        mock.all(daemon, "delete-missing");
        let error = client(&mock)
            .delete_instance(&name("lxpack-fixture-s"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, RuntimeError::NotFound { what: "instance", name } if name == "lxpack-fixture-s"),
            "{daemon:?}: {error:?}"
        );
        assert_eq!(mock.lines().len(), 1);
    }
}

/// LXD fails the stop operation with "already stopped"; Incus answers its `/wait`
/// with an error envelope saying so: both are a stopped instance.
async fn stop_of_a_stopped_instance_succeeds(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "stop-already-stopped");
    client(&mock)
        .stop_instance(&name("lxpack-fixture-s"), None)
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "PUT /1.0/instances/lxpack-fixture-s/state".to_owned(),
            wait(daemon, "stop-already-stopped", 0, 60),
        ]
    );
}

/// Busybox's init ignores the daemon's halt signal, so a clean stop fails at its
/// timeout (Incus's message ends with "context deadline exceeded", which is not an
/// ended wait), and the stop is forced.
async fn a_clean_stop_that_fails_is_forced(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "stop-graceful").all(daemon, "stop");
    client(&mock)
        .stop_instance(&name("lxpack-fixture-s"), Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "PUT /1.0/instances/lxpack-fixture-s/state".to_owned(),
            wait(daemon, "stop-graceful", 0, 62),
            "PUT /1.0/instances/lxpack-fixture-s/state".into(),
            wait(daemon, "stop", 0, 60),
        ]
    );
    let bodies: Vec<serde_json::Value> = mock
        .requests()
        .iter()
        .filter_map(|r| r.body_json())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"action": "stop", "force": false, "timeout": 2}),
            json!({"action": "stop", "force": true, "timeout": -1}),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_forced_stop_reported_as_timed_out_is_tried_once_more() {
    // The wording of a loaded host's forced stop, which the test daemons do not meet.
    let failed = json!({"type": "sync", "status_code": 200, "metadata": {
        "id": "1", "status_code": 400, "err": "Failed stopping instance: timed out"}});
    let started =
        json!({"type": "async", "operation": "/1.0/operations/1", "metadata": {"id": "1"}});
    let mock = MockTransport::new();
    mock.reply_json(202, &started)
        .reply_json(200, &failed)
        .reply_json(202, &started)
        .reply_json(200, &failed);
    let error = client(&mock)
        .stop_instance(&name("lxpack-fixture-s"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, RuntimeError::Rejected { .. }), "{error:?}");
    assert_eq!(mock.lines().len(), 4, "two stops: {:?}", mock.lines());
    // Once more, and it works.
    let mock = MockTransport::new();
    mock.reply_json(202, &started)
        .reply_json(200, &failed)
        .all(Daemon::Lxd, "stop");
    client(&mock)
        .stop_instance(&name("lxpack-fixture-s"), None)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn stop_of_a_missing_instance_is_not_found() {
    for daemon in Daemon::BOTH {
        let mock = MockTransport::new();
        mock.all(daemon, "release-stop-gone");
        let error = client(&mock)
            .stop_instance(&name("lxpack-fixture-l"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                RuntimeError::NotFound {
                    what: "instance",
                    ..
                }
            ),
            "{daemon:?}: {error:?}"
        );
    }
}

fn profile_spec(owner: u32) -> ProfileSpec {
    ProfileSpec {
        name: ProfileName::parse("lxpack-fixture-p").unwrap(),
        labels: None,
        standby: None,
        description: "lxpack fixture".into(),
        mounts: vec![DiskMount {
            device: "checkout".into(),
            source: lxpack_core::domain::MountSource::Host("/var/tmp".into()),
            target: GuestPath::parse("/srv/app").unwrap(),
            read_only: false,
            owner: Some(Owner {
                uid: owner,
                gid: owner,
            }),
        }],
    }
}

/// The recorded servers both report idmapped mounts, which only Incus can use: LXD
/// gets `raw.idmap`, Incus `shift=true`.
async fn create_profile_maps_the_owner_and_refuses_a_taken_name(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .all(daemon, "create-profile")
        .all(daemon, "create-profile-exists");
    let client = client(&mock);
    client.create_profile(&profile_spec(1000)).await.unwrap();
    let error = client
        .create_profile(&profile_spec(1000))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::AlreadyExists { what: "profile", name } if name == "lxpack-fixture-p"),
        "{error:?}"
    );
    assert_eq!(
        mock.lines(),
        ["GET /1.0", "POST /1.0/profiles", "POST /1.0/profiles"],
        "GET /1.0 is read once"
    );
    let body = mock.requests()[1].body_json().unwrap();
    match daemon {
        Daemon::Lxd => {
            assert_eq!(body["config"]["raw.idmap"], "uid 1000 1000\ngid 1000 1000");
            assert!(body["devices"]["checkout"].get("shift").is_none());
        }
        Daemon::Incus => {
            assert_eq!(body["devices"]["checkout"]["shift"], "true");
            assert!(body["config"].get("raw.idmap").is_none());
        }
    }
}

#[tokio::test]
async fn a_root_owned_checkout_without_idmapped_mounts_is_unsupported_before_any_change() {
    let mock = MockTransport::new();
    mock.one(Daemon::Lxd, "server", 0);
    let error = client(&mock)
        .create_profile(&profile_spec(0))
        .await
        .unwrap_err();
    let RuntimeError::Unsupported { what, hint } = &error else {
        panic!("{error:?}")
    };
    assert!(what.contains("owned by root"), "{what}");
    assert!(hint.contains("chown"), "{hint}");
    assert_eq!(mock.lines(), ["GET /1.0"]);
}

async fn delete_profile_in_use_or_missing(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "delete-profile-in-use")
        .all(daemon, "delete-profile")
        .all(daemon, "delete-profile-missing");
    let client = client(&mock);
    let profile = ProfileName::parse("lxpack-fixture-p").unwrap();
    let in_use = client.delete_profile(&profile).await.unwrap_err();
    assert!(
        matches!(&in_use, RuntimeError::InUse { what: "profile", name } if name == "lxpack-fixture-p"),
        "{in_use:?}"
    );
    client.delete_profile(&profile).await.unwrap();
    let missing = client.delete_profile(&profile).await.unwrap_err();
    assert!(
        matches!(
            &missing,
            RuntimeError::NotFound {
                what: "profile",
                ..
            }
        ),
        "{missing:?}"
    );
    assert_eq!(mock.lines(), ["DELETE /1.0/profiles/lxpack-fixture-p"; 3]);
}

async fn push_file_writes_or_names_the_missing_directory(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "push-file")
        .all(daemon, "push-file-no-dir")
        .all(daemon, "push-file-missing-instance");
    let client = client(&mock);
    let file = |path: &str| FileSpec {
        path: GuestPath::parse(path).unwrap(),
        contents: b"echo hi\n".to_vec(),
        mode: 0o755,
    };
    let instance = name(NAME);
    client
        .push_file(&instance, &file("/tmp/hook.sh"))
        .await
        .unwrap();
    let no_dir = client
        .push_file(&instance, &file("/nonexistent/dir/hook.sh"))
        .await
        .unwrap_err();
    let RuntimeError::Rejected { message, .. } = &no_dir else {
        panic!("{no_dir:?}")
    };
    assert!(message.contains("parent directory"), "{message}");
    let missing = client
        .push_file(&name("lxpack-fixture-nope"), &file("/tmp/hook.sh"))
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, RuntimeError::NotFound { what: "instance", name } if name == "lxpack-fixture-nope"),
        "{missing:?}"
    );
    assert_eq!(
        mock.lines(),
        [
            format!("POST /1.0/instances/{NAME}/files?path=%2Ftmp%2Fhook.sh"),
            format!("POST /1.0/instances/{NAME}/files?path=%2Fnonexistent%2Fdir%2Fhook.sh"),
            "POST /1.0/instances/lxpack-fixture-nope/files?path=%2Ftmp%2Fhook.sh".into(),
        ]
    );
    assert_eq!(mock.requests()[0].body, b"echo hi\n");
}

async fn release_detaches_deletes_the_profile_and_asks_for_the_stop(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "get-instance")
        .all(daemon, "detach-profile")
        .all(daemon, "delete-profile")
        .all(daemon, "release-stop");
    client(&mock)
        .release_ephemeral(
            &name(NAME),
            &ProfileName::parse("lxpack-fixture-p").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            format!("GET /1.0/instances/{NAME}"),
            format!("PATCH /1.0/instances/{NAME}"),
            "DELETE /1.0/profiles/lxpack-fixture-p".into(),
            format!("PUT /1.0/instances/{NAME}/state"),
        ]
    );
    assert_eq!(
        mock.requests()[1].body_json().unwrap(),
        json!({"profiles": ["default"]})
    );
    // An instance the daemon deleted already: release/tests.rs
    // (`a_release_of_an_instance_the_daemon_removed_already_succeeds`).
}

#[tokio::test(start_paused = true)]
async fn release_of_a_stopped_instance_deletes_it_and_its_profile() {
    let daemon = Daemon::Lxd;
    let stopped = json!({"type": "sync", "metadata": {
        "name": "lxpack-fixture-s", "status": "Stopped", "ephemeral": false, "profiles": ["default"]}});
    let mock = MockTransport::new();
    mock.reply_json(200, &stopped)
        .all(daemon, "delete")
        .all(daemon, "delete-profile");
    client(&mock)
        .release_ephemeral(
            &name("lxpack-fixture-s"),
            &ProfileName::parse("lxpack-fixture-p").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/instances/lxpack-fixture-s".to_owned(),
            "DELETE /1.0/instances/lxpack-fixture-s".into(),
            wait(daemon, "delete", 0, 120),
            "DELETE /1.0/profiles/lxpack-fixture-p".into(),
        ]
    );
}

async fn resources_are_read_from_both_lists(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "instances").all(daemon, "profiles");
    let resources = client(&mock).list_resources().await.unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r.kind == ResourceKind::Instance && r.name == NAME),
        "{resources:?}"
    );
    assert!(
        resources
            .iter()
            .any(|r| r.kind == ResourceKind::Profile && r.name == "lxpack-fixture-p"),
        "{resources:?}"
    );
    assert!(
        resources
            .iter()
            .any(|r| r.kind == ResourceKind::Profile && r.name == "default" && r.labels.is_none()),
        "{resources:?}"
    );
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/instances?recursion=1",
            "GET /1.0/profiles?recursion=1"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_the_daemon_never_answers_times_out_at_the_call_deadline() {
    let mock = MockTransport::new();
    mock.hang();
    let started = Instant::now();
    let error = client(&mock).list_resources().await.unwrap_err();
    assert!(
        matches!(&error, RuntimeError::TimedOut { operation, after } if operation == "list resources" && *after == REQUEST_TIMEOUT),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), REQUEST_TIMEOUT);
}

#[tokio::test]
async fn an_unreachable_daemon_is_unreachable() {
    let mock = MockTransport::new();
    mock.unreachable("connection refused");
    let error = client(&mock).list_resources().await.unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Unreachable(u) if u.reason == "connection refused"),
        "{error:?}"
    );
}

#[tokio::test]
async fn server_info_is_read_once_per_client() {
    for (daemon, product, version) in [
        (Daemon::Lxd, "LXD", "5.0.2"),
        (Daemon::Incus, "Incus", "6.0.4"),
    ] {
        let mock = MockTransport::new();
        mock.one(daemon, "server", 0);
        let client = client(&mock);
        let info = client.server_info().await.unwrap();
        assert_eq!(
            (info.product.as_str(), info.version.as_str()),
            (product, version)
        );
        client.server_info().await.unwrap();
        client.clone().server_info().await.unwrap();
        assert_eq!(mock.lines(), ["GET /1.0"]);
    }
}

#[tokio::test]
async fn readiness_reads_pools_and_the_default_profile() {
    for daemon in Daemon::BOTH {
        let mock = MockTransport::new();
        mock.one(daemon, "server", 0)
            .all(daemon, "storage-pools")
            .all(daemon, "profile-default");
        let readiness = client(&mock).readiness().await.unwrap();
        assert_eq!(readiness.pools, ["default"]);
        assert_eq!(readiness.root_disk_pool.as_deref(), Some("default"));
        assert!(readiness.missing_extensions.is_empty(), "{daemon:?}");
        assert_eq!(
            mock.lines(),
            [
                "GET /1.0",
                "GET /1.0/storage-pools",
                "GET /1.0/profiles/default"
            ]
        );
    }
    // A daemon without the extensions is told which and what for.
    let mock = MockTransport::new();
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"api_extensions": ["instances"]}}),
    )
    .all(Daemon::Lxd, "storage-pools")
    .all(Daemon::Lxd, "profile-default");
    let readiness = client(&mock).readiness().await.unwrap();
    let missing: Vec<&str> = readiness
        .missing_extensions
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        missing,
        [
            "container_exec_user_group_cwd",
            "image_create_aliases",
            "image_compression_algorithm"
        ]
    );
}

mod steps;
