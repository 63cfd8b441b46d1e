//! Every job is recorded `running` before it creates anything and ended after its
//! cleanup, by the workflow itself, so the history is complete whoever calls it and
//! the sweep never mistakes a live job's resources for leftovers. The runner hands the
//! job one [`JobContext`]: what every phase of it works with, in one place.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::domain::{
    AppKey, InstanceName, JobCommand, JobId, JobRecord, JobStatus, KeptInstance, MemberName,
    Release, SecretMasker, StepTiming,
};
use crate::events::{Event, EventSink};
use crate::ports::ContainerRuntime;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::cleanup::{Created, KeepRule, finish};
use crate::workflows::mechanics::lease::Lease;
use crate::workflows::mechanics::release::Look;
use crate::workflows::mechanics::step::StepRunner;
use crate::workflows::{Settings, Workflows};

/// The caller's event sink, seen through the job's record: every step's duration,
/// what the job kept and the cluster member its instance was placed on are noted as
/// the events pass, to be recorded with its end. It holds the job's secrets once the
/// job has loaded its app: command output arrives masked already, and warnings and
/// the recorded error are masked here.
pub(crate) struct JobEvents<'a> {
    inner: &'a dyn EventSink,
    secrets: OnceLock<SecretMasker>,
    steps: Mutex<Vec<StepTiming>>,
    kept: Mutex<Option<KeptInstance>>,
    member: Mutex<Option<MemberName>>,
    released: Mutex<Option<InstanceName>>,
}

impl<'a> JobEvents<'a> {
    pub(crate) fn new(inner: &'a dyn EventSink) -> Self {
        Self {
            inner,
            secrets: OnceLock::new(),
            steps: Mutex::new(Vec::new()),
            kept: Mutex::new(None),
            member: Mutex::new(None),
            released: Mutex::new(None),
        }
    }

    /// The instance of the last [`Event::Released`], if any.
    fn released(&self) -> Option<InstanceName> {
        self.released
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The member of the last [`Event::Placed`], if any.
    fn member(&self) -> Option<MemberName> {
        self.member
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn take(&self) -> (Vec<StepTiming>, Option<KeptInstance>) {
        let steps = std::mem::take(&mut *self.steps.lock().unwrap_or_else(PoisonError::into_inner));
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        (steps, kept)
    }
}

impl EventSink for JobEvents<'_> {
    fn emit(&self, event: Event) {
        let event = match (event, self.secrets.get()) {
            (Event::Warning { message }, Some(secrets)) => Event::Warning {
                message: secrets.mask_text(&message),
            },
            (event, _) => event,
        };
        match &event {
            Event::StepFinished {
                step,
                duration,
                succeeded,
            } => self
                .steps
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(StepTiming {
                    step: step.key(),
                    duration: *duration,
                    succeeded: *succeeded,
                }),
            Event::ResourcesKept {
                instance, until, ..
            } => {
                *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(KeptInstance {
                    instance: instance.clone(),
                    until: *until,
                });
            }
            Event::Placed { member, .. } => {
                *self.member.lock().unwrap_or_else(PoisonError::into_inner) = Some(member.clone());
            }
            Event::Released { instance } => {
                *self.released.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(instance.clone());
            }
            _ => {}
        }
        self.inner.emit(event);
    }
}

/// Who a job is, for its record.
pub(crate) struct JobIdentity<'a> {
    pub(crate) id: &'a JobId,
    pub(crate) command: JobCommand,
    pub(crate) app: &'a AppKey,
    pub(crate) module: Option<&'a str>,
    pub(crate) log_path: Option<&'a PathBuf>,
}

/// What a job works with, from its first phase to its last: the workflows (ports,
/// settings, clock), the runner of its steps (its events, its cancellation, its
/// instance once it has one), what it created, and whether it keeps that.
pub(crate) struct JobContext<'a> {
    /// The ports, the settings and the clock.
    pub(crate) workflows: &'a Workflows,
    /// Runs the job's steps; names its instance once the job has one.
    pub(crate) runner: StepRunner<'a>,
    /// What the job may have created, once it named its instance.
    pub(crate) created: Option<Created>,
    /// Whether the job keeps what it created.
    pub(crate) keep: KeepRule,
    /// Where the job's secrets are held, once known (the runner's and the record's).
    secrets: &'a OnceLock<SecretMasker>,
}

