//! The members of a clustered daemon. A runtime that is never clustered does not
//! offer this capability; one that may be says so with an empty list.

use async_trait::async_trait;

use super::RuntimeError;
use crate::domain::ClusterMember;

/// Tells which members a cluster has and what state each is in.
#[async_trait]
pub trait ClusterMembers: Send + Sync {
    /// The members of the daemon's cluster, with their state; empty when the daemon
    /// is not clustered.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, RuntimeError>;
}
