//! [`SqliteAppStore`]: the `AppStore` and `JobHistory` ports on one SQLite file. SQLite
//! calls block, so each runs on tokio's blocking pool. The image rule is the core's;
//! this store only runs it inside an `IMMEDIATE` transaction.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lxpack_core::domain::{
    App, AppKey, JobId, JobRecord, JobStatus, MemberName, ReleaseState, ReplaceDecision,
    decide_replacement, newest_image,
};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome, JobHistory, JobHistoryError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tracing::instrument;

use crate::error::SqliteStoreError;
use crate::rows::{
    JOB_COLUMNS, app_from_document, document_of, job_from_row, kept_columns, millis,
    release_columns, runner_columns, steps_json,
};
use crate::schema::{LATEST, SchemaError, migrate};

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The app store in one SQLite file. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct SqliteAppStore {
    path: Arc<PathBuf>,
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteAppStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAppStore")
            .field("path", &self.path)
            .finish()
    }
}

type Result<T> = std::result::Result<T, SqliteStoreError>;

impl SqliteAppStore {
    /// Opens (creating it and its directory if needed) the database at `path`, and
    /// brings its schema up to date.
    ///
    /// # Errors
    /// `Open`, `NotADatabase`, `NewerSchema` or `Migrate`, naming the file.
    pub fn open(path: &Path) -> Result<Self> {
        let open_error =
            |source: Box<dyn std::error::Error + Send + Sync>| SqliteStoreError::Open {
                path: path.to_owned(),
                source,
            };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            // The store holds apps' environment values: a directory lxpack makes for it
            // is its owner's alone.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| open_error(Box::new(e)))?;
        }
        let created = !path.exists();
        let mut connection = Connection::open(path).map_err(|e| open_error(Box::new(e)))?;
        if created {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| open_error(Box::new(e)))?;
        }
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_error(Box::new(e)))?;
        let wal = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0));
        if let Err(error) = wal {
            return Err(if is_not_a_database(&error) {
                SqliteStoreError::NotADatabase {
                    path: path.to_owned(),
                }
            } else {
                open_error(Box::new(error))
            });
        }
        match migrate(&mut connection) {
            Ok(()) => {}
            Err(SchemaError::Newer(found)) => {
                return Err(SqliteStoreError::NewerSchema {
                    path: path.to_owned(),
                    found,
                    supported: LATEST,
                });
            }
            Err(SchemaError::Read(error)) if is_not_a_database(&error) => {
                return Err(SqliteStoreError::NotADatabase {
                    path: path.to_owned(),
                });
            }
            Err(SchemaError::Read(error)) => return Err(open_error(Box::new(error))),
            Err(SchemaError::Failed(version, error)) => {
                return Err(SqliteStoreError::Migrate {
                    path: path.to_owned(),
                    version,
                    source: Box::new(error),
                });
            }
        }
        Ok(Self {
            path: Arc::new(path.to_owned()),
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection, on the blocking pool.
    async fn with<T, F>(&self, operation: &str, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Path) -> Result<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let path = Arc::clone(&self.path);
        let joined = tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut connection, &path)
        })
        .await;
        joined.map_err(|error| SqliteStoreError::Query {
            operation: operation.to_owned(),
            path: self.path.to_path_buf(),
            source: Box::new(error),
        })?
    }

    fn load_apps(connection: &Connection, path: &Path, key: Option<&AppKey>) -> Result<Vec<App>> {
        let query = |e| query_error("read apps", path, e);
        let mut sql = "SELECT document, container_image FROM apps".to_owned();
        if key.is_some() {
            sql.push_str(" WHERE name = ?1 AND env = ?2 AND role = ?3");
        }
        sql.push_str(" ORDER BY name, env, role");
        let mut statement = connection.prepare(&sql).map_err(query)?;
        let read = |row: &rusqlite::Row<'_>| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
        };
        let rows = match key {
            Some(k) => statement.query_map(params![k.name, k.env, k.role], read),
            None => statement.query_map([], read),
        }
        .map_err(query)?;
        let mut apps = Vec::new();
        for row in rows {
            let (document, image) = row.map_err(query)?;
            apps.push(app_from_document(&document, image).map_err(|c| corrupt(c, path))?);
        }
        Ok(apps)
    }
}

