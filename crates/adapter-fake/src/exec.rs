//! What a command does in the fake: a script of output chunks and pauses that ends in
//! an exit code or a hang, played against the request's limit and token exactly as a
//! real daemon would interrupt a real command.

use std::sync::Arc;
use std::time::Duration;

use lxpack_core::domain::{ExecRequest, InstanceName, OutputStream};
use lxpack_core::ports::OutputSink;

use crate::faults::{Interruption, Limit};

/// Decides what a command does, or passes (`None`) to the next handler.
pub type ExecHandler = Arc<dyn Fn(&InstanceName, &ExecRequest) -> Option<ExecScript> + Send + Sync>;

/// One step of a scripted command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecStep {
    /// Writes a chunk to stdout or stderr.
    Output(OutputStream, Vec<u8>),
    /// Runs for a while (tokio time): the request's timeout and token can interrupt it.
    Sleep(Duration),
}

/// How a scripted command ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecEnd {
    /// It exits with this code.
    Exit(i32),
    /// It never exits by itself: exec fails with `TimedOut` at the request's timeout,
    /// or `Cancelled` when the token fires, after signalling it.
    Hang,
}

/// What a command does in the fake: chunks of output and pauses, in order, then an
/// exit code or a hang. The default script exits 0 with no output.
///
/// ```
/// use std::time::Duration;
/// use lxpack_fake::ExecScript;
///
/// let script = ExecScript::new()
///     .stdout("compiling\n")
///     .sleep(Duration::from_secs(2))
///     .stderr("warning: unused\n")
///     .exit(3);
/// assert_eq!(script.steps().len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecScript {
    steps: Vec<ExecStep>,
    end: ExecEnd,
    counters: Option<lxpack_core::domain::LimitReadings>,
}

impl Default for ExecScript {
    fn default() -> Self {
        Self::new()
    }
}

impl ExecScript {
    /// A command that prints nothing and exits 0.
    #[must_use]
    pub fn new() -> Self {
        Self {
            steps: Vec::new(),
            end: ExecEnd::Exit(0),
            counters: None,
        }
    }

    /// The same command, hitting a cap of its instance's resource class: when it
    /// starts, the instance's limit counters become `counters` (an out-of-memory kill,
    /// refused forks, a root disk used to its size), as the kernel and the daemon
    /// would count them.
    #[must_use]
    pub fn hits(mut self, counters: lxpack_core::domain::LimitReadings) -> Self {
        self.counters = Some(counters);
        self
    }

    /// The counters the command leaves, when it hits a cap.
    #[must_use]
    pub fn counters(&self) -> Option<lxpack_core::domain::LimitReadings> {
        self.counters
    }

    /// A command that prints nothing and exits with `code`.
    #[must_use]
    pub fn exit_code(code: i32) -> Self {
        Self::new().exit(code)
    }

    /// A command that prints nothing and never exits.
    #[must_use]
    pub fn hanging() -> Self {
        Self::new().hang()
    }

    /// Then writes `bytes` to stdout.
    #[must_use]
    pub fn stdout(self, bytes: impl Into<Vec<u8>>) -> Self {
        self.step(ExecStep::Output(OutputStream::Stdout, bytes.into()))
    }

    /// Then writes `bytes` to stderr.
    #[must_use]
    pub fn stderr(self, bytes: impl Into<Vec<u8>>) -> Self {
        self.step(ExecStep::Output(OutputStream::Stderr, bytes.into()))
    }

    /// Then runs for `duration` of tokio time.
    #[must_use]
    pub fn sleep(self, duration: Duration) -> Self {
        self.step(ExecStep::Sleep(duration))
    }

    /// Then exits with `code`.
    #[must_use]
    pub fn exit(mut self, code: i32) -> Self {
        self.end = ExecEnd::Exit(code);
        self
    }

    /// Then never exits.
    #[must_use]
    pub fn hang(mut self) -> Self {
        self.end = ExecEnd::Hang;
        self
    }

