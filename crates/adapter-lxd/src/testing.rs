//! The unit tests' access to the recorded replies in `tests/fixtures/`, and a client
//! on a mock transport.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;

use crate::mock::MockTransport;
use crate::{LxdClient, LxdOptions};

/// The daemon a recording comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Daemon {
    /// LXD 5.0.2 (no `instance_create_start`; a failed operation is the operation).
    Lxd,
    /// Incus 6.0.4 (start in the create request; a failed operation is an error
    /// envelope).
    Incus,
}

impl Daemon {
    /// Both, in the order the tests visit them.
    pub(crate) const BOTH: [Self; 2] = [Self::Lxd, Self::Incus];

    fn dir(self) -> &'static str {
        match self {
            Self::Lxd => "lxd-5.0",
            Self::Incus => "incus-6.0",
        }
    }
}

/// The text of the recording `scenario` of `daemon`.
pub(crate) fn recording(daemon: Daemon, scenario: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/{}/{scenario}.json",
        env!("CARGO_MANIFEST_DIR"),
        daemon.dir()
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The recording `scenario` of `daemon`, parsed.
pub(crate) fn recorded(daemon: Daemon, scenario: &str) -> Value {
    serde_json::from_str(&recording(daemon, scenario)).unwrap()
}

/// The HTTP status and body of reply `index` of a recording.
pub(crate) fn reply_of(daemon: Daemon, scenario: &str, index: usize) -> (u16, Vec<u8>) {
    let exchange = &recorded(daemon, scenario)["exchanges"][index];
    (
        u16::try_from(exchange["status"].as_u64().unwrap()).unwrap(),
        exchange["reply"].to_string().into_bytes(),
    )
}

/// The `ETag` header of reply `index` of a recording, where the daemon sent one.
pub(crate) fn etag_of(daemon: Daemon, scenario: &str, index: usize) -> Option<String> {
    recorded(daemon, scenario)["exchanges"][index]["etag"]
        .as_str()
        .map(str::to_owned)
}

/// The `metadata` of reply `index` of a recording.
pub(crate) fn metadata_of(daemon: Daemon, scenario: &str, index: usize) -> Value {
    recorded(daemon, scenario)["exchanges"][index]["reply"]["metadata"].clone()
}

/// The path of the operation that reply `index` of a recording started
/// (`/1.0/operations/ID`).
pub(crate) fn operation_of(daemon: Daemon, scenario: &str, index: usize) -> String {
    recorded(daemon, scenario)["exchanges"][index]["reply"]["operation"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Queues recorded replies on a mock.
pub(crate) trait Play {
    /// Every reply of `scenario`, in order.
    fn all(&self, daemon: Daemon, scenario: &str) -> &Self;
    /// Reply `index` of `scenario` (with its `ETag`, where it has one).
    fn one(&self, daemon: Daemon, scenario: &str, index: usize) -> &Self;
}

impl Play for MockTransport {
    fn all(&self, daemon: Daemon, scenario: &str) -> &Self {
        self.play(&recording(daemon, scenario)).unwrap()
    }

    fn one(&self, daemon: Daemon, scenario: &str, index: usize) -> &Self {
        let (status, body) = reply_of(daemon, scenario, index);
        match etag_of(daemon, scenario, index) {
            Some(etag) => self.reply_versioned(status, body, &etag),
            None => self.reply(status, body),
        }
    }
}

/// Runs the test `$name(daemon)` on each daemon's recordings, as `$name::lxd` and
/// `$name::incus`, on a paused clock.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(start_paused = true)]
            async fn lxd() {
                super::$name(crate::testing::Daemon::Lxd).await;
            }
            #[tokio::test(start_paused = true)]
            async fn incus() {
                super::$name(crate::testing::Daemon::Incus).await;
            }
        }
    )*};
}
pub(crate) use on_both;

/// The call deadline of the test clients.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of `mock` with the default options.
pub(crate) fn client(mock: &MockTransport) -> LxdClient {
    LxdClient::connect_with_mock(
        mock.clone(),
        LxdOptions {
            request_timeout: REQUEST_TIMEOUT,
            ..LxdOptions::default()
        },
    )
}
