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
use crate::reply::{ExecEnded, ExecStarted, Operation};
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

/// An exec: its websockets connected, its output streamed until the command ends,
/// or its interruption (timeout, cancellation).
async fn run(
    client: &LxdClient,
    instance: &InstanceName,
    request: &ExecRequest,
    output: &dyn OutputSink,
    cancel: &CancellationToken,
    operation_name: &str,
) -> Result<i32, Failure> {
    if cancel.is_cancelled() {
        return Err(Failure::Port(RuntimeError::Cancelled {
            operation: operation_name.to_owned(),
        }));
    }
    let (operation, mut control, streams) = open_exec(client, instance, request)
        .await
        .map_err(Failure::Call)?;
    let (output_ended, on_output_end) = tokio::sync::oneshot::channel::<()>();
    let work = stream_to_end(
        client,
        &operation,
        request,
        output,
        streams,
        output_ended,
        operation_name,
    );
    tokio::pin!(work);
    let interrupted = interruption(Some(request.timeout), cancel, operation_name);
    let outcome = supervise(
        client,
        &operation,
        &mut control,
        &mut work,
        on_output_end,
        interrupted,
    )
    .await;
    match outcome {
        Outcome::Ended(ended) => {
            let _ = control.close(None).await;
            Ok(exit_code(&ended.map_err(Failure::Call)?))
        }
        Outcome::Lost(lost) => {
            // Nobody is left to signal: the daemon (or member) does not answer.
            let _ = control.close(None).await;
            Err(Failure::Call(lost))
        }
        Outcome::Interrupted(interruption) => {
            interrupt(
                client,
                &operation,
                &mut control,
                &mut work,
                request.kill_grace,
            )
            .await;
            Err(Failure::Port(interruption))
        }
    }
}

/// An exec's command's stdin, stdout and stderr.
type Streams = (Socket, Socket, Socket);

/// Starts an exec and connects its websockets: the control socket first, since the
/// command starts as soon as its three streams are connected, and a control socket
/// asked for after that is refused, or held by the daemon so that the operation never
/// ends (module docs).
async fn open_exec(
    client: &LxdClient,
    instance: &InstanceName,
    request: &ExecRequest,
) -> Result<(OperationRef, Socket, Streams), CallError> {
    let (operation, started) = client
        .start(client.api().exec(instance.as_str(), request))
        .await?;
    let fds = started.metadata::<ExecStarted>().fds;
    let control = connect(client, &operation, &fds.control).await?;
    let streams = tokio::try_join!(
        connect(client, &operation, &fds.stdin),
        connect(client, &operation, &fds.stdout),
        connect(client, &operation, &fds.stderr)
    )?;
    Ok((operation, control, streams))
}

/// Feeds stdin, hands stdout and stderr on until they end (saying so on
/// `output_ended` when both ended cleanly), then waits for the operation.
async fn stream_to_end(
    client: &LxdClient,
    operation: &OperationRef,
    request: &ExecRequest,
    output: &dyn OutputSink,
    (stdin, stdout, stderr): Streams,
    output_ended: tokio::sync::oneshot::Sender<()>,
    operation_name: &str,
) -> Result<Operation, CallError> {
    let feed = feed_stdin(stdin, request.stdin.as_deref());
    let out = pump(stdout, OutputStream::Stdout, output);
    let err = pump(stderr, OutputStream::Stderr, output);
    let ((), out, err) = tokio::join!(feed, out, err);
    if out == Ended::Cleanly && err == Ended::Cleanly {
        let _ = output_ended.send(());
    }
    if out == Ended::Broken || err == Ended::Broken {
        after_broken_output(client, operation_name).await?;
    }
    client
        .wait(operation, request.timeout + request.kill_grace * 3)
        .await
}

/// Whether an exec whose output broke may still ask its operation how it ended.
async fn after_broken_output(client: &LxdClient, operation_name: &str) -> Result<(), CallError> {
    // A daemon that is gone says why itself.
    let ping = client.call(client.api().server(), client.options().request_timeout);
    if let Err(CallError::Transport(unreachable)) = ping.await {
        return Err(CallError::Transport(unreachable));
    }
    // Over the network, the rest of the output is lost, and with it what the command
    // did: its exit code (the daemon kills a command whose websockets drop) says
    // nothing about the build. On this host's socket there is no network to lose: a
    // daemon that answers closed the stream as the command ended (Incus may, without a
    // close message, on a loaded host), and the operation says how it ended.
    if client.shares_this_host() {
        Ok(())
    } else {
        Err(CallError::Transport(connection_lost(
            client.endpoint(),
            operation_name,
        )))
    }
}

/// How the wait for an exec's command ended.
enum Outcome {
    /// The command ended: its operation, or why it cannot be read.
    Ended(Result<Operation, CallError>),
    /// The daemon (or the cluster member running the command) stopped answering.
    Lost(CallError),
    /// The timeout or a cancellation: the command must be interrupted.
    Interrupted(RuntimeError),
}

/// Waits for `work` (the command's output and its operation's end), watching a
/// cluster member that may stop answering, and closing the control socket once the
/// output has ended: the command has exited then, so closing it kills nothing, and it
/// lets a daemon that holds the operation until then end it (module docs).
async fn supervise<W>(
    client: &LxdClient,
    operation: &OperationRef,
    control: &mut Socket,
    work: &mut W,
    mut on_output_end: tokio::sync::oneshot::Receiver<()>,
    interrupted: impl Future<Output = RuntimeError>,
) -> Outcome
where
    W: Future<Output = Result<Operation, CallError>> + Unpin,
{
    let lost = watch(client, operation);
    tokio::pin!(lost);
    tokio::pin!(interrupted);
    let mut control_open = true;
    loop {
        tokio::select! {
            ended = &mut *work => return Outcome::Ended(ended),
            lost = &mut lost, if client.is_clustered() => return Outcome::Lost(lost),
            Ok(()) = &mut on_output_end, if control_open => {
                control_open = false;
                let _ = control.close(None).await;
            }
            interruption = &mut interrupted => return Outcome::Interrupted(interruption),
        }
    }
}

