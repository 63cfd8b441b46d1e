//! Exec over websockets: stdout and stderr are read concurrently and handed to the sink
//! chunk by chunk (nothing holds the whole output), the control socket stays open until
//! the operation ends (closing it kills the command), and a timeout or cancellation
//! sends SIGTERM, then SIGKILL after a grace period. The exit code comes from the
//! finished operation's `return`. The websockets run on whatever stream the transport
//! upgrades to, so a test drives all of this over in-memory streams.

use futures_util::{SinkExt as _, StreamExt as _};
use lxpack_core::domain::{ExecRequest, InstanceName, OutputStream};
use lxpack_core::ports::{OutputSink, RuntimeError, Unreachable};
use serde_json::json;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use crate::client::LxdClient;
use crate::errors::{CallError, runtime_error};
use crate::reply::{ExecEnded, ExecStarted};
use crate::transport::Stream;

/// The signals sent, in turn, to a command that must end: SIGTERM, then SIGKILL.
const SIGNALS: [i32; 2] = [15, 9];

type Socket = WebSocketStream<Box<dyn Stream>>;

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
    let (operation, started) = client
        .start(client.api().exec(instance.as_str(), request))
        .await
        .map_err(&fail)?;
    let fds = started.metadata::<ExecStarted>().fds;
    let connect = |secret: String| {
        let request = client.api().websocket(&operation, &secret);
        async move {
            let stream = client.upgrade(request).await?;
            Ok::<Socket, CallError>(
                WebSocketStream::from_raw_socket(stream, Role::Client, None).await,
            )
        }
    };
    let (stdin, stdout, stderr, control) = tokio::try_join!(
        connect(fds.stdin),
        connect(fds.stdout),
        connect(fds.stderr),
        connect(fds.control)
    )
    .map_err(&fail)?;

    let work = async {
        let feed = feed_stdin(stdin, request.stdin.as_deref());
        let out = pump(stdout, OutputStream::Stdout, output);
        let err = pump(stderr, OutputStream::Stderr, output);
        let ((), out, err) = tokio::join!(feed, out, err);
        if out == Ended::Broken || err == Ended::Broken {
            // A daemon that is gone says why itself.
            let ping = client.call(client.api().server(), client.options().request_timeout);
            if let Err(CallError::Transport(unreachable)) = ping.await {
                return Err(CallError::Transport(unreachable));
            }
            // Over the network, the rest of the output is lost, and with it what the
            // command did: its exit code (the daemon kills a command whose websockets
            // drop) says nothing about the build. On this host's socket there is no
            // network to lose: a daemon that answers closed the stream as the command
            // ended (Incus may, without a close message, on a loaded host), and the
            // operation says how it ended.
            if !client.shares_this_host() {
                return Err(CallError::Transport(connection_lost(
                    client.endpoint(),
                    &operation_name,
                )));
            }
        }
        client
            .wait(&operation, request.timeout + request.kill_grace * 3)
            .await
    };
    tokio::pin!(work);
    let mut control = control;
    let interruption = tokio::select! {
        ended = &mut work => {
            let _ = control.close(None).await;
            let code = ended.map_err(&fail)?.metadata::<ExecEnded>().code;
            return Ok(i32::try_from(code).unwrap_or(-1));
        }
        () = tokio::time::sleep(request.timeout) => RuntimeError::TimedOut { operation: operation_name.clone(), after: request.timeout },
        () = cancel.cancelled() => RuntimeError::Cancelled { operation: operation_name.clone() },
    };
    for signal in SIGNALS {
        let message = json!({ "command": "signal", "signal": signal }).to_string();
        let _ = control.send(Message::text(message)).await;
        if tokio::time::timeout(request.kill_grace, &mut work)
            .await
            .is_ok()
        {
            break;
        }
    }
    let _ = control.close(None).await;
    client.cancel(&operation).await;
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

/// How an output stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The daemon ended it: a close, or the empty message that marks the end.
    Cleanly,
    /// The connection broke (reset, or closed without a close): what came after is
    /// lost.
    Broken,
}

async fn pump(mut socket: Socket, stream: OutputStream, output: &dyn OutputSink) -> Ended {
    let mut ended = Ended::Broken;
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Binary(bytes)) if !bytes.is_empty() => output.output(stream, &bytes),
            Ok(Message::Text(text)) if !text.is_empty() => output.output(stream, text.as_bytes()),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            // An empty message or a close ends the stream.
            Ok(_) => {
                ended = Ended::Cleanly;
                break;
            }
            Err(error) => {
                tracing::debug!(%error, ?stream, "exec output stream broke");
                break;
            }
        }
    }
    let _ = socket.close(None).await;
    ended
}

/// The connection to the daemon broke while `operation` ran.
fn connection_lost(endpoint: &str, operation: &str) -> Unreachable {
    Unreachable {
        endpoint: endpoint.to_owned(),
        reason: format!(
            "the connection broke while `{operation}` ran: its output ends there, and how \
             it ended is unknown"
        ),
        hint: "check the network to the daemon, and the daemon's log".to_owned(),
    }
}

#[cfg(test)]
mod tests;
