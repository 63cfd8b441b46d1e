//! Exec over websockets: stdout and stderr are read concurrently and handed to the sink
//! chunk by chunk (nothing holds the whole output), the control socket stays open while
//! the command runs (closing it kills the command), and a timeout or cancellation
//! sends SIGTERM, then SIGKILL after a grace period. The exit code comes from the
//! finished operation's `return`. The websockets run on whatever stream the transport
//! upgrades to, so a test drives all of this over in-memory streams.
//!
//! On a cluster, a silent command and a member that froze look the same on the
//! websockets, so while the command runs the operation is asked after once per call
//! deadline: a member that does not answer ends the exec as unreachable within two
//! call deadlines, not at the step's timeout.
//!
//! The control socket is connected first, then the command's streams together, as
//! `lxc` and `incus` do. Both daemons start a non-interactive command as soon as its
//! stdin, stdout and stderr are connected, without waiting for the control socket (LXD
//! 5.0.2 and Incus 6.0.4, `execWs.Connect` and `execWs.Do` in `instance_exec.go`). A
//! control socket asked for beside the streams can come after them, most often on a
//! cluster, where the member we talk to forwards each websocket. Seen there:
//! - the command has ended: the daemon refuses the socket ("Only running operations can
//!   be connected", which LXD's forwarding member reports as "websocket: bad
//!   handshake"), and a command that ran is reported failed;
//! - the command is ending: the daemon keeps the operation running until the client
//!   closes the socket, while the client waits for the operation to end;
//! - LXD 5.0.2 crashes (a nil `onConnect` in `Operation.Connect`).
//!
//! Connected first, the control socket is the daemon's before the command starts, and
//! the daemon closes it when the command ends.
//!
//! The client closes it too once stdout and stderr have ended: the daemons end them
//! only after the command exited (they close their own end of the command's pipes
//! then), and a control socket closed after that kills nothing. So no exec waits for
//! an operation that waits for the exec's control socket, whatever the daemon did with
//! it.

use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt as _, Stream as FuturesStream, StreamExt as _};
use lxpack_core::domain::{
    ExecRequest, InstanceName, OutputStream, SessionInput, SessionRequest, WindowSize,
};
use lxpack_core::ports::{InputSource, OutputSink, RuntimeError, Unreachable};
use serde_json::json;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_util::sync::CancellationToken;

