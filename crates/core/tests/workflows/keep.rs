//! What a job keeps for inspection (keep, debug, keep-on-failure), the expiry its
//! record and its instance carry, the sweep's respect for it, the steps' durations in
//! the record, and `shell`: the rule from a job to the instance it kept, with each of
//! its port calls failed in turn.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{
    JobId, JobStatus, OutputStream, SessionInput, SessionRequest, WindowSize,
};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::{JobHistory, ResourceKind};
use lxpack_core::workflows::{PortError, SpareReason, WorkflowError};
use lxpack_fake::{
    ExecScript, FakeFailure, Fault, RecordingOutput, RuntimeCall, RuntimeOp, ScriptedInput,
    StoreOp, When,
};

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The fake clock's time (job records start there).
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A world with the app's image built, where the buildpack exits `code`.
async fn world_with_buildpack_exit(code: i32) -> World {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new().stderr("make: *** no rule\n").exit(code),
    );
    world
}

async fn deploy_keeping_failures(world: &World, deploy_job: &JobId) -> Result<(), WorkflowError> {
    let mut request = world.deploy_request("api", deploy_job);
    request.keep_on_failure = true;
    world
        .workflows
        .deploy(&request, &world.events, &world.cancel)
        .await
        .map(drop)
}

/// A deploy that failed with keep-on-failure, its instance kept: the world and the job.
async fn kept_failure() -> (World, JobId) {
    let world = world_with_buildpack_exit(2).await;
    let deploy_job = job(1_700_000_300);
    deploy_keeping_failures(&world, &deploy_job)
        .await
        .unwrap_err();
    (world, deploy_job)
}

fn session() -> SessionRequest {
    let mut request = SessionRequest::new(["sh", "-c", "exit 7"]);
    request.terminal = Some(WindowSize {
        width: 100,
        height: 30,
    });
    request
}

#[tokio::test(start_paused = true)]
async fn a_failed_deploy_keeps_its_container_until_its_expiry_when_asked() {
    let (world, deploy_job) = kept_failure().await;

    let instances = world.runtime.instances();
    assert_eq!(instances.len(), 1, "{instances:?}");
    let instance = &instances[0];
    assert!(!instance.ephemeral, "a kept instance must outlive its stop");
    assert_eq!(instance.kept_until, Some(now() + DAY));
    assert_eq!(world.runtime.profiles().len(), 1);

    let record = world.store.job(&deploy_job).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let kept = record.kept.unwrap();
    assert_eq!(kept.instance, instance.name);
    assert_eq!(kept.until, now() + DAY);
    assert!(world.events.events().iter().any(|event| matches!(
        event,
        Event::ResourcesKept { instance: name, until, .. } if *name == instance.name && *until == now() + DAY
    )));
}

#[tokio::test(start_paused = true)]
async fn a_deploy_that_succeeds_keeps_nothing_with_keep_on_failure() {
    let world = world_with_buildpack_exit(0).await;
    let deploy_job = job(1_700_000_300);
    deploy_keeping_failures(&world, &deploy_job).await.unwrap();
    world.assert_nothing_left();
    assert_eq!(world.store.job(&deploy_job).unwrap().kept, None);
    // It may have been kept, so it was not ephemeral, and not released in the
    // background.
    let launched = world
        .runtime
        .calls()
        .into_iter()
        .find_map(|call| match call {
            RuntimeCall::LaunchInstance { spec } => Some(spec),
            _ => None,
        });
    assert!(!launched.unwrap().ephemeral);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_job_is_not_a_failure_to_keep() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::hanging());
    let cancel = world.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let error = deploy_keeping_failures(&world, &job(1_700_000_300))
        .await
        .unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_failed_buildimage_keeps_its_container_with_keep_on_failure() {
    let world = World::new();
    world.runtime.on_command(
        &["salt-call"],
        ExecScript::new().stdout("failed state\n").exit(1),
    );
    let build_job = job(1_700_000_100);
    let mut request = world.build_request(&build_job);
    request.keep_on_failure = true;
    world
        .workflows
        .build_image(&request, &world.events, &world.cancel)
        .await
        .unwrap_err();
    let record = world.store.job(&build_job).unwrap();
    let kept = record.kept.expect("the failed build's container is kept");
    assert_eq!(
        world.runtime.instance(&kept.instance).unwrap().kept_until,
        Some(kept.until)
    );
}

#[tokio::test(start_paused = true)]
async fn keep_marks_even_a_successful_job_with_its_expiry() {
    let world = world_with_buildpack_exit(0).await;
    let deploy_job = job(1_700_000_300);
    world.deploy_kept("api", &deploy_job).await.unwrap();
    let kept = world.store.job(&deploy_job).unwrap().kept.unwrap();
    assert_eq!(kept.until, now() + DAY);
}