fn is_not_a_database(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase)
    )
}

fn query_error(operation: &str, path: &Path, error: rusqlite::Error) -> SqliteStoreError {
    SqliteStoreError::Query {
        operation: operation.to_owned(),
        path: path.to_owned(),
        source: Box::new(error),
    }
}

fn corrupt(c: crate::rows::Corrupt, path: &Path) -> SqliteStoreError {
    SqliteStoreError::Corrupt {
        what: c.what,
        path: path.to_owned(),
        problem: c.problem,
    }
}

fn port_error(operation: &str, error: SqliteStoreError) -> AppStoreError {
    AppStoreError::Other {
        operation: operation.to_owned(),
        source: Box::new(error),
    }
}

fn history_error(operation: &str, error: SqliteStoreError) -> JobHistoryError {
    JobHistoryError::Other {
        operation: operation.to_owned(),
        source: Box::new(error),
    }
}

/// Why recording an image did not happen.
enum RecordRefused {
    NotFound,
    Newer(JobId),
}

#[async_trait]
impl AppStore for SqliteAppStore {
    #[instrument(skip(self), fields(app = %key))]
    async fn get_app(&self, key: &AppKey) -> std::result::Result<App, AppStoreError> {
        let wanted = key.clone();
        let apps = self
            .with("get app", move |connection, path| {
                Self::load_apps(connection, path, Some(&wanted))
            })
            .await
            .map_err(|e| port_error("get app", e))?;
        apps.into_iter()
            .next()
            .ok_or_else(|| AppStoreError::AppNotFound { app: key.clone() })
    }

    #[instrument(skip(self))]
    async fn list_apps(&self) -> std::result::Result<Vec<App>, AppStoreError> {
        self.with("list apps", |connection, path| {
            Self::load_apps(connection, path, None)
        })
        .await
        .map_err(|e| port_error("list apps", e))
    }

