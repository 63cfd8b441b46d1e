//! Standby pools on the fakes: a deploy claims a ready standby and runs in it, once;
//! without one it starts cold and says so; every call of the claim, attach, run,
//! discard and refill paths fails in turn without a leak or a standby left claimed;
//! fills start what is missing and retire what is stale; the sweep and drains retire
//! only what no job claimed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use lxpack_core::domain::{
    InstanceName, JobCommand, JobId, Labels, Owner, RetireReason, StandbyState,
};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::{
    BoxError, ContainerRuntime, PoolRefill, RefillRequest, RuntimeError, ServerInfo, Standbys as _,
};
use lxpack_core::workflows::{DeployOutcome, FillRequest, PoolSize, SpareReason, WorkflowError};
use lxpack_fake::{FakeFailure, FakeInstance, Fault, RuntimeOp, When};

use crate::helpers::*;

/// Records the refills asked for; fails them when told to.
#[derive(Clone, Default)]
struct RecordingRefill {
    asked: Arc<Mutex<Vec<RefillRequest>>>,
    fail: bool,
}

impl RecordingRefill {
    fn asked(&self) -> Vec<RefillRequest> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl PoolRefill for RecordingRefill {
    async fn request_refill(&self, request: &RefillRequest) -> Result<(), BoxError> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        if self.fail {
            return Err("no process could be started".into());
        }
        Ok(())
    }
}

const IMAGE_JOB: u32 = 1_700_000_050;

/// A world whose app has an image and a pool of `size`, filled; no call recorded yet.
async fn pooled(size: usize) -> (World, RecordingRefill) {
    pooled_with(size, RecordingRefill::default()).await
}

async fn pooled_with(size: usize, refill: RecordingRefill) -> (World, RecordingRefill) {
    let mut settings = settings();
    settings.pool.default = PoolSize {
        size,
        ..PoolSize::default()
    };
    let mut world = World::with(settings, true);
    world.build(&job(IMAGE_JOB)).await.unwrap();
    world.workflows = world
        .workflows
        .clone()
        .with_pool_refill(Arc::new(refill.clone()));
    if size > 0 {
        let report = world
            .workflows
            .fill_pool(&fill(None), &world.events, &world.cancel)
            .await
            .unwrap();
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(report.pools[0].started.len(), size);
    }
    world.runtime.clear_calls();
    let _ = world.events.take();
    (world, refill)
}

/// The same world, its workflows configured with a pool of `size` (its standbys as
/// they are), asking `refill` for refills.
fn with_pool_size(world: World, size: usize, refill: &RecordingRefill) -> World {
    let mut settings = settings();
    settings.pool.default.size = size;
    World {
        workflows: lxpack_core::workflows::Workflows::new(
            world.workflows.ports().clone(),
            settings,
        )
        .with_clock(Arc::new(world.clock.clone()))
        .with_pool_refill(Arc::new(refill.clone())),
        ..world
    }
}

fn fill(size: Option<usize>) -> FillRequest {
    FillRequest {
        app: key("web"),
        owner: None,
        size,
    }
}

fn standbys(world: &World) -> Vec<FakeInstance> {
    world
        .runtime
        .instances()
        .into_iter()
        .filter(|i| i.standby.is_some())
        .collect()
}

fn waiting(world: &World) -> Vec<FakeInstance> {
    standbys(world)
        .into_iter()
        .filter(|i| i.labels.is_none())
        .collect()
}

fn claimed_events(world: &World) -> Vec<InstanceName> {
    world
        .events
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::StandbyClaimed { instance, .. } => Some(instance),
            _ => None,
        })
        .collect()
}

