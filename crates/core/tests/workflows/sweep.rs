//! The sweep removes what crashed jobs left, and nothing a running job uses.

use std::time::SystemTime;

use lxpack_core::domain::JobCommand;
use lxpack_core::ports::{AppStore, JobRecord, LeftoverKind};
use lxpack_fake::ExecScript;

use crate::helpers::*;

fn at(unix_seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(unix_seconds)
}

/// A world with an image, where each of `jobs` deployed `api` and kept its container
/// and profile, as a crash would leave them.
async fn kept_deploys(jobs: &[&lxpack_core::domain::JobId]) -> World {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
    for deploy_job in jobs {
        let mut request = world.deploy_request("api", deploy_job);
        request.keep = true;
        world
            .workflows
            .deploy(&request, &world.events, &world.cancel)
            .await
            .unwrap();
    }
    world
}

/// Records `job`, a deploy of `api`, as running since `started_at`.
async fn record_running(world: &World, job: &lxpack_core::domain::JobId, started_at: SystemTime) {
    world
        .store
        .record_job(&JobRecord::running(
            job.clone(),
            JobCommand::Deploy,
            key("web"),
            Some("api".into()),
            started_at,
        ))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn removes_leftovers_of_jobs_that_are_not_running() {
    let crashed = job(1_700_000_200);
    let running = job(1_700_000_300);
    let world = kept_deploys(&[&crashed, &running]).await;
    record_running(&world, &running, SystemTime::UNIX_EPOCH).await;

    let dry = world
        .workflows
        .sweep(true, at(1_700_000_360), &world.events)
        .await
        .unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert_eq!(
        world.runtime.instances().len(),
        2,
        "a dry run removes nothing"
    );

    let report = world
        .workflows
        .sweep(false, at(1_700_000_360), &world.events)
        .await
        .unwrap();
    let removed: Vec<(LeftoverKind, Option<_>)> = report
        .removed
        .iter()
        .map(|l| (l.kind, l.job.clone()))
        .collect();
    assert_eq!(
        removed,
        [
            (LeftoverKind::Instance, Some(crashed.clone())),
            (LeftoverKind::Profile, Some(crashed.clone()))
        ]
    );
    assert_eq!(report.active.len(), 2);
    let left: Vec<_> = world
        .runtime
        .instances()
        .into_iter()
        .map(|i| i.name.job())
        .collect();
    assert_eq!(left, [Some(running)]);
}

/// A killed lxpack leaves its job `Running` in the store for good; once that is longer
/// than any job can last, the sweep counts it as dead and removes its leftovers.
#[tokio::test(start_paused = true)]
async fn a_job_running_for_longer_than_any_job_can_last_is_dead() {
    let killed = job(1_700_000_200);
    let world = kept_deploys(&[&killed]).await;
    record_running(&world, &killed, at(1_700_000_200)).await;
    let longest = world
        .workflows
        .settings()
        .timeouts
        .longest_job(world.workflows.settings().provisioners.len())
        .as_secs();
    let _ = world.events.take();

    // Within the bound the job may still run: nothing is touched.
    let report = world
        .workflows
        .sweep(false, at(1_700_000_200 + longest), &world.events)
        .await
        .unwrap();
    assert!(
        report.removed.is_empty() && report.stale_jobs.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.active.len(), 2);

    // Past it, the job is dead: its leftovers go, with a warning that says why.
    let report = world
        .workflows
        .sweep(false, at(1_700_000_200 + longest + 1), &world.events)
        .await
        .unwrap();
    assert_eq!(report.stale_jobs, [killed]);
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert!(world.runtime.instances().is_empty());
    let warned = world.events.take().into_iter().any(|event| {
        matches!(event, lxpack_core::events::Event::Warning { message } if message.contains("its process is gone"))
    });
    assert!(warned);
}