#[tokio::test(start_paused = true)]
async fn a_failed_mark_is_a_warning_and_the_record_still_keeps_the_container() {
    let world = world_with_buildpack_exit(2).await;
    world.runtime.inject(
        RuntimeOp::MarkKept,
        When::Nth(1),
        Fault::fail(FakeFailure::Other),
    );
    let deploy_job = job(1_700_000_300);
    let error = deploy_keeping_failures(&world, &deploy_job)
        .await
        .unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { exit_code: 2, .. }),
        "the job's own error stands: {error}"
    );
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("could not mark")),
        "{:?}",
        world.events.warnings()
    );
    assert!(world.store.job(&deploy_job).unwrap().kept.is_some());
    assert_eq!(world.runtime.instances().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_launch_that_failed_leaves_nothing_to_keep_on_failure() {
    let world = world_with_buildpack_exit(0).await;
    world.runtime.inject(
        RuntimeOp::LaunchInstance,
        When::Nth(1),
        Fault::fail(FakeFailure::Other),
    );
    let deploy_job = job(1_700_000_300);
    deploy_keeping_failures(&world, &deploy_job)
        .await
        .unwrap_err();
    world.assert_nothing_left();
    assert_eq!(world.store.job(&deploy_job).unwrap().kept, None);
}

#[tokio::test(start_paused = true)]
async fn every_step_is_recorded_with_its_duration() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new().sleep(Duration::from_secs(42)).exit(0),
    );
    let deploy_job = job(1_700_000_300);
    world.deploy("api", &deploy_job).await.unwrap();
    let steps = world.store.job(&deploy_job).unwrap().steps;
    let keys: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    for key in [
        "create_profile",
        "launch",
        "wait_ready",
        "buildpack",
        "cleanup",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    let buildpack = steps.iter().find(|s| s.step == "buildpack").unwrap();
    assert_eq!(buildpack.duration, Duration::from_secs(42));
    assert!(steps.iter().all(|s| s.succeeded));
}

#[tokio::test(start_paused = true)]
async fn the_sweep_spares_a_kept_container_until_it_expires_then_removes_it() {
    let (world, deploy_job) = kept_failure().await;

    world.clock.set(now() + DAY - Duration::from_secs(1));
    let before = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(before.removed.is_empty(), "{before:?}");
    assert_eq!(before.spared.len(), 2, "the instance and its profile");
    for spared in &before.spared {
        assert_eq!(spared.reason, SpareReason::Kept);
        assert_eq!(spared.kept_until, Some(now() + DAY));
    }

    world.clock.set(now() + DAY);
    let after = world.workflows.sweep(false, &world.events).await.unwrap();
    let removed: Vec<ResourceKind> = after.removed.iter().map(|r| r.kind).collect();
    assert_eq!(removed, [ResourceKind::Instance, ResourceKind::Profile]);
    world.assert_nothing_left();
    assert_eq!(
        world.store.job(&deploy_job).unwrap().status,
        JobStatus::Failed
    );
}

#[tokio::test(start_paused = true)]
async fn a_kept_container_of_a_job_this_history_does_not_know_is_spared_by_its_mark() {
    let (world, deploy_job) = kept_failure().await;
    world.store.forget_job(&deploy_job);
    // Long after any job could still run, the mark alone spares it.
    let later = now() + Duration::from_secs(20 * 3600);
    world.clock.set(later);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert!(report.spared.iter().all(|s| s.reason == SpareReason::Kept));
}

