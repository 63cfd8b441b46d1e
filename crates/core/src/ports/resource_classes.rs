//! Resource classes, as the runtime serves them: what the host has (so that a class
//! asking for more is refused before any job), and what an instance's counters say
//! of its caps being hit (the kernel's out-of-memory kills, refused forks, processes
//! running), so that a step that died of its class says which limit stopped it
//! instead of leaving the reader to guess from an exit code.

use async_trait::async_trait;

use super::RuntimeError;
use crate::domain::{InstanceName, LimitReadings};

/// What the host the instances run on has, each `None` when the runtime cannot tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostResources {
    /// Its CPU threads.
    pub cpus: Option<u64>,
    /// Its memory, in bytes.
    pub memory: Option<u64>,
}

/// Reads the host's resources and an instance's limit counters.
#[async_trait]
pub trait ResourceClasses: Send + Sync {
    /// What the host has (on a cluster: the member instances are placed on by
    /// default, which is what the daemon answers for).
    ///
    /// # Errors
    /// `Unavailable` when the daemon cannot be reached.
    async fn host_resources(&self) -> Result<HostResources, RuntimeError>;

    /// The counters of `instance` since it started, each `None` that the runtime
    /// cannot read (then it proves nothing). It MUST work while the instance cannot
    /// start a new process (its process cap reached): it reads the daemon's state or
    /// the instance's cgroup, never by running a command in the instance.
    ///
    /// # Errors
    /// `NotFound` when the instance is gone; `Unavailable` when the daemon cannot be
    /// reached.
    async fn limit_counters(&self, instance: &InstanceName) -> Result<LimitReadings, RuntimeError>;
}
