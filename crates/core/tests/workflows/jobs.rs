//! The workflows own the job's record: running before anything is created, ended after
//! cleanup, with its status and error, whoever calls them.

use std::time::Duration;

use lxpack_core::domain::{JobCommand, JobStatus};
use lxpack_fake::{ExecScript, StoreCall};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn a_deploy_is_recorded_running_before_anything_is_created_and_ended_after_cleanup() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.store.clear_calls();
    let deploy_job = job(1_700_000_300);
    let mut request = world.deploy_request("api", &deploy_job);
    request.log_path = Some("/var/log/lxpack/job.log".into());
    // The buildpack takes a minute of the job's clock, and sees its job recorded as
    // running.
    let clock = world.clock.clone();
    let store = world.store.clone();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen_by_buildpack = seen.clone();
    let id = deploy_job.clone();
    world.runtime.on_exec(move |_, exec| {
        if exec
            .command
            .iter()
            .any(|word| word == "/tmp/lxpack-buildpack")
        {
            clock.advance(Duration::from_secs(60));
            *seen_by_buildpack.lock().unwrap() = store.job(&id).map(|r| r.status);
        }
        None
    });
    world
        .workflows
        .deploy(&request, &world.events, &world.cancel)
        .await
        .unwrap();

    let records: Vec<_> = world
        .store
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            StoreCall::RecordJob { record } => Some(record),
            _ => None,
        })
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    let (start, end) = (&records[0], &records[1]);
    assert_eq!(start.status, JobStatus::Running);
    assert_eq!(start.command, JobCommand::Deploy);
    assert_eq!(start.module.as_deref(), Some("api"));
    assert_eq!(start.log_path, request.log_path);
    assert_eq!(
        start.started_at,
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    );
    assert_eq!(end.status, JobStatus::Succeeded);
    assert_eq!(end.duration(), Some(Duration::from_secs(60)));
    assert_eq!(world.store.job(&deploy_job).as_ref(), Some(end));
    assert_eq!(*seen.lock().unwrap(), Some(JobStatus::Running));
    // The end is recorded after cleanup.
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_failed_job_is_recorded_with_its_whole_error() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new().stderr("make: *** no rule\n").exit(2),
    );
    let deploy_job = job(1_700_000_300);
    world.deploy("api", &deploy_job).await.unwrap_err();
    let record = world.store.job(&deploy_job).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let error = record.error.unwrap();
    assert!(error.contains("step buildpack failed"), "{error}");
    assert!(error.contains("exit code 2"), "{error}");
    assert!(record.ended_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_job_is_recorded_cancelled() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new().hang());
    let deploy_job = job(1_700_000_300);
    let cancel = CancellationToken::new();
    let request = world.deploy_request("api", &deploy_job);
    let (result, ()) = tokio::join!(
        world.workflows.deploy(&request, &world.events, &cancel),
        async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        }
    );
    assert!(result.unwrap_err().is_cancelled());
    assert_eq!(
        world.store.job(&deploy_job).map(|r| r.status),
        Some(JobStatus::Cancelled)
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn errors_before_anything_is_created_are_recorded_too() {
    let world = World::new();
    let deploy_job = job(1_700_000_300);
    world.deploy("nope", &deploy_job).await.unwrap_err();
    let record = world.store.job(&deploy_job).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert!(record.error.unwrap().contains("has no module \"nope\""));
    assert!(world.runtime.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn buildimage_is_recorded_like_deploy() {
    let world = World::new();
    let build_job = job(1_700_000_100);
    world.build(&build_job).await.unwrap();
    let record = world.store.job(&build_job).unwrap();
    assert_eq!(record.command, JobCommand::BuildImage);
    assert_eq!(record.module, None);
    assert_eq!(record.status, JobStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn new_job_ids_follow_the_workflows_clock() {
    let world = World::new();
    let id = world.workflows.new_job_id();
    assert_eq!(id.unix_seconds(), 1_700_000_000);
    assert_ne!(id, world.workflows.new_job_id());
}
