//! `ImageRegistry` over the fake daemon: publishing reads the runtime's instances, and
//! fingerprints and creation times are deterministic so tests can compare them.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use lxpack_core::domain::{Fingerprint, Image, ImageAlias, ImageSelector};
use lxpack_core::ports::{ImageRegistry, PublishRequest, RegistryError};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::daemon::{self, Daemon, Shared, selector_text};
use crate::faults::{FakeFailure, Fault, InjectedFault, Limit, When, strike};
use crate::harness::Recorded;
use crate::runtime::FakeRuntime;

/// The operations of [`ImageRegistry`], to pick calls for faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistryOp {
    /// `publish_image`.
    PublishImage,
    /// `list_images`.
    ListImages,
    /// `resolve_image`.
    ResolveImage,
    /// `delete_image`.
    DeleteImage,
}

/// One call received by a [`FakeImageRegistry`], with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryCall {
    /// `publish_image`.
    PublishImage {
        /// What was asked.
        request: PublishRequest,
    },
    /// `list_images`.
    ListImages,
    /// `resolve_image`.
    ResolveImage {
        /// The alias or fingerprint.
        selector: ImageSelector,
    },
    /// `delete_image`.
    DeleteImage {
        /// The image.
        fingerprint: Fingerprint,
    },
}

impl Recorded for RegistryCall {
    type Op = RegistryOp;

    fn op(&self) -> RegistryOp {
        match self {
            Self::PublishImage { .. } => RegistryOp::PublishImage,
            Self::ListImages => RegistryOp::ListImages,
            Self::ResolveImage { .. } => RegistryOp::ResolveImage,
            Self::DeleteImage { .. } => RegistryOp::DeleteImage,
        }
    }
}

impl RegistryCall {
    fn operation(&self) -> String {
        match self {
            Self::PublishImage { request } => format!("publish {}", request.instance),
            Self::ListImages => "list images".to_owned(),
            Self::ResolveImage { selector } => format!("resolve {selector}"),
            Self::DeleteImage { fingerprint } => format!("delete image {}", fingerprint.short()),
        }
    }

    /// The error an injected failure of `kind` gives this call.
    fn injected(&self, kind: FakeFailure) -> RegistryError {
        let operation = self.operation();
        match (kind, self) {
            (FakeFailure::Unreachable, _) => {
                RegistryError::Unreachable(crate::faults::unreachable("fake daemon"))
            }
            (FakeFailure::NotFound, Self::PublishImage { request }) => {
                RegistryError::InstanceNotFound {
                    instance: request.instance.clone(),
                }
            }
            (FakeFailure::NotFound, Self::ResolveImage { selector }) => RegistryError::NotFound {
                image: selector_text(selector),
            },
            (FakeFailure::NotFound, Self::DeleteImage { fingerprint }) => RegistryError::NotFound {
                image: fingerprint.to_string(),
            },
            (FakeFailure::Rejected, _) => RegistryError::Rejected {
                operation,
                message: InjectedFault.to_string(),
            },
            (FakeFailure::TimedOut, Self::PublishImage { request }) => RegistryError::TimedOut {
                instance: request.instance.clone(),
                after: request.timeout,
            },
            (FakeFailure::Cancelled, Self::PublishImage { request }) => RegistryError::Cancelled {
                instance: request.instance.clone(),
            },
            _ => RegistryError::Other {
                operation,
                source: Box::new(InjectedFault),
            },
        }
    }
}

/// An in-memory [`ImageRegistry`] over the same daemon as a [`FakeRuntime`]. Clones
/// share it.
///
/// Published images get a fingerprint derived from the instance name and a counter,
/// the source image's properties overlaid with the request's (as LXD does), the
/// source image's architecture, and a creation time from a fake clock that starts at
/// 2023-11-14T22:13:20Z and moves on by one second per published image.
#[derive(Clone)]
pub struct FakeImageRegistry {
    daemon: Shared,
}

impl Default for FakeImageRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeImageRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let daemon = self.lock();
        f.debug_struct("FakeImageRegistry")
            .field("images", &daemon.images.len())
            .finish_non_exhaustive()
    }
}

impl FakeImageRegistry {
    /// A registry over a new, empty daemon (see [`FakeImageRegistry::runtime`]).
    #[must_use]
    pub fn new() -> Self {
        Self::over(daemon::new_shared())
    }

