//! The versioned schema. Each migration is embedded SQL; the versions applied are rows
//! of `lxpack_schema_versions`. Every start runs [`migrate`]: one transaction that first
//! takes a transaction-scoped advisory lock, so that of N processes starting at once
//! one migrates and the others then find nothing to do; a failed migration rolls back
//! with every other of that start, so a store is never half-migrated. A store newer
//! than this build is refused before anything is written.
//!
//! Version 2 is the SQLite store's schema at its version 6 (crates/adapter-sqlite,
//! `schema.rs`): the same tables, columns and indexes, so `store copy` maps rows one to one.

use deadpool_postgres::tokio_postgres::{self, IsolationLevel};

/// The migrations, in order: index `i` takes the store to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: apps and the job history, with the runner, kept instance, steps, member and
    // release of SQLite's versions 2 to 5.
    "CREATE TABLE apps (
        name TEXT NOT NULL,
        env TEXT NOT NULL,
        role TEXT NOT NULL,
        document TEXT NOT NULL,
        container_image TEXT,
        PRIMARY KEY (name, env, role)
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        command TEXT NOT NULL,
        app_name TEXT NOT NULL,
        app_env TEXT NOT NULL,
        app_role TEXT NOT NULL,
        module TEXT,
        status TEXT NOT NULL,
        started_at_ms BIGINT NOT NULL,
        ended_at_ms BIGINT,
        error TEXT,
        log_path TEXT,
        runner_host TEXT,
        runner_pid BIGINT,
        runner_started BIGINT,
        kept_instance TEXT,
        kept_until_ms BIGINT,
        steps TEXT,
        member TEXT,
        release_instance TEXT,
        release_state TEXT,
        release_note TEXT
    );
    CREATE INDEX jobs_by_app ON jobs (app_name, app_env, app_role, started_at_ms);
    CREATE INDEX jobs_by_status ON jobs (status);
    CREATE INDEX jobs_by_release_state ON jobs (release_state);",
    // 2: when each running job last renewed its lease (SQLite's version 6), so that a
    // sweep on another host judges the job by its lease.
    "ALTER TABLE jobs ADD COLUMN renewed_at_ms BIGINT;",
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// The key of the advisory lock migrations take (`lxpack` in ASCII, then 1).
const MIGRATION_LOCK: i64 = 0x6c78_7061_636b_0001;

/// Why the schema could not be brought up to date.
#[derive(Debug)]
pub(crate) enum SchemaError {
    /// The store is newer than this build.
    Newer(i64),
    /// Migration `version` failed (everything of this start was rolled back).
    Failed(i64, tokio_postgres::Error),
    /// Locking or reading the version failed.
    Read(tokio_postgres::Error),
}

/// Brings the schema to [`LATEST`]; returns the versions this call applied.
pub(crate) async fn migrate(
    client: &mut deadpool_postgres::ClientWrapper,
) -> Result<Vec<i64>, SchemaError> {
    // READ COMMITTED: the advisory lock orders migrators, and each statement after it
    // sees what an earlier migrator committed.
    let transaction = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(SchemaError::Read)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(SchemaError::Read)?;
    let current = current_version(&transaction)
        .await
        .map_err(SchemaError::Read)?;
    if current > LATEST {
        // Dropping the transaction rolls it back: nothing was written.
        return Err(SchemaError::Newer(current));
    }
    let mut applied = Vec::new();
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let apply = async {
            transaction
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS lxpack_schema_versions (
                        version BIGINT PRIMARY KEY,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                    )",
                )
                .await?;
            transaction.batch_execute(sql).await?;
            transaction
                .execute(
                    "INSERT INTO lxpack_schema_versions (version) VALUES ($1)",
                    &[&version],
                )
                .await
        };
        apply
            .await
            .map_err(|error| SchemaError::Failed(version, error))?;
        applied.push(version);
    }
    let last = applied.last().copied().unwrap_or(current);
    transaction
        .commit()
        .await
        .map_err(|error| SchemaError::Failed(last, error))?;
    Ok(applied)
}

/// The highest version applied; 0 for a store lxpack never migrated.
async fn current_version(
    transaction: &tokio_postgres::Transaction<'_>,
) -> Result<i64, tokio_postgres::Error> {
    let exists: bool = transaction
        .query_one(
            "SELECT to_regclass('lxpack_schema_versions') IS NOT NULL",
            &[],
        )
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    transaction
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM lxpack_schema_versions",
            &[],
        )
        .await?
        .try_get(0)
}
