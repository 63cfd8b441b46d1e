//! A person's shell in a kept container (`lxpack shell`): a command attached to the
//! caller's input, with a terminal when asked. No job needs it, so it is a capability
//! of its own, and a runtime without it still runs every job.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{OutputSink, RuntimeError};
use crate::domain::{InstanceName, SessionInput, SessionRequest};

/// Gives a session its input as the caller's side produces it: bytes, window
/// resizes, and the end of input.
///
/// Called from the adapter's task that feeds the command; it waits until there is
/// something to send.
#[async_trait]
pub trait InputSource: Send + Sync {
    /// The next input. After [`SessionInput::End`] it is not called again.
    async fn next_input(&self) -> SessionInput;
}

/// Runs commands attached to a person's terminal.
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Runs a command attached to the caller's input and output (a person's shell):
    /// input from `input` as it comes, window resizes passed on when
    /// `request.terminal` asks for a pseudo-terminal, output to `output` as it
    /// arrives. Returns the command's exit code (non-zero codes are not errors).
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist or is not running; `TimedOut` after
    /// `request.timeout` and `Cancelled` when `cancel` fires: in both cases the command
    /// was sent SIGTERM, then SIGKILL after `request.kill_grace`, before the call
    /// returns.
    async fn exec_session(
        &self,
        instance: &InstanceName,
        request: &SessionRequest,
        input: &dyn InputSource,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError>;
}