impl JobContext<'_> {
    /// The settings in force.
    pub(crate) fn settings(&self) -> &Settings {
        &self.workflows.settings
    }

    /// The container daemon.
    pub(crate) fn runtime(&self) -> &dyn ContainerRuntime {
        self.workflows.ports.runtime.as_ref()
    }

    /// The job's events.
    pub(crate) fn events(&self) -> &dyn EventSink {
        self.runner.events
    }

    /// From now on, masks `secrets` out of the job's output, warnings and record. Set
    /// once, when the job has loaded its app (before it runs any command).
    pub(crate) fn hold_secrets(&self, secrets: &SecretMasker) {
        // A job loads its app once: a second call would hold the same values.
        let _ = self.secrets.set(secrets.clone());
    }

    /// Starts recording what the job creates as the instance `name` and its profile.
    pub(crate) fn creates(&mut self, name: InstanceName) -> &mut Created {
        self.created.insert(Created::new(name))
    }

    /// Whether a job ending with `outcome` keeps an instance it launched.
    pub(crate) fn keeps_instance<T>(&self, outcome: &Result<T, WorkflowError>) -> bool {
        self.created
            .as_ref()
            .is_some_and(|created| created.instance)
            && self.keep.keeps(outcome)
    }

    /// Removes or keeps what the job created, as its keep rule says for `outcome`
    /// (see [`finish`]); what is kept expires counting from now.
    pub(crate) async fn finish<T>(
        &mut self,
        outcome: Result<T, WorkflowError>,
    ) -> Result<T, WorkflowError> {
        self.keep.until = self.workflows.kept_until();
        match &self.created {
            Some(created) => {
                finish(self.runtime(), self.events(), created, self.keep, outcome).await
            }
            None => outcome,
        }
    }
}

impl Workflows {
    /// Runs a job: builds its context (no instance yet, nothing created, `keep` its
    /// keep rule, `events` and `cancel` its runner's) and hands it to `work`, which
    /// runs between the job's record as running and the record of how it ended.
    pub(crate) async fn run_job<'a, T, F, W>(
        &'a self,
        job: JobIdentity<'_>,
        keep: KeepRule,
        events: &'a JobEvents<'_>,
        cancel: &'a CancellationToken,
        work: F,
    ) -> Result<T, WorkflowError>
    where
        F: FnOnce(JobContext<'a>) -> W,
        W: Future<Output = Result<T, WorkflowError>>,
    {
        let context = JobContext {
            workflows: self,
            runner: StepRunner {
                events,
                cancel,
                instance: None,
                kill_grace: self.settings.timeouts.kill_grace,
                secrets: &events.secrets,
            },
            created: None,
            keep,
            secrets: &events.secrets,
        };
        self.record_job(job, events, work(context)).await
    }

    /// Records the job as running, runs `work` while renewing the job's lease
    /// ([`Lease`]), and records how it ended, with the duration of every step and
    /// what it kept, as `events` saw them pass (`work` emits into `events`). A job
    /// whose start cannot be recorded does not run: the sweep could not tell it is
    /// alive. A failure to renew its lease or to record its end is a warning: the
    /// job's own outcome matters more.
    async fn record_job<T>(
        &self,
        job: JobIdentity<'_>,
        events: &JobEvents<'_>,
        work: impl Future<Output = Result<T, WorkflowError>>,
    ) -> Result<T, WorkflowError> {
        let started = self.clock.now();
        // The start is the lease's first renewal.
        let mut record = JobRecord::running(
            job.id.clone(),
            job.command,
            job.app.clone(),
            job.module.map(str::to_owned),
            started,
        )
        .with_log(job.log_path.cloned())
        .with_runner(self.runners.current())
        .with_lease(started);
        self.ports
            .jobs
            .record_job(&record)
            .await
            .map_err(|source| WorkflowError::RecordJobStart {
                job: job.id.clone(),
                source: Box::new(source),
            })?;
        let mut lease = Lease::new(self, job.id, events, started);
        // The job's work is the largest future of all: on the heap, the future of a
        // caller that awaits several jobs at once stays small on its thread's stack.
        let work = Box::pin(work);
        let outcome = lease
            .keep_while(async {
                self.confirm_releases(Look::Settled, events).await;
                work.await
            })
            .await;
        record.renewed_at = Some(lease.renewed_at());
        let masked = |error: &WorkflowError| {
            let chain = error_chain(error);
            match events.secrets.get() {
                Some(secrets) => secrets.mask_text(&chain),
                None => chain,
            }
        };
        let (status, error) = match &outcome {
            Ok(_) => (JobStatus::Succeeded, None),
            Err(error) if error.is_cancelled() => (JobStatus::Cancelled, Some(masked(error))),
            Err(error) => (JobStatus::Failed, Some(masked(error))),
        };
        record.end(status, error, self.clock.now());
        (record.steps, record.kept) = events.take();
        record.member = events.member();
        record.release = events.released().map(Release::pending);
        if let Err(error) = self.ports.jobs.record_job(&record).await {
            events.emit(Event::Warning {
                message: format!(
                    "could not record the end of job {} ({}): {}",
                    job.id,
                    status,
                    error_chain(&error)
                ),
            });
        }
        outcome
    }
}

/// An error and its causes on one line, `: `-separated, as a job record keeps it.
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Kept(Mutex<Vec<Event>>);

    impl EventSink for Kept {
        fn emit(&self, event: Event) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event);
        }
    }

    #[test]
    fn warnings_are_masked_once_the_secrets_are_held() {
        let kept = Kept(Mutex::new(Vec::new()));
        let events = JobEvents::new(&kept);
        let warning = || Event::Warning {
            message: "could not do it with hunter22".into(),
        };
        events.emit(warning());
        events.secrets.set(SecretMasker::new(["hunter22"])).unwrap();
        events.emit(warning());
        let seen = kept.0.into_inner().unwrap();
        assert_eq!(
            seen,
            [
                warning(),
                Event::Warning {
                    message: "could not do it with ***".into()
                }
            ]
        );
    }
}
