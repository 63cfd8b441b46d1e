//! The CLI's refill: a deploy that took a standby (or found none) starts
//! `lxpack pool fill` as a detached process of its own and ends without waiting for
//! it. The process outlives the deploy (its own process group: a Ctrl-C at the
//! deploy's terminal does not reach it), writes to the pool log beside the job logs,
//! and takes its turn with other fills: through a lock file on this host when the
//! store is this host's (SQLite), through the database when several hosts share it
//! (PostgreSQL), since a lock file is seen by one host only.

use std::fs::{File, OpenOptions};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lxpack_core::ports::{BoxError, PoolRefill, RefillRequest};
use lxpack_postgres::{PostgresAppStore, StoreTurn};

use super::store::job_log_dir;
use crate::config::{ConfigOrigin, StoreLocation};
use crate::exit::{CliError, ExitClass};

/// Starts `lxpack pool fill` in the background, with this process's config and store.
#[derive(Debug, Clone)]
pub struct DetachedRefill {
    config: Option<PathBuf>,
    /// `--store` of the fill: the same store.
    store: String,
    /// This host's directory, where the fill's log goes.
    host_dir: PathBuf,
}

impl DetachedRefill {
    /// A refill with the config of `origin` and `store`, logging in `host_dir`.
    #[must_use]
    pub fn new(origin: &ConfigOrigin, store: &StoreLocation, host_dir: &Path) -> Self {
        Self {
            config: match origin {
                ConfigOrigin::File(path) => Some(path.clone()),
                ConfigOrigin::Defaults => None,
            },
            store: store.to_string(),
            host_dir: host_dir.to_path_buf(),
        }
    }

    /// The log every background fill of this host appends to.
    #[must_use]
    pub fn log_path(host_dir: &Path) -> PathBuf {
        job_log_dir(host_dir).join("pool-fill.log")
    }
}

#[async_trait]
impl PoolRefill for DetachedRefill {
    async fn request_refill(&self, request: &RefillRequest) -> Result<(), BoxError> {
        let exe = std::env::current_exe()?;
        let log_path = Self::log_path(&self.host_dir);
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let mut command = Command::new(exe);
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        command
            .arg("--store")
            .arg(&self.store)
            .args(["pool", "fill", &request.app.to_string()]);
        if let Some(owner) = request.owner {
            command.args(["--owner", &format!("{}:{}", owner.uid, owner.gid)]);
        }
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        // Not waited for: it is re-parented when this process ends.
        command.spawn()?;
        Ok(())
    }
}

/// The name of the pool fills' turn in a shared store.
const FILL_TURN: &str = "lxpack pool fill";

/// How long a fill waits for its turn in a shared store: far longer than a fill takes.
const FILL_WAIT: Duration = Duration::from_secs(30 * 60);

/// Where pool fills take turns: the store decides.
#[derive(Clone)]
pub(crate) enum TurnPlace {
    /// A lock file in this host's directory (the store is this host's alone).
    HostFile,
    /// An advisory lock in the database every host sharing the store sees.
    Database(Arc<PostgresAppStore>),
}

/// Holds the pool fills' turn until dropped.
#[derive(Debug)]
pub struct FillTurn {
    _held: Held,
}

/// What is held: dropping it ends the turn (closing the file, or the session).
#[derive(Debug)]
enum Held {
    File { _locked: File },
    Database { _turn: StoreTurn },
}

/// Waits for this fill's turn: one fill at a time per store, so that fills asked for
/// at once each see what the one before started. With a shared store the turn is
/// taken in the database (waiting at most 30 min), else through a lock file in
/// `host_dir`.
///
/// # Errors
/// `Store` (exit 11) when the lock file cannot be opened or locked, or the database
/// does not grant the turn.
pub async fn take_fill_turn(stores: &super::Stores, host_dir: &Path) -> Result<FillTurn, CliError> {
    let held = match &stores.turns {
        TurnPlace::HostFile => Held::File {
            _locked: lock_file(host_dir).await?,
        },
        TurnPlace::Database(store) => Held::Database {
            _turn: store
                .take_turn(FILL_TURN, FILL_WAIT)
                .await
                .map_err(|error| {
                    let hint = error.hint();
                    CliError::new(ExitClass::Store, error).with_hint(hint)
                })?,
        },
    };
    Ok(FillTurn { _held: held })
}

/// This host's pool-fill lock file, locked.
async fn lock_file(host_dir: &Path) -> Result<File, CliError> {
    let path = job_log_dir(host_dir).join("pool-fill.lock");
    let failed = |error: std::io::Error| {
        CliError::new(
            ExitClass::Store,
            format!("cannot take the pool-fill lock {}: {error}", path.display()),
        )
        .with_hint("check that the store's directory is writable")
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(failed)?;
    tokio::task::spawn_blocking(move || {
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map(|()| file)
            .map_err(std::io::Error::from)
    })
    .await
    .map_err(|error| failed(std::io::Error::other(error)))?
    .map_err(failed)
}
