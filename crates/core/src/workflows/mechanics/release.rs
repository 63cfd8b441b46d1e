//! A deploy with `cleanup: background` ends once the daemon has taken its instance's
//! stop, not once the instance is gone: that stop is most of a short deploy. So the
//! job records its release as pending, and the next job or sweep looks: gone is
//! confirmed; still there well after the job is a failed stop, which is recorded on
//! the job (so `lxpack jobs` shows it) and dealt with by deleting the instance.

use std::time::Duration;

use crate::domain::{InstanceName, JobRecord, ReleaseState};
use crate::events::{Event, EventSink};
use crate::ports::{ResourceKind, RuntimeError};
use crate::workflows::Workflows;

/// How long after its job a released instance may still be there: a forced stop
/// takes about a second; a loaded daemon, a few.
pub(crate) const RELEASE_GRACE: Duration = Duration::from_secs(60);

/// How long after its job a release is worth looking at from another job: before, its
/// instance is most likely still stopping, and looking would only add a listing of the
/// daemon to that job's start (deploys that follow each other closely).
const RELEASE_SETTLE: Duration = Duration::from_secs(5);

/// Which pending releases a look confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// A job's start: only releases that have had time to end.
    Settled,
    /// A sweep: every one.
    All,
}

impl Workflows {
    /// Confirms the pending releases that can be (at a job's start, only those older
    /// than [`RELEASE_SETTLE`]): the instance is gone (confirmed),
    /// or still there longer than [`RELEASE_GRACE`] after its job (failed: it is
    /// deleted now, and the job's record says so). Never fails: a history or daemon
    /// that cannot be asked leaves the releases pending for the next look, with a
    /// warning.
    pub(crate) async fn confirm_releases(&self, look: Look, events: &dyn EventSink) {
        let now = self.clock.now();
        let age = |job: &JobRecord| {
            now.duration_since(job.ended_at.unwrap_or(job.started_at))
                .unwrap_or_default()
        };
        let pending: Vec<JobRecord> = match self.ports.jobs.pending_releases().await {
            Ok(pending) => pending
                .into_iter()
                .filter(|job| look == Look::All || age(job) >= RELEASE_SETTLE)
                .collect(),
            Err(error) => {
                events.emit(Event::Warning {
                    message: format!("could not read the pending releases: {error}"),
                });
                return;
            }
        };
        if pending.is_empty() {
            return;
        }
        let runtime = self.ports.runtime.as_ref();
        let present: Vec<String> = match runtime.list_resources().await {
            Ok(resources) => resources
                .into_iter()
                .filter(|r| r.kind == ResourceKind::Instance)
                .map(|r| r.name)
                .collect(),
            Err(error) => {
                events.emit(Event::Warning {
                    message: format!(
                        "could not check the {} pending release(s): {error}",
                        pending.len()
                    ),
                });
                return;
            }
        };
        for mut job in pending {
            let waited = age(&job);
            let Some(release) = job.release.as_mut() else {
                continue;
            };
            if !present.iter().any(|name| name == release.instance.as_str()) {
                release.state = ReleaseState::Confirmed;
            } else if waited > RELEASE_GRACE {
                let note = failed_stop(runtime, &release.instance).await;
                events.emit(Event::Warning {
                    message: format!("job {}: {note}", job.id),
                });
                release.state = ReleaseState::Failed;
                release.note = Some(note);
            } else {
                continue;
            }
            record(self, &job, events).await;
        }
    }
}

/// Deletes an instance whose background stop failed, and says what happened.
async fn failed_stop(
    runtime: &dyn crate::ports::ContainerRuntime,
    instance: &InstanceName,
) -> String {
    let found = format!(
        "its instance {instance} was still there over {} s after the job, so its stop failed",
        RELEASE_GRACE.as_secs()
    );
    match runtime.delete_instance(instance).await {
        Ok(()) | Err(RuntimeError::NotFound { .. }) => format!("{found}; lxpack deleted it"),
        Err(error) => format!(
            "{found}; deleting it failed too ({error}): `lxpack gc` removes it once the daemon lets it"
        ),
    }
}

async fn record(workflows: &Workflows, job: &JobRecord, events: &dyn EventSink) {
    if let Err(error) = workflows.ports.jobs.record_job(job).await {
        events.emit(Event::Warning {
            message: format!("could not record the release of job {}: {error}", job.id),
        });
    }
}
