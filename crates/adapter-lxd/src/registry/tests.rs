//! The registry port on recorded replies of LXD 5.0 and Incus 6.0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use lxpack_core::domain::InstanceName;
use lxpack_core::ports::{Compression, ContainerRuntime as _};
use tokio::time::Instant;

use super::*;
use crate::mock::MockTransport;
use crate::testing::{Daemon, Play, client, metadata_of, on_both, operation_of};

#[test]
fn parses_images_and_times() {
    let image: reply::Image = serde_json::from_value(serde_json::json!({
        "fingerprint": "a".repeat(64),
        "aliases": [{"name": "lxpack-test-busybox", "description": ""}],
        "properties": {"os": "busybox", "release": "1.35"},
        "architecture": "x86_64",
        "created_at": "2024-01-02T03:04:05.123456789Z",
        "size": 1234
    }))
    .unwrap();
    let image = parse_image(&image).unwrap();
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

/// Found while writing the daemon_reply fuzz target: a short time of day, a
/// multibyte character where the offset starts, and fields too large for the calendar
/// arithmetic panicked (out of range, not a char boundary, overflow).
#[test]
fn times_that_are_not_rfc3339_read_as_none_without_a_panic() {
    for text in [
        "2024-01-02T1:2:3",
        "2024-01-02T03:04:05\u{e9}",
        "2024-01-02T03:04:05.1\u{e9}00:00",
        "99999999999999999-01-02T03:04:05Z",
        "2024-99999999999999-02T03:04:05Z",
        "2024-01-02T03:04:05+99999999999999999:00",
        "2024-13-02T03:04:05Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:04:05+1:00:00:00x",
        "2024-01-02-03T03:04:05Z",
        "+2024-01-02T03:04:05Z",
        "1969-12-31T23:59:59Z",
    ] {
        assert_eq!(parse_rfc3339(text), None, "{text:?}");
    }
    let at = |seconds| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds));
    assert_eq!(parse_rfc3339("2024-01-02T03:04:05Z"), at(1_704_164_645));
    assert_eq!(
        parse_rfc3339("2024-01-02T04:04:05+01:00"),
        at(1_704_164_645)
    );
    assert_eq!(parse_rfc3339("2024-01-02T02:04:05-01"), at(1_704_164_645));
    assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), at(253_402_300_799));
}

on_both!(
    publish_reads_the_new_image,
    publish_of_a_running_instance_is_instance_running,
    resolve_follows_the_alias_to_the_image,
    images_are_listed_and_deleted,
);

fn publish_request(seconds: u64) -> PublishRequest {
    PublishRequest {
        instance: InstanceName::parse("lxpack-fixture-s").unwrap(),
        alias: ImageAlias::parse("lxpack-fixture-image").unwrap(),
        properties: BTreeMap::from([("os".to_owned(), "busybox".to_owned())]),
        compression: Compression::None,
        timeout: Duration::from_secs(seconds),
    }
}

fn fingerprint(daemon: Daemon) -> String {
    metadata_of(daemon, "image", 0)["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn publish_reads_the_new_image(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "alias-missing")
        .one(daemon, "server", 0)
        .all(daemon, "publish")
        .all(daemon, "image");
    let image = client(&mock)
        .publish_image(&publish_request(300), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(image.fingerprint.as_str(), fingerprint(daemon));
    assert_eq!(image.aliases[0].as_str(), "lxpack-fixture-image");
    assert_eq!(image.properties["os"], "busybox");
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/images/aliases/lxpack-fixture-image".to_owned(),
            "GET /1.0".into(),
            "POST /1.0/images".into(),
            format!(
                "GET {}/wait?timeout=300",
                operation_of(daemon, "publish", 0)
            ),
            format!("GET /1.0/images/{}", fingerprint(daemon)),
        ]
    );
    let body = mock.requests()[2].body_json().unwrap();
    assert_eq!(body["source"]["name"], "lxpack-fixture-s");
    assert_eq!(body["aliases"][0]["name"], "lxpack-fixture-image");
    assert_eq!(body["compression_algorithm"], "none");
}

