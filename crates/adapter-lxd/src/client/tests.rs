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