    pub(crate) fn over(daemon: Shared) -> Self {
        Self { daemon }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Daemon> {
        daemon::lock(&self.daemon)
    }

    /// The runtime of the same daemon.
    #[must_use]
    pub fn runtime(&self) -> FakeRuntime {
        FakeRuntime::over(self.daemon.clone())
    }

    /// Adds an image without recording a call, replacing any with the same
    /// fingerprint; its aliases are taken from any other image that had them.
    pub fn add_image(&self, image: Image) {
        self.lock().add_image(image);
    }

    /// Sets the creation time of the next published image.
    pub fn set_clock(&self, now: SystemTime) {
        self.lock().clock = now;
    }

    /// Every image, in the order they were added.
    #[must_use]
    pub fn images(&self) -> Vec<Image> {
        self.lock().images.clone()
    }

    /// The image with `alias`.
    #[must_use]
    pub fn image(&self, alias: &ImageAlias) -> Option<Image> {
        self.lock()
            .images
            .iter()
            .find(|image| image.has_alias(alias))
            .cloned()
    }

    /// The registry calls, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<RegistryCall> {
        self.lock().registry.calls()
    }

    /// Each registry call as (operation, occurrence), in order.
    #[must_use]
    pub fn call_points(&self) -> Vec<(RegistryOp, u32)> {
        self.lock().registry.call_points()
    }

    /// Forgets the recorded registry calls; occurrences count from 1 again.
    pub fn clear_calls(&self) {
        self.lock().registry.clear_calls();
    }

    /// Makes the calls of `op` chosen by `when` fail or hang; the call has no effect.
    /// A [`FakeFailure`] becomes:
    /// - `Unreachable`: `RegistryError::Unreachable`;
    /// - `NotFound`: `InstanceNotFound` for publish, `NotFound` for resolve and
    ///   delete (`Other` for list);
    /// - `TimedOut`, `Cancelled`: the variant of that name for publish (`Other`
    ///   elsewhere);
    /// - `Rejected`, `Other`: the variant of that name.
    pub fn inject(&self, op: RegistryOp, when: When, fault: Fault<RegistryError>) {
        self.lock().registry.inject(op, when, fault);
    }

    /// Removes every injected registry fault.
    pub fn clear_faults(&self) {
        self.lock().registry.clear_faults();
    }

    /// Records `call`, then runs `body` under the same lock unless a fault was
    /// injected for it.
    fn enter<T>(
        &self,
        call: &RegistryCall,
        body: impl FnOnce(&mut Daemon) -> T,
    ) -> Result<T, Fault<RegistryError>> {
        let mut daemon = self.lock();
        let sequence = daemon.next_sequence();
        match daemon.registry.enter(sequence, call.clone()).1 {
            Some(fault) => Err(fault),
            None => Ok(body(&mut daemon)),
        }
    }
}

#[async_trait]
impl ImageRegistry for FakeImageRegistry {
    #[instrument(skip_all, fields(instance = %request.instance, alias = %request.alias))]
    async fn publish_image(
        &self,
        request: &PublishRequest,
        cancel: &CancellationToken,
    ) -> Result<Image, RegistryError> {
        let call = RegistryCall::PublishImage {
            request: request.clone(),
        };
        let limit = Limit::starting_now(request.timeout, cancel);
        let entered = self.enter(&call, |daemon| {
            if cancel.is_cancelled() {
                return Err(call.injected(FakeFailure::Cancelled));
            }
            daemon.publish(request)
        });
        match entered {
            Ok(result) => result,
            Err(fault) => Err(strike(fault, Some(limit), |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all)]
    async fn list_images(&self) -> Result<Vec<Image>, RegistryError> {
        let call = RegistryCall::ListImages;
        match self.enter(&call, |daemon| daemon.images.clone()) {
            Ok(images) => Ok(images),
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all, fields(image = %selector))]
    async fn resolve_image(&self, selector: &ImageSelector) -> Result<Image, RegistryError> {
        let call = RegistryCall::ResolveImage {
            selector: selector.clone(),
        };
        match self.enter(&call, |daemon| daemon.resolve(selector)) {
            Ok(result) => result,
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all, fields(image = %fingerprint.short()))]
    async fn delete_image(&self, fingerprint: &Fingerprint) -> Result<(), RegistryError> {
        let call = RegistryCall::DeleteImage {
            fingerprint: fingerprint.clone(),
        };
        match self.enter(&call, |daemon| daemon.delete_image(fingerprint)) {
            Ok(result) => result,
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }
}

#[cfg(test)]
mod tests;