/// Resolves when a command must be interrupted: at `timeout` (never without one), or
/// when `cancel` fires; says which, as the port's error.
async fn interruption(
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    operation_name: &str,
) -> RuntimeError {
    let deadline = async {
        match timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = deadline => RuntimeError::TimedOut {
            operation: operation_name.to_owned(),
            after: timeout.unwrap_or_default(),
        },
        () = cancel.cancelled() => RuntimeError::Cancelled {
            operation: operation_name.to_owned(),
        },
    }
}

/// Ends a command that must not run on: SIGTERM, then SIGKILL, each followed by up
/// to `grace` for `work` (its output and its operation) to end; then closes the
/// control socket, which kills what still runs, and asks the daemon to cancel the
/// operation.
async fn interrupt<W: Future + Unpin>(
    client: &LxdClient,
    operation: &OperationRef,
    control: &mut Socket,
    mut work: W,
    grace: Duration,
) {
    for signal in SIGNALS {
        let message = json!({ "command": "signal", "signal": signal }).to_string();
        let _ = control.send(Message::text(message)).await;
        if tokio::time::timeout(grace, &mut work).await.is_ok() {
            break;
        }
    }
    let _ = control.close(None).await;
    client.cancel(operation).await;
}

/// The exit code of a finished exec operation (`-1` when it says none).
fn exit_code(ended: &Operation) -> i32 {
    i32::try_from(ended.metadata::<ExecEnded>().code).unwrap_or(-1)
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
    let opened = open_session(client, instance, request)
        .await
        .map_err(&fail)?;
    let Session {
        operation,
        mut control,
        stdin,
        outputs,
    } = opened;
    // The daemon ends the operation of an interactive session only once the client
    // closes its side of the session's websocket: the output's end says when.
    let (output_ended, mut on_output_end) = tokio::sync::oneshot::channel::<()>();
    let work = session_output(client, &operation, outputs, output, output_ended);
    tokio::pin!(work);
    let interrupted = interruption(request.timeout, cancel, &operation_name);
    tokio::pin!(interrupted);
    let mut feeding = Feeding {
        stdin,
        interactive: request.terminal.is_some(),
        open: true,
        closed: false,
    };
    let interruption = loop {
        tokio::select! {
            ended = &mut work => {
                let _ = control.close(None).await;
                return Ok(exit_code(&ended.map_err(&fail)?));
            }
            next = input.next_input(), if feeding.open => {
                feeding.feed(next, &mut control).await;
            }
            Ok(()) = &mut on_output_end, if !feeding.closed => feeding.close().await,
            interruption = &mut interrupted => break interruption,
        }
    };
    interrupt(
        client,
        &operation,
        &mut control,
        &mut work,
        request.kill_grace,
    )
    .await;
    Err(interruption)
}

/// A session's output websockets: stdout (the terminal's, when interactive), and
/// stderr without a terminal.
type Outputs = (
    futures_util::stream::BoxStream<
        'static,
        Result<Message, tokio_tungstenite::tungstenite::Error>,
    >,
    Option<Socket>,
);

/// A session's operation and websockets, connected.
struct Session {
    operation: OperationRef,
    control: Socket,
    stdin: SplitSink<Socket, Message>,
    outputs: Outputs,
}

/// Starts a session and connects its websockets, the control socket first, as for
/// exec: one for the terminal, or stdin, stdout and stderr.
async fn open_session(
    client: &LxdClient,
    instance: &InstanceName,
    request: &SessionRequest,
) -> Result<Session, CallError> {
    let (operation, started) = client
        .start(client.api().exec_session(instance.as_str(), request))
        .await?;
    let fds = started.metadata::<ExecStarted>().fds;
    let control = connect(client, &operation, &fds.control).await?;
    let (stdin, outputs) = if request.terminal.is_some() {
        let terminal = connect(client, &operation, &fds.stdin).await?;
        let (sink, stream) = terminal.split();
        (sink, (stream.boxed(), None))
    } else {
        let (stdin, stdout, stderr) = tokio::try_join!(
            connect(client, &operation, &fds.stdin),
            connect(client, &operation, &fds.stdout),
            connect(client, &operation, &fds.stderr)
        )?;
        let (sink, _) = stdin.split();
        (sink, (stdout.boxed(), Some(stderr)))
    };
    Ok(Session {
        operation,
        control,
        stdin,
        outputs,
    })
}

/// Hands a session's output on until it ends, says so on `output_ended`, then waits
/// for the operation.
async fn session_output(
    client: &LxdClient,
    operation: &OperationRef,
    (stdout, stderr): Outputs,
    output: &dyn OutputSink,
    output_ended: tokio::sync::oneshot::Sender<()>,
) -> Result<Operation, CallError> {
    let out = pump_stream(stdout, OutputStream::Stdout, output);
    let err = async {
        if let Some(stderr) = stderr {
            pump(stderr, OutputStream::Stderr, output).await;
        }
    };
    tokio::join!(out, err);
    let _ = output_ended.send(());
    client.wait(operation, SESSION_END_WAIT).await
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
