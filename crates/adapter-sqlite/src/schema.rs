//! The schema is versioned with `PRAGMA user_version`; each migration moves it one step
//! inside a transaction, so a database is always at a known version.

use rusqlite::Connection;

/// The migrations, in order: index `i` takes the database to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: apps and the job history.
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
        started_at_ms INTEGER NOT NULL,
        ended_at_ms INTEGER,
        error TEXT,
        log_path TEXT
    );
    CREATE INDEX jobs_by_app ON jobs (app_name, app_env, app_role, started_at_ms);
    CREATE INDEX jobs_by_status ON jobs (status);",
    // 2: the process that runs each job, so a sweep can tell a killed one at once.
    "ALTER TABLE jobs ADD COLUMN runner_host TEXT;
    ALTER TABLE jobs ADD COLUMN runner_pid INTEGER;
    ALTER TABLE jobs ADD COLUMN runner_started INTEGER;",
    // 3: what a job kept and until when (lxpack shell, the sweep), and its steps'
    // durations as JSON (lxpack metrics).
    "ALTER TABLE jobs ADD COLUMN kept_instance TEXT;
    ALTER TABLE jobs ADD COLUMN kept_until_ms INTEGER;
    ALTER TABLE jobs ADD COLUMN steps TEXT;",
    // 4: the cluster member each job's instance ran on.
    "ALTER TABLE jobs ADD COLUMN member TEXT;",
    // 5: the instance a job released without waiting for its stop, and what became of
    // it (pending until the next job or sweep looks).
    "ALTER TABLE jobs ADD COLUMN release_instance TEXT;
    ALTER TABLE jobs ADD COLUMN release_state TEXT;
    ALTER TABLE jobs ADD COLUMN release_note TEXT;
    CREATE INDEX jobs_by_release_state ON jobs (release_state);",
    // 6: when each running job last renewed its lease, so a sweep that cannot probe
    // its process tells a live job from a killed one within seconds. Records written
    // before keep NULL: the sweep judges them by age, as before.
    "ALTER TABLE jobs ADD COLUMN renewed_at_ms INTEGER;",
];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Why the schema could not be brought up to date.
pub(crate) enum SchemaError {
    /// The database is newer than this build.
    Newer(i64),
    /// Migration `version` failed.
    Failed(i64, rusqlite::Error),
    /// Reading the version failed.
    Read(rusqlite::Error),
}

/// Brings the schema to [`LATEST`], one transaction per migration.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), SchemaError> {
    let current: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(SchemaError::Read)?;
    if current > LATEST {
        return Err(SchemaError::Newer(current));
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let mut apply = || -> rusqlite::Result<()> {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Another process may have migrated while this one waited for the lock.
            let now: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if now < version {
                transaction.execute_batch(sql)?;
                transaction.pragma_update(None, "user_version", version)?;
            }
            transaction.commit()
        };
        apply().map_err(|error| SchemaError::Failed(version, error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database as lxpack left it at `version`, with one running job.
    fn database_at(version: usize) -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..version] {
            connection.execute_batch(sql).unwrap();
        }
        connection
            .pragma_update(None, "user_version", i64::try_from(version).unwrap())
            .unwrap();
        connection
            .execute(
                "INSERT INTO jobs (id, command, app_name, app_env, app_role, status, started_at_ms)
                 VALUES ('job-1', 'deploy', 'web', 'prod', 'front', 'running', 1000)",
                [],
            )
            .unwrap();
        connection
    }

    #[test]
    fn a_version_5_database_gains_the_lease_column_and_keeps_its_jobs() {
        let mut connection = database_at(5);
        migrate(&mut connection).map_err(|_| "migrate").unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, LATEST);
        let (status, renewed): (String, Option<i64>) = connection
            .query_row(
                "SELECT status, renewed_at_ms FROM jobs WHERE id = 'job-1'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((status.as_str(), renewed), ("running", None));
        // Migrating again changes nothing.
        migrate(&mut connection)
            .map_err(|_| "migrate again")
            .unwrap();
    }
}
