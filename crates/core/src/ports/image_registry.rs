//! The daemon's image store: where buildimage publishes and retention deletes.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxError, Unreachable};
use crate::domain::text::text_enum;
use crate::domain::{Fingerprint, Image, ImageAlias, ImageSelector, InstanceName};

text_enum! {
    /// The compression of a published image.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub enum Compression as "compression" {
        /// zstd: about 3x faster than gzip for smaller images (measured); the default.
        #[default]
        Zstd = "zstd",
        /// gzip, the daemons' own default.
        Gzip = "gzip",
        /// xz: smallest, slowest.
        Xz = "xz",
        /// lz4: fastest compressor, larger images.
        Lz4 = "lz4",
        /// No compression.
        None = "none",
    }
}

/// What to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    /// The stopped instance.
    pub instance: InstanceName,
    /// The alias the image gets.
    pub alias: ImageAlias,
    /// Its properties.
    pub properties: BTreeMap<String, String>,
    /// Its compression.
    pub compression: Compression,
    /// How long publishing may take.
    pub timeout: Duration,
}

/// Errors of [`ImageRegistry`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The daemon could not be reached.
    #[error("{0}")]
    Unreachable(Unreachable),
    /// No image matches.
    #[error("image {image} does not exist")]
    NotFound {
        /// The alias or fingerprint looked for.
        image: String,
    },
    /// The alias is taken by another image.
    #[error("image alias {alias} already exists")]
    AliasExists {
        /// The alias.
        alias: ImageAlias,
    },
    /// The instance to publish does not exist.
    #[error("instance {instance} does not exist")]
    InstanceNotFound {
        /// The instance.
        instance: InstanceName,
    },
    /// The instance to publish is running.
    #[error("instance {instance} must be stopped before it is published")]
    InstanceRunning {
        /// The instance.
        instance: InstanceName,
    },
    /// Publishing took longer than allowed.
    #[error("publishing {instance} timed out after {after:?}")]
    TimedOut {
        /// The instance.
        instance: InstanceName,
        /// The limit.
        after: Duration,
    },
    /// A call other than publishing (list, resolve, delete) did not finish in time.
    #[error("{operation} timed out after {after:?}")]
    CallTimedOut {
        /// What lxpack was doing.
        operation: String,
        /// The limit.
        after: Duration,
    },
    /// Publishing was cancelled.
    #[error("publishing {instance} was cancelled")]
    Cancelled {
        /// The instance.
        instance: InstanceName,
    },
    /// The daemon refused the request, with its own message.
    #[error("{operation} failed: {message}")]
    Rejected {
        /// What lxpack was doing.
        operation: String,
        /// The daemon's message.
        message: String,
    },
    /// Anything else.
    #[error("{operation} failed")]
    Other {
        /// What lxpack was doing.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

/// The image store of the daemon.
#[async_trait]
pub trait ImageRegistry: Send + Sync {
    /// Publishes a stopped instance as an image with an alias, properties and a
    /// compression algorithm, and returns the new image. Either the image exists with
    /// its alias afterwards, or nothing was added.
    ///
    /// # Errors
    /// `InstanceNotFound`; `InstanceRunning` when it is not stopped; `AliasExists` when
    /// the alias is taken (nothing is published); `TimedOut` after `request.timeout`;
    /// `Cancelled` when `cancel` fires.
    async fn publish_image(
        &self,
        request: &PublishRequest,
        cancel: &CancellationToken,
    ) -> Result<Image, RegistryError>;

    /// Lists every image of the store, with aliases, properties and creation time.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn list_images(&self) -> Result<Vec<Image>, RegistryError>;

    /// Finds the image an alias or fingerprint (prefix) names.
    ///
    /// # Errors
    /// `NotFound` when nothing matches (or a prefix is ambiguous).
    async fn resolve_image(&self, selector: &ImageSelector) -> Result<Image, RegistryError>;

    /// Deletes an image and its aliases.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    async fn delete_image(&self, fingerprint: &Fingerprint) -> Result<(), RegistryError>;
}
