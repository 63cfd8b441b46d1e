//! Standby pools: started instances waiting for a deploy. Every change to a standby
//! is a compare-and-set against what was read of it, because any host sharing the
//! daemon may claim or retire the same standby in the same moment.

use async_trait::async_trait;

use super::RuntimeError;
use crate::domain::{InstanceName, Labels, ProfileName, StandbyMark};

/// Claims, re-marks and readies standbys, each in one atomic step.
#[async_trait]
pub trait Standbys: Send + Sync {
    /// Claims a standby for a job, in one atomic step: `instance` gets the job's
    /// `labels`, only if it is still the unclaimed standby it was read as
    /// ([`unchanged_standby`](crate::domain::unchanged_standby) of `expected`). A
    /// claimed standby is the job's instance: it keeps its name and its mark.
    ///
    /// # Errors
    /// `Changed` when another job claimed it or its mark changed first; `NotFound`
    /// when it is gone.
    async fn claim_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError>;

    /// Replaces a standby's mark with `mark` (ready, or retiring), in one atomic
    /// step, only if it is still the unclaimed standby it was read as
    /// ([`unchanged_standby`](crate::domain::unchanged_standby) of `expected`).
    ///
    /// # Errors
    /// `Changed` when a job claimed it or its mark changed first; `NotFound` when it
    /// is gone.
    async fn update_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError>;

    /// Adds `profile` to the running `instance`'s profiles: its disks appear in the
    /// instance at once, their owners mapped as
    /// [`create_profile`](super::ContainerRuntime::create_profile) says. The profile
    /// list is replaced only if nothing changed it since it was read, so a concurrent
    /// change is never lost.
    ///
    /// # Errors
    /// `NotFound` when the instance or the profile does not exist; `Changed` when the
    /// instance's profiles changed while this call ran; `Rejected` when the daemon
    /// cannot add a device to a running instance.
    async fn attach_profile(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError>;
}
