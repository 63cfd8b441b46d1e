//! The shared contract suite, on each daemon.

use lxpack_contract::{RuntimeFixture, container_runtime_contract, network_made};
use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector};
use lxpack_core::ports::RuntimeCapabilities;
use lxpack_lxd::LxdClient;

use crate::helpers::{TEST_IMAGE, daemons};

/// The whole runtime contract, every capability offered, on `client` (daemon `name`)
/// with names under `prefix`: `None` when it passed, else the report, named.
pub(crate) async fn contract_failures(
    name: &str,
    client: &LxdClient,
    prefix: &str,
) -> Option<String> {
    let fixture = RuntimeFixture::new(
        ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
        &format!("{prefix}-{name}-{}", std::process::id()),
    );
    let capabilities = RuntimeCapabilities::all_of(client);
    let report = container_runtime_contract(client, &capabilities, client, &fixture).await;
    // The network part's bridge and ACL stay on the daemon: they are this run's.
    let made = network_made(&fixture);
    crate::attacks::local::remove_network(name, made.network.as_str(), made.acl.as_str());
    (!report.passed()).then(|| format!("{name}: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_and_incus_pass_the_runtime_contract() {
    let Some(daemons) = daemons() else { return };
    let mut failed = Vec::new();
    for (name, client) in daemons {
        failed.extend(contract_failures(name, &client, "lxpack-ct").await);
    }
    // Every daemon runs before the verdict, so one report names all that broke.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
