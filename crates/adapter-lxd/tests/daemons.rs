//! The adapter against the real daemons this machine runs (scripts/daemons-up): the
//! shared contract suite on LXD 5.0 and on Incus 6.0. When a daemon cannot be reached
//! the tests fail and say how to start it, unless LXPACK_SKIP_REAL=1 is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;

use lxpack_contract::{RuntimeFixture, container_runtime_contract};
use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector};
use lxpack_lxd::{LxdClient, LxdOptions};

/// The test image scripts/daemons-up imports on both daemons.
const TEST_IMAGE: &str = "lxpack-test-busybox";

fn skip() -> bool {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: real-daemon test skipped on request");
        return true;
    }
    false
}

fn client(variable: &str, default: &str) -> LxdClient {
    let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_owned()));
    LxdClient::connect_unix(&path, LxdOptions::default()).unwrap_or_else(|error| {
        panic!(
            "cannot reach the daemon at {} ({error}); start it with `scripts/daemons-up` (or set {variable}), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests",
            path.display()
        )
    })
}

fn fixture(name: &str) -> RuntimeFixture {
    RuntimeFixture::new(
        ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
        &format!("lxpack-ct-{name}-{}", std::process::id()),
    )
}

/// One test, LXD then Incus: on two cores, concurrent launches on both daemons make
/// `forkstart` fail intermittently, which is the host's limit, not the adapter's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_and_incus_pass_the_runtime_contract() {
    if skip() {
        return;
    }
    let lxd = client("LXPACK_TEST_LXD_SOCKET", "/var/lib/lxd/unix.socket");
    container_runtime_contract(&lxd, &lxd, &fixture("lxd"))
        .await
        .assert_passed();
    let incus = client("LXPACK_TEST_INCUS_SOCKET", "/var/lib/incus/unix.socket");
    container_runtime_contract(&incus, &incus, &fixture("incus"))
        .await
        .assert_passed();
}
