//! What a runtime can do beyond every job's needs. Each capability is a port of its
//! own, held here as an option: a runtime offers one by implementing its trait, and
//! the composition root hands it over. The workflows then know at wiring time, not in
//! the middle of a deploy, whether the config asks for something the runtime lacks
//! (`Workflows::check_capabilities`).

use std::fmt;
use std::sync::Arc;

use super::{
    CacheVolumes, ClusterMembers, NetworkPolicies, ResourceClasses, Sessions, Standbys,
    StepSnapshots,
};

/// A capability a runtime may offer beside [`ContainerRuntime`](super::ContainerRuntime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Capability {
    /// Standby pools ([`Standbys`]).
    Standbys,
    /// Step snapshots of buildimage ([`StepSnapshots`]).
    StepSnapshots,
    /// Cache volumes of deploys ([`CacheVolumes`]).
    CacheVolumes,
    /// Cluster membership ([`ClusterMembers`]).
    ClusterMembers,
    /// Attached sessions ([`Sessions`]).
    Sessions,
    /// Network policies ([`NetworkPolicies`]).
    NetworkPolicies,
    /// The host's resources and the instances' limit counters
    /// ([`ResourceClasses`]).
    ResourceClasses,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Self; 7] = [
        Self::Standbys,
        Self::StepSnapshots,
        Self::CacheVolumes,
        Self::ClusterMembers,
        Self::Sessions,
        Self::NetworkPolicies,
        Self::ResourceClasses,
    ];

    /// The capability's name, for people.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Standbys => "standby pools",
            Self::StepSnapshots => "step snapshots",
            Self::CacheVolumes => "cache volumes",
            Self::ClusterMembers => "cluster membership",
            Self::Sessions => "attached sessions",
            Self::NetworkPolicies => "network policies",
            Self::ResourceClasses => "resource class counters",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The capabilities a runtime offers: each `None` when it lacks it.
#[derive(Clone, Default)]
pub struct RuntimeCapabilities {
    /// Standby pools.
    pub standbys: Option<Arc<dyn Standbys>>,
    /// Step snapshots.
    pub step_snapshots: Option<Arc<dyn StepSnapshots>>,
    /// Cache volumes.
    pub cache_volumes: Option<Arc<dyn CacheVolumes>>,
    /// Cluster membership; without it the daemon is taken as not clustered.
    pub cluster_members: Option<Arc<dyn ClusterMembers>>,
    /// Attached sessions.
    pub sessions: Option<Arc<dyn Sessions>>,
    /// Network policies; without them only modes `none` and `open` can run.
    pub network_policies: Option<Arc<dyn NetworkPolicies>>,
    /// The host's resources and the limit counters; without them classes are not
    /// checked against the host, and a step stopped by its class fails as any failed
    /// step does.
    pub resource_classes: Option<Arc<dyn ResourceClasses>>,
}

impl RuntimeCapabilities {
    /// No capability at all: a runtime that runs jobs and nothing more.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Every capability, from one runtime that offers them all (the LXD adapter, the
    /// fake), shared through one clone of it.
    #[must_use]
    pub fn all_of<R>(runtime: &R) -> Self
    where
        R: Clone
            + Standbys
            + StepSnapshots
            + CacheVolumes
            + ClusterMembers
            + Sessions
            + ResourceClasses
            + NetworkPolicies
            + 'static,
    {
        let runtime = Arc::new(runtime.clone());
        Self {
            standbys: Some(runtime.clone()),
            step_snapshots: Some(runtime.clone()),
            cache_volumes: Some(runtime.clone()),
            cluster_members: Some(runtime.clone()),
            sessions: Some(runtime.clone()),
            network_policies: Some(runtime.clone()),
            resource_classes: Some(runtime.clone()),
        }
    }

    /// Whether `capability` is offered.
    #[must_use]
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::Standbys => self.standbys.is_some(),
            Capability::StepSnapshots => self.step_snapshots.is_some(),
            Capability::CacheVolumes => self.cache_volumes.is_some(),
            Capability::ClusterMembers => self.cluster_members.is_some(),
            Capability::Sessions => self.sessions.is_some(),
            Capability::NetworkPolicies => self.network_policies.is_some(),
            Capability::ResourceClasses => self.resource_classes.is_some(),
        }
    }

    /// The same capabilities without `capability` (for tests and for integrators
    /// that turn one off).
    #[must_use]
    pub fn without(mut self, capability: Capability) -> Self {
        match capability {
            Capability::Standbys => self.standbys = None,
            Capability::StepSnapshots => self.step_snapshots = None,
            Capability::CacheVolumes => self.cache_volumes = None,
            Capability::ClusterMembers => self.cluster_members = None,
            Capability::Sessions => self.sessions = None,
            Capability::NetworkPolicies => self.network_policies = None,
            Capability::ResourceClasses => self.resource_classes = None,
        }
        self
    }
}

impl fmt::Debug for RuntimeCapabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offered: Vec<&str> = Capability::ALL
            .into_iter()
            .filter(|capability| self.has(*capability))
            .map(Capability::describe)
            .collect();
        f.debug_tuple("RuntimeCapabilities")
            .field(&offered)
            .finish()
    }
}
