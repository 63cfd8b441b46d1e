//! The shared contract suite, on each daemon.

use lxpack_contract::{RuntimeFixture, container_runtime_contract};
use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector};

use crate::helpers::{TEST_IMAGE, daemons};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_and_incus_pass_the_runtime_contract() {
    let Some(daemons) = daemons() else { return };
    let mut failed = Vec::new();
    for (name, client) in daemons {
        let fixture = RuntimeFixture::new(
            ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
            &format!("lxpack-ct-{name}-{}", std::process::id()),
        );
        let report = container_runtime_contract(
            &client,
            &lxpack_core::ports::RuntimeCapabilities::all_of(&client),
            &client,
            &fixture,
        )
        .await;
        if !report.passed() {
            failed.push(format!("{name}: {report}"));
        }
    }
    // Every daemon runs before the verdict, so one report names all that broke.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
