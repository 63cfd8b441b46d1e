//! Where apps live: SQLite for operators, the integrator's own database otherwise.
//! The rule that an older job never replaces a newer job's image is the core's
//! ([`decide_replacement`], [`newest_image`]); a store applies it inside its own
//! atomic step.

use async_trait::async_trait;

use super::BoxError;
use crate::domain::{App, AppKey, JobId};
#[cfg(doc)]
use crate::domain::{decide_replacement, newest_image};

/// What [`AppStore::import_app`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportOutcome {
    /// A new app.
    Created,
    /// An app with the same name, env and role was replaced.
    Updated,
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

    /// Records `job`'s image as the app's current container image, as
    /// [`decide_replacement`] decides against the image recorded now, atomically: the
    /// read, the decision and the write happen together, even against concurrent
    /// writers in other processes. Returns the job it replaced (`None` when the app had
    /// no image, or already recorded `job`).
    ///
    /// # Errors
    /// `AppNotFound`; `Superseded` when the app records a newer job (nothing changes).
    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> Result<Option<JobId>, AppStoreError>;

    /// Inserts `app`, or replaces the app with the same key. The recorded container
    /// image never moves backwards: the app keeps [`newest_image`] of the stored one
    /// and the one `app` names, decided atomically with the write.
    ///
    /// # Errors
    /// `Other` when the store cannot be written.
    async fn import_app(&self, app: App) -> Result<ImportOutcome, AppStoreError>;

    /// Removes an app; `true` when it existed. Its jobs stay in the history and its
    /// images in the registry.
    ///
    /// # Errors
    /// `Other` when the store cannot be written.
    async fn remove_app(&self, key: &AppKey) -> Result<bool, AppStoreError>;
}
