use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use lxpack_core::domain::{ImageRef, InstanceName, LaunchSpec, property};
use lxpack_core::ports::{Compression, ContainerRuntime};
use tokio::time::Instant;

use super::*;
use crate::image::ImageBuilder;

fn name(text: &str) -> InstanceName {
    InstanceName::parse(text).unwrap()
}

fn alias(text: &str) -> ImageAlias {
    ImageAlias::parse(text).unwrap()
}

fn publish(instance: &str, to: &str) -> PublishRequest {
    PublishRequest {
        instance: name(instance),
        alias: alias(to),
        properties: BTreeMap::from([
            (property::JOB.to_owned(), "job".to_owned()),
            (property::RELEASE.to_owned(), "12.5".to_owned()),
        ]),
        compression: Compression::Zstd,
        timeout: Duration::from_secs(60),
    }
}

/// A registry whose daemon has image `base` and a stopped instance `lxpack-a`.
async fn stopped() -> FakeImageRegistry {
    let registry = FakeImageRegistry::new();
    registry.add_image(
        ImageBuilder::new("base")
            .alias(alias("base"))
            .os("debian", "12")
            .architecture("aarch64")
            .size_bytes(100)
            .build(),
    );
    let runtime = registry.runtime();
    let spec = LaunchSpec {
        name: name("lxpack-a"),
        image: ImageRef::Local(ImageSelector::Alias(alias("base"))),
        profile: None,
        ephemeral: false,
        isolation: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: Duration::from_secs(30),
    };
    let cancel = CancellationToken::new();
    runtime.launch_instance(&spec, &cancel).await.unwrap();
    runtime
        .stop_instance(&name("lxpack-a"), None)
        .await
        .unwrap();
    registry
}

#[tokio::test]
async fn publish_keeps_properties_architecture_and_a_fake_clock() {
    let registry = stopped().await;
    let cancel = CancellationToken::new();
    let image = registry
        .publish_image(&publish("lxpack-a", "job-1"), &cancel)
        .await
        .unwrap();
    assert_eq!(image.aliases, vec![alias("job-1")]);
    assert_eq!(image.architecture, "aarch64");
    assert_eq!(image.properties[property::OS], "debian");
    assert_eq!(image.properties[property::RELEASE], "12.5");
    assert_eq!(image.properties[property::JOB], "job");
    assert_eq!(image.size_bytes, 100);
    assert_eq!(
        image.created_at,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    );

    let second = registry
        .publish_image(&publish("lxpack-a", "job-2"), &cancel)
        .await
        .unwrap();
    assert_eq!(second.created_at, image.created_at + Duration::from_secs(1));
    assert_ne!(second.fingerprint, image.fingerprint);

    registry.set_clock(UNIX_EPOCH);
    let third = registry
        .publish_image(&publish("lxpack-a", "job-3"), &cancel)
        .await
        .unwrap();
    assert_eq!(third.created_at, UNIX_EPOCH);
    assert_eq!(registry.image(&alias("job-3")), Some(third));
}

#[tokio::test]
async fn fingerprints_are_deterministic() {
    let cancel = CancellationToken::new();
    let a = stopped()
        .await
        .publish_image(&publish("lxpack-a", "x"), &cancel)
        .await
        .unwrap();
    let b = stopped()
        .await
        .publish_image(&publish("lxpack-a", "y"), &cancel)
        .await
        .unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
}

#[tokio::test]
async fn publish_needs_a_stopped_instance_and_a_free_alias() {
    let registry = stopped().await;
    let cancel = CancellationToken::new();
    let taken = registry
        .publish_image(&publish("lxpack-a", "base"), &cancel)
        .await;
    assert!(
        matches!(taken, Err(RegistryError::AliasExists { .. })),
        "{taken:?}"
    );
    assert_eq!(registry.images().len(), 1);
    let missing = registry
        .publish_image(&publish("lxpack-none", "x"), &cancel)
        .await;
    assert!(
        matches!(missing, Err(RegistryError::InstanceNotFound { .. })),
        "{missing:?}"
    );

    let runtime = registry.runtime();
    runtime.delete_instance(&name("lxpack-a")).await.unwrap();
    let spec = LaunchSpec {
        name: name("lxpack-a"),
        image: ImageRef::Local(ImageSelector::Alias(alias("base"))),
        profile: None,
        ephemeral: false,
        isolation: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: Duration::from_secs(30),
    };
    runtime.launch_instance(&spec, &cancel).await.unwrap();
    let running = registry
        .publish_image(&publish("lxpack-a", "x"), &cancel)
        .await;
    assert!(
        matches!(running, Err(RegistryError::InstanceRunning { .. })),
        "{running:?}"
    );
    assert_eq!(registry.images().len(), 1);
}