#[tokio::test]
async fn publish_uses_the_cached_server_and_refuses_a_taken_alias_first() {
    let daemon = Daemon::Lxd;
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0).all(daemon, "alias");
    let client = client(&mock);
    client.server_info().await.unwrap();
    let error = client
        .publish_image(&publish_request(300), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::AliasExists { alias } if alias.as_str() == "lxpack-fixture-image"),
        "{error:?}"
    );
    assert_eq!(
        mock.lines(),
        ["GET /1.0", "GET /1.0/images/aliases/lxpack-fixture-image"]
    );
    // Without the alias, the publish reads no GET /1.0 of its own.
    let mock = MockTransport::new();
    mock.one(daemon, "server", 0)
        .all(daemon, "alias-missing")
        .all(daemon, "publish")
        .all(daemon, "image");
    let client = crate::testing::client(&mock);
    client.server_info().await.unwrap();
    client
        .publish_image(&publish_request(300), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(mock.lines().iter().filter(|l| *l == "GET /1.0").count(), 1);
}

/// LXD fails the publish operation; Incus answers its `/wait` with an error envelope.
async fn publish_of_a_running_instance_is_instance_running(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "alias-missing")
        .one(daemon, "server", 0)
        .all(daemon, "publish-running");
    let error = client(&mock)
        .publish_image(&publish_request(300), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::InstanceRunning { instance } if instance.as_str() == "lxpack-fixture-s"),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_publish_past_its_limit_is_timed_out() {
    let daemon = Daemon::Incus;
    let mock = MockTransport::new();
    mock.all(daemon, "alias-missing")
        .one(daemon, "server", 0)
        .one(daemon, "publish", 0)
        .hang();
    let started = Instant::now();
    let error = client(&mock)
        .publish_image(&publish_request(30), &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::TimedOut { instance, after } if instance.as_str() == "lxpack-fixture-s" && *after == Duration::from_secs(30)),
        "{error:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_publish_is_cancelled() {
    let daemon = Daemon::Lxd;
    let mock = MockTransport::new();
    mock.all(daemon, "alias-missing")
        .one(daemon, "server", 0)
        .one(daemon, "publish", 0)
        .hang();
    let cancel = CancellationToken::new();
    let client = client(&mock);
    let request = publish_request(300);
    let trigger = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(client.publish_image(&request, &cancel), trigger);
    assert!(
        matches!(&result, Err(RegistryError::Cancelled { instance }) if instance.as_str() == "lxpack-fixture-s"),
        "{result:?}"
    );
}

async fn resolve_follows_the_alias_to_the_image(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "alias")
        .all(daemon, "image")
        .all(daemon, "alias-missing")
        .all(daemon, "image-missing");
    let client = client(&mock);
    let alias = ImageSelector::Alias(ImageAlias::parse("lxpack-fixture-image").unwrap());
    let image = client.resolve_image(&alias).await.unwrap();
    assert_eq!(image.fingerprint.as_str(), fingerprint(daemon));
    let missing = ImageSelector::Alias(ImageAlias::parse("lxpack-fixture-nope").unwrap());
    let error = client.resolve_image(&missing).await.unwrap_err();
    assert!(
        matches!(&error, RegistryError::NotFound { image } if image.contains("lxpack-fixture-nope")),
        "{error:?}"
    );
    let error = client
        .resolve_image(&ImageSelector::Fingerprint("0".repeat(64)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::NotFound { .. }),
        "{error:?}"
    );
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/images/aliases/lxpack-fixture-image".to_owned(),
            format!("GET /1.0/images/{}", fingerprint(daemon)),
            "GET /1.0/images/aliases/lxpack-fixture-nope".into(),
            format!("GET /1.0/images/{}", "0".repeat(64)),
        ]
    );
}

async fn images_are_listed_and_deleted(daemon: Daemon) {
    let mock = MockTransport::new();
    mock.all(daemon, "images").all(daemon, "delete-image");
    let client = client(&mock);
    let images = client.list_images().await.unwrap();
    let published = images
        .iter()
        .find(|i| i.fingerprint.as_str() == fingerprint(daemon))
        .unwrap();
    assert!(published.size_bytes > 0 && published.created_at > SystemTime::UNIX_EPOCH);
    assert!(images.iter().any(|i| {
        i.aliases
            .iter()
            .any(|a| a.as_str() == "lxpack-test-busybox")
    }));
    client.delete_image(&published.fingerprint).await.unwrap();
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/images?recursion=1".to_owned(),
            format!("DELETE /1.0/images/{}", fingerprint(daemon)),
            format!(
                "GET {}/wait?timeout=120",
                operation_of(daemon, "delete-image", 0)
            ),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_registry_call_past_its_deadline_says_how_long_it_was_given() {
    let mock = MockTransport::new();
    mock.hang();
    let error = client(&mock).list_images().await.unwrap_err();
    let RegistryError::CallTimedOut { operation, after } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(operation, "list images");
    assert_eq!(*after, std::time::Duration::from_secs(10));
    assert_eq!(error.to_string(), "list images timed out after 10s");
}
