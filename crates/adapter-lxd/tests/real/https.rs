//! The remote endpoint: each daemon over HTTPS, with the client certificate that
//! scripts/daemons-up trusts and the daemon's own certificate pinned, passes the same
//! contract as over the socket; an untrusted certificate, a certificate other than the
//! pinned one and a port where nothing listens are each refused with their fix.

use lxpack_contract::{RuntimeFixture, container_runtime_contract};
use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector};
use lxpack_core::ports::{ContainerRuntime, RuntimeError};
use lxpack_lxd::{LxdClient, LxdOptions};

use crate::helpers::{TEST_IMAGE, daemons, https_client, remote_endpoint, state_dir};

/// The error a client's first call gets, which must say why it cannot go on.
async fn first_call_error(client: &LxdClient) -> String {
    match client.server_info().await {
        Ok(info) => panic!("the call went through: {info:?}"),
        Err(error @ RuntimeError::Unreachable(_)) => format!("{error}: {error:?}"),
        Err(other) => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lxd_and_incus_over_https_pass_the_runtime_contract() {
    let Some(local) = daemons() else { return };
    for (name, _) in local {
        let (url, server_cert) = remote_endpoint(name);
        let client = https_client(name, "client", &server_cert);
        if let Err(error) = client.server_info().await {
            panic!(
                "{name} over HTTPS at {url}: {error}; run `scripts/daemons-up` (it makes each daemon listen on loopback and trust the test certificate)"
            );
        }
        let fixture = RuntimeFixture::new(
            ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
            &format!("lxpack-cth-{name}-{}", std::process::id()),
        );
        container_runtime_contract(&client, &client, &fixture)
            .await
            .assert_passed();
    }
}

#[tokio::test]
async fn an_untrusted_client_certificate_is_refused_with_the_command_to_trust_it() {
    let Some(local) = daemons() else { return };
    for (name, _) in local {
        let (_, server_cert) = remote_endpoint(name);
        let error = first_call_error(&https_client(name, "untrusted", &server_cert)).await;
        assert!(
            error.contains("does not trust this client certificate"),
            "{name}: {error}"
        );
        assert!(error.contains("config trust add"), "{name}: {error}");
    }
}

#[tokio::test]
async fn a_server_certificate_other_than_the_pinned_one_is_refused() {
    let Some(_) = daemons() else { return };
    // Each daemon's certificate is pinned for the other daemon.
    let (_, lxd_cert) = remote_endpoint("lxd");
    let (_, incus_cert) = remote_endpoint("incus");
    for (name, wrong) in [("lxd", &incus_cert), ("incus", &lxd_cert)] {
        let error = first_call_error(&https_client(name, "client", wrong)).await;
        assert!(error.contains("not the pinned one"), "{name}: {error}");
        assert!(error.contains("server_cert"), "{name}: {error}");
    }
}

#[tokio::test]
async fn a_port_where_nothing_listens_says_connection_refused() {
    let Some(_) = daemons() else { return };
    let dir = state_dir();
    let (_, server_cert) = remote_endpoint("lxd");
    let client = LxdClient::connect_https(
        "https://127.0.0.1:1",
        &dir.join("client.crt"),
        &dir.join("client.key"),
        &server_cert,
        LxdOptions::default(),
    )
    .unwrap();
    let error = first_call_error(&client).await;
    assert!(error.contains("connection refused"), "{error}");
    assert!(error.contains("core.https_address"), "{error}");
}
