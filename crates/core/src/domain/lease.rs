//! A running job's lease. A job's record says `running` until its end is recorded; a
//! job whose process is killed never records one. On its own host the
//! [`RunnerProbe`](crate::ports::RunnerProbe) sees such a process gone; a sweep on
//! another host sharing the store cannot, so the job renews a lease in the store while
//! it runs, and a lease left silent for longer than [`LEASE_EXPIRY`] means its process
//! is gone.
//!
//! Why 10 s and 30 s: a renewal is one small write, so six a minute per running job
//! cost a store nothing; the expiry is three periods, so two renewals in a row may be
//! lost (a store restarting, a write waiting on a lock) before a live job is judged
//! lost, and a killed job's leftovers still go within a minute instead of the hours of
//! the by-age bound. The lease is written with the job's host's clock and judged with
//! the sweeping host's: their clocks must agree to well within the 20 s margin (NTP).

use std::time::{Duration, SystemTime};

use super::{JobRecord, JobStatus};

/// How often a running job renews its lease.
pub const LEASE_RENEWAL: Duration = Duration::from_secs(10);

/// How long a lease lasts: a running job whose last renewal is older than this is lost
/// (three renewal periods).
pub const LEASE_EXPIRY: Duration = Duration::from_secs(30);

/// What a running job's record says about its lease at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseState {
    /// The record has no lease (written before leases existed, or by a store that
    /// keeps none): only its age can tell.
    Absent,
    /// Renewed within [`LEASE_EXPIRY`]: the job runs.
    Live,
    /// Silent for longer than [`LEASE_EXPIRY`]: its process is gone.
    Expired {
        /// How long since its last renewal.
        silent_for: Duration,
    },
}

impl JobRecord {
    /// Its lease at `now`. A renewal later than `now` (clocks of two hosts a little
    /// apart) is live. An ended job's lease means nothing: it is `Absent`.
    #[must_use]
    pub fn lease_at(&self, now: SystemTime) -> LeaseState {
        let Some(renewed) = self
            .renewed_at
            .filter(|_| self.status == JobStatus::Running)
        else {
            return LeaseState::Absent;
        };
        let silent_for = now.duration_since(renewed).unwrap_or_default();
        if silent_for > LEASE_EXPIRY {
            LeaseState::Expired { silent_for }
        } else {
            LeaseState::Live
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::domain::{AppKey, JobCommand, JobId};

    fn record(renewed: Option<u64>) -> JobRecord {
        let mut record = JobRecord::running(
            JobId::generate(100, [0; 8]),
            JobCommand::Deploy,
            AppKey::new("web", "prod", "webfront"),
            None,
            UNIX_EPOCH + Duration::from_secs(100),
        );
        record.renewed_at = renewed.map(|s| UNIX_EPOCH + Duration::from_secs(s));
        record
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_lease_expires_only_after_thirty_seconds_of_silence() {
        assert_eq!(record(None).lease_at(at(10_000)), LeaseState::Absent);
        let renewed = record(Some(200));
        assert_eq!(renewed.lease_at(at(200)), LeaseState::Live);
        assert_eq!(renewed.lease_at(at(230)), LeaseState::Live);
        assert_eq!(
            renewed.lease_at(at(231)),
            LeaseState::Expired {
                silent_for: Duration::from_secs(31)
            }
        );
        // A renewal stamped a little ahead of this host's clock is live.
        assert_eq!(renewed.lease_at(at(150)), LeaseState::Live);
    }

    #[test]
    fn an_ended_job_has_no_lease() {
        let mut ended = record(Some(200));
        ended.end(JobStatus::Succeeded, None, at(210));
        assert_eq!(ended.lease_at(at(10_000)), LeaseState::Absent);
    }

    #[test]
    fn the_host_name_is_the_host_without_its_boot() {
        let runner = |host: &str| crate::domain::JobRunner {
            host: host.into(),
            pid: 1,
            started: 1,
        };
        assert_eq!(runner("build-1#5e1f").host_name(), "build-1");
        assert_eq!(runner("build-1").host_name(), "build-1");
        assert_eq!(runner("#5e1f").host_name(), "");
    }
}