#[tokio::test]
async fn resolve_by_alias_or_prefix_and_delete() {
    let registry = stopped().await;
    let base = ImageBuilder::new("base").build().fingerprint;
    let by_alias = registry
        .resolve_image(&ImageSelector::Alias(alias("base")))
        .await
        .unwrap();
    assert_eq!(by_alias.fingerprint, base);
    let by_prefix = registry
        .resolve_image(&ImageSelector::Fingerprint(base.short().to_owned()))
        .await
        .unwrap();
    assert_eq!(by_prefix.fingerprint, base);
    let missing = registry
        .resolve_image(&ImageSelector::Alias(alias("nope")))
        .await;
    assert!(
        matches!(missing, Err(RegistryError::NotFound { ref image }) if image == "nope"),
        "{missing:?}"
    );

    registry.delete_image(&base).await.unwrap();
    let again = registry.delete_image(&base).await;
    assert!(
        matches!(again, Err(RegistryError::NotFound { .. })),
        "{again:?}"
    );
    assert!(registry.list_images().await.unwrap().is_empty());
}

#[test]
fn adding_an_image_moves_its_aliases() {
    let registry = FakeImageRegistry::new();
    registry.add_image(ImageBuilder::new("old").alias(alias("latest")).build());
    registry.add_image(ImageBuilder::new("new").alias(alias("latest")).build());
    let images = registry.images();
    assert_eq!(images.len(), 2);
    assert!(images[0].aliases.is_empty());
    assert_eq!(
        registry.image(&alias("latest")).unwrap().fingerprint,
        ImageBuilder::new("new").build().fingerprint
    );
    registry.add_image(ImageBuilder::new("new").build());
    assert_eq!(registry.images().len(), 2);
    assert!(registry.image(&alias("latest")).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_hanging_publish_times_out_or_is_cancelled_and_adds_nothing() {
    let registry = stopped().await;
    registry.inject(RegistryOp::PublishImage, When::Every, Fault::Hang);
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let result = registry
        .publish_image(&publish("lxpack-a", "x"), &cancel)
        .await;
    assert!(
        matches!(result, Err(RegistryError::TimedOut { after, .. }) if after == Duration::from_secs(60)),
        "{result:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    cancel.cancel();
    let result = registry
        .publish_image(&publish("lxpack-a", "x"), &cancel)
        .await;
    assert!(
        matches!(result, Err(RegistryError::Cancelled { .. })),
        "{result:?}"
    );
    assert_eq!(registry.images().len(), 1);
    registry.clear_faults();
    let result = registry
        .publish_image(&publish("lxpack-a", "x"), &cancel)
        .await;
    assert!(
        matches!(result, Err(RegistryError::Cancelled { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn failures_map_to_registry_errors() {
    let registry = stopped().await;
    registry.inject(
        RegistryOp::PublishImage,
        When::Nth(1),
        Fault::fail(FakeFailure::NotFound),
    );
    registry.inject(
        RegistryOp::ListImages,
        When::Nth(1),
        Fault::fail(FakeFailure::Unreachable),
    );
    registry.inject(
        RegistryOp::DeleteImage,
        When::Nth(1),
        Fault::fail(FakeFailure::Rejected),
    );
    let cancel = CancellationToken::new();
    let publish = registry
        .publish_image(&publish("lxpack-a", "x"), &cancel)
        .await;
    assert!(
        matches!(publish, Err(RegistryError::InstanceNotFound { .. })),
        "{publish:?}"
    );
    assert!(matches!(
        registry.list_images().await,
        Err(RegistryError::Unreachable(_))
    ));
    let base = ImageBuilder::new("base").build().fingerprint;
    assert!(matches!(
        registry.delete_image(&base).await,
        Err(RegistryError::Rejected { .. })
    ));
    assert_eq!(registry.images().len(), 1);
    assert_eq!(
        registry.call_points(),
        vec![
            (RegistryOp::PublishImage, 1),
            (RegistryOp::ListImages, 1),
            (RegistryOp::DeleteImage, 1)
        ]
    );
    assert_eq!(
        registry.calls()[2],
        RegistryCall::DeleteImage { fingerprint: base }
    );
    registry.clear_calls();
    assert!(registry.calls().is_empty());
    assert!(format!("{registry:?}").contains("images: 1"));
}
