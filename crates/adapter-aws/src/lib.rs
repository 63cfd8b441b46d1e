//! # lxpack-aws
//!
//! lxpack's [`AmiCatalog`](lxpack_core::ports::AmiCatalog) on EC2: it describes the AMI
//! a container image must match (its OS identity included) and lists an app's AMIs for
//! image retention, through the official AWS SDK for Rust.
//!
//! The SDK takes minutes to compile, so it lives in this crate alone: the CLI depends on
//! it behind its `aws` cargo feature, and `lxpack-core` knows nothing of AWS.
//!
//! ## Layout
//! - [`Ec2AmiCatalog`] (`catalog`): the port's two methods over `DescribeImages`.
//! - [`Ec2CatalogConfig`] (`config`): credentials (the standard chain, a profile or fixed
//!   keys), Cloud Deploy's cross-account role, endpoint overrides, OS tags, paging,
//!   retries and timeouts, validated once into [`ConfigError`]s.
//! - `os_identity`: the pure rules that tell an AMI's OS family and release from its
//!   tags, name, description and platform ([`OsTagKeys`] names the tags).
//! - `convert`: EC2's image records into domain [`Ami`](lxpack_core::domain::Ami)s.
//! - `errors`: SDK errors into the port's actionable variants.
//! - `client`: one SDK client per region.
//!
//! ## Transport
//! HTTPS goes through the SDK's hyper client with rustls on ring, set explicitly on
//! every client (`client::https_client`): the SDK's default, aws-lc-rs, is not built.
//! Neither OpenSSL nor native-tls is linked.
//!
//! ## Example
//! ```no_run
//! use lxpack_aws::{AssumeRole, Ec2AmiCatalog, Ec2CatalogConfig};
//! use lxpack_core::domain::AmiId;
//! use lxpack_core::ports::AmiCatalog;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Ec2CatalogConfig::builder()
//!     .assume_role(AssumeRole::new("123456789012", "cloud-deploy")?)
//!     .build()?;
//! let catalog = Ec2AmiCatalog::new(config);
//! let ami = catalog
//!     .describe_ami("eu-west-1", &AmiId::parse("ami-0123456789abcdef0")?)
//!     .await?;
//! println!("{} is {}", ami.id, ami.os);
//! # Ok(())
//! # }
//! ```

mod catalog;
mod client;
mod config;
mod convert;
mod errors;
mod os_identity;

pub use catalog::Ec2AmiCatalog;
pub use config::{
    AssumeRole, ConfigError, CredentialSource, Ec2CatalogConfig, Ec2CatalogConfigBuilder,
    StaticCredentials,
};
pub use os_identity::OsTagKeys;

/// Log filter directives (`tracing_subscriber::EnvFilter` syntax) that a subscriber
/// showing TRACE events must add to keep secrets out of its logs. At TRACE, `aws-sigv4`
/// writes the canonical request it signs and the SDK's orchestrator the request it
/// transmits, both with the session token, so both are capped at DEBUG. lxpack's own
/// events never carry secrets at any level.
pub const SECRET_SAFE_LOG_DIRECTIVES: &[&str] = &[
    "aws_sigv4=debug",
    "aws_smithy_runtime::client::orchestrator=debug",
];
/// Log directives that keep the AWS SDK's own diagnostics out of a quiet run: its crates
/// log at DEBUG and WARN about credential lookups and retries, which the catalog's own
/// errors already say better. Apply them unless the user asked for diagnostics.
pub const QUIET_LOG_DIRECTIVES: &[&str] = &[
    "aws_config=error",
    "aws_credential_types=error",
    "aws_runtime=error",
    "aws_sdk_ec2=error",
    "aws_sdk_sts=error",
    "aws_sigv4=error",
    "aws_smithy_runtime=error",
    "aws_smithy_runtime_api=error",
    "aws_smithy_http_client=error",
    "hyper_util=error",
    "rustls=error",
];

/// Re-exported so that callers can build [`StaticCredentials`] without depending on
/// `secrecy` themselves.
pub use secrecy::SecretString;
