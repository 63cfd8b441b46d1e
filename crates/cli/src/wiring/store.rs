//! The store (a SQLite file, or a PostgreSQL server several hosts share) and this
//! host's own files beside it: job logs stay with the host that ran the job.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lxpack_sqlite::{SqliteAppStore, SqliteStoreError};

use super::Stores;
use crate::config::{Config, StoreLocation};
use crate::exit::{CliError, ExitClass};

/// The store: `--store` (a file or a `postgres://` URL), then `lxpack.store` from the
/// config, then the SQLite file in the XDG data directory.
///
/// # Errors
/// `Usage` (exit 2) for a `--store` URL lxpack cannot use; `Store` (exit 11) when no
/// default applies (no `HOME` and no `XDG_DATA_HOME`).
pub fn store_location(
    flag: Option<&Path>,
    config: Option<&Config>,
) -> Result<StoreLocation, CliError> {
    if let Some(flag) = flag {
        return store_argument("--store", flag, config);
    }
    if let Some(store) = config.and_then(|c| c.store.as_ref()) {
        return Ok(store.clone());
    }
    default_file().map(StoreLocation::File)
}

/// The store an argument (`name`: `--store`, `--from`, `--to`) names: a file, or a
/// `postgres://` URL with the config's `lxpack.store_password` and `lxpack.store_ca`.
///
/// # Errors
/// `Usage` (exit 2) for a URL lxpack cannot use, naming the argument.
pub fn store_argument(
    name: &str,
    value: &Path,
    config: Option<&Config>,
) -> Result<StoreLocation, CliError> {
    let access = config.map(|c| c.store_access.clone()).unwrap_or_default();
    match value.to_str() {
        Some(text) => StoreLocation::parse(text, &access).map_err(|problem| {
            CliError::new(ExitClass::Usage, format!("{name} {problem}")).with_hint(
                "pass a SQLite file, or postgres://USER@HOST:PORT/DATABASE with its password in lxpack.store_password",
            )
        }),
        None => Ok(StoreLocation::File(value.to_path_buf())),
    }
}

fn default_file() -> Result<PathBuf, CliError> {
    lxpack_sqlite::default_path().ok_or_else(|| {
        CliError::new(
            ExitClass::Store,
            "no place for lxpack's files: neither XDG_DATA_HOME nor HOME is set",
        )
        .with_hint("pass --store FILE, or set lxpack.store in the config")
    })
}

/// The directory of this host's own files (job logs, the pool-fill log and, for a SQLite
/// store, the pool-fill lock):
/// beside a SQLite file, and in the XDG data directory with a server store.
///
/// # Errors
/// `Store` (exit 11) when a server store has no such directory (no `HOME` and no
/// `XDG_DATA_HOME`).
pub fn host_dir(store: &StoreLocation) -> Result<PathBuf, CliError> {
    let file = match store {
        StoreLocation::File(path) => path.clone(),
        _ => default_file()?,
    };
    Ok(file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf))
}

/// Opens the store `location` names: its apps and its job history.
///
/// # Errors
/// `Store` (exit 11) naming the file or the server, with a hint.
pub async fn open_store(location: &StoreLocation) -> Result<Stores, CliError> {
    match location {
        StoreLocation::File(path) => {
            let store = Arc::new(open_sqlite(path)?);
            Ok(Stores {
                apps: store.clone(),
                jobs: store,
                turns: super::TurnPlace::HostFile,
            })
        }
        StoreLocation::Postgres(server) => super::postgres::open(server).await,
    }
}

/// Opens (creating or migrating) a SQLite store.
///
/// # Errors
/// `Store` (exit 11) naming the file.
pub(super) fn open_sqlite(path: &Path) -> Result<SqliteAppStore, CliError> {
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

/// Where job logs go: `jobs/` in this host's directory ([`host_dir`]).
#[must_use]
pub fn job_log_dir(host_dir: &Path) -> PathBuf {
    host_dir.join("jobs")
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
        let error = open_sqlite(&path).unwrap_err();
        let hint = error.hint.unwrap();
        assert!(hint.contains("not an lxpack database"), "{hint}");
        assert!(!hint.contains("permissions"), "{hint}");
    }
}
