//! End to end: the core's workflows with this catalog on moto, the fake runtime,
//! registry and app store. Buildimage picks the container image that matches the AMI's
//! OS as EC2 describes it; retention deletes the images whose AMI was deregistered and
//! leaves every other app's images alone, even those whose AMIs are gone too.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lxpack_core::domain::{
    AmiId, App, DeletionReason, ImageAlias, ImageRef, ImageSelector, JobId, property,
};
use lxpack_core::ports::RuntimeCapabilities;
use lxpack_core::workflows::{BuildImageRequest, Ports, Settings, Workflows};
use lxpack_fake::{FakeAppStore, FakeRuntime, ImageBuilder, RecordingEvents};

use crate::helpers::{Moto, moto_or_skip};

const DEBIAN: &[(&str, &str)] = &[("os_family", "debian"), ("os_release", "12")];

fn job(n: u32) -> JobId {
    JobId::generate(1_700_000_000 + n, [n as u8; 8])
}

/// The image lxpack would have published for `app`'s job `n`, twin of `ami`.
fn published(app: &App, n: u32, ami: &AmiId) -> lxpack_core::domain::Image {
    let job = job(n);
    ImageBuilder::new(&format!("{}-{}-{n}", app.key.env, app.key.name))
        .alias(ImageAlias::for_job(&job))
        .property(property::APP, &app.key.name)
        .property(property::ENV, &app.key.env)
        .property(property::ROLE, &app.key.role)
        .property(property::COLOR, "")
        .property(property::JOB, job.as_str())
        .property(property::AMI, ami.as_str())
        .os("debian", "12")
        .created_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + u64::from(n)))
        .build()
}

fn jobs_left(registry: &lxpack_fake::FakeImageRegistry) -> BTreeSet<String> {
    registry
        .images()
        .iter()
        .filter_map(|image| image.properties.get(property::JOB).cloned())
        .collect()
}

#[tokio::test]
async fn purge_deletes_the_images_of_deregistered_amis_and_nothing_of_other_apps() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let web2 = moto.app("web2", None);

    let runtime = FakeRuntime::new();
    let registry = runtime.image_registry();
    let mut web_amis = Vec::new();
    for n in 1..=3 {
        let ami = moto.register(&Moto::ami_name(&web, n), "", DEBIAN).await;
        registry.add_image(published(&web, n, &ami));
        web_amis.push(ami);
    }
    for n in 11..=12 {
        let ami = moto.register(&Moto::ami_name(&web2, n), "", DEBIAN).await;
        registry.add_image(published(&web2, n, &ami));
        // web2's AMIs are deregistered too: purging web must not touch their images.
        moto.deregister(&ami).await;
    }
    moto.deregister(&web_amis[1]).await;

    let store = FakeAppStore::new();
    store.insert_app(web.clone());
    store.insert_app(web2.clone());
    let workflows = Workflows::new(
        Ports {
            runtime: Arc::new(runtime.clone()),
            registry: Arc::new(registry.clone()),
            amis: Some(Arc::new(moto.catalog())),
            apps: Arc::new(store.clone()),
            jobs: Arc::new(store),
            capabilities: RuntimeCapabilities {
                network_policies: Some(Arc::new(runtime.clone())),
                ..RuntimeCapabilities::all_of(&runtime)
            },
        },
        Settings::default(),
    );
    let events = RecordingEvents::new();

    let dry = workflows
        .purge_images(&web.key, true, &events)
        .await
        .unwrap();
    assert_eq!(dry.deleted.len(), 1);
    assert_eq!(registry.images().len(), 5, "a dry run deletes nothing");

    let report = workflows
        .purge_images(&web.key, false, &events)
        .await
        .unwrap();
    assert_eq!(report.skipped, None);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!report.count_only);
    let deleted: Vec<(String, Option<AmiId>, DeletionReason)> = report
        .deleted
        .iter()
        .map(|d| (d.job.to_string(), d.ami.clone(), d.reason))
        .collect();
    assert_eq!(
        deleted,
        [(
            job(2).to_string(),
            Some(web_amis[1].clone()),
            DeletionReason::AmiGone
        )]
    );
    assert_eq!(report.kept, 2);
    let left = jobs_left(&registry);
    let expected: BTreeSet<String> = [1, 3, 11, 12].iter().map(|n| job(*n).to_string()).collect();
    assert_eq!(left, expected);
}

