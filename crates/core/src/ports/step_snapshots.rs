//! Snapshots of buildimage's instance after each step, so that a re-run starts after
//! the steps that did not change. A runtime whose storage cannot snapshot simply does
//! not offer this capability, and builds run every step.

use async_trait::async_trait;

use super::RuntimeError;
use crate::domain::{InstanceName, StepKey};

/// Takes step snapshots and keeps the instance that holds them.
#[async_trait]
pub trait StepSnapshots: Send + Sync {
    /// Snapshots the running `instance` (its files, not its memory) as `snapshot`;
    /// an instance can later be launched from it
    /// ([`LaunchSpec::from_snapshot`](crate::domain::LaunchSpec::from_snapshot)).
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist; `AlreadyExists` when it has a
    /// snapshot of that name.
    async fn snapshot_instance(
        &self,
        instance: &InstanceName,
        snapshot: &str,
    ) -> Result<(), RuntimeError>;

    /// Keeps the stopped `instance` as a step holder: leaves it only the daemon's base
    /// profiles (so its own can then be deleted) and labels it with the keys of the
    /// step snapshots it holds ([`Resource::steps`](super::Resource::steps)).
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist.
    async fn keep_as_step_holder(
        &self,
        instance: &InstanceName,
        keys: &[StepKey],
    ) -> Result<(), RuntimeError>;
}
