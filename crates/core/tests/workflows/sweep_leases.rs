//! The sweep judges a job it cannot see by its lease: a job killed on another host is
//! lost 30 s after its last renewal, not hours later, and a live one is never lost
//! while it renews. In a store several hosts share, leftovers of a job the store does
//! not know go after one lease.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{JobId, JobRunner, JobStatus, LEASE_EXPIRY};
use lxpack_core::ports::{JobHistory, ResourceKind};
use lxpack_core::workflows::SpareReason;
use lxpack_fake::{ExecScript, FakeFailure, Fault, RuntimeOp, StoreOp, When};

use crate::helpers::*;

fn at(unix_seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(unix_seconds)
}

/// The process of another host, which this host's probe cannot see.
fn elsewhere(pid: u32) -> JobRunner {
    JobRunner {
        host: "build-2#0b5e".into(),
        pid,
        started: 99,
    }
}

/// A shared store whose daemon holds the leftovers (instance and profile) of each of
/// `jobs`, each recorded as running on another host with its lease renewed at
/// `renewed` (`None`: a record from before leases).
async fn foreign_jobs(jobs: &[(&JobId, Option<SystemTime>)]) -> World {
    let mut settings = settings();
    settings.keep.expiry = Duration::ZERO;
    let world = World::with(settings, true);
    world.store.set_shared(true);
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
    for (id, renewed) in jobs {
        world.deploy_kept("api", id).await.unwrap();
        let mut record = world.store.job(id).unwrap();
        record.status = JobStatus::Running;
        (record.ended_at, record.kept, record.error) = (None, None, None);
        record.runner = Some(elsewhere(77));
        record.renewed_at = *renewed;
        world.store.record_job(&record).await.unwrap();
    }
    let _ = world.events.take();
    world
}

/// The jobs whose instance is still on the daemon.
fn instances_left(world: &World) -> Vec<JobId> {
    world
        .runtime
        .instances()
        .into_iter()
        .filter_map(|i| i.name.job())
        .collect()
}

fn removed_jobs(report: &lxpack_core::workflows::SweepReport) -> Vec<(ResourceKind, JobId)> {
    report
        .removed
        .iter()
        .filter_map(|r| Some((r.kind, r.labels.as_ref()?.job.clone())))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_job_killed_on_another_host_is_lost_thirty_seconds_after_its_last_renewal() {
    let killed = job(1_700_000_200);
    let renewed = at(1_700_000_260);
    let world = foreign_jobs(&[(&killed, Some(renewed))]).await;

    // 30 s of silence: it may still run.
    world.clock.set(renewed + LEASE_EXPIRY);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(
        report.lost_jobs.is_empty() && report.removed.is_empty(),
        "{report:?}"
    );
    assert!(
        report
            .spared
            .iter()
            .all(|s| s.reason == SpareReason::Running)
    );
    assert_eq!(report.spared.len(), 2);

    // One second more: a dry run says so and records nothing.
    world
        .clock
        .set(renewed + LEASE_EXPIRY + Duration::from_secs(1));
    let dry = world.workflows.sweep(true, &world.events).await.unwrap();
    assert_eq!(dry.lost_jobs, std::slice::from_ref(&killed));
    assert_eq!(dry.removed.len(), 2);
    assert_eq!(world.store.job(&killed).unwrap().status, JobStatus::Running);
    assert_eq!(instances_left(&world), std::slice::from_ref(&killed));

    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.lost_jobs, std::slice::from_ref(&killed));
    assert_eq!(
        removed_jobs(&report),
        [
            (ResourceKind::Instance, killed.clone()),
            (ResourceKind::Profile, killed.clone())
        ]
    );
    world.assert_nothing_left();
    let record = world.store.job(&killed).unwrap();
    assert_eq!(record.status, JobStatus::Lost);
    assert_eq!(record.ended_at, Some(renewed + Duration::from_secs(31)));
    assert!(
        world.events.warnings().iter().any(|w| w.contains(&format!(
            "job {killed} is recorded as running on build-2#0b5e, but its lease was last \
             renewed 31 s ago"
        ))),
        "{:?}",
        world.events.warnings()
    );
}

