//! The `JobHistory` port on PostgreSQL. A job's start and its end are each one
//! `INSERT … ON CONFLICT DO UPDATE`: one statement, atomic on its own under READ
//! COMMITTED (PostgreSQL guarantees an insert or an update even against a concurrent
//! insert of the same id), so no wider transaction is needed. Reads are one `SELECT`
//! each: one snapshot.

use std::time::SystemTime;

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::types::ToSql;
use lxpack_core::domain::{AppKey, JobId, JobRecord, JobStatus, MemberName, ReleaseState};
use lxpack_core::ports::{JobHistory, JobHistoryError};
use tracing::instrument;

use crate::rows::{
    JOB_COLUMNS, job_from_row, kept_columns, millis, release_columns, runner_columns, steps_json,
};
use crate::store::{Failure, PostgresAppStore, history_error};

const UPSERT_JOB: &str = "INSERT INTO jobs (id, command, app_name, app_env, app_role, module, status, started_at_ms, ended_at_ms, error, log_path, runner_host, runner_pid, runner_started, kept_instance, kept_until_ms, steps, member, release_instance, release_state, release_note, renewed_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
     ON CONFLICT (id) DO UPDATE SET command = excluded.command, app_name = excluded.app_name,
       app_env = excluded.app_env, app_role = excluded.app_role, module = excluded.module,
       status = excluded.status, started_at_ms = excluded.started_at_ms, ended_at_ms = excluded.ended_at_ms,
       error = excluded.error, log_path = excluded.log_path, runner_host = excluded.runner_host,
       runner_pid = excluded.runner_pid, runner_started = excluded.runner_started,
       kept_instance = excluded.kept_instance, kept_until_ms = excluded.kept_until_ms,
       steps = excluded.steps, member = excluded.member,
       release_instance = excluded.release_instance, release_state = excluded.release_state,
       release_note = excluded.release_note, renewed_at_ms = excluded.renewed_at_ms";

/// A job ended as lost only if nothing moved since the sweep read it: one statement.
const RECORD_LOST: &str = "UPDATE jobs SET status = $2, ended_at_ms = $3, error = $4
     WHERE id = $1 AND status = $5 AND renewed_at_ms IS NOT DISTINCT FROM $6";

/// A lease renewed only while the job runs: the check and the write are one statement,
/// so a renewal racing the job's end can never make it run again.
const RENEW_LEASE: &str = "UPDATE jobs SET renewed_at_ms = $2 WHERE id = $1 AND status = $3";

impl PostgresAppStore {
    async fn upsert_job(&self, record: &JobRecord) -> Result<(), Failure> {
        let runner = runner_columns(record.runner.as_ref());
        let kept = kept_columns(record.kept.as_ref());
        let release = release_columns(record.release.as_ref());
        let log_path = record
            .log_path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        let steps = steps_json(&record.steps);
        let member = record.member.as_ref().map(MemberName::as_str);
        let renewed = record.renewed_at.map(millis);
        let params: [&(dyn ToSql + Sync); 22] = [
            &record.id.as_str(),
            &record.command.as_str(),
            &record.app.name,
            &record.app.env,
            &record.app.role,
            &record.module,
            &record.status.as_str(),
            &millis(record.started_at),
            &record.ended_at.map(millis),
            &record.error,
            &log_path,
            &runner.0,
            &runner.1,
            &runner.2,
            &kept.0,
            &kept.1,
            &steps,
            &member,
            &release.0,
            &release.1,
            &release.2,
            &renewed,
        ];
        self.client().await?.execute(UPSERT_JOB, &params).await?;
        Ok(())
    }

    /// The job records `sql` selects with [`JOB_COLUMNS`], bound to `app`'s key when given.
    async fn select_jobs(
        &self,
        sql: &str,
        app: Option<&AppKey>,
    ) -> Result<Vec<JobRecord>, Failure> {
        let client = self.client().await?;
        let rows = match app {
            Some(key) => client.query(sql, &[&key.name, &key.env, &key.role]).await?,
            None => client.query(sql, &[]).await?,
        };
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            jobs.push(job_from_row(row)??);
        }
        Ok(jobs)
    }
}

