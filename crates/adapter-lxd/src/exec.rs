//! Exec over websockets: stdout and stderr are read concurrently and handed to the sink
//! chunk by chunk (nothing holds the whole output), the control socket stays open until
//! the operation ends (closing it kills the command), and a timeout or cancellation
//! sends SIGTERM, then SIGKILL after a grace period. The exit code comes from the
//! finished operation's `return`. The websockets run on whatever stream the transport
//! upgrades to, so a test drives all of this over in-memory streams.
//!
//! On a cluster, a silent command and a member that froze look the same on the
//! websockets, so while the command runs the operation is asked after once per call
//! deadline: a member that does not answer ends the exec as unreachable within two
//! call deadlines, not at the step's timeout.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use lxpack_core::domain::{ExecRequest, InstanceName, OutputStream};
use lxpack_core::ports::{OutputSink, RuntimeError, Unreachable};
use serde_json::json;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use crate::api::OperationRef;
use crate::classify::Cause;
use crate::client::{LxdClient, silent};
use crate::errors::CallError;
use crate::reply::{ExecEnded, ExecStarted};
use crate::transport::Stream;

/// The signals sent, in turn, to a command that must end: SIGTERM, then SIGKILL.
const SIGNALS: [i32; 2] = [15, 9];

type Socket = WebSocketStream<Box<dyn Stream>>;

/// Why an exec failed: a call, still to be mapped (and maybe blamed on the
/// instance's member), or already the port's error.
enum Failure {
    Call(CallError),
    Port(RuntimeError),
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
    match run(client, instance, request, output, cancel, &operation_name).await {
        Ok(code) => Ok(code),
        Err(Failure::Port(error)) => Err(error),
        Err(Failure::Call(error)) => Err(client
            .instance_error(&operation_name, instance.as_str(), error)
            .await),
    }
}

async fn run(
    client: &LxdClient,
    instance: &InstanceName,
    request: &ExecRequest,
    output: &dyn OutputSink,
    cancel: &CancellationToken,
    operation_name: &str,
) -> Result<i32, Failure> {
    let fail = Failure::Call;
    if cancel.is_cancelled() {
        return Err(Failure::Port(RuntimeError::Cancelled {
            operation: operation_name.to_owned(),
        }));
    }
    let (operation, started) = client
        .start(client.api().exec(instance.as_str(), request))
        .await
        .map_err(fail)?;
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
    .map_err(fail)?;

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
                    operation_name,
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
            let code = ended.map_err(fail)?.metadata::<ExecEnded>().code;
            return Ok(i32::try_from(code).unwrap_or(-1));
        }
        lost = watch(client, &operation), if client.is_clustered() => {
            // Nobody is left to signal: the daemon (or member) does not answer.
            let _ = control.close(None).await;
            return Err(Failure::Call(lost));
        }
        () = tokio::time::sleep(request.timeout) => RuntimeError::TimedOut { operation: operation_name.to_owned(), after: request.timeout },
        () = cancel.cancelled() => RuntimeError::Cancelled { operation: operation_name.to_owned() },
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
    Err(Failure::Port(interruption))
}

/// Asks after the running operation once per call deadline, and returns the first
/// failure that says the daemon (or the member running it) is not answering. An
/// answer of any kind, or a refusal about the operation itself (ended and gone),
/// means it is there.
async fn watch(client: &LxdClient, operation: &OperationRef) -> CallError {
    let every = client.options().request_timeout.max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        match client.call(client.api().operation(operation), every).await {
            Err(CallError::Daemon(refusal)) if refusal.cause() != Cause::MemberUnreachable => {}
            Err(CallError::Deadline(after)) => {
                return CallError::Transport(silent(client.endpoint(), after));
            }
            Err(error) => return error,
            Ok(_) => {}
        }
    }
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
