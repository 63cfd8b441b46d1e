//! The composition root: turning the config into connected adapters. This is the only
//! place that knows which adapter implements which port (and the only one that names
//! `SqliteAppStore`, `LxdClient` or `Ec2AmiCatalog`); commands ask a [`Wiring`] for
//! ports and get trait objects.

mod aws;
mod postgres;
mod processes;
mod refill;
mod runtime;
mod store;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use lxpack_core::ports::{AppStore, Clock, JobHistory, SystemClock};
use lxpack_core::workflows::{Ports, Workflows};

pub use aws::ami_catalog;
pub use processes::LocalProcesses;
use refill::TurnPlace;
pub use refill::{DetachedRefill, FillTurn, take_fill_turn};
pub use runtime::{DaemonReadiness, daemon_readiness, network_policies};
pub use store::{
    create_private_dir, create_private_file, host_dir, job_log_dir, open_store, store_argument,
    store_location,
};

use crate::args::Cli;
use crate::config::{Config, ConfigChoice, StoreLocation, locate};
use crate::exit::{CliError, ExitClass};

/// The store's two ports.
#[derive(Clone)]
pub struct Stores {
    /// The apps.
    pub apps: Arc<dyn AppStore>,
    /// The job history.
    pub jobs: Arc<dyn JobHistory>,
    /// Where pool fills take turns: this host's lock file, or the shared database.
    turns: TurnPlace,
}

/// What every command starts from: the config and the global options.
pub struct Wiring {
    /// The validated config.
    pub config: Config,
    /// The store.
    pub store: StoreLocation,
    /// This host's own files: job logs, the pool-fill log, and the pool-fill lock of a
    /// SQLite store ([`host_dir`]).
    pub host_dir: PathBuf,
    /// `--json`.
    pub json: bool,
    /// The one clock: the workflows tell the time by it, and commands that judge
    /// times without workflows (`lxpack jobs`) ask it too.
    clock: Arc<dyn Clock>,
}

impl Wiring {
    /// Loads the config named by the command line, the environment or XDG, and prints
    /// its warnings (unknown keys) on stderr.
    ///
    /// # Errors
    /// `Config` (exit 3) naming the file, line and key.
    pub fn load(cli: &Cli) -> Result<Self, CliError> {
        let choice = locate(
            cli.config.clone(),
            |name| std::env::var(name).ok(),
            std::path::Path::exists,
        );
        let config = load_config(&choice)?;
        // Plain lines, like every other message of the CLI: a config problem is the
        // user's to read, not a diagnostic.
        let mut stderr = std::io::stderr().lock();
        for warning in &config.warnings {
            let _ = writeln!(stderr, "warning: {warning}");
        }
        let store = store_location(cli.store.as_deref(), Some(&config))?;
        let host_dir = host_dir(&store)?;
        Ok(Self {
            config,
            store,
            host_dir,
            json: cli.json,
            clock: Arc::new(SystemClock),
        })
    }

    /// The time now, by the clock the workflows are given.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Opens the store: the apps and the job history.
    ///
    /// # Errors
    /// `Store` (exit 11) naming the file or the server.
    pub async fn stores(&self) -> Result<Stores, CliError> {
        open_store(&self.store).await
    }

    /// Connects every port and returns the workflows over them.
    ///
    /// # Errors
    /// `Config` when containers are disabled or the config needs a capability the
    /// runtime lacks, `Daemon` when the daemon cannot be reached, `Aws` when the AMI catalog's settings are wrong, `Store` for the store.
    pub fn workflows(&self, stores: &Stores) -> Result<Workflows, CliError> {
        if !self.config.containers_enabled {
            return Err(CliError::new(
                ExitClass::Config,
                format!("container.enabled is false in {}", self.config.origin),
            )
            .with_hint(
                "set container.enabled: true (or remove the key) to run jobs in containers",
            ));
        }
        let client = Arc::new(runtime::connect_runtime(&self.config.runtime)?);
        let ports = Ports {
            runtime: client.clone(),
            capabilities: runtime::capabilities_of(client.as_ref()),
            registry: client,
            amis: ami_catalog(self.config.aws.as_ref())?,
            apps: stores.apps.clone(),
            jobs: stores.jobs.clone(),
        };
        let workflows = Workflows::new(ports, self.config.settings.clone())
            .with_clock(self.clock.clone())
            .with_runner_probe(Arc::new(LocalProcesses::new()))
            .with_pool_refill(Arc::new(DetachedRefill::new(
                &self.config.origin,
                &self.store,
                &self.host_dir,
            )));
        workflows.check_capabilities()?;
        Ok(workflows)
    }
}

/// Loads the config `choice` names.
///
/// # Errors
/// `Config` (exit 3), with a hint.
pub fn load_config(choice: &ConfigChoice) -> Result<Config, CliError> {
    Config::load(choice).map_err(|error| {
        CliError::new(ExitClass::Config, error).with_hint(
            "fix the key named above; docs/operator-guide.md lists every key, and `lxpack doctor` checks the file",
        )
    })
}