#[async_trait]
impl JobHistory for PostgresAppStore {
    #[instrument(skip_all, fields(job = %record.id))]
    async fn record_job(&self, record: &JobRecord) -> Result<(), JobHistoryError> {
        self.retrying("record job", || self.upsert_job(record))
            .await
            .map_err(|e| history_error("record job", e))
    }

    #[instrument(skip(self), fields(job = %id))]
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, JobHistoryError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        self.retrying("get job", || async {
            let row = self
                .client()
                .await?
                .query_opt(&sql, &[&id.as_str()])
                .await?;
            match row {
                Some(row) => Ok(Some(job_from_row(&row)??)),
                None => Ok(None),
            }
        })
        .await
        .map_err(|e| history_error("get job", e))
    }

    #[instrument(skip(self))]
    async fn list_jobs(&self, app: Option<&AppKey>) -> Result<Vec<JobRecord>, JobHistoryError> {
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs");
        if app.is_some() {
            sql.push_str(" WHERE app_name = $1 AND app_env = $2 AND app_role = $3");
        }
        sql.push_str(" ORDER BY started_at_ms DESC, id DESC");
        self.retrying("list jobs", || self.select_jobs(&sql, app))
            .await
            .map_err(|e| history_error("list jobs", e))
    }

    #[instrument(skip(self))]
    async fn running_jobs(&self) -> Result<Vec<JobRecord>, JobHistoryError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = '{}'",
            JobStatus::Running.as_str()
        );
        self.retrying("list running jobs", || self.select_jobs(&sql, None))
            .await
            .map_err(|e| history_error("list running jobs", e))
    }

    /// One `UPDATE` of the running record, atomic on its own under READ COMMITTED.
    #[instrument(skip(self), fields(job = %id))]
    async fn renew_lease(&self, id: &JobId, at: SystemTime) -> Result<bool, JobHistoryError> {
        let at = millis(at);
        self.retrying("renew lease", || async {
            let renewed = self
                .client()
                .await?
                .execute(
                    RENEW_LEASE,
                    &[&id.as_str(), &at, &JobStatus::Running.as_str()],
                )
                .await?;
            Ok(renewed == 1)
        })
        .await
        .map_err(|e| history_error("renew lease", e))
    }

    /// One `UPDATE` of the record as the caller read it, atomic on its own under READ
    /// COMMITTED: a renewal that commits first makes it match nothing.
    #[instrument(skip(self, error), fields(job = %id))]
    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<SystemTime>,
        at: SystemTime,
        error: &str,
    ) -> Result<bool, JobHistoryError> {
        let (at, seen) = (millis(at), seen.map(millis));
        self.retrying("record a lost job", || async {
            let recorded = self
                .client()
                .await?
                .execute(
                    RECORD_LOST,
                    &[
                        &id.as_str(),
                        &JobStatus::Lost.as_str(),
                        &at,
                        &error,
                        &JobStatus::Running.as_str(),
                        &seen,
                    ],
                )
                .await?;
            Ok(recorded == 1)
        })
        .await
        .map_err(|e| history_error("record a lost job", e))
    }

    /// Every build host writes to this store: a job the store does not know is no
    /// host's, and another host's job is judged by its lease.
    fn is_shared(&self) -> bool {
        true
    }

    /// Through the `jobs_by_release_state` index.
    #[instrument(skip(self))]
    async fn pending_releases(&self) -> Result<Vec<JobRecord>, JobHistoryError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE release_state = '{}'",
            ReleaseState::Pending.as_str()
        );
        self.retrying("list pending releases", || self.select_jobs(&sql, None))
            .await
            .map_err(|e| history_error("list pending releases", e))
    }
}
