//! [`JsonDirAppStore`]: the `AppStore` and `JobHistory` ports over plain files. The
//! image rule is the core's; this store runs it under its exclusive lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use lxpack_core::document::{DocumentFormat, app_to_document, parse_app_documents};
use lxpack_core::domain::{
    App, AppKey, JobId, JobRecord, JobStatus, ReplaceDecision, decide_replacement, newest_image,
};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome, JobHistory, JobHistoryError};

use crate::files::{Layout, json_files, read_if_exists, write_atomically};
use crate::{JsonStoreError, Result, jobs};

/// An [`AppStore`] and [`JobHistory`] on a directory of JSON files (see the crate docs for the layout).
/// Clones share the directory; so may any number of processes.
#[derive(Debug, Clone)]
pub struct JsonDirAppStore {
    layout: Arc<Layout>,
}

/// What `record_container_image` found, before it becomes the port's answer.
enum Recorded {
    Replaced(Option<JobId>),
    Superseded(JobId),
    NoApp,
}

impl JsonDirAppStore {
    /// Opens the store in `root`, creating its directories when missing.
    ///
    /// # Errors
    /// `Io` when the directories cannot be created.
    pub fn open(root: &Path) -> Result<Self> {
        Ok(Self {
            layout: Arc::new(Layout::create(root)?),
        })
    }

    /// The store's directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// The file that holds (or would hold) an app's document.
    #[must_use]
    pub fn app_file(&self, key: &AppKey) -> PathBuf {
        self.layout.app_file(key)
    }

    /// Runs file I/O on tokio's blocking pool, so it never stalls the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Layout) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let layout = Arc::clone(&self.layout);
        tokio::task::spawn_blocking(move || work(&layout))
            .await
            .map_err(|source| JsonStoreError::Worker { source })?
    }
}

/// The port's `Other`, keeping the store's error as its source.
fn other(operation: String) -> impl FnOnce(JsonStoreError) -> AppStoreError {
    move |error| AppStoreError::Other {
        operation,
        source: Box::new(error),
    }
}

/// Reads an app document; `None` when the file does not exist.
fn read_app(path: &Path) -> Result<Option<App>> {
    let Some(text) = read_if_exists(path)? else {
        return Ok(None);
    };
    let corrupt = |source: crate::BoxError| JsonStoreError::Corrupt {
        path: path.to_path_buf(),
        what: "app document",
        source,
    };
    let mut apps =
        parse_app_documents(&text, DocumentFormat::Json).map_err(|e| corrupt(Box::new(e)))?;
    match (apps.pop(), apps.is_empty()) {
        (Some(app), true) => Ok(Some(app)),
        _ => Err(corrupt("expected exactly one app".into())),
    }
}

/// Reads the app with `key`; a file holding another app is corrupt.
fn read_app_of(layout: &Layout, key: &AppKey) -> Result<Option<App>> {
    let path = layout.app_file(key);
    match read_app(&path)? {
        Some(app) if app.key != *key => Err(JsonStoreError::Corrupt {
            what: "app document",
            source: format!("it holds app {}, not {key}", app.key).into(),
            path,
        }),
        found => Ok(found),
    }
}

fn write_app(path: &Path, app: &App) -> Result<()> {
    let mut text = format!("{:#}", app_to_document(app));
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

#[async_trait]
impl AppStore for JsonDirAppStore {
    async fn get_app(&self, key: &AppKey) -> std::result::Result<App, AppStoreError> {
        let owned = key.clone();
        self.blocking(move |layout| read_app_of(layout, &owned))
            .await
            .map_err(other(format!("read app {key}")))?
            .ok_or_else(|| AppStoreError::AppNotFound { app: key.clone() })
    }

    async fn list_apps(&self) -> std::result::Result<Vec<App>, AppStoreError> {
        self.blocking(|layout| {
            let mut apps = Vec::new();
            for path in json_files(&layout.apps_dir())? {
                // A file removed between the listing and the read is simply gone.
                apps.extend(read_app(&path)?);
            }
            apps.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(apps)
        })
        .await
        .map_err(other("list apps".to_owned()))
    }

    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> std::result::Result<Option<JobId>, AppStoreError> {
        let (key, new) = (app.clone(), job.clone());
        let recorded = self
            .blocking(move |layout| {
                // The check and the write happen under one exclusive lock.
                let _lock = layout.lock()?;
                let Some(mut stored) = read_app_of(layout, &key)? else {
                    return Ok(Recorded::NoApp);
                };
                let current = &mut stored.build_infos.container_image;
                match decide_replacement(current.as_ref(), &new) {
                    ReplaceDecision::Replace { previous } => {
                        *current = Some(new);
                        write_app(&layout.app_file(&key), &stored)?;
                        Ok(Recorded::Replaced(previous))
                    }
                    ReplaceDecision::Superseded { current } => Ok(Recorded::Superseded(current)),
                    _ => Ok(Recorded::Replaced(None)),
                }
            })
            .await
            .map_err(other(format!("record the image of job {job} on app {app}")))?;
        match recorded {
            Recorded::Replaced(replaced) => Ok(replaced),
            Recorded::Superseded(current) => Err(AppStoreError::Superseded {
                app: app.clone(),
                current,
                rejected: job.clone(),
            }),
            Recorded::NoApp => Err(AppStoreError::AppNotFound { app: app.clone() }),
        }
    }

    async fn import_app(&self, app: App) -> std::result::Result<ImportOutcome, AppStoreError> {
        let key = app.key.clone();
        self.blocking(move |layout| {
            let _lock = layout.lock()?;
            let stored = read_app_of(layout, &app.key)?;
            let outcome = if stored.is_some() {
                ImportOutcome::Updated
            } else {
                ImportOutcome::Created
            };
            let mut app = app;
            app.build_infos.container_image = newest_image(
                stored.and_then(|stored| stored.build_infos.container_image),
                app.build_infos.container_image.take(),
            );
            write_app(&layout.app_file(&app.key), &app)?;
            Ok(outcome)
        })
        .await
        .map_err(other(format!("import app {key}")))
    }

    async fn remove_app(&self, key: &AppKey) -> std::result::Result<bool, AppStoreError> {
        let owned = key.clone();
        self.blocking(move |layout| {
            let _lock = layout.lock()?;
            let path = layout.app_file(&owned);
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(true),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(source) => Err(JsonStoreError::Io {
                    action: "remove",
                    path,
                    source,
                }),
            }
        })
        .await
        .map_err(other(format!("remove app {key}")))
    }
}