    #[instrument(skip(self), fields(app = %app, job = %job))]
    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> std::result::Result<Option<JobId>, AppStoreError> {
        let (key, new) = (app.clone(), job.clone());
        let outcome = self
            .with("record container image", move |connection, path| {
                let query = |e| query_error("record container image", path, e);
                let transaction =
                    connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(query)?;
                let current: Option<Option<String>> = transaction
                    .query_row(
                        "SELECT container_image FROM apps WHERE name = ?1 AND env = ?2 AND role = ?3",
                        params![key.name, key.env, key.role],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(query)?;
                let Some(current) = current else {
                    return Ok(Err(RecordRefused::NotFound));
                };
                let current = current.and_then(|text| JobId::parse(&text).ok());
                let previous = match decide_replacement(current.as_ref(), &new) {
                    ReplaceDecision::Replace { previous } => previous,
                    ReplaceDecision::Superseded { current } => return Ok(Err(RecordRefused::Newer(current))),
                    _ => return Ok(Ok(None)),
                };
                transaction
                    .execute(
                        "UPDATE apps SET container_image = ?4 WHERE name = ?1 AND env = ?2 AND role = ?3",
                        params![key.name, key.env, key.role, new.as_str()],
                    )
                    .map_err(query)?;
                transaction.commit().map_err(query)?;
                Ok(Ok(previous))
            })
            .await
            .map_err(|e| port_error("record container image", e))?;
        match outcome {
            Ok(replaced) => Ok(replaced),
            Err(RecordRefused::NotFound) => Err(AppStoreError::AppNotFound { app: app.clone() }),
            Err(RecordRefused::Newer(current)) => Err(AppStoreError::Superseded {
                app: app.clone(),
                current,
                rejected: job.clone(),
            }),
        }
    }

    #[instrument(skip_all, fields(app = %app.key))]
    async fn import_app(&self, app: App) -> std::result::Result<ImportOutcome, AppStoreError> {
        self.with("import app", move |connection, path| {
            let query = |e: rusqlite::Error| query_error("import app", path, e);
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(query)?;
            let stored: Option<Option<String>> = transaction
                .query_row(
                    "SELECT container_image FROM apps WHERE name = ?1 AND env = ?2 AND role = ?3",
                    params![app.key.name, app.key.env, app.key.role],
                    |row| row.get(0),
                )
                .optional()
                .map_err(query)?;
            let stored_image = stored.clone().flatten().and_then(|text| JobId::parse(&text).ok());
            let image = newest_image(stored_image, app.build_infos.container_image.clone());
            let mut app = app;
            app.build_infos.container_image.clone_from(&image);
            transaction
                .execute(
                    "INSERT INTO apps (name, env, role, document, container_image) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (name, env, role) DO UPDATE SET document = excluded.document, container_image = excluded.container_image",
                    params![app.key.name, app.key.env, app.key.role, document_of(&app), image.map(|j| j.to_string())],
                )
                .map_err(query)?;
            transaction.commit().map_err(query)?;
            Ok(if stored.is_some() { ImportOutcome::Updated } else { ImportOutcome::Created })
        })
        .await
        .map_err(|e| port_error("import app", e))
    }

    #[instrument(skip(self), fields(app = %key))]
    async fn remove_app(&self, key: &AppKey) -> std::result::Result<bool, AppStoreError> {
        let key = key.clone();
        self.with("remove app", move |connection, path| {
            let removed = connection
                .execute(
                    "DELETE FROM apps WHERE name = ?1 AND env = ?2 AND role = ?3",
                    params![key.name, key.env, key.role],
                )
                .map_err(|e| query_error("remove app", path, e))?;
            Ok(removed > 0)
        })
        .await
        .map_err(|e| port_error("remove app", e))
    }
}

#[async_trait]
impl JobHistory for SqliteAppStore {
    #[instrument(skip_all, fields(job = %record.id))]
    async fn record_job(&self, record: &JobRecord) -> std::result::Result<(), JobHistoryError> {
        let record = record.clone();
        self.with("record job", move |connection, path| {
            let runner = runner_columns(record.runner.as_ref());
            let kept = kept_columns(record.kept.as_ref());
            let release = release_columns(record.release.as_ref());
            connection
                .execute(
                    "INSERT INTO jobs (id, command, app_name, app_env, app_role, module, status, started_at_ms, ended_at_ms, error, log_path, runner_host, runner_pid, runner_started, kept_instance, kept_until_ms, steps, member, release_instance, release_state, release_note, renewed_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
                     ON CONFLICT (id) DO UPDATE SET command = excluded.command, app_name = excluded.app_name,
                       app_env = excluded.app_env, app_role = excluded.app_role, module = excluded.module,
                       status = excluded.status, started_at_ms = excluded.started_at_ms, ended_at_ms = excluded.ended_at_ms,
                       error = excluded.error, log_path = excluded.log_path, runner_host = excluded.runner_host,
                       runner_pid = excluded.runner_pid, runner_started = excluded.runner_started,
                       kept_instance = excluded.kept_instance, kept_until_ms = excluded.kept_until_ms,
                       steps = excluded.steps, member = excluded.member,
                       release_instance = excluded.release_instance, release_state = excluded.release_state,
                       release_note = excluded.release_note, renewed_at_ms = excluded.renewed_at_ms",
                    params![
                        record.id.as_str(),
                        record.command.as_str(),
                        record.app.name,
                        record.app.env,
                        record.app.role,
                        record.module,
                        record.status.as_str(),
                        millis(record.started_at),
                        record.ended_at.map(millis),
                        record.error,
                        record.log_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                        runner.0,
                        runner.1,
                        runner.2,
                        kept.0,
                        kept.1,
                        steps_json(&record.steps),
                        record.member.as_ref().map(MemberName::as_str),
                        release.0,
                        release.1,
                        release.2,
                        record.renewed_at.map(millis),
                    ],
                )
                .map_err(|e| query_error("record job", path, e))?;
            Ok(())
        })
        .await
        .map_err(|e| history_error("record job", e))
    }

    #[instrument(skip(self), fields(job = %id))]
    async fn get_job(&self, id: &JobId) -> std::result::Result<Option<JobRecord>, JobHistoryError> {
        let id = id.to_string();
        self.with("get job", move |connection, path| {
            let row = connection
                .query_row(
                    &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                    [id],
                    job_from_row,
                )
                .optional()
                .map_err(|e| query_error("get job", path, e))?;
            row.map(|r| r.map_err(|c| corrupt(c, path))).transpose()
        })
        .await
        .map_err(|e| history_error("get job", e))
    }

