//! Connecting to the test daemons, or saying how to start them.

use std::path::PathBuf;

use lxpack_lxd::{LxdClient, LxdOptions};

/// The test image scripts/daemons-up imports on both daemons.
pub(crate) const TEST_IMAGE: &str = "lxpack-test-busybox";

/// The daemons, in the order tests visit them: name, socket variable, default socket.
pub(crate) const DAEMONS: [(&str, &str, &str); 2] = [
    ("lxd", "LXPACK_TEST_LXD_SOCKET", "/var/lib/lxd/unix.socket"),
    (
        "incus",
        "LXPACK_TEST_INCUS_SOCKET",
        "/var/lib/incus/unix.socket",
    ),
];

/// The clients of both daemons, or `None` when LXPACK_SKIP_REAL=1 asks to skip.
///
/// # Panics
/// When a daemon cannot be reached, with how to start it.
pub(crate) fn daemons() -> Option<Vec<(&'static str, LxdClient)>> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: real-daemon test skipped on request");
        return None;
    }
    Some(
        DAEMONS
            .iter()
            .map(|(name, variable, default)| {
                let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| (*default).to_owned()));
                let client = LxdClient::connect_unix(&path, LxdOptions::default()).unwrap_or_else(|error| {
                    panic!(
                        "cannot reach {name} at {} ({error}); start it with `scripts/daemons-up` (or set {variable}), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests",
                        path.display()
                    )
                });
                (*name, client)
            })
            .collect(),
    )
}
