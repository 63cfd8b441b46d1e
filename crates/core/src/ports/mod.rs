//! The ports: what the workflows need from the outside world, stated as object-safe
//! async traits so that adapters can be picked at run time. Each method's `# Errors`
//! section is a contract that every adapter, and the fake, honours.

mod ami_catalog;
mod app_store;
mod cache_volumes;
mod capabilities;
mod clock;
mod cluster_members;
mod container_runtime;
mod image_registry;
mod job_history;
mod network_policies;
mod pool_refill;
mod resource_classes;
mod runner_probe;
mod sessions;
mod standbys;
mod step_snapshots;

pub use ami_catalog::{AmiCatalog, AmiCatalogError};
pub use app_store::{AppStore, AppStoreError, ImportOutcome};
pub use cache_volumes::{CacheVolumes, VolumeSpec};
pub use capabilities::{Capability, RuntimeCapabilities};
pub use clock::{Clock, SystemClock};
pub use cluster_members::ClusterMembers;
pub use container_runtime::{
    ContainerRuntime, OutputSink, Placement, Resource, ResourceKind, RuntimeError, ServerInfo,
};
pub use image_registry::{Compression, ImageRegistry, PublishRequest, RegistryError};
pub use job_history::{JobHistory, JobHistoryError};
pub use network_policies::NetworkPolicies;
pub use pool_refill::{NoRefill, PoolRefill, RefillRequest};
pub use resource_classes::{HostResources, ResourceClasses};
pub use runner_probe::{NoRunnerProbe, RunnerProbe};
pub use sessions::{InputSource, Sessions};
pub use standbys::Standbys;
pub use step_snapshots::StepSnapshots;

/// An error from an adapter's own machinery (HTTP, SQL, SDK…), kept opaque so that no
/// foreign type leaks into the ports' signatures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a backend could not be reached at all, with a hint that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// What was being reached: a socket path, a URL.
    pub endpoint: String,
    /// What went wrong, in lower case.
    pub reason: String,
    /// What the user can do about it.
    pub hint: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot reach {}: {}", self.endpoint, self.reason)
    }
}
