//! The sweep removes what crashed jobs left, nothing a live job uses, and nothing it
//! did not make, whatever its name.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{
    ImageAlias, ImageRef, ImageSelector, InstanceName, JobCommand, JobId, JobRecord, JobStatus,
    LaunchSpec, ProfileName, ProfileSpec,
};
use lxpack_core::ports::{JobHistory, ResourceKind};
use lxpack_core::workflows::SpareReason;
use lxpack_fake::{ExecScript, InstanceStatus};

use crate::helpers::*;

fn at(unix_seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(unix_seconds)
}

/// A world with an image, where each of `jobs` deployed `api` and kept its container
/// and profile, as a crash would leave them (kept with no time to live, so nothing
/// spares them as kept).
async fn kept_deploys(jobs: &[&JobId]) -> World {
    let mut settings = settings();
    settings.keep.expiry = Duration::ZERO;
    let world = World::with(settings, true);
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
    for deploy_job in jobs {
        world.deploy_kept("api", deploy_job).await.unwrap();
    }
    world
}

/// Records `job`, a deploy of `api`, as running since `started_at`.
async fn record_running(world: &World, job: &JobId, started_at: SystemTime) {
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

fn longest(world: &World) -> u64 {
    world
        .workflows
        .settings()
        .timeouts
        .longest_job(world.workflows.settings().provisioners.len())
        .as_secs()
}

#[tokio::test(start_paused = true)]
async fn removes_leftovers_of_jobs_that_ended_and_spares_running_ones() {
    let crashed = job(1_700_000_200);
    let running = job(1_700_000_300);
    let world = kept_deploys(&[&crashed, &running]).await;
    record_running(&world, &running, at(1_700_000_300)).await;

    world.clock.set(at(1_700_000_360));
    let dry = world.workflows.sweep(true, &world.events).await.unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert_eq!(
        world.runtime.instances().len(),
        2,
        "a dry run removes nothing"
    );

    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    let removed: Vec<(ResourceKind, Option<JobId>)> = report
        .removed
        .iter()
        .map(|r| (r.kind, r.labels.as_ref().map(|l| l.job.clone())))
        .collect();
    assert_eq!(
        removed,
        [
            (ResourceKind::Instance, Some(crashed.clone())),
            (ResourceKind::Profile, Some(crashed.clone()))
        ]
    );
    assert_eq!(report.spared.len(), 2);
    assert!(
        report
            .spared
            .iter()
            .all(|s| s.reason == SpareReason::Running)
    );
    let left: Vec<_> = world
        .runtime
        .instances()
        .into_iter()
        .map(|i| i.name.job())
        .collect();
    assert_eq!(left, [Some(running)]);
}

/// A killed lxpack leaves its job `Running` in the history for good; once that is
/// longer than any job can last, the sweep records it as lost and removes its
/// leftovers.
#[tokio::test(start_paused = true)]
async fn a_job_running_for_longer_than_any_job_can_last_is_lost() {
    let killed = job(1_700_000_200);
    let world = kept_deploys(&[&killed]).await;
    record_running(&world, &killed, at(1_700_000_200)).await;
    let longest = longest(&world);
    let _ = world.events.take();

    // Within the bound the job may still run: nothing is touched.
    world.clock.set(at(1_700_000_200 + longest));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(
        report.removed.is_empty() && report.lost_jobs.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.spared.len(), 2);

    // A dry run past it reports the job lost but records nothing.
    world.clock.set(at(1_700_000_200 + longest + 1));
    let dry = world.workflows.sweep(true, &world.events).await.unwrap();
    assert_eq!(dry.lost_jobs, std::slice::from_ref(&killed));
    assert_eq!(world.store.job(&killed).unwrap().status, JobStatus::Running);

    // Past it, the job is lost: its leftovers go, with a warning that says why.
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.lost_jobs, std::slice::from_ref(&killed));
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert!(world.runtime.instances().is_empty());
    let record = world.store.job(&killed).unwrap();
    assert_eq!(record.status, JobStatus::Lost);
    assert!(record.ended_at.is_some());
    let warned = world.events.take().into_iter().any(|event| {
        matches!(event, lxpack_core::events::Event::Warning { message } if message.contains("its process is gone"))
    });
    assert!(warned);
}

