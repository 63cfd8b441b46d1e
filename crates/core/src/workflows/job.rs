//! Every job is recorded `running` before it creates anything and ended after its
//! cleanup, by the workflow itself, so the history is complete whoever calls it and
//! the sweep never mistakes a live job's resources for leftovers.

use std::path::PathBuf;
use std::sync::Mutex;

use super::Workflows;
use super::error::WorkflowError;
use crate::domain::{AppKey, JobCommand, JobId, JobRecord, JobStatus, MemberName};
use crate::events::{Event, EventSink};

/// Who a job is, for its record.
pub(crate) struct JobIdentity<'a> {
    pub(crate) id: &'a JobId,
    pub(crate) command: JobCommand,
    pub(crate) app: &'a AppKey,
    pub(crate) module: Option<&'a str>,
    pub(crate) log_path: Option<&'a PathBuf>,
}

impl Workflows {
    /// Records the job as running, runs `work`, and records how it ended. A job whose
    /// start cannot be recorded does not run: the sweep could not tell it is alive. A
    /// failure to record its end is a warning: the job's own outcome matters more.
    /// `work` gets the events to emit to; the cluster member it reports its instance
    /// [`Placed`](Event::Placed) on goes into the record.
    pub(crate) async fn run_job<T>(
        &self,
        job: JobIdentity<'_>,
        events: &dyn EventSink,
        work: impl AsyncFnOnce(&dyn EventSink) -> Result<T, WorkflowError>,
    ) -> Result<T, WorkflowError> {
        let mut record = JobRecord::running(
            job.id.clone(),
            job.command,
            job.app.clone(),
            job.module.map(str::to_owned),
            self.clock.now(),
        )
        .with_log(job.log_path.cloned())
        .with_runner(self.runners.current());
        self.ports
            .jobs
            .record_job(&record)
            .await
            .map_err(|source| WorkflowError::RecordJobStart {
                job: job.id.clone(),
                source: Box::new(source),
            })?;
        let watch = PlacementWatch {
            events,
            member: Mutex::new(None),
        };
        let outcome = work(&watch).await;
        record.member = watch.member();
        let (status, error) = match &outcome {
            Ok(_) => (JobStatus::Succeeded, None),
            Err(error) if error.is_cancelled() => (JobStatus::Cancelled, Some(error_chain(error))),
            Err(error) => (JobStatus::Failed, Some(error_chain(error))),
        };
        record.end(status, error, self.clock.now());
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

/// Passes every event on, keeping the member of the last [`Event::Placed`].
struct PlacementWatch<'a> {
    events: &'a dyn EventSink,
    member: Mutex<Option<MemberName>>,
}

impl PlacementWatch<'_> {
    fn member(&self) -> Option<MemberName> {
        // A poisoned lock only means an emitter panicked: the value is still whole.
        self.member
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl EventSink for PlacementWatch<'_> {
    fn emit(&self, event: Event) {
        if let Event::Placed { member, .. } = &event {
            *self
                .member
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(member.clone());
        }
        self.events.emit(event);
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
