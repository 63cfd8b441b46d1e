//! Exec over websockets: stdout and stderr are read concurrently and handed to the sink
//! chunk by chunk (nothing holds the whole output), the control socket stays open until
//! the operation ends (closing it kills the command), and a timeout or cancellation
//! sends SIGTERM, then SIGKILL after a grace period. The exit code comes from the
//! finished operation's `return`. The websockets run on whatever stream the transport
//! upgrades to, so a test drives all of this over in-memory streams.

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
    let connect = |secret: String| {
        let request = client.api().websocket(&operation, &secret);
        async move {
            let stream = client.upgrade(request).await?;
            Ok::<Socket, CallError>(
                WebSocketStream::from_raw_socket(stream, Role::Client, None).await,
            )
        }
    };
    let interactive = request.terminal.is_some();
    let (stdin, mut control, outputs) = if interactive {
        let (stdin, control) =
            tokio::try_join!(connect(fds.stdin), connect(fds.control)).map_err(&fail)?;
        let (sink, stream) = stdin.split();
        (sink, control, (stream.boxed(), None))
    } else {
        let (stdin, stdout, stderr, control) = tokio::try_join!(
            connect(fds.stdin),
            connect(fds.stdout),
            connect(fds.stderr),
            connect(fds.control)
        )
        .map_err(&fail)?;
        let (sink, _) = stdin.split();
        (sink, control, (stdout.boxed(), Some(stderr)))
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
