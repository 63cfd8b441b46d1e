//! Exec over websockets: stdout and stderr are read concurrently and handed to the sink
//! chunk by chunk (nothing holds the whole output), the control socket stays open until
//! the operation ends (closing it kills the command), and a timeout or cancellation
//! sends SIGTERM, then SIGKILL after a grace period. The exit code comes from the
//! finished operation's `return`.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use lxpack_core::domain::{ExecRequest, InstanceName, OutputStream};
use lxpack_core::ports::{OutputSink, RuntimeError};
use reqwest::Method;
use serde_json::{Map, Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use crate::client::{CallError, LxdClient};
use crate::envelope::Reply;
use crate::runtime::runtime_error;

/// How long a signalled command has to end before the next signal.
const GRACE: Duration = Duration::from_secs(5);

type Socket = WebSocketStream<reqwest::Upgraded>;

/// The exec request body.
pub(crate) fn body(request: &ExecRequest) -> Value {
    let environment: Map<String, Value> = request
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut body = json!({
        "command": request.command,
        "environment": environment,
        "wait-for-websocket": true,
        "interactive": false,
        "record-output": false,
    });
    if let Some(cwd) = &request.cwd {
        body["cwd"] = json!(cwd.as_str());
    }
    if let Some(user) = request.user {
        body["user"] = json!(user.uid);
        body["group"] = json!(user.gid);
    }
    body
}

pub(crate) async fn exec(
    client: &LxdClient,
    instance: &InstanceName,
    request: &ExecRequest,
    output: &dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<i32, RuntimeError> {
    let operation_name = format!(
        "exec {} in {instance}",
        request.command.first().map_or("", String::as_str)
    );
    let fail = |e: CallError| runtime_error(&operation_name, "instance", instance.as_str(), e);
    if cancel.is_cancelled() {
        return Err(RuntimeError::Cancelled {
            operation: operation_name,
        });
    }
    let post = client
        .request(Method::POST, &format!("/1.0/instances/{instance}/exec"))
        .json(&body(request));
    let (operation, metadata) = match client.send(post).await.map_err(&fail)? {
        Reply::Async {
            operation,
            metadata,
        } => (operation, metadata),
        Reply::Sync(_) => {
            return Err(RuntimeError::Rejected {
                operation: operation_name,
                message: "the daemon did not start an operation".into(),
            });
        }
        Reply::Error { code, message } => return Err(fail(CallError::Daemon { code, message })),
    };
    let secret = |fd: &str| {
        metadata
            .pointer(&format!("/metadata/fds/{fd}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let connect = |fd: &'static str| {
        let request = client.websocket_request(&operation, &secret(fd));
        async move {
            let stream = client.upgrade(request).await?;
            Ok::<Socket, CallError>(
                WebSocketStream::from_raw_socket(stream, Role::Client, None).await,
            )
        }
    };
    let (stdin, stdout, stderr, control) =
        tokio::try_join!(connect("0"), connect("1"), connect("2"), connect("control"))
            .map_err(&fail)?;

    let work = async {
        let feed = feed_stdin(stdin, request.stdin.as_deref());
        let out = pump(stdout, OutputStream::Stdout, output);
        let err = pump(stderr, OutputStream::Stderr, output);
        let ((), (), ()) = tokio::join!(feed, out, err);
        client.wait(&operation, request.timeout + GRACE * 3).await
    };
    tokio::pin!(work);
    let mut control = control;
    let interruption = tokio::select! {
        finished = &mut work => {
            let _ = control.close(None).await;
            let done = finished.map_err(&fail)?;
            let code = done.metadata.get("return").and_then(Value::as_i64).unwrap_or(-1);
            return Ok(i32::try_from(code).unwrap_or(-1));
        }
        () = tokio::time::sleep(request.timeout) => RuntimeError::TimedOut { operation: operation_name.clone(), after: request.timeout },
        () = cancel.cancelled() => RuntimeError::Cancelled { operation: operation_name.clone() },
    };
    for signal in [15, 9] {
        let message = json!({ "command": "signal", "signal": signal }).to_string();
        let _ = control.send(Message::text(message)).await;
        if tokio::time::timeout(GRACE, &mut work).await.is_ok() {
            break;
        }
    }
    let _ = control.close(None).await;
    client.cancel_operation(&operation).await;
    Err(interruption)
}

async fn feed_stdin(mut stdin: Socket, bytes: Option<&[u8]>) {
    if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
        let _ = stdin.send(Message::binary(bytes.to_vec())).await;
    }
    // An empty text message closes the command's stdin.
    let _ = stdin.send(Message::text("")).await;
    let _ = stdin.close(None).await;
}

async fn pump(mut socket: Socket, stream: OutputStream, output: &dyn OutputSink) {
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Binary(bytes)) if !bytes.is_empty() => output.output(stream, &bytes),
            Ok(Message::Text(text)) if !text.is_empty() => output.output(stream, text.as_bytes()),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            // An empty message, a close or an error ends the stream.
            _ => break,
        }
    }
    let _ = socket.close(None).await;
}

#[cfg(test)]
mod tests {
    use lxpack_core::domain::{GuestPath, Owner};

    use super::*;

    #[test]
    fn the_body_carries_env_cwd_and_user() {
        let mut request = ExecRequest::new(["sh", "/tmp/x"], Duration::from_secs(5));
        request.env = vec![("A".into(), "1".into())];
        request.cwd = Some(GuestPath::parse("/srv/app").unwrap());
        request.user = Some(Owner {
            uid: 1000,
            gid: 1001,
        });
        let body = body(&request);
        assert_eq!(body["command"], json!(["sh", "/tmp/x"]));
        assert_eq!(body["environment"], json!({"A": "1"}));
        assert_eq!(body["cwd"], "/srv/app");
        assert_eq!(
            (body["user"].as_u64(), body["group"].as_u64()),
            (Some(1000), Some(1001))
        );
        assert_eq!(body["wait-for-websocket"], true);
    }
}
