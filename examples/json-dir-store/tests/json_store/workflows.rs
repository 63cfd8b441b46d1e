//! buildimage and deploy on the fakes with the JSON store: what the store records, and
//! what the workflows do when a fake fails, hangs or is cancelled.

use std::time::Duration;

use lxpack_core::events::Step;
use lxpack_core::workflows::{DeployOutcome, RecordOutcome, Settings, WorkflowError};
use lxpack_fake::{
    ExecScript, FakeFailure, Fault, Interruption, RegistryOp, RuntimeOp, Signal, When,
};

use crate::helpers::{World, job, key};

/// How the fake runs the app's buildpack (`make`, no `#!` line).
const BUILDPACK: [&str; 2] = ["sh", "/tmp/lxpack-buildpack"];

#[tokio::test]
async fn buildimage_records_the_image_in_the_file_and_deploy_starts_from_it() {
    let world = World::new("workflows", Settings::default()).await;
    let built = world.build(&job(1_700_000_100)).await.unwrap();
    assert_eq!(built.record, RecordOutcome::Recorded { replaced: None });
    let text = std::fs::read_to_string(world.store.app_file(&key("web"))).unwrap();
    assert!(text.contains(job(1_700_000_100).as_str()), "{text}");

    let deployed = world.deploy(&job(1_700_000_200)).await.unwrap();
    assert!(
        matches!(&deployed.outcome, DeployOutcome::Built { image, .. } if *image == job(1_700_000_100)),
        "{:?}",
        deployed.outcome
    );
    world.assert_nothing_left();
    // The workflows recorded both jobs in the store's own history.
    use lxpack_core::ports::JobHistory as _;
    let jobs = world.store.list_jobs(Some(&key("web"))).await.unwrap();
    let recorded: Vec<_> = jobs.iter().map(|j| (j.id.clone(), j.status)).collect();
    assert_eq!(
        recorded,
        [
            (
                job(1_700_000_200),
                lxpack_core::domain::JobStatus::Succeeded
            ),
            (
                job(1_700_000_100),
                lxpack_core::domain::JobStatus::Succeeded
            ),
        ]
    );
}

#[tokio::test]
async fn an_older_buildimage_publishes_but_does_not_become_current() {
    let world = World::new("superseded", Settings::default()).await;
    world.build(&job(1_700_000_200)).await.unwrap();
    let older = world.build(&job(1_700_000_100)).await.unwrap();
    assert_eq!(
        older.record,
        RecordOutcome::Superseded {
            current: job(1_700_000_200)
        }
    );
    let warnings = world.events.warnings();
    assert!(
        warnings.iter().any(|w| w.contains("newer job")),
        "{warnings:?}"
    );
    assert_eq!(world.recorded().await, Some(job(1_700_000_200)));
}

#[tokio::test]
async fn a_failing_cleanup_keeps_the_buildpack_error() {
    let world = World::new("cleanup", Settings::default()).await;
    world.build(&job(1_700_000_100)).await.unwrap();
    world.runtime.on_command(
        &BUILDPACK,
        ExecScript::new()
            .stderr("make: *** [all] Error 2\n")
            .exit(2),
    );
    // The release in the background (the default) fails, and so does the delete it
    // falls back to.
    for op in [RuntimeOp::ReleaseEphemeral, RuntimeOp::DeleteInstance] {
        world
            .runtime
            .inject(op, When::Every, Fault::fail(FakeFailure::Unreachable));
    }
    let error = world.deploy(&job(1_700_000_200)).await.unwrap_err();
    let WorkflowError::Cleanup { failures, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(failures[0].kind, lxpack_core::ports::ResourceKind::Instance);
    assert!(
        matches!(
            error.primary(),
            WorkflowError::CommandFailed {
                step: Step::Buildpack,
                exit_code: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_hung_publish_times_out_and_the_store_records_nothing() {
    let mut settings = Settings::default();
    settings.timeouts.publish = Duration::from_secs(30);
    let world = World::new("publish", settings).await;
    world
        .registry
        .inject(RegistryOp::PublishImage, When::Every, Fault::Hang);
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(
        matches!(
            error,
            WorkflowError::TimedOut { step: Step::Publish, after, .. } if after == Duration::from_secs(30)
        ),
        "{error:?}"
    );
    assert_eq!(world.recorded().await, None);
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_deploy_signals_the_buildpack_and_cleans_up() {
    let world = World::new("cancel", Settings::default()).await;
    world.build(&job(1_700_000_100)).await.unwrap();
    world
        .runtime
        .on_command(&BUILDPACK, ExecScript::new().stdout("compiling\n").hang());
    let cancel = world.cancel.clone();
    let deploy_job = job(1_700_000_200);
    let (result, ()) = tokio::join!(world.deploy(&deploy_job), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            WorkflowError::Cancelled {
                step: Step::Buildpack,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_cancelled());
    let signals = world.runtime.signals();
    assert_eq!(signals[0].cause, Interruption::Cancelled);
    assert_eq!(signals[0].signals, [Signal::Term, Signal::Kill]);
    world.assert_nothing_left();
}