#[tokio::test]
async fn purge_deletes_nothing_when_ec2_cannot_be_read() {
    let web = crate::helpers::app(&crate::helpers::unique_token(), "web", None);
    let runtime = FakeRuntime::new();
    let registry = runtime.image_registry();
    // Twin of an AMI that does not exist: deleted if the (empty) list were believed.
    registry.add_image(published(
        &web,
        1,
        &AmiId::parse("ami-0fedcba9876543210").unwrap(),
    ));
    let store = FakeAppStore::new();
    store.insert_app(web.clone());
    // A catalog whose endpoint refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broken = lxpack_aws::Ec2AmiCatalog::new(
        crate::helpers::moto_config(&format!("http://127.0.0.1:{port}"))
            .max_attempts(1)
            .build()
            .unwrap(),
    );
    let workflows = Workflows::new(
        Ports {
            runtime: Arc::new(runtime.clone()),
            registry: Arc::new(registry.clone()),
            amis: Some(Arc::new(broken)),
            apps: Arc::new(store.clone()),
            jobs: Arc::new(store),
            capabilities: RuntimeCapabilities {
                network_policies: Some(Arc::new(runtime.clone())),
                ..RuntimeCapabilities::all_of(&runtime)
            },
        },
        Settings::default(),
    );
    let report = workflows
        .purge_images(&web.key, false, &RecordingEvents::new())
        .await
        .unwrap();
    assert!(report.deleted.is_empty());
    assert!(
        report
            .skipped
            .as_deref()
            .unwrap_or_default()
            .contains("cannot reach"),
        "{:?}",
        report.skipped
    );
    assert_eq!(registry.images().len(), 1);
}

#[tokio::test]
async fn buildimage_starts_from_the_image_matching_the_amis_os_and_purges_gone_twins() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    // The AMI Packer just built: a Cloud Deploy name, the OS in its tags, arm64.
    let source = moto
        .public_ami("amzn2-ami-hvm-2.0.20260930.0-arm64-gp2")
        .await;
    let built = moto
        .create_from(
            &source,
            &Moto::ami_name(&web, 20),
            "",
            &[("os_family", "ubuntu"), ("os_release", "22.04")],
        )
        .await;
    // An older AMI of the app, deregistered since, whose image is still in the store.
    let old = moto.register(&Moto::ami_name(&web, 1), "", DEBIAN).await;
    moto.deregister(&old).await;

    let runtime = FakeRuntime::new();
    let registry = runtime.image_registry();
    for (alias, family, release, architecture) in [
        ("ubuntu-22.04-amd64", "ubuntu", "22.04", "x86_64"),
        ("ubuntu-22.04-arm64", "ubuntu", "22.04", "aarch64"),
        ("debian-12-arm64", "debian", "12", "aarch64"),
    ] {
        registry.add_image(
            ImageBuilder::new(alias)
                .alias(ImageAlias::parse(alias).unwrap())
                .os(family, release)
                .architecture(architecture)
                .build(),
        );
    }
    registry.add_image(published(&web, 1, &old));
    let store = FakeAppStore::new();
    store.insert_app(web.clone());
    let workflows = Workflows::new(
        Ports {
            runtime: Arc::new(runtime.clone()),
            registry: Arc::new(registry.clone()),
            amis: Some(Arc::new(moto.catalog())),
            apps: Arc::new(store.clone()),
            jobs: Arc::new(store.clone()),
            capabilities: RuntimeCapabilities {
                network_policies: Some(Arc::new(runtime.clone())),
                ..RuntimeCapabilities::all_of(&runtime)
            },
        },
        Settings::default(),
    );
    let new_job = job(20);
    let report = workflows
        .build_image(
            &BuildImageRequest {
                ami: Some(built.clone()),
                ..BuildImageRequest::new(web.key.clone(), new_job.clone())
            },
            &RecordingEvents::new(),
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();

    assert_eq!(
        report.source,
        ImageRef::Local(ImageSelector::parse("ubuntu-22.04-arm64").unwrap())
    );
    assert_eq!(
        report
            .image
            .properties
            .get(property::AMI)
            .map(String::as_str),
        Some(built.as_str())
    );
    assert_eq!(
        store.app(&web.key).unwrap().build_infos.container_image,
        Some(new_job.clone())
    );
    let deleted: Vec<(JobId, DeletionReason)> = report
        .retention
        .deleted
        .iter()
        .map(|d| (d.job.clone(), d.reason))
        .collect();
    assert_eq!(deleted, [(job(1), DeletionReason::AmiGone)]);
    assert!(jobs_left(&registry).contains(new_job.as_str()));
}
