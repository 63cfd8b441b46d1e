//! Moving a build host's apps, their images and its job history into another store
//! (a SQLite file into the PostgreSQL server several hosts share), through the store
//! ports alone, so any pair of stores works. A copy can be run again at any time: an
//! app keeps the newest image of the two stores (the import's own rule), and a job
//! record already in the target is kept unless the source has since seen it end.

use crate::domain::{JobRecord, JobStatus};
use crate::ports::{AppStore, AppStoreError, ImportOutcome, JobHistory, JobHistoryError};

/// A store's two ports.
#[derive(Clone, Copy)]
pub struct StorePorts<'a> {
    /// Its apps.
    pub apps: &'a dyn AppStore,
    /// Its job history.
    pub jobs: &'a dyn JobHistory,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyReport {
    /// Apps the target did not have.
    pub apps_created: usize,
    /// Apps the target had, replaced (keeping the newer image of the two).
    pub apps_updated: usize,
    /// Apps the target already had exactly as the source has them: left alone, so a
    /// copy run again reports that it changed nothing.
    pub apps_unchanged: usize,
    /// Job records written to the target.
    pub jobs_copied: usize,
    /// Job records the target already had as the source has them, or more recent.
    pub jobs_kept: usize,
}

/// Why a copy stopped; what was copied before stays (a copy can be run again).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Reading from or writing to an app store failed.
    #[error("{step} failed")]
    Apps {
        /// What the copy was doing.
        step: &'static str,
        /// The store's error.
        #[source]
        source: AppStoreError,
    },
    /// Reading from or writing to a job history failed.
    #[error("{step} failed")]
    Jobs {
        /// What the copy was doing.
        step: &'static str,
        /// The store's error.
        #[source]
        source: JobHistoryError,
    },
}

/// Copies every app and job record of `from` into `to`: apps first (an app keeps
/// the newest image of the two stores), then the job history, oldest first.
///
/// # Errors
/// The first store error, naming the step.
pub async fn copy_store(from: StorePorts<'_>, to: StorePorts<'_>) -> Result<CopyReport, CopyError> {
    let apps_error = |step| move |source| CopyError::Apps { step, source };
    let jobs_error = |step| move |source| CopyError::Jobs { step, source };
    let mut report = CopyReport::default();
    let apps = from
        .apps
        .list_apps()
        .await
        .map_err(apps_error("list the source's apps"))?;
    for app in apps {
        let known = match to.apps.get_app(&app.key).await {
            Ok(known) => Some(known),
            Err(AppStoreError::AppNotFound { .. }) => None,
            Err(source) => return Err(apps_error("read an app of the target")(source)),
        };
        if known.as_ref() == Some(&app) {
            report.apps_unchanged += 1;
            continue;
        }
        match to
            .apps
            .import_app(app)
            .await
            .map_err(apps_error("import an app into the target"))?
        {
            ImportOutcome::Created => report.apps_created += 1,
            _ => report.apps_updated += 1,
        }
    }
    let mut jobs = from
        .jobs
        .list_jobs(None)
        .await
        .map_err(jobs_error("list the source's jobs"))?;
    jobs.reverse();
    for job in jobs {
        let known = to
            .jobs
            .get_job(&job.id)
            .await
            .map_err(jobs_error("read a job of the target"))?;
        if known.as_ref().is_some_and(|known| !replaces(&job, known)) {
            report.jobs_kept += 1;
            continue;
        }
        to.jobs
            .record_job(&job)
            .await
            .map_err(jobs_error("record a job in the target"))?;
        report.jobs_copied += 1;
    }
    Ok(report)
}

/// Whether the source's record of a job replaces the target's: only when the source
/// saw it end and the target still has it running (an earlier copy took it while it
/// ran). A job that ran on after the copy records its end in one store only.
fn replaces(source: &JobRecord, target: &JobRecord) -> bool {
    target.status == JobStatus::Running && source.status != JobStatus::Running
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::domain::{AppKey, JobCommand, JobId};

    fn record(status: JobStatus) -> JobRecord {
        let mut job = JobRecord::running(
            JobId::parse("65f0c0de0000000000000001").unwrap(),
            JobCommand::Deploy,
            AppKey::new("web", "prod", "api"),
            Some("api".into()),
            SystemTime::UNIX_EPOCH,
        );
        job.status = status;
        job
    }

    #[test]
    fn only_an_end_the_target_has_not_seen_replaces_its_record() {
        let (running, failed) = (record(JobStatus::Running), record(JobStatus::Failed));
        assert!(replaces(&failed, &running));
        assert!(!replaces(&running, &failed));
        assert!(!replaces(&failed, &failed));
        assert!(!replaces(&running, &running));
    }
}
