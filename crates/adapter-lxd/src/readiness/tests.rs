//! What `lxpack doctor` reads, on recorded replies of LXD 5.0 and Incus 6.0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lxpack_core::ports::RuntimeError;

use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, on_both};

on_both!(
    readiness_reads_the_server_once_and_finds_every_extension,
    readiness_of_a_daemon_that_refuses_is_an_error,
);

async fn readiness_reads_the_server_once_and_finds_every_extension(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .all(daemon, "storage-pools")
        .all(daemon, "profile-default")
        .all(daemon, "storage-pools")
        .all(daemon, "profile-default");
    let client = client(&mock);
    let first = client.readiness().await.unwrap();
    let again = client.readiness().await.unwrap();
    assert_eq!(first, again);
    assert!(first.members.is_empty(), "not clustered");
    assert!(first.missing_extensions.is_empty());
    let expected = match daemon {
        Daemon::Lxd => "5.0",
        Daemon::Incus => "6.0",
    };
    assert!(
        first.server.version.starts_with(expected),
        "{:?}",
        first.server
    );
    assert_eq!(
        mock.lines().iter().filter(|l| *l == "GET /1.0").count(),
        1,
        "{:?}",
        mock.lines()
    );
}

async fn readiness_of_a_daemon_that_refuses_is_an_error(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .all(daemon, "storage-pools")
        .all(daemon, "get-instance-missing");
    let result = client(&mock).readiness().await;
    assert!(
        matches!(result, Err(RuntimeError::NotFound { what: "server", .. })),
        "{result:?}"
    );
}
