//! Entry points for fuzz targets, not a stable API.
//!
//! The decoders of the daemon's replies are private to this crate; these functions
//! run the real ones on raw input, as a call does, so that `fuzz/` (cargo-fuzz) and
//! the corpus replay tests (`crates/fuzz-bodies`) reach them. They panic only where a
//! decoder breaks a property it promises.

use lxpack_core::domain::UtcDateTime;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::OperationRef;
use crate::envelope::{Reply, decode};
use crate::mapping::{parse_server_info, resources};
use crate::registry::{parse_image, parse_rfc3339};
use crate::reply::{
    Alias, ExecEnded, ExecStarted, Image, Instance, Operation, Profile, Published, Server, Volume,
    VolumeState, names,
};
use crate::volumes::cache_volume;
use crate::wire::{cache_config, cache_mark_of, steps_of};
use lxpack_core::domain::StepKey;

/// Decodes `body` received with HTTP `status` as every call does, classifies a
/// refusal, splits an operation URL, and reads the metadata as each typed reply the
/// adapter reads (mapping those that are mapped further).
///
/// # Panics
/// When a decoder breaks a property: a body that is not JSON must come out as a
/// refusal quoting at most 200 bytes of it; an operation's path must have no trailing `/`.
pub fn daemon_reply(status: u16, body: &[u8]) {
    match decode(status, body) {
        Reply::Sync(metadata) => typed(&metadata),
        Reply::Async {
            operation,
            metadata,
        } => {
            check_operation(&operation);
            typed(&metadata);
        }
        Reply::Error(error) => {
            let _ = error.cause();
            // Not even JSON's syntax (the envelope's unknown fields are skipped
            // unchecked, so this is the test, not reading a `Value`).
            if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
                assert_eq!((error.status, error.code), (status, status));
                let quoted = String::from_utf8_lossy(&body[..body.len().min(200)]);
                assert!(error.message.ends_with(quoted.as_ref()), "{error:?}");
            }
        }
    }
}

/// Splits an operation URL as an async reply's `operation` field is split.
///
/// # Panics
/// When the path keeps a trailing `/`, or loses the `/1.0/` the URL's path holds.
pub fn operation_url(url: &str) {
    let operation = OperationRef::parse(url);
    check_operation(&operation);
    let path = url.split_once('?').map_or(url, |(path, _)| path);
    if path.contains("/1.0/") {
        assert!(
            operation.path.starts_with("/1.0/") || operation.path == "/1.0",
            "{url:?} gave {operation:?}"
        );
    }
}

/// Reads an image's `created_at` (RFC 3339) as the registry does.
///
/// # Panics
/// When a time that reads does not read the same once written back in RFC 3339's
/// canonical form (by the core's own calendar arithmetic, `UtcDateTime`).
pub fn timestamp(text: &str) {
    let Some(time) = parse_rfc3339(text) else {
        return;
    };
    let utc = UtcDateTime::of(time);
    let canonical = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second
    );
    if (0..=9999).contains(&utc.year) {
        assert_eq!(
            parse_rfc3339(&canonical),
            Some(time),
            "{text:?} read as {canonical}"
        );
    }
}

fn check_operation(operation: &OperationRef) {
    assert!(!operation.path.ends_with('/'), "{operation:?}");
}

/// Reads `metadata` as `T` the way the client does; `None` when it is not a `T`.
fn read<T: DeserializeOwned>(metadata: &Value) -> Option<T> {
    serde_json::from_value(metadata.clone()).ok()
}

fn typed(metadata: &Value) {
    if let Some(server) = read::<Server>(metadata) {
        let _ = parse_server_info(&server);
        let _ = server.has_extension("instances");
    }
    if let Some(operation) = read::<Operation>(metadata) {
        let _ = operation.metadata::<ExecStarted>();
        let _ = operation.metadata::<ExecEnded>();
        let _ = operation.metadata::<Published>();
    }
    if let Some(instance) = read::<Instance>(metadata) {
        let _ = instance.is_running();
        let _ = resources(std::slice::from_ref(&instance), &[]);
    }
    if let Some(instances) = read::<Vec<Instance>>(metadata) {
        let listed = resources(&instances, &[]);
        assert_eq!(listed.len(), instances.len());
    }
    if let Some(profile) = read::<Profile>(metadata) {
        let _ = profile.root_disk_pool();
        let _ = resources(&[], std::slice::from_ref(&profile));
    }
    if let Some(profiles) = read::<Vec<Profile>>(metadata) {
        let listed = resources(&[], &profiles);
        assert_eq!(listed.len(), profiles.len());
    }
    if let Some(image) = read::<Image>(metadata) {
        let _ = parse_image(&image);
    }
    if let Some(images) = read::<Vec<Image>>(metadata) {
        images.iter().for_each(|image| drop(parse_image(image)));
    }
    if let Some(alias) = read::<Alias>(metadata) {
        let _ = alias.target;
    }
    if let Some(urls) = read::<Vec<String>>(metadata) {
        assert_eq!(names(&urls).len(), urls.len());
    }
    if let Some(volume) = read::<Volume>(metadata) {
        check_volume(&volume);
    }
    if let Some(volumes) = read::<Vec<Volume>>(metadata) {
        volumes.iter().for_each(check_volume);
    }
    if let Some(state) = read::<VolumeState>(metadata) {
        let _ = state.usage.map(|usage| usage.used);
    }
}

/// A listed volume as the caches read it: a mark that reads writes back to config
/// that reads the same mark; every user is named with its kind.
fn check_volume(volume: &Volume) {
    let listed = cache_volume(volume);
    assert_eq!(listed.used_by.len(), volume.used_by.len());
    assert!(
        listed
            .used_by
            .iter()
            .all(|user| user.starts_with("instance ") || user.starts_with("profile ")),
        "{listed:?}"
    );
    if let Some(mark) = &listed.mark {
        let config = cache_config(mark)
            .into_iter()
            .filter_map(|(key, value)| value.as_str().map(|v| (key, v.to_owned())))
            .collect();
        assert_eq!(cache_mark_of(&config).as_ref(), Some(mark), "{volume:?}");
    }
    // A step holder's keys read back from the label they are written as.
    let keys = steps_of(&volume.config);
    assert_eq!(StepKey::split(&StepKey::join(&keys)), keys);
}