use crate::api::OperationRef;
use crate::classify::Cause;
use crate::client::{LxdClient, silent};
use crate::errors::{CallError, runtime_error};
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
    // The control socket first: the command starts as soon as its three streams are
    // connected, and a control socket asked for after that is refused, or held by the
    // daemon so that the operation never ends (module docs).
    let control = connect(client, &operation, &fds.control)
        .await
        .map_err(fail)?;
    let (stdin, stdout, stderr) = tokio::try_join!(
        connect(client, &operation, &fds.stdin),
        connect(client, &operation, &fds.stdout),
        connect(client, &operation, &fds.stderr)
    )
    .map_err(fail)?;

    let (output_ended, mut on_output_end) = tokio::sync::oneshot::channel::<()>();
    let work = async {
        let feed = feed_stdin(stdin, request.stdin.as_deref());
        let out = pump(stdout, OutputStream::Stdout, output);
        let err = pump(stderr, OutputStream::Stderr, output);
        let ((), out, err) = tokio::join!(feed, out, err);
        if out == Ended::Cleanly && err == Ended::Cleanly {
            let _ = output_ended.send(());
        }
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
    let lost = watch(client, &operation);
    tokio::pin!(lost);
    let deadline = tokio::time::sleep(request.timeout);
    tokio::pin!(deadline);
    let mut control = control;
    let mut control_open = true;
    let interruption = loop {
        tokio::select! {
            ended = &mut work => {
                let _ = control.close(None).await;
                let code = ended.map_err(fail)?.metadata::<ExecEnded>().code;
                return Ok(i32::try_from(code).unwrap_or(-1));
            }
            lost = &mut lost, if client.is_clustered() => {
                // Nobody is left to signal: the daemon (or member) does not answer.
                let _ = control.close(None).await;
                return Err(Failure::Call(lost));
            }
            // The command has exited: closing the control socket kills nothing, and
            // lets a daemon that holds the operation until then end it (module docs).
            Ok(()) = &mut on_output_end, if control_open => {
                control_open = false;
                let _ = control.close(None).await;
            }
            () = &mut deadline => break RuntimeError::TimedOut { operation: operation_name.to_owned(), after: request.timeout },
            () = cancel.cancelled() => break RuntimeError::Cancelled { operation: operation_name.to_owned() },
        }
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

/// Connects one of an exec's websockets.
async fn connect(
    client: &LxdClient,
    operation: &OperationRef,
    secret: &str,
) -> Result<Socket, CallError> {
    let stream = client
        .upgrade(client.api().websocket(operation, secret))
        .await?;
    Ok(WebSocketStream::from_raw_socket(stream, Role::Client, None).await)
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

/// How long the operation of a session whose output has ended may take to say how
/// it ended.
const SESSION_END_WAIT: Duration = Duration::from_secs(30);

/// A session: the caller's input fed as it comes, output handed on as it arrives.
/// With a terminal (`interactive`), one websocket (`0`) carries input and output (the
/// pseudo-terminal merges stdout and stderr) and window resizes go over the control
/// socket; without, stdin, stdout and stderr are three websockets, and the input's end
/// closes stdin. Timeout and cancellation signal the command as exec does.
pub(crate) async fn session(
    client: &LxdClient,
    instance: &InstanceName,
    request: &SessionRequest,
    input: &dyn InputSource,
    output: &dyn OutputSink,
    cancel: &CancellationToken,
) -> Result<i32, RuntimeError> {
    let operation_name = format!(
        "session {} in {instance}",
        request.command.first().map_or("", String::as_str)
    );
    let fail = |e: CallError| runtime_error(&operation_name, "instance", instance.as_str(), e);
    if cancel.is_cancelled() {
        return Err(RuntimeError::Cancelled {
            operation: operation_name,
        });
    }
    let (operation, started) = client
        .start(client.api().exec_session(instance.as_str(), request))
        .await
        .map_err(&fail)?;
    let fds = started.metadata::<ExecStarted>().fds;
    let interactive = request.terminal.is_some();
    // The control socket first, as for exec.
    let mut control = connect(client, &operation, &fds.control)
        .await
        .map_err(&fail)?;
    let (stdin, outputs) = if interactive {
        let stdin = connect(client, &operation, &fds.stdin)
            .await
            .map_err(&fail)?;
        let (sink, stream) = stdin.split();
        (sink, (stream.boxed(), None))
    } else {
        let (stdin, stdout, stderr) = tokio::try_join!(
            connect(client, &operation, &fds.stdin),
            connect(client, &operation, &fds.stdout),
            connect(client, &operation, &fds.stderr)
        )
        .map_err(&fail)?;
        let (sink, _) = stdin.split();
        (sink, (stdout.boxed(), Some(stderr)))
    };
    // The daemon ends the operation of an interactive session only once the client
    // closes its side of the session's websocket: the output's end says when.
    let (output_ended, mut on_output_end) = tokio::sync::oneshot::channel::<()>();
    let work = async {
        let (stdout, stderr) = outputs;
        let out = pump_stream(stdout, OutputStream::Stdout, output);
        let err = async {
            if let Some(stderr) = stderr {
                pump(stderr, OutputStream::Stderr, output).await;
            }
        };
        tokio::join!(out, err);
        let _ = output_ended.send(());
        client.wait(&operation, SESSION_END_WAIT).await
    };
    tokio::pin!(work);
    let deadline = async {
        match request.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut feeding = Feeding {
        stdin,
        interactive,
        open: true,
        closed: false,
    };
    let interruption = loop {
        tokio::select! {
            ended = &mut work => {
                let _ = control.close(None).await;
                let code = ended.map_err(&fail)?.metadata::<ExecEnded>().code;
                return Ok(i32::try_from(code).unwrap_or(-1));
            }
            next = input.next_input(), if feeding.open => {
                feeding.feed(next, &mut control).await;
            }
            Ok(()) = &mut on_output_end, if !feeding.closed => feeding.close().await,
            () = &mut deadline => break RuntimeError::TimedOut {
                operation: operation_name.clone(),
                after: request.timeout.unwrap_or_default(),
            },
            () = cancel.cancelled() => break RuntimeError::Cancelled { operation: operation_name.clone() },
        }
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

/// The caller's input on its way to a session's command.
struct Feeding {
    stdin: SplitSink<Socket, Message>,
    interactive: bool,
    /// Until the input ends.
    open: bool,
    /// Once the websocket is closed.
    closed: bool,
}

impl Feeding {
    /// Passes one input on: bytes to the command, a resize to the control socket,
    /// the end as the end of stdin (a pseudo-terminal's input has no end: the command
    /// goes on reading the terminal, and ends on its own).
    async fn feed(&mut self, next: SessionInput, control: &mut Socket) {
        match next {
            SessionInput::Bytes(bytes) if !bytes.is_empty() => {
                let _ = self.stdin.send(Message::binary(bytes)).await;
            }
            SessionInput::Resize(size) if self.interactive => {
                let _ = control.send(Message::text(window_resize(size))).await;
            }
            SessionInput::End => {
                self.open = false;
                if !self.interactive {
                    // An empty text message closes the command's stdin.
                    let _ = self.stdin.send(Message::text("")).await;
                    self.close().await;
                }
            }
            _ => {}
        }
    }

    /// Closes the input's websocket: the command's output has ended, and nothing more
    /// goes to it.
    async fn close(&mut self) {
        self.open = false;
        if !self.closed {
            self.closed = true;
            let _ = self.stdin.close().await;
        }
    }
}

/// The control message that resizes the pseudo-terminal (its sizes are strings).
pub(crate) fn window_resize(size: WindowSize) -> String {
    json!({
        "command": "window-resize",
        "args": { "width": size.width.to_string(), "height": size.height.to_string() },
    })
    .to_string()
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
    let ended = pump_messages(&mut socket, stream, output).await;
    let _ = socket.close(None).await;
    ended
}

/// A session's output stream: read until it ends.
async fn pump_stream<S>(mut socket: S, stream: OutputStream, output: &dyn OutputSink) -> Ended
where
    S: FuturesStream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    pump_messages(&mut socket, stream, output).await
}

async fn pump_messages<S>(socket: &mut S, stream: OutputStream, output: &dyn OutputSink) -> Ended
where
    S: FuturesStream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
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
