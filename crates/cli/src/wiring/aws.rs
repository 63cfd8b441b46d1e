//! The AMI catalog: EC2 through the AWS SDK when this build has the `aws` feature and the
//! config has an `lxpack.aws` section; none otherwise, in which case buildimage takes
//! the OS from the command line and retention only counts.

use std::sync::Arc;

use lxpack_core::ports::AmiCatalog;

use crate::config::AwsConfig;
use crate::exit::CliError;
#[cfg(not(feature = "aws"))]
use crate::exit::ExitClass;

/// The catalog `config` asks for, if any.
///
/// # Errors
/// `Config` when a setting is invalid, or when AWS is configured but this build lacks
/// the `aws` feature.
#[cfg(feature = "aws")]
pub fn ami_catalog(config: Option<&AwsConfig>) -> Result<Option<Arc<dyn AmiCatalog>>, CliError> {
    use lxpack_aws::{AssumeRole, CredentialSource, Ec2AmiCatalog, Ec2CatalogConfig, OsTagKeys};

    use crate::exit::ExitClass;

    let Some(config) = config else {
        return Ok(None);
    };
    let invalid = |error: lxpack_aws::ConfigError| {
        CliError::new(ExitClass::Config, error)
            .with_hint("fix the lxpack.aws section of the config")
    };
    let mut builder = Ec2CatalogConfig::builder();
    if let Some(profile) = &config.profile {
        builder = builder.credentials(CredentialSource::Profile(profile.clone()));
    }
    if let Some((account, role)) = &config.assume_role {
        builder = builder.assume_role(AssumeRole::new(account, role).map_err(invalid)?);
    }
    if let Some(url) = &config.endpoint_url {
        builder = builder
            .endpoint_url(url.clone())
            .sts_endpoint_url(url.clone());
    }
    let defaults = OsTagKeys::default();
    builder = builder.os_tags(OsTagKeys {
        family: config.os_family_tag.clone().unwrap_or(defaults.family),
        release: config.os_release_tag.clone().unwrap_or(defaults.release),
    });
    let built = builder.build().map_err(invalid)?;
    Ok(Some(Arc::new(Ec2AmiCatalog::new(built))))
}

/// The catalog `config` asks for: none in a build without the `aws` feature.
///
/// # Errors
/// `Config` when the config has an `lxpack.aws` section.
#[cfg(not(feature = "aws"))]
pub fn ami_catalog(config: Option<&AwsConfig>) -> Result<Option<Arc<dyn AmiCatalog>>, CliError> {
    match config {
        None => Ok(None),
        Some(_) => Err(CliError::new(
            ExitClass::Config,
            "the config has an lxpack.aws section, but this lxpack was built without the aws feature",
        )
        .with_hint("rebuild with the default features (cargo build --release -p lxpack-cli), or remove lxpack.aws")),
    }
}
