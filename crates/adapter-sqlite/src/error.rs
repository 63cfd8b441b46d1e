//! Errors of opening and using the database, naming the file and the fix.

use std::path::PathBuf;

/// An error of the SQLite store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteStoreError {
    /// The file could not be opened or created.
    #[error(
        "cannot open the lxpack database {path}: check the path and its permissions, or pass --store"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file is not an lxpack database (or not SQLite at all).
    #[error("{path} is not an lxpack database: pass --store with another file")]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer lxpack.
    #[error(
        "{path} has schema version {found}, newer than this lxpack supports ({supported}): upgrade lxpack"
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A migration failed; the database is unchanged.
    #[error("cannot upgrade {path} to schema version {version}")]
    Migrate {
        /// The file.
        path: PathBuf,
        /// The version being applied.
        version: i64,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A query failed.
    #[error("{operation} failed in {path}")]
    Query {
        /// What was being done.
        operation: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored value does not read back.
    #[error("corrupt {what} in {path}: {problem}")]
    Corrupt {
        /// What was read.
        what: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}
