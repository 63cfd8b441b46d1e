//! The adapter against the real test clusters of scripts/cluster-up: the shared
//! runtime contract (which publishes and deletes images too) over HTTPS, asked of
//! member m3 for instances placed on m2, on the Incus 6.0 and LXD 5.0 clusters. It
//! fails, saying how to start the clusters, when they are not up, unless
//! LXPACK_SKIP_REAL=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;

use lxpack_contract::{RuntimeFixture, container_runtime_contract};
use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector};
use lxpack_lxd::{LxdClient, LxdOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_pass_the_runtime_contract_through_another_member() {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: cluster test skipped on request");
        return;
    }
    let hint = "start the test clusters with `eval \"$(scripts/cluster-up)\"` (scripts/test does), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests";
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {hint}"));
    let state = PathBuf::from(
        std::env::var("LXPACK_STATE_DIR").unwrap_or_else(|_| "/var/tmp/lxpack-daemons".into()),
    );
    // The cluster tests of lxpack-cli stop members: never at the same time.
    let lock_path = PathBuf::from(var("LXPACK_TEST_CLUSTER_DIR")).join("tests.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    let mut failed = Vec::new();
    for (kind, upper) in [("lxd", "LXD"), ("incus", "INCUS")] {
        let urls = var(&format!("LXPACK_TEST_CLUSTER_{upper}_URLS"));
        let m3 = urls.split_whitespace().nth(2).unwrap();
        let client = LxdClient::connect_https(
            m3,
            &state.join("client.crt"),
            &state.join("client.key"),
            &PathBuf::from(var(&format!("LXPACK_TEST_CLUSTER_{upper}_CERT"))),
            LxdOptions {
                target: Some("m2".into()),
                ..LxdOptions::default()
            },
        )
        .unwrap_or_else(|error| panic!("{kind} cluster at {m3}: {error}; {hint}"));
        let fixture = RuntimeFixture::new(
            ImageRef::Local(ImageSelector::Alias(
                ImageAlias::parse("lxpack-test-busybox").unwrap(),
            )),
            &format!("lxpack-cc-{kind}-{}", std::process::id()),
        )
        .on_member("m2");
        // The members share this host's one network namespace, where the bridge
        // a cluster network makes on each member cannot exist three times: the
        // network part runs on the single daemons (tests/real), not here.
        let capabilities = lxpack_core::ports::RuntimeCapabilities::all_of(&client)
            .without(lxpack_core::ports::Capability::NetworkPolicies);
        let report = container_runtime_contract(&client, &capabilities, &client, &fixture).await;
        eprintln!("{kind} cluster: {} checks", report.checks.len());
        if !report.passed() {
            failed.push(format!("{kind} cluster: {report}"));
        }
    }
    // Both clusters run before the verdict, so one report names all that broke.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
