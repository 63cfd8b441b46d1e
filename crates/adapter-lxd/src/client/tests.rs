//! The client's connection behaviour on the unix socket, against a stand-in daemon.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixListener;

use super::*;

const REPLY: &str = r#"{"type":"sync","status":"Success","status_code":200,"metadata":{}}"#;

/// A stand-in daemon that answers each request on a connection, then reports whether
/// the client closed that connection within `patience` of the answer.
async fn serve(listener: UnixListener, patience: Duration) -> Vec<bool> {
    let mut closed_after_answer = Vec::new();
    while closed_after_answer.len() < 3 {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0_u8; 4096];
        loop {
            let read = stream.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..read]);
            if request.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        if request.is_empty() {
            // The connect-time probe: it closes at once.
            continue;
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{REPLY}",
            REPLY.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        let closed = matches!(
            tokio::time::timeout(patience, stream.read(&mut buffer)).await,
            Ok(Ok(0))
        );
        closed_after_answer.push(closed);
    }
    closed_after_answer
}

fn socket_path() -> PathBuf {
    std::env::temp_dir().join(format!("lxpack-client-test-{}.socket", std::process::id()))
}

/// LXD 5.0 and Incus 6.0 read the first bytes of each unix connection in their accept
/// loop, so a connection left open and silent blocks every other client: the client
/// must not keep connections open between requests.
#[tokio::test]
async fn no_connection_stays_open_between_requests() {
    let path = socket_path();
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let daemon = tokio::spawn(serve(listener, Duration::from_secs(2)));

    let client = LxdClient::connect_unix(&path, LxdOptions::default()).unwrap();
    for _ in 0..3 {
        let reply = client
            .call(client.api().server(), Duration::from_secs(10))
            .await
            .unwrap();
        assert!(matches!(reply, Reply::Sync(_)), "{reply:?}");
    }
    let closed = daemon.await.unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        closed,
        [true, true, true],
        "each connection is closed once its request is answered"
    );
}

mod recorded {
    //! The client's plumbing on recorded replies: operation URLs, waits that end
    //! first, the trust check, replies it cannot read, the project.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use lxpack_core::domain::{ExecRequest, InstanceName};
    use lxpack_core::ports::{ContainerRuntime as _, RuntimeError};
    use serde_json::json;

    use crate::errors::CallError;
    use crate::mock::MockTransport;
    use crate::testing::{Daemon, Play, client, on_both, operation_of, recorded};
    use crate::{LxdClient, LxdOptions};

    on_both!(
        a_cluster_operation_is_waited_on_with_its_own_query,
        a_wait_that_ends_before_the_operation_is_its_deadline,
        an_untrusted_certificate_is_refused_before_any_other_call,
        a_refusal_for_want_of_trust_after_the_check_says_so,
    );

    /// A reply of `scenario` whose operation URL carries `?project=default`, as a
    /// clustered daemon gives it.
    fn clustered(daemon: Daemon, scenario: &str) -> serde_json::Value {
        let mut reply = recorded(daemon, scenario)["exchanges"][0]["reply"].clone();
        let url = format!("{}?project=default", reply["operation"].as_str().unwrap());
        reply["operation"] = json!(url);
        reply
    }

    async fn a_cluster_operation_is_waited_on_with_its_own_query(daemon: Daemon) {
        let mock = MockTransport::new();
        mock.reply_json(202, &clustered(daemon, "stop"))
            .one(daemon, "stop", 1);
        client(&mock)
            .stop_instance(&InstanceName::parse("lxpack-fixture-s").unwrap(), None)
            .await
            .unwrap();
        assert_eq!(
            mock.lines(),
            [
                "PUT /1.0/instances/lxpack-fixture-s/state".to_owned(),
                format!(
                    "GET {}/wait?project=default&timeout=60",
                    operation_of(daemon, "stop", 0)
                ),
            ]
        );
        // A client scoped to another project keeps the operation's own.
        let mock = MockTransport::new();
        mock.reply_json(202, &clustered(daemon, "stop"))
            .one(daemon, "stop", 1);
        let scoped = LxdClient::connect_with_mock(
            mock.clone(),
            LxdOptions {
                project: Some("ci".into()),
                ..LxdOptions::default()
            },
        );
        scoped
            .stop_instance(&InstanceName::parse("lxpack-fixture-s").unwrap(), None)
            .await
            .unwrap();
        assert_eq!(
            mock.lines(),
            [
                "PUT /1.0/instances/lxpack-fixture-s/state?project=ci".to_owned(),
                format!(
                    "GET {}/wait?project=default&timeout=60",
                    operation_of(daemon, "stop", 0)
                ),
            ]
        );
    }

