//! A running job renews its lease every 10 s, beside its work, until it ends; a store
//! that fails, hangs or disowns the job never fails the job.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{JobId, JobStatus};
use lxpack_core::ports::Clock as _;
use lxpack_fake::{ExecScript, FakeFailure, Fault, StoreCall, StoreOp, When};

use crate::helpers::*;

/// A world whose deploy's buildpack runs for 35 s (tokio's paused time), and whose
/// clock reads, from each 5 s mark on, the next multiple of 10 s since the start: the
/// renewals at 10, 20 and 30 s read exactly +10, +20 and +30 s.
async fn slow_deploy_world() -> (World, SystemTime) {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new().sleep(Duration::from_secs(35)),
    );
    world.store.clear_calls();
    let start = world.clock.now();
    let clock = world.clock.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        for _ in 0..10 {
            clock.advance(Duration::from_secs(10));
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    });
    (world, start)
}

/// The renewals the store received, as (job, seconds after `start`).
fn renewals(world: &World, start: SystemTime) -> Vec<(JobId, u64)> {
    world
        .store
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            StoreCall::RenewLease { job, at } => {
                Some((job, at.duration_since(start).unwrap().as_secs()))
            }
            _ => None,
        })
        .collect()
}

fn lease_warnings(world: &World) -> Vec<String> {
    world
        .events
        .warnings()
        .into_iter()
        .filter(|w| w.contains("lease") || w.contains("no longer records"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_running_job_renews_its_lease_every_ten_seconds_until_it_ends() {
    let (world, start) = slow_deploy_world().await;
    let deploy = job(1_700_000_200);
    world.deploy("api", &deploy).await.unwrap();

    // Its start is the first renewal; then one every 10 s, none after its end (35 s).
    let first = world.store.calls().into_iter().find_map(|call| match call {
        StoreCall::RecordJob { record } => Some(record),
        _ => None,
    });
    assert_eq!(first.unwrap().renewed_at, Some(start));
    assert_eq!(
        renewals(&world, start),
        [
            (deploy.clone(), 10),
            (deploy.clone(), 20),
            (deploy.clone(), 30)
        ]
    );
    let record = world.store.job(&deploy).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(
        record.renewed_at,
        Some(start + Duration::from_secs(30)),
        "the end keeps the last renewal"
    );
    assert_eq!(lease_warnings(&world), Vec::<String>::new());
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_job_whose_renewals_all_fail_goes_on_and_warns_once() {
    let (world, start) = slow_deploy_world().await;
    world.store.inject(
        StoreOp::RenewLease,
        When::Every,
        Fault::fail(FakeFailure::Unreachable),
    );
    let deploy = job(1_700_000_200);
    world.deploy("api", &deploy).await.unwrap();

    assert_eq!(renewals(&world, start).len(), 3, "it kept trying");
    let warnings = lease_warnings(&world);
    assert_eq!(warnings.len(), 1, "one warning per streak: {warnings:?}");
    assert!(
        warnings[0].contains(&format!("could not renew the lease of job {deploy}"))
            && warnings[0].contains("renew the lease of job")
            && warnings[0].contains("30 s"),
        "{warnings:?}"
    );
    let record = world.store.job(&deploy).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.renewed_at, Some(start), "only its start was taken");
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_renewal_that_fails_once_is_followed_by_the_next_and_says_so() {
    let (world, start) = slow_deploy_world().await;
    world.store.inject(
        StoreOp::RenewLease,
        When::Nth(1),
        Fault::fail(FakeFailure::Other),
    );
    let deploy = job(1_700_000_200);
    world.deploy("api", &deploy).await.unwrap();

    let warnings = lease_warnings(&world);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("could not renew"), "{warnings:?}");
    assert!(
        warnings[1].contains(&format!(
            "renewed the lease of job {deploy} again, after 20 s without"
        )),
        "{warnings:?}"
    );
    assert_eq!(
        world.store.job(&deploy).unwrap().renewed_at,
        Some(start + Duration::from_secs(30))
    );
}

/// A store that does not answer: each renewal gives up after one period, so the next
/// still comes, and the job ends on time.
#[tokio::test(start_paused = true)]
async fn a_renewal_that_hangs_does_not_hold_up_the_job_or_the_next_renewal() {
    let (world, start) = slow_deploy_world().await;
    world
        .store
        .inject(StoreOp::RenewLease, When::Nth(1), Fault::Hang);
    let deploy = job(1_700_000_200);
    let began = tokio::time::Instant::now();
    world.deploy("api", &deploy).await.unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(40),
        "{:?}",
        began.elapsed()
    );

    let warnings = lease_warnings(&world);
    assert!(
        warnings
            .first()
            .is_some_and(|w| w.contains("no answer within 10 s")),
        "{warnings:?}"
    );
    // Hung at 10 s and given up at 20 s, when the next one is due and taken.
    assert_eq!(
        renewals(&world, start),
        [
            (deploy.clone(), 10),
            (deploy.clone(), 20),
            (deploy.clone(), 30)
        ]
    );
    assert_eq!(
        world.store.job(&deploy).unwrap().renewed_at,
        Some(start + Duration::from_secs(30))
    );
}

/// A gc elsewhere judged the job lost while it ran (its lease looked silent): the job
/// cannot renew a lease the history no longer holds, says so once, goes on, and its
/// end replaces the `lost` record.
#[tokio::test(start_paused = true)]
async fn a_job_the_history_no_longer_holds_as_running_says_so_and_records_its_end() {
    let (world, start) = slow_deploy_world().await;
    let deploy = job(1_700_000_200);
    let store = world.store.clone();
    let judged = deploy.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let mut record = store.job(&judged).unwrap();
        record.end(JobStatus::Lost, Some("lost".into()), record.started_at);
        lxpack_core::ports::JobHistory::record_job(&store, &record)
            .await
            .unwrap();
    });
    world.deploy("api", &deploy).await.unwrap();

    let warnings = lease_warnings(&world);
    assert_eq!(warnings.len(), 1, "said once: {warnings:?}");
    assert!(
        warnings[0].contains(&format!(
            "the history no longer records job {deploy} as running"
        )),
        "{warnings:?}"
    );
    assert_eq!(renewals(&world, start).len(), 3);
    let record = world.store.job(&deploy).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.renewed_at, Some(start + Duration::from_secs(10)));
}
