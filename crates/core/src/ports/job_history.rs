//! Where job records are kept. The workflows write them (running first, ended after
//! cleanup) and renew a running job's lease between; the sweep reads them to spare a
//! live job's resources; the CLI lists them. A store several build hosts share says so
//! ([`JobHistory::is_shared`]): the sweep then knows every host's jobs.

use std::time::SystemTime;

use async_trait::async_trait;

use super::BoxError;
use crate::domain::{AppKey, JobId, JobRecord, ReleaseState};

/// Errors of [`JobHistory`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobHistoryError {
    /// The history cannot be read or written (storage unavailable, corrupt data…).
    #[error("{operation} failed")]
    Other {
        /// What lxpack was doing.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

/// The job history.
///
/// Every write is one atomic step: a store shared by several hosts must never let a
/// lease renewal and a job's end (or a sweep's `Lost`) interleave so that an ended job
/// reads `running` again.
#[async_trait]
pub trait JobHistory: Send + Sync {
    /// Inserts `record`, or replaces the record with the same id.
    ///
    /// # Errors
    /// `Other` when the history cannot be written.
    async fn record_job(&self, record: &JobRecord) -> Result<(), JobHistoryError>;

    /// One job; `None` when the history does not know it.
    ///
    /// # Errors
    /// `Other` when the history cannot be read.
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, JobHistoryError>;

    /// The jobs, newest first (by start, then by id descending), every app's or only
    /// `app`'s.
    ///
    /// # Errors
    /// `Other` when the history cannot be read.
    async fn list_jobs(&self, app: Option<&AppKey>) -> Result<Vec<JobRecord>, JobHistoryError>;

    /// The jobs whose status is `Running`, in any order.
    ///
    /// # Errors
    /// `Other` when the history cannot be read.
    async fn running_jobs(&self) -> Result<Vec<JobRecord>, JobHistoryError>;

    /// Renews the lease of job `id` at `at` (its [`JobRecord::renewed_at`]), when the
    /// history records it as running; returns whether it did. An unknown job, or one
    /// whose record says it ended (a sweep may have judged it lost), is left exactly
    /// as it is and the answer is `false`: a renewal never makes an ended job running
    /// again, so the check and the write MUST be one atomic step (one conditional
    /// `UPDATE`, or both under the store's lock). Nothing else of the record changes;
    /// the renewal is visible to [`get_job`](Self::get_job),
    /// [`running_jobs`](Self::running_jobs) and [`list_jobs`](Self::list_jobs) from
    /// then on.
    ///
    /// # Errors
    /// `Other` when the history cannot be written.
    async fn renew_lease(&self, id: &JobId, at: SystemTime) -> Result<bool, JobHistoryError>;

    /// Records the job `id` as lost at `at`, with `error`, only if the store still has
    /// it running with the lease renewal `seen` (the one the caller judged by; `None`
    /// for a record without a lease). The check and the write are one atomic step, so
    /// a job that renewed its lease since, or ended, keeps its record: a sweep on
    /// another host never ends a job that is alive. `true` when it was recorded lost.
    ///
    /// # Errors
    /// `Other` when the history cannot be written.
    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<SystemTime>,
        at: SystemTime,
        error: &str,
    ) -> Result<bool, JobHistoryError>;

    /// Whether several build hosts share this history, so that it holds every job of
    /// every host that uses the same container daemon. The sweep then removes the
    /// leftovers of a job it does not know (no host of the store runs it) instead of
    /// sparing them for as long as a job can last. The default, `false`, suits a
    /// history on one host (an embedded database, a local directory); a store reached
    /// by several hosts over the network MUST answer `true`, and keep leases
    /// ([`renew_lease`](Self::renew_lease)).
    fn is_shared(&self) -> bool {
        false
    }

    /// The jobs whose release is pending ([`ReleaseState::Pending`]), in any order.
    /// The default reads every job; a store with an index does better.
    ///
    /// # Errors
    /// `Other` when the history cannot be read.
    async fn pending_releases(&self) -> Result<Vec<JobRecord>, JobHistoryError> {
        Ok(self
            .list_jobs(None)
            .await?
            .into_iter()
            .filter(|job| {
                job.release
                    .as_ref()
                    .is_some_and(|release| release.state == ReleaseState::Pending)
            })
            .collect())
    }
}