#[tokio::test(start_paused = true)]
async fn shell_runs_in_the_kept_instance_and_returns_the_commands_exit_code() {
    let (world, deploy_job) = kept_failure().await;
    world.runtime.script_session(
        When::Nth(1),
        ExecScript::new()
            .sleep(Duration::from_secs(1))
            .stdout("inside\n")
            .exit(7),
    );
    let input = ScriptedInput::new([
        SessionInput::Bytes(b"ls\n".to_vec()),
        SessionInput::Resize(WindowSize {
            width: 80,
            height: 24,
        }),
    ]);
    let output = RecordingOutput::new();
    let code = world
        .workflows
        .shell(&deploy_job, &session(), &input, &output, &world.cancel)
        .await
        .unwrap();
    assert_eq!(code, 7);
    assert_eq!(output.text(OutputStream::Stdout), "inside\n");
    let kept = world.store.job(&deploy_job).unwrap().kept.unwrap();
    let call = world
        .runtime
        .calls()
        .into_iter()
        .find_map(|call| match call {
            RuntimeCall::ExecSession { instance, request } => Some((instance, request)),
            _ => None,
        })
        .unwrap();
    assert_eq!(call.0, kept.instance);
    assert_eq!(call.1, session());
    // The input reached the session while it ran (in order, before its end).
    let inputs = world.runtime.session_inputs();
    assert!(
        inputs.starts_with(&[SessionInput::Bytes(b"ls\n".to_vec())]),
        "{inputs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn shell_finds_the_instance_by_its_label_when_the_history_does_not_know_the_job() {
    let (world, deploy_job) = kept_failure().await;
    world.store.forget_job(&deploy_job);
    let target = world.workflows.kept_instance(&deploy_job).await.unwrap();
    assert_eq!(target.instance, world.runtime.instances()[0].name);
    assert_eq!(target.until, Some(now() + DAY));
}

#[tokio::test(start_paused = true)]
async fn shell_refuses_jobs_that_kept_nothing_or_still_run_or_are_unknown() {
    let world = world_with_buildpack_exit(0).await;
    let done = job(1_700_000_300);
    world.deploy("api", &done).await.unwrap();
    let error = world.workflows.kept_instance(&done).await.unwrap_err();
    assert!(
        matches!(
            &error,
            WorkflowError::NothingKept {
                status: JobStatus::Succeeded,
                ..
            }
        ),
        "{error:?}"
    );

    let unknown = job(1_700_000_400);
    let error = world.workflows.kept_instance(&unknown).await.unwrap_err();
    assert!(
        matches!(&error, WorkflowError::JobNotFound { .. }),
        "{error:?}"
    );

    let running = job(1_700_000_500);
    world
        .store
        .record_job(&lxpack_core::domain::JobRecord::running(
            running.clone(),
            lxpack_core::domain::JobCommand::Deploy,
            key("web"),
            Some("api".into()),
            now(),
        ))
        .await
        .unwrap();
    let error = world.workflows.kept_instance(&running).await.unwrap_err();
    assert!(
        matches!(&error, WorkflowError::JobStillRunning { .. }),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn shell_says_when_the_kept_instance_is_gone() {
    let (world, deploy_job) = kept_failure().await;
    world.clock.set(now() + DAY);
    world.workflows.sweep(false, &world.events).await.unwrap();
    let error = world
        .workflows
        .kept_instance(&deploy_job)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WorkflowError::KeptInstanceGone { .. }),
        "{error:?}"
    );
}

/// Every call `shell` makes, failed in turn: the error names the step, and nothing
/// changes on the daemon or in the history.
#[tokio::test(start_paused = true)]
async fn shell_fails_cleanly_at_every_call() {
    let points: [(Option<RuntimeOp>, Option<StoreOp>); 3] = [
        (None, Some(StoreOp::GetJob)),
        (Some(RuntimeOp::ListResources), None),
        (Some(RuntimeOp::ExecSession), None),
    ];
    for (runtime_op, store_op) in points {
        let (world, deploy_job) = kept_failure().await;
        let record = world.store.job(&deploy_job);
        let instances = world.runtime.instances();
        if let Some(op) = runtime_op {
            world
                .runtime
                .inject(op, When::Every, Fault::fail(FakeFailure::Other));
        }
        if let Some(op) = store_op {
            world
                .store
                .inject(op, When::Every, Fault::fail(FakeFailure::Other));
        }
        let input = ScriptedInput::new([]);
        let error = world
            .workflows
            .shell(
                &deploy_job,
                &session(),
                &input,
                &RecordingOutput::new(),
                &world.cancel,
            )
            .await
            .unwrap_err();
        let point = (runtime_op, store_op);
        match &error {
            WorkflowError::StepFailed {
                step: Step::Shell,
                source,
                ..
            } => {
                let text = match source.as_ref() {
                    PortError::Runtime(e) => format!("{e:?}"),
                    PortError::History(e) => format!("{e:?}"),
                    other => format!("{other:?}"),
                };
                assert!(text.contains("InjectedFault"), "{point:?}: {text}");
            }
            other => panic!("{point:?}: {other:?}"),
        }
        assert_eq!(world.store.job(&deploy_job), record, "{point:?}");
        assert_eq!(world.runtime.instances(), instances, "{point:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_session_that_hangs_is_signalled_on_timeout_and_on_cancellation() {
    let (world, deploy_job) = kept_failure().await;
    world
        .runtime
        .inject(RuntimeOp::ExecSession, When::Every, Fault::Hang);
    let mut timed = session();
    timed.timeout = Some(Duration::from_secs(30));
    let input = ScriptedInput::new([]);
    let error = world
        .workflows
        .shell(
            &deploy_job,
            &timed,
            &input,
            &RecordingOutput::new(),
            &world.cancel,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            WorkflowError::TimedOut {
                step: Step::Shell,
                ..
            }
        ),
        "{error:?}"
    );

    let cancel = world.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let error = world
        .workflows
        .shell(
            &deploy_job,
            &session(),
            &input,
            &RecordingOutput::new(),
            &world.cancel,
        )
        .await
        .unwrap_err();
    assert!(error.is_cancelled(), "{error:?}");
    assert_eq!(world.runtime.signals().len(), 2);
}
