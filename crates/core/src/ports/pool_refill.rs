//! A deploy that takes a standby must not wait for its replacement: starting one
//! costs a launch, which is what the standby saved. So the workflows only ask for a
//! refill, and the host decides how it runs off the job's path (the CLI starts a
//! detached `lxpack pool fill`; a service may queue it).

use async_trait::async_trait;

use super::BoxError;
use crate::domain::{AppKey, Owner};

/// Which pool to refill.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefillRequest {
    /// The app whose pool lost a standby (or found none).
    pub app: AppKey,
    /// The checkout owner its standbys map, when its pool is keyed by one.
    pub owner: Option<Owner>,
}

/// Starts refilling a pool in the background.
#[async_trait]
pub trait PoolRefill: Send + Sync {
    /// Asks for the pool of `request` to be filled up to its size, without waiting
    /// for it: it returns once the refill is under way.
    ///
    /// # Errors
    /// When the refill could not be started; the job reports it as a warning.
    async fn request_refill(&self, request: &RefillRequest) -> Result<(), BoxError>;
}

/// No background refill: pools are filled only by `Workflows::fill_pool` callers (a
/// timer, `lxpack pool fill`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRefill;

#[async_trait]
impl PoolRefill for NoRefill {
    async fn request_refill(&self, _request: &RefillRequest) -> Result<(), BoxError> {
        Ok(())
    }
}
