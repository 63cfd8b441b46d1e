//! Standby ports that break one rule of the contract, over the fake daemon.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use lxpack_core::domain::{InstanceName, Labels, ProfileName, StandbyMark};
use lxpack_core::ports::{RuntimeError, Standbys};
use lxpack_fake::FakeRuntime;

/// Claims that never lose: a claim the daemon refuses as `Changed` is reported won,
/// as a claim without compare-and-set would be.
pub(crate) struct EveryClaimWins(pub(crate) FakeRuntime);

#[async_trait]
impl Standbys for EveryClaimWins {
    async fn claim_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        match self.0.claim_standby(instance, expected, labels).await {
            Err(RuntimeError::Changed { .. }) => Ok(()),
            other => other,
        }
    }

    async fn update_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        self.0.update_standby(instance, expected, mark).await
    }

    async fn attach_profile(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        self.0.attach_profile(instance, profile).await
    }
}

/// Attaches that read the profile list and write it back without a version check:
/// an attach that runs while another is under way is lost, yet reported done.
pub(crate) struct LostAttach {
    pub(crate) inner: FakeRuntime,
    pub(crate) in_flight: AtomicUsize,
}

impl LostAttach {
    pub(crate) fn new(inner: FakeRuntime) -> Self {
        Self {
            inner,
            in_flight: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl Standbys for LostAttach {
    async fn claim_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        self.inner.claim_standby(instance, expected, labels).await
    }

    async fn update_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        self.inner.update_standby(instance, expected, mark).await
    }

    async fn attach_profile(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        let others = self.in_flight.fetch_add(1, Ordering::SeqCst);
        // Both have read the list before either writes it back.
        tokio::task::yield_now().await;
        let result = if others == 0 {
            self.inner.attach_profile(instance, profile).await
        } else {
            Ok(())
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}
