//! Crashed or killed runs leave instances and profiles behind. Their names and labels
//! say which job made them, so the sweep can remove those whose job is not running
//! without touching anything a live job still uses.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::Workflows;
use super::error::{PortError, WorkflowError};
use crate::domain::JobId;
use crate::events::{Event, EventSink, Step};
use crate::ports::{Leftover, LeftoverKind, RuntimeError};

/// What the sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Removed (or, in a dry run, that would be).
    pub removed: Vec<Leftover>,
    /// Left alone because their job is running.
    pub active: Vec<Leftover>,
    /// Jobs the store lists as running for longer than any job can last: their process
    /// died without saying (killed, crashed, host rebooted), so their leftovers go.
    pub stale_jobs: Vec<JobId>,
    /// Removals that failed.
    pub failures: Vec<String>,
}

impl Workflows {
    /// Removes the instances and profiles lxpack left behind whose job is not running
    /// (per the app store). Instances go before profiles, since a profile in use
    /// cannot be deleted.
    ///
    /// A job whose process was killed stays `Running` in the store. One that has been
    /// running, at `now`, for longer than any job can last under these settings'
    /// limits ([`Timeouts::longest_job`](super::Timeouts::longest_job)) is counted as
    /// dead: it is reported in `stale_jobs`, with a warning, and its leftovers go.
    ///
    /// # Errors
    /// `StepFailed` when the leftovers or the running jobs cannot be listed.
    pub async fn sweep(
        &self,
        dry_run: bool,
        now: SystemTime,
        events: &dyn EventSink,
    ) -> Result<SweepReport, WorkflowError> {
        let failed = |source: PortError| WorkflowError::StepFailed {
            step: Step::Cleanup,
            instance: None,
            source: Box::new(source),
        };
        let runtime = self.ports.runtime.as_ref();
        let mut leftovers = runtime
            .list_leftovers()
            .await
            .map_err(|e| failed(PortError::Runtime(e)))?;
        let longest = self
            .settings
            .timeouts
            .longest_job(self.settings.provisioners.len());
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut report = SweepReport::default();
        let mut running = BTreeSet::new();
        for job in self
            .ports
            .apps
            .running_jobs()
            .await
            .map_err(|e| failed(PortError::Store(e)))?
        {
            let age = now.saturating_sub(u64::from(job.unix_seconds()));
            if age > longest.as_secs() {
                events.emit(Event::Warning {
                    message: format!(
                        "job {job} is recorded as running since {} h ago, longer than any job \
                         can last with these limits ({} h): its process is gone, so its \
                         leftovers go too",
                        age / 3600,
                        longest.as_secs().div_ceil(3600)
                    ),
                });
                report.stale_jobs.push(job);
            } else {
                running.insert(job);
            }
        }
        leftovers.sort_by_key(|l| (l.kind == LeftoverKind::Profile, l.name.clone()));
        for leftover in leftovers {
            if leftover
                .job
                .as_ref()
                .is_some_and(|job| running.contains(job))
            {
                report.active.push(leftover);
                continue;
            }
            if !dry_run {
                let result = match leftover.kind {
                    LeftoverKind::Instance => runtime.delete_instance(&leftover.name).await,
                    LeftoverKind::Profile => runtime.delete_profile(&leftover.name).await,
                };
                match result {
                    Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
                    Err(error) => {
                        let message = format!("could not remove {}: {error}", leftover.name);
                        events.emit(Event::Warning {
                            message: message.clone(),
                        });
                        report.failures.push(message);
                        continue;
                    }
                }
            }
            report.removed.push(leftover);
        }
        Ok(report)
    }
}
