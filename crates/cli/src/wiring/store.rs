//! The SQLite app store and the job logs beside it.

use std::path::{Path, PathBuf};

use lxpack_sqlite::SqliteAppStore;

use crate::exit::{CliError, ExitClass};

/// The database file: `--store`, then `lxpack.store` from the config, then the XDG data
/// directory.
///
/// # Errors
/// `Store` when none applies (no `HOME` and no `XDG_DATA_HOME`).
pub fn store_path(flag: Option<&Path>, config: Option<&Path>) -> Result<PathBuf, CliError> {
    flag.or(config)
        .map(Path::to_path_buf)
        .or_else(lxpack_sqlite::default_path)
        .ok_or_else(|| {
            CliError::new(
                ExitClass::Store,
                "no place for the lxpack database: neither XDG_DATA_HOME nor HOME is set",
            )
            .with_hint("pass --store FILE, or set lxpack.store in the config")
        })
}

/// Opens (creating or migrating) the database.
///
/// # Errors
/// `Store` (exit 11) naming the file.
pub fn open_store(path: &Path) -> Result<SqliteAppStore, CliError> {
    SqliteAppStore::open(path).map_err(|error| {
        CliError::new(ExitClass::Store, error)
            .with_hint("pass --store with a writable file, or fix the permissions of its directory")
    })
}

/// Where job logs go: `jobs/` beside the database.
#[must_use]
pub fn job_log_dir(store_path: &Path) -> PathBuf {
    store_path
        .parent()
        .map_or_else(|| PathBuf::from("jobs"), |dir| dir.join("jobs"))
}
