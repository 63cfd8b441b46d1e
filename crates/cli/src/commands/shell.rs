//! `lxpack shell JOB [-- CMD...]`: a session in the container a job kept. Which
//! container that is, is the core's rule (`Workflows::shell`); this file attaches the
//! local terminal: raw mode while the session runs (restored on every way out: the
//! end, an error, a panic, SIGTERM or SIGHUP), the window's size at the start and on
//! every SIGWINCH, stdin read on a thread of its own. Without a terminal on both stdin
//! and stdout, the command gets plain pipes: stdout and stderr apart, stdin until its
//! end.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::time::Duration;

use async_trait::async_trait;
use lxpack_core::domain::{JobId, OutputStream, SessionInput, SessionRequest, WindowSize};
use lxpack_core::ports::{InputSource, OutputSink};
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::args::ShellArgs;
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// The command when none is given: the container's bash as a login shell, else sh.
const LOGIN_SHELL: [&str; 3] = [
    "sh",
    "-c",
    "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi",
];

/// Runs the subcommand and returns the command's exit code.
pub(crate) async fn run(wiring: &Wiring, args: ShellArgs) -> Result<u8, CliError> {
    let job = JobId::parse(&args.job).map_err(|e| {
        CliError::new(ExitClass::Input, e).with_hint("`lxpack jobs` lists the jobs and their ids")
    })?;
    let stores = wiring.stores().await?;
    let workflows = wiring.workflows(&stores)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();

    let command: Vec<String> = if args.command.is_empty() {
        LOGIN_SHELL.iter().map(|word| (*word).to_owned()).collect()
    } else {
        args.command
    };
    let mut request = SessionRequest::new(command);
    request.timeout = args.timeout.map(Duration::from_secs);
    request.kill_grace = workflows.settings().timeouts.kill_grace;

    // The target is checked before the terminal changes mode, so its errors print on
    // a terminal as it was.
    workflows.kept_instance(&job).await?;

    let cancel = CancellationToken::new();
    let (sender, receiver) = mpsc::unbounded_channel();
    let raw = if interactive {
        request.terminal = Some(window_size());
        request.env.push((
            "TERM".to_owned(),
            std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".to_owned()),
        ));
        Some(RawMode::enter().map_err(|e| {
            CliError::new(
                ExitClass::Failure,
                format!("cannot put the terminal in raw mode: {e}"),
            )
        })?)
    } else {
        None
    };
    read_stdin(sender.clone());
    let watchers = tokio::spawn(watch_signals(sender, cancel.clone(), interactive));
    let input = TerminalInput {
        receiver: Mutex::new(receiver),
    };
    let outcome = workflows
        .shell(&job, &request, &input, &TerminalOutput, &cancel)
        .await;
    watchers.abort();
    // Restored before anything is printed.
    drop(raw);
    let code = outcome?;
    // A command killed by a signal, or whose end is unknown (-1), is not a success.
    Ok(u8::try_from(code).unwrap_or(ExitClass::Failure.code()))
}

/// The local terminal in raw mode, restored when dropped (also when a panic unwinds).
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter() -> std::io::Result<Self> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        Ok(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// The window's size (80x24 when it cannot be read).
fn window_size() -> WindowSize {
    match tcgetwinsize(std::io::stdout()) {
        Ok(size) if size.ws_col > 0 && size.ws_row > 0 => WindowSize {
            width: size.ws_col,
            height: size.ws_row,
        },
        _ => WindowSize {
            width: 80,
            height: 24,
        },
    }
}

/// Reads stdin on a thread of its own (a blocking read cannot be given up; the thread
/// ends with the process), passing on what it reads, then the end.
fn read_stdin(sender: mpsc::UnboundedSender<SessionInput>) {
    let spawned = std::thread::Builder::new()
        .name("lxpack-shell-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buffer = [0_u8; 4096];
            loop {
                let next = match stdin.read(&mut buffer) {
                    Ok(0) => SessionInput::End,
                    Ok(n) => SessionInput::Bytes(buffer[..n].to_vec()),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => SessionInput::End,
                };
                let end = next == SessionInput::End;
                if sender.send(next).is_err() || end {
                    return;
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot read stdin: the session gets no input");
    }
}

/// Passes window resizes on (interactive), and turns SIGTERM, SIGHUP, and Ctrl-C
/// when the terminal is not raw (raw, Ctrl-C is a byte for the command), into the
/// session's cancellation: the command gets SIGTERM, then SIGKILL.
async fn watch_signals(
    sender: mpsc::UnboundedSender<SessionInput>,
    cancel: CancellationToken,
    interactive: bool,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut hangup), Ok(mut resize), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::window_change()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot watch signals: resizes and SIGTERM do not reach the session");
        return;
    };
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
            _ = interrupt.recv(), if !interactive => break,
            _ = resize.recv(), if interactive => {
                let _ = sender.send(SessionInput::Resize(window_size()));
            }
        }
    }
    cancel.cancel();
}

/// The session's input, as the stdin thread and the signal watcher send it.
struct TerminalInput {
    receiver: Mutex<mpsc::UnboundedReceiver<SessionInput>>,
}

#[async_trait]
impl InputSource for TerminalInput {
    async fn next_input(&self) -> SessionInput {
        self.receiver
            .lock()
            .await
            .recv()
            .await
            .unwrap_or(SessionInput::End)
    }
}

/// The command's output, on this process's own stdout and stderr, as it arrives.
struct TerminalOutput;

impl OutputSink for TerminalOutput {
    fn output(&self, stream: OutputStream, bytes: &[u8]) {
        // A closed pipe on our side is not the command's failure: its bytes are dropped.
        let _ = match stream {
            OutputStream::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(bytes).and_then(|()| err.flush())
            }
            _ => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
        };
    }
}
