//! Which settings need which runtime capability, decided once: the composition root
//! asks before any job starts, and a job that reaches for a capability the runtime
//! lacks fails with the same words.

use std::fmt;

use super::{Settings, WorkflowError, Workflows};
use crate::domain::NetworkMode;
use crate::ports::{
    CacheVolumes, Capability, ClusterMembers, RuntimeError, Sessions, Standbys, StepSnapshots,
};

/// What needs a runtime capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CapabilityUse {
    /// A standby pool of a non-zero size (`Settings::pool`).
    Pools,
    /// A module's dependency caches (`Settings::cache`).
    Caches,
    /// Buildimage's step snapshots (`Settings::step_snapshots`).
    StepSnapshots,
    /// A person's shell in a kept container.
    Shell,
    /// A network policy of mode `egress` (`Settings::network`), the default.
    Network,
}

impl CapabilityUse {
    /// The capability it needs.
    #[must_use]
    pub fn capability(self) -> Capability {
        match self {
            Self::Pools => Capability::Standbys,
            Self::Caches => Capability::CacheVolumes,
            Self::StepSnapshots => Capability::StepSnapshots,
            Self::Shell => Capability::Sessions,
            Self::Network => Capability::NetworkPolicies,
        }
    }
}

impl fmt::Display for CapabilityUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pools => "a standby pool",
            Self::Caches => "a module's dependency caches",
            Self::StepSnapshots => "buildimage's step snapshots",
            Self::Shell => "a shell in a kept container",
            Self::Network => {
                "the egress network (lxpack.network.mode: egress, the default; none or open need no daemon support)"
            }
        })
    }
}

impl Settings {
    /// What these settings turn on that needs a runtime capability.
    #[must_use]
    pub fn capability_uses(&self) -> Vec<CapabilityUse> {
        let pools = self.pool.default.size > 0 || self.pool.apps.values().any(|p| p.size > 0);
        [
            (pools, CapabilityUse::Pools),
            (!self.cache.paths.is_empty(), CapabilityUse::Caches),
            (self.step_snapshots, CapabilityUse::StepSnapshots),
            (
                self.network.uses(NetworkMode::Egress),
                CapabilityUse::Network,
            ),
        ]
        .into_iter()
        .filter_map(|(on, usage)| on.then_some(usage))
        .collect()
    }
}

fn missing(usage: CapabilityUse) -> WorkflowError {
    WorkflowError::MissingCapability { usage }
}

/// A capability found missing in the middle of `operation`, as the port error the
/// step reports (only reachable by callers that skipped
/// [`Workflows::check_capabilities`]).
pub(super) fn refused(operation: String, missing: &WorkflowError) -> RuntimeError {
    RuntimeError::Rejected {
        operation,
        message: missing.to_string(),
    }
}

impl Workflows {
    /// Refuses settings that need a capability the runtime lacks, before any job.
    ///
    /// # Errors
    /// `MissingCapability` naming the first such setting.
    pub fn check_capabilities(&self) -> Result<(), WorkflowError> {
        let offered = &self.ports.capabilities;
        match self
            .settings
            .capability_uses()
            .into_iter()
            .find(|usage| !offered.has(usage.capability()))
        {
            Some(usage) => Err(missing(usage)),
            None => Ok(()),
        }
    }

    pub(super) fn standby_port(&self) -> Result<&dyn Standbys, WorkflowError> {
        self.ports
            .capabilities
            .standbys
            .as_deref()
            .ok_or_else(|| missing(CapabilityUse::Pools))
    }

    pub(super) fn snapshot_port(&self) -> Result<&dyn StepSnapshots, WorkflowError> {
        (self.ports.capabilities.step_snapshots.as_deref())
            .ok_or_else(|| missing(CapabilityUse::StepSnapshots))
    }

    pub(super) fn volume_port(&self) -> Result<&dyn CacheVolumes, WorkflowError> {
        (self.ports.capabilities.cache_volumes.as_deref())
            .ok_or_else(|| missing(CapabilityUse::Caches))
    }

    pub(super) fn session_port(&self) -> Result<&dyn Sessions, WorkflowError> {
        self.ports
            .capabilities
            .sessions
            .as_deref()
            .ok_or_else(|| missing(CapabilityUse::Shell))
    }

    /// The cluster's members, when the runtime can tell; a runtime without the
    /// capability is taken as not clustered.
    pub(super) fn member_port(&self) -> Option<&dyn ClusterMembers> {
        self.ports.capabilities.cluster_members.as_deref()
    }
}
