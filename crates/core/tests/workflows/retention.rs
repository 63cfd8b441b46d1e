//! Retention through the workflows: only this app's images, tied to AMI twins, never
//! the current one; and nothing at all when the AMI list cannot be read. (Cloud
//! Deploy kept the newest N of the whole store and deleted other apps' images.)

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use lxpack_core::domain::{DeletionReason, ImageAlias, JobId, property};
use lxpack_fake::{CatalogOp, FakeAmiCatalog, FakeFailure, Fault, ImageBuilder, When};

use crate::helpers::*;

/// Seeds web's images j1..j6 (AMI twins 1..6, AMI 6 deregistered), web2's images, and
/// an image that only looks like web's. Returns web's jobs.
fn seed(world: &World) -> Vec<JobId> {
    let web = web_app();
    let mut web2 = web_app();
    web2.key.name = "web2".into();
    let jobs: Vec<JobId> = (1..=6).map(|n| job(1_600_000_000 + n)).collect();
    for (n, web_job) in (1_u32..).zip(&jobs) {
        world
            .registry
            .add_image(app_image(&format!("web-{n}"), "web", web_job, n));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000 + u64::from(n));
        if n <= 5 {
            world.catalog.insert_ami(
                REGION,
                FakeAmiCatalog::app_ami(&web, ami_id(n), at, debian()),
            );
        }
        world.registry.add_image(app_image(
            &format!("web2-{n}"),
            "web2",
            &job(1_500_000_000 + n),
            100 + n,
        ));
        world.catalog.insert_ami(
            REGION,
            FakeAmiCatalog::app_ami(&web2, ami_id(100 + n), at, debian()),
        );
    }
    world.registry.add_image(
        ImageBuilder::new("lookalike")
            .property(property::APP, "web")
            .build(),
    );
    let mut app = world.app();
    app.build_infos.container_image = Some(jobs[0].clone());
    world.store.insert_app(app);
    jobs
}

fn app_image(seed: &str, app: &str, job: &JobId, ami: u32) -> lxpack_core::domain::Image {
    ImageBuilder::new(seed)
        .alias(ImageAlias::for_job(job))
        .property(property::APP, app)
        .property(property::ENV, "prod")
        .property(property::ROLE, "webfront")
        .property(property::COLOR, "")
        .property(property::JOB, job.as_str())
        .property(property::AMI, ami_id(ami).as_str())
        .os("debian", "12")
        .build()
}

fn aliases(world: &World) -> BTreeSet<String> {
    world
        .registry
        .images()
        .iter()
        .flat_map(|i| {
            i.aliases
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn buildimage_purges_only_this_apps_images_without_twin_or_beyond_retention() {
    let world = World::new();
    let jobs = seed(&world);
    let images_before = world.registry.images().len();
    let new = job(1_700_000_100);
    let report = world.build(&new).await.unwrap();

    let deleted: Vec<(JobId, DeletionReason)> = report
        .retention
        .deleted
        .iter()
        .map(|d| (d.job.clone(), d.reason))
        .collect();
    assert_eq!(
        deleted,
        [
            (jobs[1].clone(), DeletionReason::BeyondRetention),
            (jobs[5].clone(), DeletionReason::AmiGone)
        ]
    );
    let left = aliases(&world);
    for kept in [&jobs[0], &jobs[2], &jobs[3], &jobs[4], &new] {
        assert!(left.contains(kept.as_str()), "{kept} was deleted");
    }
    // web2's six images, the lookalike and the base image are all still there.
    assert_eq!(world.registry.images().len(), images_before + 1 - 2);
    assert!(left.contains(BASE_ALIAS));
    assert_eq!(report.retention.kept, 5);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_deleted_when_the_ami_list_cannot_be_read() {
    let world = World::new();
    seed(&world);
    world.catalog.inject(
        CatalogOp::ListAppAmis,
        When::Every,
        Fault::fail(FakeFailure::Rejected),
    );
    let before = world.registry.images().len();
    let report = world.build(&job(1_700_000_100)).await.unwrap();
    assert!(report.retention.deleted.is_empty());
    assert_eq!(world.registry.images().len(), before + 1);
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("the AMI list could not be read"))
    );
}

#[tokio::test(start_paused = true)]
async fn purge_dry_run_reports_without_deleting() {
    let world = World::new();
    let jobs = seed(&world);
    let before = world.registry.images().len();
    let report = world
        .workflows
        .purge_images(&key("web"), true, &world.events)
        .await
        .unwrap();
    let deleted: Vec<JobId> = report.deleted.iter().map(|d| d.job.clone()).collect();
    assert_eq!(
        deleted,
        [jobs[5].clone()],
        "only the twin-less image goes; 5 remain"
    );
    assert_eq!(world.registry.images().len(), before);
    let report = world
        .workflows
        .purge_images(&key("web"), false, &world.events)
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert_eq!(world.registry.images().len(), before - 1);
}
