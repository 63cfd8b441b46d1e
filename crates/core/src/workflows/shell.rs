//! `lxpack shell`: a person's session in the container a job kept. Which instance a
//! job kept is the core's rule: the job's record names it (with its expiry), and the
//! instance must carry lxpack's labels naming that job; a job the history does not
//! know (run from another host sharing the daemon) is found by the labels of an
//! instance marked as kept.

use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::Workflows;
use super::error::{PortError, WorkflowError};
use crate::domain::{InstanceName, JobId, JobStatus, SessionRequest};
use crate::events::Step;
use crate::ports::{InputSource, OutputSink, Resource, ResourceKind};

/// The instance a job kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptTarget {
    /// The job.
    pub job: JobId,
    /// Its kept instance.
    pub instance: InstanceName,
    /// When it expires (a sweep removes it from then on), when known.
    pub until: Option<SystemTime>,
}

impl Workflows {
    /// Finds the instance job `job` kept: the one its record names, which must still
    /// exist and carry the job's labels; for a job the history does not know, the
    /// instance labelled with it and marked as kept.
    ///
    /// # Errors
    /// `JobNotFound`, `JobStillRunning`, `NothingKept`, `KeptInstanceGone`; `StepFailed`
    /// (step `shell`) when the history or the daemon cannot be read.
    pub async fn kept_instance(&self, job: &JobId) -> Result<KeptTarget, WorkflowError> {
        let failed = |source: PortError| WorkflowError::StepFailed {
            step: Step::Shell,
            instance: None,
            source: Box::new(source),
        };
        let record = self
            .ports
            .jobs
            .get_job(job)
            .await
            .map_err(|e| failed(PortError::History(e)))?;
        if let Some(record) = &record {
            if record.status == JobStatus::Running {
                return Err(WorkflowError::JobStillRunning { job: job.clone() });
            }
            if record.kept.is_none() {
                return Err(WorkflowError::NothingKept {
                    job: job.clone(),
                    status: record.status,
                });
            }
        }
        let resources = self
            .ports
            .runtime
            .list_resources()
            .await
            .map_err(|e| failed(PortError::Runtime(e)))?;
        let labelled = |resource: &&Resource| {
            resource.kind == ResourceKind::Instance
                && resource.labels.as_ref().is_some_and(|l| &l.job == job)
        };
        match record.and_then(|record| record.kept) {
            Some(kept) => {
                let found = resources
                    .iter()
                    .filter(labelled)
                    .any(|resource| resource.name == kept.instance.as_str());
                if !found {
                    return Err(WorkflowError::KeptInstanceGone {
                        job: job.clone(),
                        instance: kept.instance,
                    });
                }
                Ok(KeptTarget {
                    job: job.clone(),
                    instance: kept.instance,
                    until: Some(kept.until),
                })
            }
            None => resources
                .iter()
                .filter(labelled)
                .filter(|resource| resource.kept_until.is_some())
                .find_map(|resource| {
                    InstanceName::parse(&resource.name)
                        .ok()
                        .map(|instance| KeptTarget {
                            job: job.clone(),
                            instance,
                            until: resource.kept_until,
                        })
                })
                .ok_or_else(|| WorkflowError::JobNotFound { job: job.clone() }),
        }
    }

    /// Runs a session in the instance job `job` kept ([`Workflows::kept_instance`]),
    /// attached to `input` and `output`, and returns the command's exit code.
    ///
    /// # Errors
    /// As [`Workflows::kept_instance`]; `StepFailed` (step `shell`) when the session
    /// cannot run (the instance is stopped, the daemon is unreachable); `TimedOut` or
    /// `Cancelled` after the command was signalled.
    pub async fn shell(
        &self,
        job: &JobId,
        request: &SessionRequest,
        input: &dyn InputSource,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, WorkflowError> {
        let sessions = self.session_port()?;
        let target = self.kept_instance(job).await?;
        sessions
            .exec_session(&target.instance, request, input, output, cancel)
            .await
            .map_err(|error| {
                super::mechanics::step::port_failure(
                    Step::Shell,
                    Some(target.instance.clone()),
                    error,
                )
            })
    }
}
