//! [`ImageRegistry`] for [`LxdClient`]: publish, list, resolve, delete.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lxpack_core::domain::{Fingerprint, Image, ImageAlias, ImageSelector};
use lxpack_core::ports::{ImageRegistry, PublishRequest, RegistryError};
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::client::{CallError, LxdClient};
use crate::wire;

fn registry_error(operation: &str, image: &str, error: CallError) -> RegistryError {
    match error {
        CallError::Transport(unreachable) => RegistryError::Unreachable(unreachable),
        CallError::Daemon { code: 404, .. } => RegistryError::NotFound {
            image: image.to_owned(),
        },
        CallError::Daemon { message, .. } => RegistryError::Rejected {
            operation: operation.to_owned(),
            message,
        },
        CallError::Deadline(after) => RegistryError::Rejected {
            operation: operation.to_owned(),
            message: format!(
                "the daemon did not answer within {after:?} (container.timeout in the config)"
            ),
        },
    }
}

/// Reads one image of `GET /1.0/images?recursion=1`.
pub(crate) fn parse_image(value: &Value) -> Option<Image> {
    let fingerprint = Fingerprint::parse(value.get("fingerprint")?.as_str()?).ok()?;
    let aliases = value
        .get("aliases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| ImageAlias::parse(a.get("name")?.as_str()?).ok())
        .collect();
    let properties: BTreeMap<String, String> = value
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    Some(Image {
        fingerprint,
        aliases,
        properties,
        architecture: value
            .get("architecture")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        created_at: value
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        size_bytes: value.get("size").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// `2024-01-02T03:04:05.123456Z` (or with an offset) to a time; seconds precision.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let (date, rest) = text.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let time: String = rest.chars().take(8).collect();
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    let offset = rest[8..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset_seconds = match offset {
        "" | "Z" => 0,
        other => {
            let sign = if other.starts_with('-') { -1 } else { 1 };
            let mut parts = other[1..].split(':').map(|p| p.parse::<i64>().ok());
            sign * (parts.next()?? * 3600 + parts.next().flatten().unwrap_or(0) * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + h * 3600 + mi * 60 + s - offset_seconds;
    u64::try_from(seconds)
        .ok()
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

#[async_trait]
impl ImageRegistry for LxdClient {
    #[instrument(skip_all, fields(instance = %request.instance, alias = %request.alias))]
    async fn publish_image(
        &self,
        request: &PublishRequest,
        cancel: &CancellationToken,
    ) -> Result<Image, RegistryError> {
        let operation = format!("publish {}", request.instance);
        let alias_probe = self.request(
            Method::GET,
            &format!("/1.0/images/aliases/{}", request.alias),
        );
        if self.sync(alias_probe).await.is_ok() {
            return Err(RegistryError::AliasExists {
                alias: request.alias.clone(),
            });
        }
        let info = self
            .sync(self.request(Method::GET, "/1.0"))
            .await
            .map_err(|e| registry_error(&operation, request.alias.as_str(), e))?;
        let with_compression = info
            .get("api_extensions")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|e| e == "image_compression_algorithm"));
        let post = self
            .request(Method::POST, "/1.0/images")
            .json(&wire::publish(request, with_compression));
        let publish = self.operation(post, request.timeout);
        let finished = tokio::select! {
            result = tokio::time::timeout(request.timeout, publish) => match result {
                Ok(result) => result,
                Err(_) => return Err(RegistryError::TimedOut { instance: request.instance.clone(), after: request.timeout }),
            },
            () = cancel.cancelled() => return Err(RegistryError::Cancelled { instance: request.instance.clone() }),
        };
        let finished = finished.map_err(|e| match e {
            CallError::Daemon { message, .. }
                if message.to_ascii_lowercase().contains("running") =>
            {
                RegistryError::InstanceRunning {
                    instance: request.instance.clone(),
                }
            }
            CallError::Daemon { code: 404, .. } => RegistryError::InstanceNotFound {
                instance: request.instance.clone(),
            },
            CallError::Deadline(_) => RegistryError::TimedOut {
                instance: request.instance.clone(),
                after: request.timeout,
            },
            other => registry_error(&operation, request.alias.as_str(), other),
        })?;
        let fingerprint = finished
            .metadata
            .get("fingerprint")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.resolve_image(&ImageSelector::Fingerprint(fingerprint))
            .await
    }

    #[instrument(skip(self))]
    async fn list_images(&self) -> Result<Vec<Image>, RegistryError> {
        let list = self
            .sync(
                self.request(Method::GET, "/1.0/images")
                    .query(&[("recursion", "1")]),
            )
            .await
            .map_err(|e| registry_error("list images", "", e))?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(parse_image)
            .collect())
    }

    #[instrument(skip(self))]
    async fn resolve_image(&self, selector: &ImageSelector) -> Result<Image, RegistryError> {
        let fingerprint = match selector {
            ImageSelector::Fingerprint(fingerprint) => fingerprint.clone(),
            ImageSelector::Alias(alias) => {
                let target = self
                    .sync(self.request(Method::GET, &format!("/1.0/images/aliases/{alias}")))
                    .await
                    .map_err(|e| registry_error("resolve image", alias.as_str(), e))?;
                target
                    .get("target")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let image = self
            .sync(self.request(Method::GET, &format!("/1.0/images/{fingerprint}")))
            .await
            .map_err(|e| registry_error("resolve image", &selector.to_string(), e))?;
        parse_image(&image).ok_or_else(|| RegistryError::NotFound {
            image: selector.to_string(),
        })
    }

    #[instrument(skip(self))]
    async fn delete_image(&self, fingerprint: &Fingerprint) -> Result<(), RegistryError> {
        let request = self.request(Method::DELETE, &format!("/1.0/images/{fingerprint}"));
        self.operation(request, Duration::from_secs(120))
            .await
            .map(drop)
            .map_err(|e| registry_error("delete image", fingerprint.as_str(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_images_and_times() {
        let image = parse_image(&serde_json::json!({
            "fingerprint": "a".repeat(64),
            "aliases": [{"name": "lxpack-test-busybox", "description": ""}],
            "properties": {"os": "busybox", "release": "1.35"},
            "architecture": "x86_64",
            "created_at": "2024-01-02T03:04:05.123456789Z",
            "size": 1234
        }))
        .unwrap();
        assert_eq!(image.aliases[0].as_str(), "lxpack-test-busybox");
        assert_eq!(image.properties["os"], "busybox");
        assert_eq!(
            image.created_at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T01:00:00+01:00"),
            Some(SystemTime::UNIX_EPOCH)
        );
    }
}
