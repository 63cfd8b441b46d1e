//! Where job records are kept. The workflows write them (running first, ended after
//! cleanup); the sweep reads them to spare a live job's resources; the CLI lists them.

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