    /// LXD answers a wait that ends first with the running operation (103), Incus with
    /// "context deadline exceeded": both are the operation's missed limit.
    async fn a_wait_that_ends_before_the_operation_is_its_deadline(daemon: Daemon) {
        let mock = MockTransport::new();
        mock.all(daemon, "wait-timeout");
        let client = client(&mock);
        let exec = ExecRequest::new(["sleep", "4"], Duration::from_secs(1));
        let result = client
            .operation(
                client.api().exec("lxpack-fixture-l", &exec),
                Duration::from_secs(1),
            )
            .await;
        assert_eq!(result, Err(CallError::Deadline(Duration::from_secs(1))));
        assert_eq!(
            mock.lines()[1],
            format!(
                "GET {}/wait?timeout=1",
                operation_of(daemon, "wait-timeout", 0)
            )
        );
    }

    async fn an_untrusted_certificate_is_refused_before_any_other_call(daemon: Daemon) {
        let mock = MockTransport::remote();
        mock.all(daemon, "server-untrusted")
            .all(daemon, "server-untrusted");
        let client = LxdClient::connect_with_mock(mock.clone(), LxdOptions::default());
        for _ in 0..2 {
            let error = client.list_resources().await.unwrap_err();
            let RuntimeError::Unreachable(unreachable) = &error else {
                panic!("{error:?}")
            };
            assert_eq!(
                unreachable.reason,
                "the daemon does not trust this client certificate (auth: untrusted)"
            );
            assert!(
                unreachable.hint.contains("config trust add"),
                "{unreachable:?}"
            );
            assert_eq!(unreachable.endpoint, "https://mock:8443");
        }
        // Each call asks again (a refusal is not kept), and nothing else is asked.
        assert_eq!(mock.lines(), ["GET /1.0", "GET /1.0"]);
    }

    async fn a_refusal_for_want_of_trust_after_the_check_says_so(daemon: Daemon) {
        let mock = MockTransport::remote();
        mock.one(daemon, "server", 0)
            .all(daemon, "instances-untrusted");
        let client = LxdClient::connect_with_mock(mock.clone(), LxdOptions::default());
        let error = client.list_resources().await.unwrap_err();
        let RuntimeError::Unreachable(unreachable) = &error else {
            panic!("{error:?}")
        };
        assert!(
            unreachable.reason.contains("not authorized"),
            "{unreachable:?}"
        );
        assert!(unreachable.hint.contains("config trust add"));
        assert_eq!(mock.lines(), ["GET /1.0", "GET /1.0/instances?recursion=1"]);
    }

    #[tokio::test]
    async fn a_trusted_remote_client_checks_once_then_calls() {
        let daemon = Daemon::Incus;
        let mock = MockTransport::remote();
        mock.one(daemon, "server", 0)
            .all(daemon, "instances")
            .all(daemon, "profiles")
            .all(daemon, "instances")
            .all(daemon, "profiles");
        let client = LxdClient::connect_with_mock(mock.clone(), LxdOptions::default());
        client.list_resources().await.unwrap();
        client.list_resources().await.unwrap();
        assert_eq!(
            mock.lines(),
            [
                "GET /1.0",
                "GET /1.0/instances?recursion=1",
                "GET /1.0/profiles?recursion=1",
                "GET /1.0/instances?recursion=1",
                "GET /1.0/profiles?recursion=1",
            ]
        );
    }

    #[tokio::test]
    async fn every_call_is_scoped_to_the_project_and_instances_to_the_target() {
        let daemon = Daemon::Incus;
        let mock = MockTransport::new();
        mock.all(daemon, "instances").all(daemon, "profiles");
        let client = LxdClient::connect_with_mock(
            mock.clone(),
            LxdOptions {
                project: Some("ci".into()),
                target: Some("node2".into()),
                ..LxdOptions::default()
            },
        );
        client.list_resources().await.unwrap();
        assert_eq!(
            mock.lines(),
            [
                "GET /1.0/instances?project=ci&recursion=1",
                "GET /1.0/profiles?project=ci&recursion=1",
            ]
        );
    }

    #[tokio::test]
    async fn a_reply_that_is_no_envelope_or_not_the_expected_shape_is_rejected() {
        let mock = MockTransport::new();
        mock.reply(502, "<html>bad gateway</html>");
        let error = client(&mock).list_resources().await.unwrap_err();
        assert!(
            matches!(&error, RuntimeError::Rejected { message, .. } if message.contains("HTTP 502") && message.contains("bad gateway")),
            "{error:?}"
        );
        let mock = MockTransport::new();
        mock.reply_json(200, &json!({"type": "sync", "metadata": "not a list"}));
        let error = client(&mock).list_resources().await.unwrap_err();
        assert!(
            matches!(&error, RuntimeError::Rejected { message, .. } if message.contains("cannot be read")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_mock_with_nothing_queued_says_so() {
        let mock = MockTransport::new();
        let error = client(&mock).list_resources().await.unwrap_err();
        assert!(
            matches!(&error, RuntimeError::Unreachable(u) if u.reason.contains("no reply queued for GET /1.0/instances?recursion=1")),
            "{error:?}"
        );
    }
}
