//! [`ImageRegistry`] for [`LxdClient`]: publish, list, resolve, delete.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lxpack_core::domain::{Fingerprint, Image, ImageAlias, ImageSelector};
use lxpack_core::ports::{ImageRegistry, PublishRequest, RegistryError};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::classify::Cause;
use crate::client::{LxdClient, within};
use crate::errors::{CallError, Subject, registry_error};
use crate::reply::{self, Alias, Published};
use crate::wire;

/// How long deleting an image may take.
const DELETE_LIMIT: Duration = Duration::from_secs(120);

/// Reads one image of `GET /1.0/images?recursion=1` (or `GET /1.0/images/FP`).
pub(crate) fn parse_image(image: &reply::Image) -> Option<Image> {
    Some(Image {
        fingerprint: Fingerprint::parse(&image.fingerprint).ok()?,
        aliases: image
            .aliases
            .iter()
            .filter_map(|a| ImageAlias::parse(&a.name).ok())
            .collect(),
        properties: image.properties.clone(),
        architecture: image.architecture.clone(),
        created_at: parse_rfc3339(&image.created_at).unwrap_or(SystemTime::UNIX_EPOCH),
        size_bytes: image.size,
    })
}

impl LxdClient {
    /// Reads an image by fingerprint.
    async fn image(&self, fingerprint: &str) -> Result<Option<Image>, CallError> {
        let image: reply::Image = self.sync(self.api().image(fingerprint)).await?;
        Ok(parse_image(&image))
    }

    /// Publishes, then reads the new image. The alias is looked up first: publishing
    /// over a taken alias would fail only after the whole export.
    async fn publish(&self, request: &PublishRequest) -> Result<Image, RegistryError> {
        let operation = format!("publish {}", request.instance);
        let map = |e| registry_error(&operation, Subject::Publish(&request.instance), e);
        match self.ack(self.api().alias(request.alias.as_str())).await {
            Ok(()) => {
                return Err(RegistryError::AliasExists {
                    alias: request.alias.clone(),
                });
            }
            Err(error) if error.is(Cause::ImageMissing) || error.is(Cause::NotFound) => {}
            Err(error) => return Err(map(error)),
        }
        let with_compression = self
            .server()
            .await
            .map_err(map)?
            .has_extension("image_compression_algorithm");
        let post = self
            .api()
            .publish(&wire::publish(request, with_compression));
        let published = self.operation(post, request.timeout).await.map_err(map)?;
        let fingerprint = published.metadata::<Published>().fingerprint;
        self.image(&fingerprint)
            .await
            .map_err(map)?
            .ok_or_else(|| RegistryError::NotFound { image: fingerprint })
    }
}

/// `2024-01-02T03:04:05.123456Z` (or with an offset) to a time; seconds precision.
/// `None` for anything else: a field out of its range, a year beyond 9999, a time before
/// 1970, or text that is not of that shape (never a panic: the daemon's reply is
/// input).
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    /// A field of `text` within `range`.
    fn field(text: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        let all_digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let value = text.parse::<i64>().ok().filter(|_| all_digits)?;
        range.contains(&value).then_some(value)
    }
    let (date, rest) = text.split_once('T')?;
    let mut ymd = date.split('-');
    let y = field(ymd.next()?, 0..=9999)?;
    let m = field(ymd.next()?, 1..=12)?;
    let d = field(ymd.next()?, 1..=31)?;
    if ymd.next().is_some() {
        return None;
    }
    let (time, offset) = (rest.get(..8)?, rest.get(8..)?);
    let mut hms = time.split(':');
    let h = field(hms.next()?, 0..=23)?;
    let mi = field(hms.next()?, 0..=59)?;
    let s = field(hms.next()?, 0..=60)?;
    let offset = offset.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset_seconds = match offset {
        "" | "Z" | "z" => 0,
        other => {
            let sign = match other.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let mut parts = other.get(1..)?.split(':');
            let hours = field(parts.next()?, 0..=23)?;
            let minutes = parts.next().map_or(Some(0), |p| field(p, 0..=59))?;
            if parts.next().is_some() {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm); every field is in range,
    // so nothing overflows.
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
        let publish = within(request.timeout, async { Ok(self.publish(request).await) });
        tokio::select! {
            result = publish => result.unwrap_or_else(|e| Err(registry_error("publish", Subject::Publish(&request.instance), e))),
            () = cancel.cancelled() => Err(RegistryError::Cancelled { instance: request.instance.clone() }),
        }
    }

    #[instrument(skip(self))]
    async fn list_images(&self) -> Result<Vec<Image>, RegistryError> {
        let list: Vec<reply::Image> = self
            .sync(self.api().images())
            .await
            .map_err(|e| registry_error("list images", Subject::Image(""), e))?;
        Ok(list.iter().filter_map(parse_image).collect())
    }

    #[instrument(skip(self))]
    async fn resolve_image(&self, selector: &ImageSelector) -> Result<Image, RegistryError> {
        let text = selector.to_string();
        let map = |e| registry_error("resolve image", Subject::Image(&text), e);
        let fingerprint = match selector {
            ImageSelector::Fingerprint(fingerprint) => fingerprint.clone(),
            ImageSelector::Alias(alias) => {
                let alias: Alias = self
                    .sync(self.api().alias(alias.as_str()))
                    .await
                    .map_err(map)?;
                alias.target
            }
        };
        self.image(&fingerprint)
            .await
            .map_err(map)?
            .ok_or_else(|| RegistryError::NotFound {
                image: text.clone(),
            })
    }

    #[instrument(skip(self))]
    async fn delete_image(&self, fingerprint: &Fingerprint) -> Result<(), RegistryError> {
        let request = self.api().delete_image(fingerprint.as_str());
        self.operation(request, DELETE_LIMIT)
            .await
            .map(drop)
            .map_err(|e| registry_error("delete image", Subject::Image(fingerprint.as_str()), e))
    }
}

#[cfg(test)]
mod tests;
