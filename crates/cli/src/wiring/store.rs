//! The SQLite app store and the job logs beside it.

use std::path::{Path, PathBuf};

use lxpack_sqlite::{SqliteAppStore, SqliteStoreError};

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
        let hint = match &error {
            SqliteStoreError::NotADatabase { .. } => {
                "the file is not an lxpack database (or is damaged): move it aside to start a new store, or pass --store with the right file"
            }
            SqliteStoreError::NewerSchema { .. } => {
                "a newer lxpack wrote this store: upgrade lxpack, or pass --store with another file"
            }
            SqliteStoreError::Migrate { .. } => {
                "upgrading the store's schema failed: keep a copy of the file, and report the error above"
            }
            _ => "pass --store with a writable file, or fix the permissions of its directory",
        };
        CliError::new(ExitClass::Store, error).with_hint(hint)
    })
}

/// Creates `dir` (and its parents) readable by its owner only, when it does not exist:
/// job logs hold what buildpacks print, environment values included.
///
/// # Errors
/// The I/O error.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates (or truncates) `path`, readable and writable by its owner only.
///
/// # Errors
/// The I/O error.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Where job logs go: `jobs/` beside the database.
#[must_use]
pub fn job_log_dir(store_path: &Path) -> PathBuf {
    store_path
        .parent()
        .map_or_else(|| PathBuf::from("jobs"), |dir| dir.join("jobs"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn job_logs_are_their_owner_s_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("jobs");
        create_private_dir(&dir).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let log = dir.join("job.log");
        drop(create_private_file(&log).unwrap());
        assert_eq!(mode(&log), 0o600);
    }

    #[test]
    fn a_damaged_store_is_not_a_permission_problem() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("lxpack.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let error = open_store(&path).unwrap_err();
        let hint = error.hint.unwrap();
        assert!(hint.contains("not an lxpack database"), "{hint}");
        assert!(!hint.contains("permissions"), "{hint}");
    }
}