/// A job on another host that keeps renewing is never lost, however long it runs:
/// the by-age bound is for records without a lease.
#[tokio::test(start_paused = true)]
async fn a_live_job_on_another_host_is_never_lost_while_it_renews_even_past_the_by_age_bound() {
    let live = job(1_700_000_200);
    let world = foreign_jobs(&[(&live, Some(at(1_700_000_200)))]).await;
    let longest = world
        .workflows
        .settings()
        .timeouts
        .longest_job(world.workflows.settings().provisioners.len())
        .as_secs();
    for seconds in [
        60,
        longest / 2,
        longest,
        longest + 1,
        3 * longest,
        30 * longest,
    ] {
        let now = at(1_700_000_200 + seconds);
        // The other host renewed a period ago.
        assert!(
            world
                .store
                .renew_lease(&live, now - Duration::from_secs(10))
                .await
                .unwrap()
        );
        world.clock.set(now);
        let report = world.workflows.sweep(false, &world.events).await.unwrap();
        assert!(
            report.lost_jobs.is_empty() && report.removed.is_empty(),
            "{seconds} s: {report:?}"
        );
        assert_eq!(report.spared.len(), 2, "{seconds} s");
    }
    assert_eq!(world.store.job(&live).unwrap().status, JobStatus::Running);
    assert_eq!(instances_left(&world), [live]);
}

/// A record from before leases, of a process this host cannot see: judged by its age
/// as before, shared store or not.
#[tokio::test(start_paused = true)]
async fn a_record_without_a_lease_is_judged_by_its_age() {
    let old = job(1_700_000_200);
    let world = foreign_jobs(&[(&old, None)]).await;
    let started = world.store.job(&old).unwrap().started_at;
    let longest = world
        .workflows
        .settings()
        .timeouts
        .longest_job(world.workflows.settings().provisioners.len());

    world.clock.set(started + longest);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(
        report.lost_jobs.is_empty() && report.removed.is_empty(),
        "{report:?}"
    );

    world.clock.set(started + longest + Duration::from_secs(1));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.lost_jobs, std::slice::from_ref(&old));
    world.assert_nothing_left();
}

/// In a shared store, leftovers of a job the store does not know were made by no job
/// of its hosts (a job is recorded before it creates anything): they go one lease
/// after the job's id time, not after the by-age bound.
#[tokio::test(start_paused = true)]
async fn in_a_shared_store_leftovers_of_an_unknown_job_go_after_one_lease() {
    let unknown = job(1_700_000_200);
    let world = foreign_jobs(&[(&unknown, None)]).await;
    world.store.forget_job(&unknown);

    world.clock.set(at(1_700_000_200) + LEASE_EXPIRY);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(report.spared.len(), 2);
    assert!(
        report
            .spared
            .iter()
            .all(|s| s.reason == SpareReason::UnknownJob)
    );

    world
        .clock
        .set(at(1_700_000_200) + LEASE_EXPIRY + Duration::from_secs(1));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.removed.len(), 2, "{report:?}");
    assert!(report.lost_jobs.is_empty(), "nothing to record: {report:?}");
    world.assert_nothing_left();

    // The same leftovers in a store that is not shared wait for the by-age bound
    // (`sweep::a_job_this_history_does_not_know_is_spared_while_it_may_run_elsewhere`).
}

#[tokio::test(start_paused = true)]
async fn in_a_store_that_is_not_shared_an_unknown_job_is_still_spared_by_age() {
    let unknown = job(1_700_000_200);
    let world = foreign_jobs(&[(&unknown, None)]).await;
    world.store.set_shared(false);
    world.store.forget_job(&unknown);
    world.clock.set(at(1_700_000_200 + 3_600));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert!(
        report
            .spared
            .iter()
            .all(|s| s.reason == SpareReason::UnknownJob)
    );
    assert_eq!(instances_left(&world), [unknown]);
}

