//! Whether a job is over: its record, whether its process is gone, its lease when the
//! process cannot be seen (another host), and its age against the longest a job can
//! last when the record has no lease. Every resource of a job is judged by this one
//! verdict.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::super::Workflows;
use super::super::error::PortError;
use super::super::mechanics::release::RELEASE_GRACE;
use super::{SpareReason, SweepReport};
use crate::domain::{JobId, JobRecord, JobStatus, LEASE_EXPIRY, LeaseState, ReleaseState};
use crate::events::{Event, EventSink};
use crate::ports::Resource;

/// The error a job recorded lost by a sweep gets.
const LOST_ERROR: &str = "its process ended without recording how the job ended";

/// What the sweep does with one resource of lxpack's.
pub(super) enum Verdict {
    Remove,
    Spare(SpareReason),
}

/// Until when each job's resources are kept: the latest of what its record says and
/// what its instances are marked with (a job from another host has no record here).
pub(super) fn kept_until_by_job(resources: &[Resource]) -> HashMap<JobId, SystemTime> {
    let mut kept = HashMap::new();
    for resource in resources {
        if let (Some(labels), Some(until)) = (&resource.labels, resource.kept_until) {
            kept.entry(labels.job.clone())
                .and_modify(|known: &mut SystemTime| *known = (*known).max(until))
                .or_insert(until);
        }
    }
    kept
}

impl Workflows {
    /// Records as lost the running jobs whose process is gone: the probe says so, or
    /// (the probe cannot see it) its lease expired, or (a record without a lease) it
    /// has been running for longer than `longest`.
    pub(super) async fn record_lost_jobs(
        &self,
        dry_run: bool,
        now: SystemTime,
        longest: Duration,
        events: &dyn EventSink,
        report: &mut SweepReport,
    ) -> Result<(), PortError> {
        let history = self.ports.jobs.as_ref();
        let running = history.running_jobs().await.map_err(PortError::History)?;
        for job in running {
            let Some(message) = self.why_lost(&job, now, longest) else {
                continue;
            };
            // Only if nothing moved since it was read: a job that renewed its lease
            // meanwhile is alive, and its leftovers are not leftovers.
            if !dry_run
                && !history
                    .record_lost(&job.id, job.renewed_at, now, LOST_ERROR)
                    .await
                    .map_err(PortError::History)?
            {
                continue;
            }
            events.emit(Event::Warning { message });
            report.lost_jobs.push(job.id.clone());
        }
        Ok(())
    }

    /// Why `job`, recorded as running, is lost at `now`; `None` while it may run.
    ///
    /// The probe decides when it can see the job's process; when it cannot (another
    /// host), the lease does. Only a record without a lease (written before leases)
    /// is judged by its age: a job that renews its lease runs as long as it needs.
    fn why_lost(&self, job: &JobRecord, now: SystemTime, longest: Duration) -> Option<String> {
        let runner = job.runner.as_ref();
        let alive = runner.and_then(|runner| self.runners.is_alive(runner));
        let age = now.duration_since(job.started_at).unwrap_or_default();
        match (alive, job.lease_at(now)) {
            (Some(false), _) => runner.map(|runner| {
                format!(
                    "job {} is recorded as running, but its process ({} on {}) is gone: it \
                     is lost and its leftovers go",
                    job.id, runner.pid, runner.host
                )
            }),
            (None, LeaseState::Expired { silent_for }) => Some(format!(
                "job {} is recorded as running{}, but its lease was last renewed {} s ago \
                 (a live job renews it every few seconds; lost after {} s): its process is \
                 gone, so it is lost and its leftovers go",
                job.id,
                runner.map_or_else(String::new, |runner| format!(" on {}", runner.host)),
                silent_for.as_secs(),
                LEASE_EXPIRY.as_secs()
            )),
            (_, LeaseState::Absent) if age > longest => Some(format!(
                "job {} is recorded as running since {} h ago, longer than any job can \
                 last with these limits ({} h): its process is gone, so it is lost and \
                 its leftovers go",
                job.id,
                age.as_secs() / 3600,
                longest.as_secs().div_ceil(3600)
            )),
            _ => None,
        }
    }

    /// What to do with a resource of `job`, and, when it is kept, until when. A kept
    /// job's resources stay until the later of its record's and its marks' expiry,
    /// then go like any ended job's.
    pub(super) async fn verdict(
        &self,
        job: &JobId,
        now: SystemTime,
        longest: Duration,
        lost: &[JobId],
        marked: &HashMap<JobId, SystemTime>,
    ) -> Result<(Verdict, Option<SystemTime>), PortError> {
        if lost.contains(job) {
            return Ok((Verdict::Remove, None));
        }
        let record = self
            .ports
            .jobs
            .get_job(job)
            .await
            .map_err(PortError::History)?;
        let kept_until = record
            .as_ref()
            .and_then(|record| record.kept.as_ref().map(|kept| kept.until))
            .into_iter()
            .chain(marked.get(job).copied())
            .max();
        if let Some(until) = kept_until.filter(|until| now < *until) {
            return Ok((Verdict::Spare(SpareReason::Kept), Some(until)));
        }
        let releasing = record.as_ref().is_some_and(|record| {
            let pending = record
                .release
                .as_ref()
                .is_some_and(|release| release.state == ReleaseState::Pending);
            let ended = record.ended_at.unwrap_or(record.started_at);
            pending && now.duration_since(ended).unwrap_or_default() <= RELEASE_GRACE
        });
        let verdict = match record {
            _ if releasing => Verdict::Spare(SpareReason::Releasing),
            Some(record) if record.status == JobStatus::Running => {
                Verdict::Spare(SpareReason::Running)
            }
            Some(_) => Verdict::Remove,
            None => {
                let started =
                    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(job.unix_seconds()));
                if now.duration_since(started).unwrap_or_default()
                    <= self.unknown_job_grace(longest)
                {
                    Verdict::Spare(SpareReason::UnknownJob)
                } else {
                    Verdict::Remove
                }
            }
        };
        Ok((verdict, None))
    }

    /// How long, from its id's time, a resource of a job this history does not know
    /// is spared. A history of one host cannot know another host's jobs, which may
    /// share the daemon: it spares them for as long as a job can last (`longest`). A
    /// shared history knows every job of every host that uses it: a job records
    /// itself running, and waits for the store to take that, before it creates
    /// anything (`run_job`), so a resource whose job the store does not know was made
    /// by no job of those hosts. It is spared for one lease ([`LEASE_EXPIRY`]) only, a
    /// margin for a store that answers reads a moment behind its writes and for
    /// clocks a little apart; then it goes.
    fn unknown_job_grace(&self, longest: Duration) -> Duration {
        if self.ports.jobs.is_shared() {
            LEASE_EXPIRY
        } else {
            longest
        }
    }
}
