//! The `AmiCatalog` port over EC2's `DescribeImages`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use lxpack_core::domain::{Ami, AmiId, App};
use lxpack_core::ports::{AmiCatalog, AmiCatalogError};
use tokio::sync::Mutex;
use tracing::{instrument, warn};

use crate::client::ec2_client;
use crate::config::{ConfigError, Ec2CatalogConfig};
use crate::convert::{convert, name_prefix_filter};
use crate::errors::{Call, from_sdk};

/// Lists and describes AMIs with EC2's `DescribeImages`. Cheap to clone: clones share
/// their per-region clients and credential caches.
#[derive(Clone)]
pub struct Ec2AmiCatalog {
    inner: Arc<Inner>,
}

struct Inner {
    config: Ec2CatalogConfig,
    clients: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
}

impl fmt::Debug for Ec2AmiCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ec2AmiCatalog")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Ec2AmiCatalog {
    /// A catalog with these settings. Nothing is loaded or called until the first
    /// request, so this cannot fail: bad settings were refused by
    /// [`Ec2CatalogConfigBuilder::build`](crate::Ec2CatalogConfigBuilder::build).
    #[must_use]
    pub fn new(config: Ec2CatalogConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                clients: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &Ec2CatalogConfig {
        &self.inner.config
    }

    async fn client(&self, region: &str) -> Result<aws_sdk_ec2::Client, AmiCatalogError> {
        check_region(region).map_err(|error| AmiCatalogError::Other {
            operation: "choose the EC2 region".to_owned(),
            source: Box::new(error),
        })?;
        let mut clients = self.inner.clients.lock().await;
        if let Some(client) = clients.get(region) {
            return Ok(client.clone());
        }
        let client = ec2_client(&self.inner.config, region).await;
        clients.insert(region.to_owned(), client.clone());
        Ok(client)
    }

    fn call<'a>(&'a self, operation: String, region: &'a str, ami: Option<&AmiId>) -> Call<'a> {
        let config = &self.inner.config;
        Call {
            operation,
            region,
            endpoint_url: config.endpoint_url.as_deref(),
            ami: ami.cloned(),
            max_attempts: config.max_attempts,
            role_arn: config.assume_role.as_ref().map(|role| role.arn(region)),
        }
    }
}

/// Region names are lower-case letters, digits and dashes (`eu-west-1`); anything else
/// would end up in a host name.
fn check_region(region: &str) -> Result<(), ConfigError> {
    let valid = (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::Region {
            input: region.to_owned(),
        })
    }
}

#[async_trait]
impl AmiCatalog for Ec2AmiCatalog {
    #[instrument(skip(self, ami), fields(ami = %ami))]
    async fn describe_ami(&self, region: &str, ami: &AmiId) -> Result<Ami, AmiCatalogError> {
        let client = self.client(region).await?;
        let call = self.call(format!("describe AMI {ami} in {region}"), region, Some(ami));
        let output = client
            .describe_images()
            .image_ids(ami.as_str())
            .send()
            .await
            .map_err(|error| from_sdk(error, &call))?;
        let record = output
            .images()
            .iter()
            .find(|image| image.image_id() == Some(ami.as_str()))
            .ok_or_else(|| AmiCatalogError::NotFound {
                ami: ami.clone(),
                region: region.to_owned(),
            })?;
        let converted = convert(record, &self.inner.config.os_tags).ok_or_else(|| {
            AmiCatalogError::NotFound {
                ami: ami.clone(),
                region: region.to_owned(),
            }
        })?;
        match converted.unidentified {
            None => Ok(converted.ami),
            Some(why) => Err(AmiCatalogError::UnknownOs {
                ami: ami.clone(),
                seen: why.seen,
                hint: why.hint.replace("<ami>", ami.as_str()),
            }),
        }
    }

    #[instrument(skip(self, app), fields(app = %app.key, region = %app.region))]
    async fn list_app_amis(&self, app: &App) -> Result<Vec<Ami>, AmiCatalogError> {
        let region = app.region.as_str();
        let client = self.client(region).await?;
        let prefix = app.ami_name_prefix();
        let call = self.call(
            format!("list the AMIs named {prefix}* in {region}"),
            region,
            None,
        );
        let max_results = i32::try_from(self.inner.config.page_size).unwrap_or(1000);
        let mut pages = client
            .describe_images()
            .owners("self")
            .filters(
                Filter::builder()
                    .name("name")
                    .values(name_prefix_filter(&prefix))
                    .build(),
            )
            .include_disabled(true)
            .max_results(max_results)
            .into_paginator()
            .send();
        let mut amis = Vec::new();
        let mut page_count = 0_u32;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| from_sdk(error, &call))?;
            page_count += 1;
            for record in page.images() {
                let name = record.name().unwrap_or_default();
                if !app.owns_ami_name(name) {
                    continue;
                }
                let Some(converted) = convert(record, &self.inner.config.os_tags) else {
                    warn!(name, id = ?record.image_id(), "skipping an AMI whose id is not an AMI id");
                    continue;
                };
                amis.push(converted.ami);
            }
        }
        Ami::sort_newest_first(&mut amis);
        tracing::debug!(
            pages = page_count,
            amis = amis.len(),
            "listed the app's AMIs"
        );
        Ok(amis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_checked() {
        assert!(check_region("eu-west-1").is_ok());
        assert!(check_region("us-gov-west-1").is_ok());
        for bad in [
            "",
            "EU-WEST-1",
            "eu west 1",
            "eu-west-1.evil.example",
            &"a".repeat(33),
        ] {
            assert_eq!(
                check_region(bad),
                Err(ConfigError::Region { input: bad.into() }),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_bad_region_fails_before_any_call() {
        let catalog = Ec2AmiCatalog::new(Ec2CatalogConfig::default());
        let ami = AmiId::parse("ami-0123abcd").unwrap();
        let error = catalog.describe_ami("Mars/1", &ami).await.unwrap_err();
        assert_eq!(error.to_string(), "choose the EC2 region failed");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert!(source.contains("\"Mars/1\""), "{source}");
    }
}