/// The probe of this host still decides for its own processes: a live one whose
/// renewals fail (its store is away) is not lost for a silent lease.
#[tokio::test(start_paused = true)]
async fn a_job_of_this_host_whose_process_runs_is_not_lost_for_a_silent_lease() {
    let here = job(1_700_000_200);
    let world = foreign_jobs(&[(&here, Some(at(1_700_000_260)))]).await;
    let mut record = world.store.job(&here).unwrap();
    record.runner = Some(lxpack_fake::FakeRunners::runner(4242));
    world.store.record_job(&record).await.unwrap();

    world.clock.set(at(1_700_000_260 + 600));
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(
        report.lost_jobs.is_empty() && report.removed.is_empty(),
        "{report:?}"
    );

    world.runners.kill(4242);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.lost_jobs, std::slice::from_ref(&here));
    world.assert_nothing_left();
}

/// Every call of a sweep that finds one job lost (lease expired) beside a live one
/// fails in turn: whatever fails, the live job's leftovers and record stay, and the
/// next sweep, with nothing failing, finishes the work.
#[tokio::test(start_paused = true)]
async fn a_lease_sweep_survives_a_failure_at_every_call() {
    let killed = job(1_700_000_200);
    let live = job(1_700_000_300);
    let now = at(1_700_000_400);
    let world_of = || async {
        let world = foreign_jobs(&[
            (&killed, Some(now - Duration::from_secs(31))),
            (&live, Some(now - Duration::from_secs(5))),
        ])
        .await;
        world.clock.set(now);
        world.store.clear_calls();
        world.runtime.clear_calls();
        world
    };
    let reference = world_of().await;
    reference
        .workflows
        .sweep(false, &reference.events)
        .await
        .unwrap();
    let store_points = reference.store.call_points();
    let runtime_points = reference.runtime.call_points();
    for op in [StoreOp::RunningJobs, StoreOp::RecordLost, StoreOp::GetJob] {
        assert!(store_points.iter().any(|(o, _)| *o == op), "{op:?}");
    }
    assert!(
        runtime_points
            .iter()
            .any(|(o, _)| *o == RuntimeOp::DeleteInstance)
    );

    let points = (store_points.into_iter().map(|(op, n)| (Some(op), None, n))).chain(
        runtime_points
            .into_iter()
            .map(|(op, n)| (None, Some(op), n)),
    );
    for (store_op, runtime_op, n) in points {
        let world = world_of().await;
        if let Some(op) = store_op {
            world
                .store
                .inject(op, When::Nth(n), Fault::fail(FakeFailure::Other));
        }
        if let Some(op) = runtime_op {
            world
                .runtime
                .inject(op, When::Nth(n), Fault::fail(FakeFailure::Other));
        }
        let point = format!("{store_op:?} {runtime_op:?} #{n}");
        let result = world.workflows.sweep(false, &world.events).await;
        assert!(
            instances_left(&world).contains(&live),
            "{point}: the live job's instance went ({result:?})"
        );
        assert_eq!(
            world.store.job(&live).unwrap().status,
            JobStatus::Running,
            "{point}"
        );
        let profiles = world.runtime.profiles();
        assert!(
            profiles
                .iter()
                .any(|p| p.name.to_string().ends_with(live.as_str())),
            "{point}: the live job's profile went"
        );

        world.store.clear_faults();
        world.runtime.clear_faults();
        world.workflows.sweep(false, &world.events).await.unwrap();
        assert_eq!(
            instances_left(&world),
            std::slice::from_ref(&live),
            "{point}"
        );
        assert_eq!(
            world.store.job(&killed).unwrap().status,
            JobStatus::Lost,
            "{point}"
        );
    }
}