    /// The steps, in order.
    #[must_use]
    pub fn steps(&self) -> &[ExecStep] {
        &self.steps
    }

    /// How it ends.
    #[must_use]
    pub fn end(&self) -> ExecEnd {
        self.end
    }

    fn step(mut self, step: ExecStep) -> Self {
        self.steps.push(step);
        self
    }

    /// Plays the script: output goes to `output` as it is "produced"; returns the exit
    /// code, or why the command was interrupted.
    pub(crate) async fn play(
        &self,
        output: &dyn OutputSink,
        limit: Limit<'_>,
    ) -> Result<i32, Interruption> {
        for step in &self.steps {
            match step {
                ExecStep::Output(stream, bytes) => output.output(*stream, bytes),
                ExecStep::Sleep(duration) => limit.sleep(*duration).await?,
            }
        }
        match self.end {
            ExecEnd::Exit(code) => Ok(code),
            ExecEnd::Hang => Err(limit.wait().await),
        }
    }
}

/// A signal sent to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// SIGTERM (15): asked to stop.
    Term,
    /// SIGKILL (9): killed.
    Kill,
}

impl Signal {
    /// The signal number.
    #[must_use]
    pub fn number(self) -> i32 {
        match self {
            Self::Term => 15,
            Self::Kill => 9,
        }
    }
}

/// A command that was interrupted, and the signals it received, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signalled {
    /// The instance it ran in.
    pub instance: InstanceName,
    /// Its argv.
    pub command: Vec<String>,
    /// Why it was interrupted.
    pub cause: Interruption,
    /// The signals sent: SIGTERM, then SIGKILL.
    pub signals: Vec<Signal>,
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::*;

    #[derive(Default)]
    struct Chunks(Mutex<Vec<(OutputStream, Vec<u8>)>>);

    impl OutputSink for Chunks {
        fn output(&self, stream: OutputStream, bytes: &[u8]) {
            self.0.lock().unwrap().push((stream, bytes.to_vec()));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn plays_output_in_order_then_exits() {
        let sink = Chunks::default();
        let cancel = CancellationToken::new();
        let script = ExecScript::new()
            .stdout("a")
            .sleep(Duration::from_secs(1))
            .stderr("b")
            .exit(4);
        let start = Instant::now();
        let code = script
            .play(&sink, Limit::starting_now(Duration::from_secs(10), &cancel))
            .await;
        assert_eq!(code, Ok(4));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(
            *sink.0.lock().unwrap(),
            vec![
                (OutputStream::Stdout, b"a".to_vec()),
                (OutputStream::Stderr, b"b".to_vec())
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_sleep_is_cut_by_the_timeout() {
        let sink = Chunks::default();
        let cancel = CancellationToken::new();
        let script = ExecScript::new()
            .stdout("before")
            .sleep(Duration::from_secs(60))
            .stdout("after");
        let outcome = script
            .play(&sink, Limit::starting_now(Duration::from_secs(5), &cancel))
            .await;
        assert_eq!(outcome, Err(Interruption::TimedOut));
        assert_eq!(sink.0.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hang_ends_with_the_token() {
        let sink = Chunks::default();
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let script = ExecScript::hanging();
        let play = script.play(
            &sink,
            Limit::starting_now(Duration::from_secs(3600), &cancel),
        );
        let (outcome, ()) = tokio::join!(play, async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            trigger.cancel();
        });
        assert_eq!(outcome, Err(Interruption::Cancelled));
    }

    #[test]
    fn builders() {
        assert_eq!(ExecScript::default().end(), ExecEnd::Exit(0));
        assert_eq!(ExecScript::exit_code(2).end(), ExecEnd::Exit(2));
        assert_eq!(ExecScript::hanging().end(), ExecEnd::Hang);
        assert_eq!(Signal::Term.number(), 15);
        assert_eq!(Signal::Kill.number(), 9);
    }
}
