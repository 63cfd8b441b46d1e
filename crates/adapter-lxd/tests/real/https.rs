//! The remote endpoint: each daemon over HTTPS, with the client certificate that
//! scripts/daemons-up trusts and the daemon's own certificate pinned, passes the same
//! contract as over the socket; an untrusted certificate, a certificate other than the
//! pinned one and a port where nothing listens are each refused with their fix.

use lxpack_core::ports::{ContainerRuntime, RuntimeError};
use lxpack_lxd::{LxdClient, LxdOptions};

use crate::contract::contract_failures;
use crate::helpers::{daemons, https_client, remote_endpoint, state_dir};

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
    let mut failed = Vec::new();
    for (name, _) in local {
        let (url, server_cert) = remote_endpoint(name);
        let client = https_client(name, "client", &server_cert);
        if let Err(error) = client.server_info().await {
            panic!(
                "{name} over HTTPS at {url}: {error}; run `scripts/daemons-up` (it makes each daemon listen on loopback and trust the test certificate)"
            );
        }
        failed.extend(contract_failures(name, &client, "lxpack-cth").await);
    }
    // Every daemon runs before the verdict, so one report names all that broke.
    assert!(failed.is_empty(), "{}", failed.join("\n"));
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

/// Forwards every connection to 127.0.0.2:<port> on to `target`, until dropped: a
/// daemon reached at an address its certificate does not name, as a cluster member or
/// a LAN address is.
async fn forward_from_127_0_0_2(target: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("https://{address}"), task)
}

/// The pinned certificate is trusted whatever address or name the daemon is reached by
/// (as `lxc` and `incus` do), and any other certificate is still refused there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinned_certificate_is_trusted_at_any_address_or_name() {
    let Some(_) = daemons() else { return };
    let dir = state_dir();
    let (_, lxd_cert) = remote_endpoint("lxd");
    let (_, incus_cert) = remote_endpoint("incus");
    for (name, pinned, wrong) in [
        ("lxd", &lxd_cert, &incus_cert),
        ("incus", &incus_cert, &lxd_cert),
    ] {
        let (url, _) = remote_endpoint(name);
        let port = url.rsplit(':').next().unwrap().to_owned();
        let (other_address, forwarder) = forward_from_127_0_0_2(format!("127.0.0.1:{port}")).await;
        for url in [other_address.clone(), format!("https://localhost:{port}")] {
            let connect = |cert: &std::path::Path| {
                LxdClient::connect_https(
                    &url,
                    &dir.join("client.crt"),
                    &dir.join("client.key"),
                    cert,
                    LxdOptions::default(),
                )
                .unwrap()
            };
            let info = connect(pinned)
                .server_info()
                .await
                .unwrap_or_else(|e| panic!("{name} at {url}: {e}"));
            assert!(!info.version.is_empty(), "{name} at {url}");
            let error = first_call_error(&connect(wrong)).await;
            assert!(
                error.contains("not the pinned one"),
                "{name} at {url}: {error}"
            );
        }
        forwarder.abort();
    }
}