/// What another user made, named like lxpack's resources but without its labels, is
/// reported and never touched.
#[tokio::test(start_paused = true)]
async fn what_lxpack_did_not_make_is_left_alone_whatever_its_name() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    let foreign = format!("lxpack-deploy-web-api-00000000-{}", job(1_600_000_000));
    world.runtime.add_profile(ProfileSpec {
        name: ProfileName::parse(&foreign).unwrap(),
        description: "someone else's".into(),
        mounts: vec![],
        labels: None,
        standby: None,
    });
    for name in ["lxpack-userbox", foreign.as_str(), "userbox"] {
        world.runtime.add_instance(
            &LaunchSpec {
                name: InstanceName::parse(name).unwrap(),
                image: ImageRef::Local(ImageSelector::Alias(
                    ImageAlias::parse(BASE_ALIAS).unwrap(),
                )),
                profile: None,
                ephemeral: false,
                isolation: Default::default(),
                limits: Default::default(),
                network: Default::default(),
                labels: None,
                standby: None,
                map_owner: None,
                from_snapshot: None,
                timeout: Duration::from_secs(60),
            },
            InstanceStatus::Running,
        );
    }
    world.clock.set(at(1_800_000_000));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    let foreign_names: Vec<(ResourceKind, &str)> = report
        .foreign
        .iter()
        .map(|r| (r.kind, r.name.as_str()))
        .collect();
    assert_eq!(
        foreign_names,
        [
            (ResourceKind::Instance, foreign.as_str()),
            (ResourceKind::Instance, "lxpack-userbox"),
            (ResourceKind::Profile, foreign.as_str()),
        ]
    );
    assert_eq!(world.runtime.instances().len(), 3);
    assert_eq!(world.runtime.profiles().len(), 1);
}

/// Two build hosts with their own histories share a daemon: a job this history does
/// not know may be running on the other host, until it is older than any job can be.
#[tokio::test(start_paused = true)]
async fn a_job_this_history_does_not_know_is_spared_while_it_may_run_elsewhere() {
    let elsewhere = job(1_700_000_200);
    let world = kept_deploys(&[&elsewhere]).await;
    // The other host's history knew the job; this one forgets it.
    let other_history = lxpack_fake::FakeAppStore::new();
    other_history
        .record_job(&world.store.job(&elsewhere).unwrap())
        .await
        .unwrap();
    world.store.forget_job(&elsewhere);
    let longest = longest(&world);

    world.clock.set(at(1_700_000_200 + longest));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(report.spared.len(), 2);
    assert!(
        report
            .spared
            .iter()
            .all(|s| s.reason == SpareReason::UnknownJob)
    );

    world.clock.set(at(1_700_000_200 + longest + 1));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert!(world.runtime.instances().is_empty());
    assert!(world.runtime.profiles().is_empty());
}

/// A killed lxpack's job is lost as soon as the sweep can tell its process is gone: no
/// need to wait hours on the same host.
#[tokio::test(start_paused = true)]
async fn a_job_whose_process_is_gone_is_lost_at_once() {
    let killed = job(1_700_000_200);
    let world = kept_deploys(&[&killed]).await;
    // What a killed process leaves: the job recorded running, by this process.
    let mut record = world.store.job(&killed).unwrap();
    assert_eq!(record.runner, Some(lxpack_fake::FakeRunners::runner(4242)));
    record.status = JobStatus::Running;
    record.ended_at = None;
    world.store.record_job(&record).await.unwrap();

    world.clock.set(at(1_700_000_300));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "alive: {report:?}");
    assert_eq!(report.spared.len(), 2);

    world.runners.kill(4242);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.lost_jobs, std::slice::from_ref(&killed));
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert_eq!(world.store.job(&killed).unwrap().status, JobStatus::Lost);
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("its process (4242 on fake-host) is gone"))
    );
}