fn cold_reasons(world: &World) -> Vec<String> {
    world
        .events
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::ColdStart { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_deploy_runs_in_a_claimed_standby_with_its_checkout_attached() {
    let (world, refill) = pooled(2).await;
    let before: Vec<InstanceName> = waiting(&world).into_iter().map(|i| i.name).collect();
    let report = world.deploy("api", &job(1_700_000_200)).await.unwrap();
    let DeployOutcome::Built { instance, .. } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(
        before.contains(instance),
        "{instance} is not one of {before:?}"
    );
    assert_eq!(claimed_events(&world), vec![instance.clone()]);
    let ops: Vec<RuntimeOp> = world
        .runtime
        .call_points()
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert!(!ops.contains(&RuntimeOp::LaunchInstance), "{ops:?}");
    assert!(ops.contains(&RuntimeOp::AttachProfile), "{ops:?}");
    let steps = world.steps();
    assert!(
        !steps.contains(&Step::WaitReady),
        "a standby is ready: {steps:?}"
    );
    assert_eq!(
        steps.first(),
        Some(&Step::ClaimStandby),
        "the claim comes first: {steps:?}"
    );
    // The standby served this deploy and went; the other waits; nothing else is left.
    assert!(world.runtime.instance(instance).is_none());
    assert_eq!(waiting(&world).len(), 1);
    assert!(world.runtime.profiles().is_empty());
    assert_eq!(
        refill.asked(),
        vec![RefillRequest {
            app: key("web"),
            owner: None
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_deploy_that_finds_no_standby_starts_cold_and_asks_for_a_refill() {
    let (world, refill) = pooled(0).await;
    let world = with_pool_size(world, 3, &refill);
    let report = world.deploy("api", &job(1_700_000_200)).await.unwrap();
    let DeployOutcome::Built { instance, .. } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(
        instance.as_str().starts_with("lxpack-deploy-"),
        "{instance}"
    );
    let reasons = cold_reasons(&world);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("no standby"), "{reasons:?}");
    assert_eq!(refill.asked().len(), 1);
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_refill_that_cannot_start_is_a_warning_not_a_failure() {
    let refill = RecordingRefill {
        fail: true,
        ..RecordingRefill::default()
    };
    let (world, _) = pooled_with(1, refill).await;
    world.deploy("api", &job(1_700_000_200)).await.unwrap();
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("could not start refilling the standby pool of web")),
        "{:?}",
        world.events.warnings()
    );
}

#[tokio::test(start_paused = true)]
async fn a_deploy_that_loses_the_race_for_a_standby_takes_the_next() {
    let (world, _) = pooled(2).await;
    world.runtime.inject(
        RuntimeOp::ClaimStandby,
        When::Nth(1),
        Fault::FailWith(Arc::new(|| RuntimeError::Changed {
            name: "the first".into(),
            reason: "another job claimed it".into(),
        })),
    );
    let report = world.deploy("api", &job(1_700_000_200)).await.unwrap();
    assert_eq!(claimed_events(&world).len(), 1);
    let DeployOutcome::Built { instance, .. } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(instance.as_str().starts_with("lxpack-standby-"));
    assert_eq!(waiting(&world).len(), 1);
}

/// Another job's profile for a standby is its lock: a deploy that finds one leaves
/// that standby alone (no compare-and-set, no profile of its own), even when the
/// standby's labels still read as unclaimed, as when two claims' compare-and-sets
/// both passed on the daemon.
#[tokio::test(start_paused = true)]
async fn a_standby_whose_profile_another_job_created_is_that_jobs() {
    let (world, _) = pooled(2).await;
    let locks: Vec<lxpack_core::domain::ProfileSpec> = waiting(&world)
        .iter()
        .map(|standby| lxpack_core::domain::ProfileSpec {
            name: lxpack_core::domain::ProfileName::of(&standby.name),
            description: "another job's".into(),
            mounts: Vec::new(),
            labels: None,
            standby: None,
        })
        .collect();
    for lock in &locks {
        world.runtime.create_profile(lock).await.unwrap();
    }
    world.runtime.clear_calls();
    let report = world.deploy("api", &job(1_700_000_200)).await.unwrap();
    let DeployOutcome::Built { instance, .. } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(
        instance.as_str().starts_with("lxpack-deploy-"),
        "a cold start"
    );
    let claims = world
        .runtime
        .calls()
        .into_iter()
        .filter(|c| matches!(c, lxpack_fake::RuntimeCall::ClaimStandby { .. }))
        .count();
    assert_eq!(claims, 0, "no standby another job holds is claimed");
    // The other jobs' profiles are untouched; their standbys still wait for them.
    for lock in &locks {
        assert_eq!(
            world
                .runtime
                .profile(lock.name.as_str())
                .map(|p| p.description),
            Some("another job's".to_owned())
        );
    }
    assert_eq!(waiting(&world).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn deploys_that_lose_every_race_start_cold() {
    let (world, _) = pooled(2).await;
    world.runtime.inject(
        RuntimeOp::ClaimStandby,
        When::Every,
        Fault::FailWith(Arc::new(|| RuntimeError::Changed {
            name: "a standby".into(),
            reason: "another job claimed it".into(),
        })),
    );
    let report = world.deploy("api", &job(1_700_000_200)).await.unwrap();
    let DeployOutcome::Built { instance, .. } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(instance.as_str().starts_with("lxpack-deploy-"));
    let reasons = cold_reasons(&world);
    assert!(
        reasons[0].contains("claimed by other jobs first"),
        "{reasons:?}"
    );
    assert_eq!(waiting(&world).len(), 2, "the pool is untouched");
}

#[tokio::test(start_paused = true)]
async fn sixteen_deploys_against_a_pool_of_eight_claim_eight_and_start_eight_cold() {
    let (world, _) = pooled(8).await;
    let deploys = (0..16).map(|n| {
        let job = job(1_700_000_300 + n);
        let request = world.deploy_request("api", &job);
        let workflows = world.workflows.clone();
        let events = world.events.clone();
        let cancel = world.cancel.clone();
        async move { workflows.deploy(&request, &events, &cancel).await }
    });
    let reports = futures_util::future::join_all(deploys).await;
    let instances: Vec<InstanceName> = reports
        .into_iter()
        .map(|report| match report.unwrap().outcome {
            DeployOutcome::Built { instance, .. } => instance,
            other => panic!("{other:?}"),
        })
        .collect();
    let warm = instances
        .iter()
        .filter(|i| i.as_str().starts_with("lxpack-standby-"))
        .count();
    assert_eq!(warm, 8, "{instances:?}");
    let mut unique = instances.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        16,
        "no instance ran two builds: {instances:?}"
    );
    assert_eq!(claimed_events(&world).len(), 8);
    assert_eq!(cold_reasons(&world).len(), 8);
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_deploy_that_may_keep_its_container_never_takes_a_standby() {
    let (world, _) = pooled(1).await;
    let mut request = world.deploy_request("api", &job(1_700_000_200));
    request.keep_on_failure = true;
    let report = world
        .workflows
        .deploy(&request, &world.events, &world.cancel)
        .await
        .unwrap();
    let DeployOutcome::Built { instance, .. } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(instance.as_str().starts_with("lxpack-deploy-"));
    assert!(claimed_events(&world).is_empty());
    assert_eq!(waiting(&world).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_warm_deploy_survives_a_failure_at_every_call() {
    let (reference, _) = pooled(2).await;
    reference.deploy("api", &job(1_700_000_200)).await.unwrap();
    let points = reference.runtime.call_points();
    assert!(points.len() >= 7, "{points:?}");
    for (op, n) in points {
        for kind in [
            FakeFailure::Other,
            FakeFailure::Unreachable,
            FakeFailure::NotFound,
        ] {
            let (world, _) = pooled(2).await;
            world.runtime.inject(op, When::Nth(n), Fault::fail(kind));
            let result = world.deploy("api", &job(1_700_000_200)).await;
            let context = format!("{op:?} #{n} {kind:?}");
            // Whatever failed: no profile, no claimed standby and no job instance left
            // (a cleanup that failed names what it left instead).
            let left: Vec<FakeInstance> = world
                .runtime
                .instances()
                .into_iter()
                .filter(|i| i.labels.is_some())
                .collect();
            match (&result, op) {
                (Err(WorkflowError::Cleanup { failures, .. }), _) => {
                    assert!(!failures.is_empty(), "{context}");
                }
                (_, RuntimeOp::ClaimStandby) if kind == FakeFailure::NotFound => {
                    // A standby gone before its claim: the next one serves.
                    result.as_ref().unwrap_or_else(|e| panic!("{context}: {e}"));
                }
                (Ok(_), _) => {}
                (Err(error), _) => {
                    assert!(
                        matches!(
                            error,
                            WorkflowError::StepFailed { .. } | WorkflowError::NotReady { .. }
                        ),
                        "{context}: {error:?}"
                    );
                }
            }
            // A removal that says "not found" but had no effect leaves what it named:
            // an artefact of the injection, not of the workflow.
            let removal_lied = kind == FakeFailure::NotFound
                && matches!(
                    op,
                    RuntimeOp::DeleteProfile
                        | RuntimeOp::DeleteInstance
                        | RuntimeOp::ReleaseEphemeral
                );
            if !removal_lied && !matches!(result, Err(WorkflowError::Cleanup { .. })) {
                assert!(left.is_empty(), "{context}: left {left:?}");
                assert!(world.runtime.profiles().is_empty(), "{context}");
            }
            // Every standby still there waits: none is left claimed by a job.
            for standby in standbys(&world) {
                assert!(
                    standby.labels.is_none()
                        || removal_lied
                        || matches!(result, Err(WorkflowError::Cleanup { .. })),
                    "{context}: {standby:?}"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_fill_starts_what_is_missing_and_marks_each_ready_once_it_answers() {
    let (world, _) = pooled(0).await;
    let report = world
        .workflows
        .fill_pool(&fill(Some(3)), &world.events, &world.cancel)
        .await
        .unwrap();
    assert_eq!(report.pools.len(), 1);
    assert_eq!(report.pools[0].started.len(), 3);
    assert_eq!(report.pools[0].had, 0);
    for standby in standbys(&world) {
        let mark = standby.standby.unwrap();
        assert!(mark.ready, "{mark:?}");
        assert!(standby.ephemeral);
        assert_eq!(mark.image, job(IMAGE_JOB));
        assert_eq!(standby.map_owner, None, "the fake shifts mounts");
    }
    // Filling again starts nothing.
    let again = world
        .workflows
        .fill_pool(&fill(Some(3)), &world.events, &world.cancel)
        .await
        .unwrap();
    assert!(again.pools[0].started.is_empty());
    assert_eq!(again.pools[0].had, 3);
    // A smaller size retires the newest over it.
    let smaller = world
        .workflows
        .fill_pool(&fill(Some(1)), &world.events, &world.cancel)
        .await
        .unwrap();
    assert_eq!(smaller.retired.len(), 2);
    assert!(
        smaller
            .retired
            .iter()
            .all(|r| r.reason == RetireReason::Surplus)
    );
    assert_eq!(waiting(&world).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_fill_that_fails_to_start_a_standby_removes_it_and_says_why() {
    let (world, _) = pooled(0).await;
    for op in [
        RuntimeOp::LaunchInstance,
        RuntimeOp::Exec,
        RuntimeOp::UpdateStandby,
    ] {
        world.runtime.clear_faults();
        world
            .runtime
            .inject(op, When::Every, Fault::fail(FakeFailure::Rejected));
        let report = world
            .workflows
            .fill_pool(&fill(Some(2)), &world.events, &world.cancel)
            .await
            .unwrap();
        assert!(!report.is_complete(), "{op:?}");
        assert_eq!(report.pools[0].failures.len(), 2, "{op:?}: {report:?}");
        assert!(
            standbys(&world).is_empty(),
            "{op:?}: {:?}",
            standbys(&world)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_image_makes_the_pool_stale_and_the_next_fill_replaces_it() {
    let (world, _) = pooled(2).await;
    let old: Vec<InstanceName> = waiting(&world).into_iter().map(|i| i.name).collect();
    world.build(&job(1_700_000_400)).await.unwrap();
    let status = world.workflows.pool_status(None).await.unwrap();
    assert_eq!(status.pools.len(), 1);
    assert!(!status.pools[0].current);
    let report = world
        .workflows
        .fill_pool(&fill(None), &world.events, &world.cancel)
        .await
        .unwrap();
    assert_eq!(report.retired.len(), 2);
    assert!(
        report
            .retired
            .iter()
            .all(|r| r.reason == RetireReason::ImageReplaced && old.contains(&r.instance))
    );
    assert_eq!(report.pools[0].started.len(), 2);
    for standby in waiting(&world) {
        assert_eq!(standby.standby.unwrap().image, job(1_700_000_400));
    }
}

#[tokio::test(start_paused = true)]
async fn the_sweep_spares_waiting_standbys_and_retires_stale_ones() {
    let (world, _) = pooled(2).await;
    let now = lxpack_core::ports::Clock::now(&world.clock);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(
        report
            .spared
            .iter()
            .filter(|s| s.reason == SpareReason::Standby)
            .count(),
        2
    );
    // Past max_age, both go.
    let later = now + PoolSize::DEFAULT_MAX_AGE + Duration::from_secs(1);
    world.clock.set(later);
    let dry = world.workflows.sweep(true, &world.events).await.unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert_eq!(waiting(&world).len(), 2, "a dry run retires nothing");
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert!(standbys(&world).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_drain_retires_waiting_standbys_but_never_a_claimed_one() {
    let (world, _) = pooled(3).await;
    let claimed = waiting(&world).remove(0);
    let labels = Labels {
        job: JobId::generate(1_700_000_500, [9; 8]),
        command: JobCommand::Deploy,
        app: key("web"),
    };
    world
        .runtime
        .claim_standby(&claimed.name, claimed.standby.as_ref().unwrap(), &labels)
        .await
        .unwrap();
    let dry = world
        .workflows
        .drain_pool(Some(&key("web")), true, &world.events)
        .await
        .unwrap();
    assert_eq!(dry.retired.len(), 2);
    assert_eq!(waiting(&world).len(), 2);
    let report = world
        .workflows
        .drain_pool(None, false, &world.events)
        .await
        .unwrap();
    assert_eq!(report.retired.len(), 2);
    assert!(
        report
            .retired
            .iter()
            .all(|r| r.reason == RetireReason::Drained)
    );
    let left = standbys(&world);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, claimed.name);
    let status = world.workflows.pool_status(None).await.unwrap();
    assert_eq!(status.pools[0].count(StandbyState::Claimed), 1);
}

/// A deploy that has taken a standby's lock (its profile) but not yet written its
/// labels still owns the standby: a drain leaves it, as a claimed one. A retirement
/// interrupted after taking its own lock leaves a profile with the retiring mark,
/// which the sweep removes.
#[tokio::test(start_paused = true)]
async fn a_retirement_takes_the_claims_lock_and_a_sweep_finishes_an_interrupted_one() {
    let (world, _) = pooled(2).await;
    let locked = waiting(&world).remove(0);
    world
        .runtime
        .create_profile(&lxpack_core::domain::ProfileSpec {
            name: lxpack_core::domain::ProfileName::of(&locked.name),
            description: "a deploy's, before its compare-and-set".into(),
            mounts: Vec::new(),
            labels: None,
            standby: None,
        })
        .await
        .unwrap();
    let report = world
        .workflows
        .drain_pool(None, false, &world.events)
        .await
        .unwrap();
    assert_eq!(report.retired.len(), 1, "{report:?}");
    assert_eq!(report.claimed_meanwhile, vec![locked.name.clone()]);
    assert_eq!(standbys(&world).len(), 1);
    // No lock of a finished retirement is left.
    assert_eq!(world.runtime.profiles().len(), 1);

    let interrupted = lxpack_core::domain::ProfileSpec {
        name: lxpack_core::domain::ProfileName::parse(
            "lxpack-standby-web-00000000-6553f1640707070707070707",
        )
        .unwrap(),
        description: "a retirement's lock".into(),
        mounts: Vec::new(),
        labels: None,
        standby: Some(locked.standby.clone().unwrap().retired()),
    };
    world.runtime.create_profile(&interrupted).await.unwrap();
    let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_600);
    world.clock.set(now);
    let swept = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(
        swept
            .removed
            .iter()
            .any(|r| r.name == interrupted.name.to_string()),
        "{swept:?}"
    );
    assert!(world.runtime.profile(interrupted.name.as_str()).is_none());
}

#[tokio::test(start_paused = true)]
async fn on_a_daemon_without_idmapped_mounts_pools_are_keyed_by_the_checkout_owner() {
    let (world, refill) = pooled(0).await;
    world.runtime.set_server_info(ServerInfo {
        product: "fake".into(),
        version: "1".into(),
        can_shift_mounts: false,
    });
    let error = world
        .workflows
        .fill_pool(&fill(Some(1)), &world.events, &world.cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(error, WorkflowError::PoolOwnerNeeded { .. }),
        "{error:?}"
    );
    let owned = FillRequest {
        owner: Some(OWNER),
        ..fill(Some(1))
    };
    world
        .workflows
        .fill_pool(&owned, &world.events, &world.cancel)
        .await
        .unwrap();
    let standby = waiting(&world).remove(0);
    assert_eq!(standby.map_owner, Some(OWNER));
    assert_eq!(standby.standby.as_ref().unwrap().owner, Some(OWNER));
    // Without an owner, a fill serves the owners the app's standbys map already.
    let again = world
        .workflows
        .fill_pool(&fill(Some(2)), &world.events, &world.cancel)
        .await
        .unwrap();
    assert_eq!(again.pools[0].owner, Some(OWNER));
    assert_eq!(again.pools[0].started.len(), 1);
    // A deploy by that owner takes one; another owner's deploy starts cold.
    let world = with_pool_size(world, 2, &refill);
    world.deploy("api", &job(1_700_000_600)).await.unwrap();
    assert_eq!(claimed_events(&world).len(), 1);
    let mut other = world.deploy_request("api", &job(1_700_000_601));
    other.checkout.owner = Owner {
        uid: 2000,
        gid: 2000,
    };
    world
        .workflows
        .deploy(&other, &world.events, &world.cancel)
        .await
        .unwrap();
    assert_eq!(claimed_events(&world).len(), 1);
    assert_eq!(
        refill.asked().last().map(|r| r.owner),
        Some(Some(Owner {
            uid: 2000,
            gid: 2000
        }))
    );
}

#[tokio::test(start_paused = true)]
async fn the_sweep_leaves_the_standbys_of_an_app_it_does_not_know_until_they_are_old() {
    let (world, _) = pooled(1).await;
    // Another host's app, as far as this store can tell.
    lxpack_core::ports::AppStore::remove_app(&world.store, &key("web"))
        .await
        .unwrap();
    let now = lxpack_core::ports::Clock::now(&world.clock);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(waiting(&world).len(), 1);
    let later = now + PoolSize::DEFAULT_MAX_AGE + Duration::from_secs(1);
    world.clock.set(later);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert!(standbys(&world).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_fill_past_the_most_a_pool_may_hold_is_refused_before_any_call() {
    let (world, _) = pooled(0).await;
    let calls = world.runtime.calls().len();
    let error = world
        .workflows
        .fill_pool(
            &fill(Some(PoolSize::MAX_SIZE + 1)),
            &world.events,
            &world.cancel,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, WorkflowError::PoolTooLarge { size: 65, max: 64 }),
        "{error:?}"
    );
    assert_eq!(world.runtime.calls().len(), calls, "no runtime call");
    // The largest pool is allowed.
    world
        .workflows
        .fill_pool(
            &fill(Some(PoolSize::MAX_SIZE)),
            &world.events,
            &world.cancel,
        )
        .await
        .unwrap();
}
