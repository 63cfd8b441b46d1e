//! The `AppStore` port on PostgreSQL. The rules are the core's (`decide_replacement`,
//! `newest_image`); this file only runs each inside one transaction whose isolation
//! level is named where it starts.

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::IsolationLevel;
use lxpack_core::domain::{App, AppKey, JobId, ReplaceDecision, decide_replacement, newest_image};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome};
use tracing::instrument;

use crate::rows::{app_from_document, document_of};
use crate::store::{Failure, PostgresAppStore, app_error};

/// What recording an image came to, inside the transaction.
enum Recorded {
    Replaced(Option<JobId>),
    NotFound,
    Newer(JobId),
}

impl PostgresAppStore {
    async fn load_apps(&self, key: Option<&AppKey>) -> Result<Vec<App>, Failure> {
        let client = self.client().await?;
        // One statement: one snapshot, READ COMMITTED is enough.
        let rows = match key {
            Some(k) => {
                client
                    .query(
                        "SELECT document, container_image FROM apps
                         WHERE name = $1 AND env = $2 AND role = $3",
                        &[&k.name, &k.env, &k.role],
                    )
                    .await?
            }
            None => {
                client
                    .query(
                        "SELECT document, container_image FROM apps ORDER BY name, env, role",
                        &[],
                    )
                    .await?
            }
        };
        let mut apps = Vec::with_capacity(rows.len());
        for row in rows {
            let document: String = row.try_get(0)?;
            apps.push(app_from_document(&document, row.try_get(1)?)?);
        }
        Ok(apps)
    }

    async fn record_image_once(&self, key: &AppKey, job: &JobId) -> Result<Recorded, Failure> {
        let mut client = self.client().await?;
        // READ COMMITTED with SELECT … FOR UPDATE: the rule reads and writes one
        // existing row, so locking that row orders concurrent writers exactly (the
        // second reads the first's committed image once the lock is free) and never
        // aborts; SERIALIZABLE would abort and retry every loser of a race instead.
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let row = transaction
            .query_opt(
                "SELECT container_image FROM apps
                 WHERE name = $1 AND env = $2 AND role = $3 FOR UPDATE",
                &[&key.name, &key.env, &key.role],
            )
            .await?;
        let Some(row) = row else {
            return Ok(Recorded::NotFound);
        };
        let current: Option<String> = row.try_get(0)?;
        let current = current.and_then(|text| JobId::parse(&text).ok());
        let previous = match decide_replacement(current.as_ref(), job) {
            ReplaceDecision::Replace { previous } => previous,
            ReplaceDecision::Superseded { current } => return Ok(Recorded::Newer(current)),
            _ => return Ok(Recorded::Replaced(None)),
        };
        transaction
            .execute(
                "UPDATE apps SET container_image = $4 WHERE name = $1 AND env = $2 AND role = $3",
                &[&key.name, &key.env, &key.role, &job.as_str()],
            )
            .await?;
        transaction.commit().await?;
        Ok(Recorded::Replaced(previous))
    }

    async fn import_once(&self, app: &App) -> Result<ImportOutcome, Failure> {
        let mut client = self.client().await?;
        // SERIALIZABLE: the rule reads the stored image and then inserts or updates a
        // row that may not exist yet, so there is no row to lock. Any concurrent write
        // of that key (another import's insert, an image recorded meanwhile) makes this
        // transaction fail with 40001, and `retrying` runs it again on fresh data.
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .await?;
        let key = &app.key;
        let stored: Option<Option<String>> = transaction
            .query_opt(
                "SELECT container_image FROM apps WHERE name = $1 AND env = $2 AND role = $3",
                &[&key.name, &key.env, &key.role],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let stored_image = stored
            .clone()
            .flatten()
            .and_then(|text| JobId::parse(&text).ok());
        let image = newest_image(stored_image, app.build_infos.container_image.clone());
        let mut app = app.clone();
        app.build_infos.container_image.clone_from(&image);
        let image_text = image.map(|job| job.to_string());
        transaction
            .execute(
                "INSERT INTO apps (name, env, role, document, container_image)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name, env, role) DO UPDATE
                 SET document = excluded.document, container_image = excluded.container_image",
                &[
                    &key.name,
                    &key.env,
                    &key.role,
                    &document_of(&app),
                    &image_text,
                ],
            )
            .await?;
        transaction.commit().await?;
        Ok(if stored.is_some() {
            ImportOutcome::Updated
        } else {
            ImportOutcome::Created
        })
    }
}

#[async_trait]
impl AppStore for PostgresAppStore {
    #[instrument(skip(self), fields(app = %key))]
    async fn get_app(&self, key: &AppKey) -> Result<App, AppStoreError> {
        let apps = self
            .retrying("get app", || self.load_apps(Some(key)))
            .await
            .map_err(|e| app_error("get app", e))?;
        apps.into_iter()
            .next()
            .ok_or_else(|| AppStoreError::AppNotFound { app: key.clone() })
    }

    #[instrument(skip(self))]
    async fn list_apps(&self) -> Result<Vec<App>, AppStoreError> {
        self.retrying("list apps", || self.load_apps(None))
            .await
            .map_err(|e| app_error("list apps", e))
    }

    #[instrument(skip(self), fields(app = %app, job = %job))]
    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> Result<Option<JobId>, AppStoreError> {
        let outcome = self
            .retrying("record container image", || {
                self.record_image_once(app, job)
            })
            .await
            .map_err(|e| app_error("record container image", e))?;
        match outcome {
            Recorded::Replaced(previous) => Ok(previous),
            Recorded::NotFound => Err(AppStoreError::AppNotFound { app: app.clone() }),
            Recorded::Newer(current) => Err(AppStoreError::Superseded {
                app: app.clone(),
                current,
                rejected: job.clone(),
            }),
        }
    }

    #[instrument(skip_all, fields(app = %app.key))]
    async fn import_app(&self, app: App) -> Result<ImportOutcome, AppStoreError> {
        self.retrying("import app", || self.import_once(&app))
            .await
            .map_err(|e| app_error("import app", e))
    }

    #[instrument(skip(self), fields(app = %key))]
    async fn remove_app(&self, key: &AppKey) -> Result<bool, AppStoreError> {
        self.retrying("remove app", || async {
            let client = self.client().await?;
            // One statement, atomic on its own (READ COMMITTED).
            let removed = client
                .execute(
                    "DELETE FROM apps WHERE name = $1 AND env = $2 AND role = $3",
                    &[&key.name, &key.env, &key.role],
                )
                .await?;
            Ok(removed > 0)
        })
        .await
        .map_err(|e| app_error("remove app", e))
    }
}
