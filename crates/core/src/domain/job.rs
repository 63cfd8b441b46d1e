//! A job is the unit the history, the sweep and the operator reason about, so its
//! lifecycle is the core's: the workflows record it `running` before they create
//! anything and end it after cleanup, whoever calls them. The sweep trusts that
//! record to spare a live job's resources.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::text::text_enum;
use super::{AppKey, InstanceName, JobCommand, JobId, MemberName};

text_enum! {
    /// How a job ended, or that it has not.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum JobStatus as "job status" {
        /// Still running (or its process died without saying, until a sweep finds out).
        Running = "running",
        /// Finished successfully.
        Succeeded = "succeeded",
        /// Failed.
        Failed = "failed",
        /// Cancelled by the user.
        Cancelled = "cancelled",
        /// Its process died without recording an end (killed, crashed, host rebooted):
        /// a sweep found its process gone, its lease expired, or (a record without a
        /// lease) it recorded as running for longer than any job can last.
        Lost = "lost",
    }
}

/// The process that runs a job, as the host it runs on knows it: enough for a sweep on
/// the same host to tell, at once, that a killed job's process is gone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobRunner {
    /// The host, and which boot of it (a process id means nothing across reboots):
    /// `NAME#BOOT` as the probes write it ([`JobRunner::host_name`] reads the name).
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// When the process started, in the host's own units: tells a reused pid from the
    /// original process.
    pub started: u64,
}

impl JobRunner {
    /// The host's name, without which boot of it: what `host` holds before its last
    /// `#` (the whole of it when it has none).
    #[must_use]
    pub fn host_name(&self) -> &str {
        self.host
            .rsplit_once('#')
            .map_or(self.host.as_str(), |(name, _)| name)
    }
}

/// The instance a job left in place for inspection (`keep`, `container.debug`, or
/// keep-on-failure after a failure), and until when a sweep spares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeptInstance {
    /// The instance (its profile has the same name).
    pub instance: InstanceName,
    /// When it expires: from then on a sweep removes it like any ended job's leftovers.
    pub until: SystemTime,
}

impl KeptInstance {
    /// Whether it has expired at `now`.
    #[must_use]
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.until
    }
}

/// How long one step of a job took, as the job's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StepTiming {
    /// The step's stable key ([`Step::key`](crate::events::Step::key): `launch`,
    /// `features_salt`…).
    pub step: String,
    /// How long it ran.
    pub duration: Duration,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// One job in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// buildimage or deploy.
    pub command: JobCommand,
    /// The app.
    pub app: AppKey,
    /// The module, for deploy.
    pub module: Option<String>,
    /// Its status.
    pub status: JobStatus,
    /// When it started.
    pub started_at: SystemTime,
    /// When it ended.
    pub ended_at: Option<SystemTime>,
    /// Its error, when it failed.
    pub error: Option<String>,
    /// Where its full output was written, when the caller keeps a log.
    pub log_path: Option<PathBuf>,
    /// The process that runs it, when the caller can tell ([`RunnerProbe`]).
    ///
    /// [`RunnerProbe`]: crate::ports::RunnerProbe
    pub runner: Option<JobRunner>,
    /// The cluster member its instance ran on, once placed on a clustered daemon.
    pub member: Option<MemberName>,
    /// What it left in place for inspection, and until when; `None` when nothing was
    /// kept.
    pub kept: Option<KeptInstance>,
    /// Its steps, in the order they ended (recorded with its end).
    pub steps: Vec<StepTiming>,
    /// The instance it released without waiting for its stop (`cleanup:
    /// background`), and what became of it; `None` when it waited.
    pub release: Option<Release>,
    /// When its lease was last renewed ([`JobHistory::renew_lease`]; its start counts
    /// as the first renewal); `None` for a record of a job that kept no lease (written
    /// before leases existed). See [`LEASE_EXPIRY`](super::LEASE_EXPIRY).
    ///
    /// [`JobHistory::renew_lease`]: crate::ports::JobHistory::renew_lease
    pub renewed_at: Option<SystemTime>,
}

text_enum! {
    /// What became of an instance a job released without waiting for its stop.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum ReleaseState as "release state" {
        /// The daemon took the stop; nobody has seen the instance gone yet.
        Pending = "pending",
        /// The instance is gone, as its stop should leave it.
        Confirmed = "confirmed",
        /// The instance was still there long after the job: its stop failed.
        Failed = "failed",
    }
}

/// An instance a job released in the background, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Release {
    /// The instance.
    pub instance: InstanceName,
    /// Pending, confirmed or failed.
    pub state: ReleaseState,
    /// For a failed release: what was found, and what lxpack did about it.
    pub note: Option<String>,
}

impl Release {
    /// A release of `instance` whose stop the daemon has taken.
    #[must_use]
    pub fn pending(instance: InstanceName) -> Self {
        Self {
            instance,
            state: ReleaseState::Pending,
            note: None,
        }
    }
}

impl JobRecord {
    /// A job that started at `started_at` and runs.
    #[must_use]
    pub fn running(
        id: JobId,
        command: JobCommand,
        app: AppKey,
        module: Option<String>,
        started_at: SystemTime,
    ) -> Self {
        Self {
            id,
            command,
            app,
            module,
            status: JobStatus::Running,
            started_at,
            ended_at: None,
            error: None,
            log_path: None,
            runner: None,
            member: None,
            kept: None,
            steps: Vec::new(),
            release: None,
            renewed_at: None,
        }
    }

    /// The same record, with its output's location.
    #[must_use]
    pub fn with_log(mut self, log_path: Option<PathBuf>) -> Self {
        self.log_path = log_path;
        self
    }

    /// The same record, with the process that runs it.
    #[must_use]
    pub fn with_runner(mut self, runner: Option<JobRunner>) -> Self {
        self.runner = runner;
        self
    }

    /// The same record, with its lease renewed at `at`.
    #[must_use]
    pub fn with_lease(mut self, at: SystemTime) -> Self {
        self.renewed_at = Some(at);
        self
    }

    /// The same record, with the cluster member its instance ran on.
    #[must_use]
    pub fn with_member(mut self, member: Option<MemberName>) -> Self {
        self.member = member;
        self
    }

    /// Marks the job ended at `ended_at` with `status` (and `error`, when it failed).
    pub fn end(&mut self, status: JobStatus, error: Option<String>, ended_at: SystemTime) {
        self.status = status;
        self.error = error;
        self.ended_at = Some(ended_at);
    }

    /// How long the job ran, once it has ended.
    #[must_use]
    pub fn duration(&self) -> Option<Duration> {
        self.ended_at
            .and_then(|end| end.duration_since(self.started_at).ok())
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn a_job_runs_until_it_is_ended() {
        let key = AppKey::new("web", "prod", "webfront");
        let start = UNIX_EPOCH + Duration::from_secs(100);
        let mut record = JobRecord::running(
            JobId::generate(100, [0; 8]),
            JobCommand::Deploy,
            key,
            Some("api".into()),
            start,
        );
        assert_eq!(record.status, JobStatus::Running);
        assert_eq!(record.duration(), None);
        record.end(
            JobStatus::Failed,
            Some("boom".into()),
            start + Duration::from_millis(1500),
        );
        assert_eq!(record.duration(), Some(Duration::from_millis(1500)));
        assert_eq!(record.error.as_deref(), Some("boom"));
    }

    #[test]
    fn statuses_read_back_from_their_text() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Ok(*status));
        }
        assert!(JobStatus::parse("done").is_err());
    }
}
