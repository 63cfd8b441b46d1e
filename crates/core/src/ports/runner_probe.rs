//! Whether the process that runs a job is still there: a fact about the host the core
//! needs and cannot read without I/O, behind a small port so that tests set it and the
//! core stays pure.

use crate::domain::JobRunner;

/// What the sweep can learn about the processes that run jobs.
///
/// A job whose process was killed (SIGKILL, OOM) records no end. With a probe that
/// knows the host, the sweep sees at once that such a job's process is gone and records
/// it as lost; without one, it waits until the job has been running for longer than any
/// job can last.
pub trait RunnerProbe: Send + Sync {
    /// The process running jobs here, recorded with each job it starts.
    fn current(&self) -> Option<JobRunner>;

    /// Whether `runner` still runs: `Some(false)` only when this probe is sure (same
    /// host and boot, and the process is gone or another one has its pid), `None` when it
    /// cannot tell (another host, no access).
    fn is_alive(&self, runner: &JobRunner) -> Option<bool>;
}

/// A probe that knows nothing: jobs record no runner, and every runner's fate is
/// unknown. The default, for callers that run jobs on no particular host.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRunnerProbe;

impl RunnerProbe for NoRunnerProbe {
    fn current(&self) -> Option<JobRunner> {
        None
    }

    fn is_alive(&self, _runner: &JobRunner) -> Option<bool> {
        None
    }
}
