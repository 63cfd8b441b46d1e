//! Where apps live and where job outcomes are recorded: SQLite for operators, the
//! integrator's own database otherwise.

use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;

use super::BoxError;
use crate::domain::{App, AppKey, JobCommand, JobId};

/// How a job ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Still running (or its process died without saying).
    Running,
    /// Finished successfully.
    Succeeded,
    /// Failed.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

impl JobStatus {
    /// The status as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
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
    /// Where its full output was written.
    pub log_path: Option<PathBuf>,
}

impl JobRecord {
    /// A job that started at `started_at` and runs: what its caller records first
    /// (the sweep asks the store which jobs still run).
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
        }
    }

    /// Marks the job ended at `ended_at` with `status` (and `error`, when it failed).
    pub fn end(&mut self, status: JobStatus, error: Option<String>, ended_at: SystemTime) {
        self.status = status;
        self.error = error;
        self.ended_at = Some(ended_at);
    }
}

/// Errors of [`AppStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppStoreError {
    /// No such app.
    #[error("app {app} does not exist")]
    AppNotFound {
        /// The app looked for.
        app: AppKey,
    },
    /// A newer job's image is already recorded; the older job's image is not.
    #[error("app {app} already has the image of newer job {current}; job {rejected} is older")]
    Superseded {
        /// The app.
        app: AppKey,
        /// The newer job recorded on the app.
        current: JobId,
        /// The job that lost.
        rejected: JobId,
    },
    /// Anything else (storage unavailable, corrupt data…).
    #[error("{operation} failed")]
    Other {
        /// What lxpack was doing.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

/// The apps and the job history.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// One app.
    ///
    /// # Errors
    /// `AppNotFound` when there is none with that key.
    async fn get_app(&self, key: &AppKey) -> Result<App, AppStoreError>;

    /// Every app, ordered by key.
    ///
    /// # Errors
    /// `Other` when the store cannot be read.
    async fn list_apps(&self) -> Result<Vec<App>, AppStoreError>;

    /// Records `job`'s image as the app's current container image, atomically: the
    /// check and the write happen together, even against concurrent writers. Recording
    /// the job already recorded succeeds. Returns the job it replaced.
    ///
    /// # Errors
    /// `AppNotFound`; `Superseded` when the app records a newer job (nothing changes).
    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> Result<Option<JobId>, AppStoreError>;

    /// Inserts or replaces a job record.
    ///
    /// # Errors
    /// `Other` when the store cannot be written.
    async fn record_job(&self, record: &JobRecord) -> Result<(), AppStoreError>;

    /// The ids of jobs whose status is `Running`.
    ///
    /// # Errors
    /// `Other` when the store cannot be read.
    async fn running_jobs(&self) -> Result<Vec<JobId>, AppStoreError>;
}