/// The history's `Other`, keeping the store's error as its source.
fn history_error(operation: String) -> impl FnOnce(JsonStoreError) -> JobHistoryError {
    move |error| JobHistoryError::Other {
        operation,
        source: Box::new(error),
    }
}

impl JsonDirAppStore {
    /// Every job record, in no order.
    async fn all_jobs(&self) -> Result<Vec<JobRecord>> {
        self.blocking(|layout| {
            let mut jobs = Vec::new();
            // One file per job: a store with a long history would index them.
            for path in json_files(&layout.jobs_dir())? {
                if let Some(text) = read_if_exists(&path)? {
                    jobs.push(jobs::from_json(&text, &path)?);
                }
            }
            Ok(jobs)
        })
        .await
    }
}

#[async_trait]
impl JobHistory for JsonDirAppStore {
    async fn record_job(&self, record: &JobRecord) -> std::result::Result<(), JobHistoryError> {
        let owned = record.clone();
        self.blocking(move |layout| {
            let _lock = layout.lock()?;
            write_atomically(&layout.job_file(&owned.id), &jobs::to_json(&owned))
        })
        .await
        .map_err(history_error(format!("record job {}", record.id)))
    }

    async fn get_job(&self, id: &JobId) -> std::result::Result<Option<JobRecord>, JobHistoryError> {
        let owned = id.clone();
        self.blocking(move |layout| {
            let path = layout.job_file(&owned);
            read_if_exists(&path)?
                .map(|text| jobs::from_json(&text, &path))
                .transpose()
        })
        .await
        .map_err(history_error(format!("read job {id}")))
    }

    async fn list_jobs(
        &self,
        app: Option<&AppKey>,
    ) -> std::result::Result<Vec<JobRecord>, JobHistoryError> {
        let mut jobs = self
            .all_jobs()
            .await
            .map_err(history_error("list jobs".to_owned()))?;
        jobs.retain(|job| app.is_none_or(|app| job.app == *app));
        jobs.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(jobs)
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        at: SystemTime,
    ) -> std::result::Result<bool, JobHistoryError> {
        let owned = id.clone();
        self.blocking(move |layout| {
            // Read and write under the lock every writer takes: a job's end recorded
            // meanwhile is never overwritten with `running`.
            let _lock = layout.lock()?;
            let path = layout.job_file(&owned);
            let Some(text) = read_if_exists(&path)? else {
                return Ok(false);
            };
            let mut record = jobs::from_json(&text, &path)?;
            if record.status != JobStatus::Running {
                return Ok(false);
            }
            record.renewed_at = Some(at);
            write_atomically(&path, &jobs::to_json(&record))?;
            Ok(true)
        })
        .await
        .map_err(history_error(format!("renew the lease of job {id}")))
    }

    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<SystemTime>,
        at: SystemTime,
        error: &str,
    ) -> std::result::Result<bool, JobHistoryError> {
        let (owned, error) = (id.clone(), error.to_owned());
        self.blocking(move |layout| {
            // Read, compare and write under the lock every writer takes: a renewal or
            // an end recorded meanwhile wins.
            let _lock = layout.lock()?;
            let path = layout.job_file(&owned);
            let Some(text) = read_if_exists(&path)? else {
                return Ok(false);
            };
            let mut record = jobs::from_json(&text, &path)?;
            if record.status != JobStatus::Running || record.renewed_at != seen {
                return Ok(false);
            }
            record.end(JobStatus::Lost, Some(error), at);
            write_atomically(&path, &jobs::to_json(&record))?;
            Ok(true)
        })
        .await
        .map_err(history_error(format!("record job {id} lost")))
    }

    async fn running_jobs(&self) -> std::result::Result<Vec<JobRecord>, JobHistoryError> {
        let mut jobs = self
            .all_jobs()
            .await
            .map_err(history_error("list running jobs".to_owned()))?;
        jobs.retain(|job| job.status == JobStatus::Running);
        Ok(jobs)
    }
}
