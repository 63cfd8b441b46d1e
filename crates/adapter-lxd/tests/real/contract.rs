//! The shared contract suite, on each daemon.

use lxpack_contract::{RuntimeFixture, container_runtime_contract};
use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector};

use crate::helpers::{TEST_IMAGE, daemons};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_and_incus_pass_the_runtime_contract() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        let fixture = RuntimeFixture::new(
            ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
            &format!("lxpack-ct-{name}-{}", std::process::id()),
        );
        container_runtime_contract(&client, &client, &fixture)
            .await
            .assert_passed();
    }
}
