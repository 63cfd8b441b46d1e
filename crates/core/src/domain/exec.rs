//! What runs inside a container, and what comes out of it: commands are argv lists
//! (never a shell string), and output is a stream of chunks, never a buffer.

use std::fmt;
use std::time::Duration;

use super::GuestPath;

/// A numeric user and group to run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl Owner {
    /// root:root.
    pub const ROOT: Self = Self { uid: 0, gid: 0 };
}

/// One command to run in an instance. Its `Debug` shows the environment's keys, never
/// its values (they may be secrets, and `Debug` ends up in traces).
#[derive(Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The argv list; `command[0]` is looked up in `PATH`.
    pub command: Vec<String>,
    /// Extra environment variables, in order.
    pub env: Vec<(String, String)>,
    /// The working directory; the instance default (`/root`) when `None`.
    pub cwd: Option<GuestPath>,
    /// Who runs it; root when `None`.
    pub user: Option<Owner>,
    /// Bytes fed on stdin, which is then closed; stdin is closed at once when `None`.
    pub stdin: Option<Vec<u8>>,
    /// How long the command may run before it is signalled and the call fails.
    pub timeout: Duration,
    /// After the timeout or a cancellation, how long the command has between SIGTERM
    /// and SIGKILL (and SIGKILL before the call gives up on it).
    pub kill_grace: Duration,
}

impl ExecRequest {
    /// The default [`ExecRequest::kill_grace`]: 5 s.
    pub const KILL_GRACE: Duration = Duration::from_secs(5);
}

impl ExecRequest {
    /// A request to run `command` as root with no environment, cwd or stdin.
    #[must_use]
    pub fn new<I, S>(command: I, timeout: Duration) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            user: None,
            stdin: None,
            timeout,
            kill_grace: Self::KILL_GRACE,
        }
    }
}

impl fmt::Debug for ExecRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecRequest")
            .field("command", &self.command)
            .field("env", &EnvKeys(&self.env))
            .field("cwd", &self.cwd)
            .field("user", &self.user)
            .field("stdin", &self.stdin.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.kill_grace)
            .finish()
    }
}

/// An environment in `Debug`: `KEY=…` for each variable.
struct EnvKeys<'a>(&'a [(String, String)]);

impl fmt::Debug for EnvKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(key, _)| format!("{key}=…")))
            .finish()
    }
}

/// A terminal's size, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// A command attached to the caller's own input and output, for a person at a
/// terminal or a pipe (`lxpack shell`), rather than run by a step. Its `Debug` shows
/// the environment's keys, never its values.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// The argv list; `command[0]` is looked up in `PATH`.
    pub command: Vec<String>,
    /// Extra environment variables, in order.
    pub env: Vec<(String, String)>,
    /// The working directory; the instance default when `None`.
    pub cwd: Option<GuestPath>,
    /// Who runs it; root when `None`.
    pub user: Option<Owner>,
    /// A pseudo-terminal of this initial size (stdout and stderr then come merged, as
    /// stdout); `None`: plain pipes, stdout and stderr apart.
    pub terminal: Option<WindowSize>,
    /// How long the session may last before the command is signalled; `None`: as long
    /// as it runs.
    pub timeout: Option<Duration>,
    /// After the timeout or a cancellation, how long the command has between SIGTERM
    /// and SIGKILL.
    pub kill_grace: Duration,
}

impl SessionRequest {
    /// A session running `command` as root, without a terminal, time limit or
    /// environment.
    #[must_use]
    pub fn new<I, S>(command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            user: None,
            terminal: None,
            timeout: None,
            kill_grace: ExecRequest::KILL_GRACE,
        }
    }
}

impl fmt::Debug for SessionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRequest")
            .field("command", &self.command)
            .field("env", &EnvKeys(&self.env))
            .field("cwd", &self.cwd)
            .field("user", &self.user)
            .field("terminal", &self.terminal)
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.kill_grace)
            .finish()
    }
}

/// What the caller's side of a session sends next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionInput {
    /// Bytes typed or piped in.
    Bytes(Vec<u8>),
    /// The terminal was resized.
    Resize(WindowSize),
    /// No more input: stdin is closed (the session goes on until the command exits).
    End,
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl OutputStream {
    /// `stdout` or `stderr`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// A file to place in an instance before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Where; its parent directory must exist.
    pub path: GuestPath,
    /// The contents.
    pub contents: Vec<u8>,
    /// The permission bits, e.g. `0o700`.
    pub mode: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_env_keys_never_values() {
        let mut exec = ExecRequest::new(["true"], Duration::from_secs(1));
        exec.env = vec![("DB_PASSWORD".into(), "hunter22".into())];
        let text = format!("{exec:?}");
        assert!(
            text.contains("DB_PASSWORD=…") && !text.contains("hunter22"),
            "{text}"
        );
        let mut session = SessionRequest::new(["sh"]);
        session.env = exec.env.clone();
        let text = format!("{session:?}");
        assert!(
            text.contains("DB_PASSWORD=…") && !text.contains("hunter22"),
            "{text}"
        );
    }
}
