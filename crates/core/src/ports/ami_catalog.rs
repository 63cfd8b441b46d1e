//! The AMIs that container images are twins of.

use async_trait::async_trait;

use super::{BoxError, Unreachable};
use crate::domain::{Ami, AmiId, App};

/// Errors of [`AmiCatalog`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AmiCatalogError {
    /// The catalog could not be reached.
    #[error("{0}")]
    Unreachable(Unreachable),
    /// No credentials were found.
    #[error("no AWS credentials were found")]
    MissingCredentials {
        /// How to provide them.
        hint: String,
    },
    /// The credentials may not do this.
    #[error("access denied: {message}")]
    AccessDenied {
        /// The service's message.
        message: String,
    },
    /// The AMI does not exist (or is not visible to these credentials).
    #[error("AMI {ami} was not found in {region}")]
    NotFound {
        /// The AMI.
        ami: AmiId,
        /// The region searched.
        region: String,
    },
    /// The AMI's OS family could not be told.
    #[error("cannot tell the OS family of AMI {ami} (saw {seen})")]
    UnknownOs {
        /// The AMI.
        ami: AmiId,
        /// What was looked at: name, description, tags.
        seen: String,
        /// Which tag to set.
        hint: String,
    },
    /// The service kept throttling after retries.
    #[error("the request was throttled: {message}")]
    Throttled {
        /// The service's message.
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

/// Where AMIs are described and listed: EC2, or a fake.
#[async_trait]
pub trait AmiCatalog: Send + Sync {
    /// Describes one AMI in `region`, with its OS identity.
    ///
    /// # Errors
    /// `NotFound` when it does not exist; `UnknownOs` when its family cannot be told;
    /// `MissingCredentials`, `AccessDenied`, `Throttled`, `Unreachable` as they say.
    async fn describe_ami(&self, region: &str, ami: &AmiId) -> Result<Ami, AmiCatalogError>;

    /// Lists the app's AMIs in the app's region: owned by the caller's account and
    /// named for the app ([`App::owns_ami_name`]), newest first. Deregistered AMIs are
    /// absent or in state `Gone`.
    ///
    /// # Errors
    /// As [`AmiCatalog::describe_ami`], except `NotFound` and `UnknownOs`. An AMI whose
    /// OS cannot be told is listed with an empty family rather than failing the list.
    async fn list_app_amis(&self, app: &App) -> Result<Vec<Ami>, AmiCatalogError>;
}
