//! The workflows orchestrate the ports and hold every rule of the job: the order of
//! steps, what is created and how it is cleaned up, what is recorded and when. They
//! are plain async functions over `dyn` ports, so one set of rules serves the CLI, an
//! integrator's service and the fake-backed tests alike.
//!
//! # Layout
//! The entry points, one per command, come first; the mechanics they are built of sit
//! apart, and never call an entry point back.
//! - `deploy/`: a module's buildpack, as its phases: `prepare`, `provision` (caches,
//!   a claimed standby or a launch), `run`, `conclude`.
//! - `build_image/`: an image, as its phases: `prepare` (with `ami`), `provision`,
//!   `run`, `publish`, `conclude`.
//! - `pool/`: filling, draining and viewing the standby pools.
//! - `cache/`: listing and purging the dependency caches.
//! - `sweep/`: what no job needs any more (the entry and one resource's judgement,
//!   `judge.rs` the verdict on jobs, `held.rs` standbys and caches, `report.rs`).
//! - `images.rs` (retention on demand), `shell.rs`, `inventory.rs`, `usage.rs`,
//!   `isolation.rs` (the network isolation doctor shows).
//! - `mechanics/`: what the entry points share. `job.rs` runs a job and hands it its
//!   `JobContext` (ports, settings, events, cancellation, what it created, its keep
//!   rule); `step.rs` runs a step; `launch.rs`, `readiness.rs`, `cleanup.rs` and
//!   `release.rs` bring an instance up and down; `standbys/` is a deploy's claim on a
//!   pool, `caches/` its copies of its caches; `build_steps.rs`, `provisioning.rs`,
//!   `scripts.rs`, `source_image.rs` and `retention.rs` are the parts of a build;
//!   `output_tail.rs` keeps the end of a command's output; `network.rs` attaches a
//!   job's instance by its network policy.
//! - `settings.rs`, `capabilities.rs` (what the settings need of the runtime),
//!   `class_check.rs` (the resource classes against the host) and `error.rs`.

mod build_image;
mod cache;
mod capabilities;
mod class_check;
mod deploy;
mod error;
mod images;
mod inventory;
mod isolation;
mod mechanics;
mod pool;
mod settings;
mod shell;
mod store_copy;
mod sweep;
mod usage;

use std::sync::Arc;
use std::time::SystemTime;

pub use build_image::{BuildImageReport, BuildImageRequest, RecordOutcome};
pub use cache::{CacheEntry, CachePurge, PurgedCache};
pub use capabilities::CapabilityUse;
pub use deploy::{Checkout, DeployOutcome, DeployReport, DeployRequest};
pub use error::{CleanupFailure, PortError, WorkflowError};
pub use inventory::{ImageEntry, Inventory, MissingImage, TwinStatus};
pub use isolation::{EgressCheck, ScopeIsolation, network_isolation};
pub use mechanics::job::error_chain;
pub use mechanics::retention::RetentionReport;
pub use pool::{
    FillReport, FillRequest, FilledPool, PoolStatus, PoolView, RetireReport, RetiredStandby,
    StandbyView,
};
pub use settings::{
    CacheSettings, CleanupMode, KeepSettings, LogLevel, NetworkSettings, PoolSettings, PoolSize,
    ProvisionerSettings, ResourceSettings, SecretDelivery, SecretSettings, Settings, Timeouts,
};
pub use shell::KeptTarget;
pub use store_copy::{CopyError, CopyReport, StorePorts, copy_store};
pub use sweep::{SpareReason, Spared, SweepReport};
pub use usage::{AppImages, KeptContainer};

use crate::domain::{App, AppKey, AppSecrets, JobId};
use crate::ports::{
    AmiCatalog, AppStore, Clock, ContainerRuntime, ImageRegistry, JobHistory, NoRefill,
    NoRunnerProbe, PoolRefill, RunnerProbe, RuntimeCapabilities, SystemClock,
};

/// The adapters a [`Workflows`] drives.
#[derive(Clone)]
pub struct Ports {
    /// The container daemon.
    pub runtime: Arc<dyn ContainerRuntime>,
    /// Its image store.
    pub registry: Arc<dyn ImageRegistry>,
    /// The AMI catalog; without one, buildimage needs the OS given and retention only
    /// counts.
    pub amis: Option<Arc<dyn AmiCatalog>>,
    /// The apps.
    pub apps: Arc<dyn AppStore>,
    /// The job history, which every job is recorded in from start to end.
    pub jobs: Arc<dyn JobHistory>,
    /// What the runtime can do beyond every job's needs.
    pub capabilities: RuntimeCapabilities,
}

/// The entry point: buildimage, deploy, image purge and sweep over a set of ports.
#[derive(Clone)]
pub struct Workflows {
    ports: Ports,
    settings: Settings,
    clock: Arc<dyn Clock>,
    runners: Arc<dyn RunnerProbe>,
    refill: Arc<dyn PoolRefill>,
    /// The egress networks this value (and its clones) made the daemon hold.
    networks: mechanics::network::EnsuredNetworks,
}

impl Workflows {
    /// Workflows over `ports`, configured by `settings`, on the system clock.
    #[must_use]
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings,
            clock: Arc::new(SystemClock),
            runners: Arc::new(NoRunnerProbe),
            refill: Arc::new(NoRefill),
            networks: Default::default(),
        }
    }

    /// The same workflows, telling the time (of job records, of the sweep) by `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same workflows, recording with each job the process that runs it, and
    /// letting the sweep ask whether a running job's process is gone (`probe`).
    #[must_use]
    pub fn with_runner_probe(mut self, probe: Arc<dyn RunnerProbe>) -> Self {
        self.runners = probe;
        self
    }

    /// The same workflows, asking `refill` to refill a standby pool in the
    /// background when a deploy took a standby or found none.
    #[must_use]
    pub fn with_pool_refill(mut self, refill: Arc<dyn PoolRefill>) -> Self {
        self.refill = refill;
        self
    }

    /// A new job id for a job starting now. Callers that need the id before the job
    /// starts (to name its log) take it here and pass it in the request.
    #[must_use]
    pub fn new_job_id(&self) -> JobId {
        JobId::new_at(self.clock.now())
    }

    /// The time now by the workflows' clock: what job records, standby marks and the
    /// sweep go by, and what callers judge their reports' times against (whether a
    /// kept container has expired, how long a standby has waited).
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ports in use.
    #[must_use]
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The secrets of `app` under the settings: refused (before the job creates
    /// anything) when a configured name is not among its env vars or a value is too
    /// short to mask.
    fn app_secrets(&self, app: &App) -> Result<AppSecrets, WorkflowError> {
        app.secrets(&self.settings.secrets.rule_for(&app.key))
            .map_err(|source| WorkflowError::Secrets {
                app: app.key.clone(),
                source,
            })
    }

    async fn load_app(&self, key: &AppKey) -> Result<App, WorkflowError> {
        self.ports
            .apps
            .get_app(key)
            .await
            .map_err(|source| WorkflowError::LoadApp {
                app: key.clone(),
                source: Box::new(source),
            })
    }
}