    #[instrument(skip(self))]
    async fn list_jobs(
        &self,
        app: Option<&AppKey>,
    ) -> std::result::Result<Vec<JobRecord>, JobHistoryError> {
        let app = app.cloned();
        self.with("list jobs", move |connection, path| {
            let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs");
            if app.is_some() {
                sql.push_str(" WHERE app_name = ?1 AND app_env = ?2 AND app_role = ?3");
            }
            sql.push_str(" ORDER BY started_at_ms DESC, id DESC");
            select_jobs(connection, path, "list jobs", &sql, app.as_ref())
        })
        .await
        .map_err(|e| history_error("list jobs", e))
    }

    #[instrument(skip(self), fields(job = %id))]
    async fn renew_lease(
        &self,
        id: &JobId,
        at: SystemTime,
    ) -> std::result::Result<bool, JobHistoryError> {
        let id = id.to_string();
        self.with("renew job lease", move |connection, path| {
            // One conditional statement: a job whose end was recorded meanwhile stays
            // ended.
            let renewed = connection
                .execute(
                    "UPDATE jobs SET renewed_at_ms = ?2 WHERE id = ?1 AND status = ?3",
                    params![id, millis(at), JobStatus::Running.as_str()],
                )
                .map_err(|e| query_error("renew job lease", path, e))?;
            Ok(renewed > 0)
        })
        .await
        .map_err(|e| history_error("renew job lease", e))
    }

    #[instrument(skip(self, error), fields(job = %id))]
    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<SystemTime>,
        at: SystemTime,
        error: &str,
    ) -> std::result::Result<bool, JobHistoryError> {
        let (id, error) = (id.to_string(), error.to_owned());
        self.with("record a lost job", move |connection, path| {
            // One conditional statement: a job that renewed its lease or ended since
            // the caller read it keeps its record (`IS` matches a missing lease too).
            let recorded = connection
                .execute(
                    "UPDATE jobs SET status = ?2, ended_at_ms = ?3, error = ?4
                     WHERE id = ?1 AND status = ?5 AND renewed_at_ms IS ?6",
                    params![
                        id,
                        JobStatus::Lost.as_str(),
                        millis(at),
                        error,
                        JobStatus::Running.as_str(),
                        seen.map(millis)
                    ],
                )
                .map_err(|e| query_error("record a lost job", path, e))?;
            Ok(recorded > 0)
        })
        .await
        .map_err(|e| history_error("record a lost job", e))
    }

    #[instrument(skip(self))]
    async fn running_jobs(&self) -> std::result::Result<Vec<JobRecord>, JobHistoryError> {
        self.with("list running jobs", |connection, path| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE status = '{}'",
                JobStatus::Running.as_str()
            );
            select_jobs(connection, path, "list running jobs", &sql, None)
        })
        .await
        .map_err(|e| history_error("list running jobs", e))
    }

    #[instrument(skip(self))]
    async fn pending_releases(&self) -> std::result::Result<Vec<JobRecord>, JobHistoryError> {
        self.with("list pending releases", |connection, path| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE release_state = '{}'",
                ReleaseState::Pending.as_str()
            );
            select_jobs(connection, path, "list pending releases", &sql, None)
        })
        .await
        .map_err(|e| history_error("list pending releases", e))
    }
}

/// The job records `sql` selects with [`JOB_COLUMNS`], bound to `app`'s key when given.
fn select_jobs(
    connection: &Connection,
    path: &Path,
    operation: &str,
    sql: &str,
    app: Option<&AppKey>,
) -> Result<Vec<JobRecord>> {
    let query = |e| query_error(operation, path, e);
    let mut statement = connection.prepare(sql).map_err(query)?;
    let rows = match app {
        Some(key) => statement.query_map(params![key.name, key.env, key.role], job_from_row),
        None => statement.query_map([], job_from_row),
    }
    .map_err(query)?;
    let mut jobs = Vec::new();
    for row in rows {
        jobs.push(row.map_err(query)?.map_err(|c| corrupt(c, path))?);
    }
    Ok(jobs)
}
