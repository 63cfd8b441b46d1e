//! A hung command is signalled and cleaned up after its timeout or on cancellation,
//! and the error says which of the two happened.

use std::time::Duration;

use lxpack_core::events::Step;
use lxpack_core::workflows::WorkflowError;
use lxpack_fake::{ExecScript, Fault, Interruption, RegistryOp, Signal, When};

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn a_hung_buildpack_times_out_is_killed_and_cleaned_up() {
    let mut settings = settings();
    settings.timeouts.buildpack = Duration::from_secs(90);
    let world = World::with(settings, true);
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new().stdout("compiling\n").hang(),
    );
    let started = tokio::time::Instant::now();
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let WorkflowError::TimedOut {
        step,
        after,
        output_tail,
        instance,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(*step, Step::Buildpack);
    assert_eq!(*after, Duration::from_secs(90));
    assert!(instance.is_some());
    assert_eq!(output_tail, "compiling");
    assert!(started.elapsed() >= Duration::from_secs(90));
    assert!(error.to_string().contains("timed out after 90s"), "{error}");
    let signals = world.runtime.signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].cause, Interruption::TimedOut);
    assert_eq!(signals[0].signals, [Signal::Term, Signal::Kill]);
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn cancellation_during_a_hook_signals_it_and_cleans_up() {
    let world = World::new();
    world
        .runtime
        .on_command(&["sh", "/tmp/lxpack-pre_buildimage"], ExecScript::hanging());
    let cancel = world.cancel.clone();
    let job = job(1_700_000_100);
    let (result, ()) = tokio::join!(world.build(&job), async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let error = result.unwrap_err();
    assert!(error.is_cancelled(), "{error:?}");
    assert!(
        matches!(
            error,
            WorkflowError::Cancelled {
                step: Step::PreBuildImageHook,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("cancelled during step pre_buildimage hook on lxpack-build-web-"),
        "{error}"
    );
    let signals = world.runtime.signals();
    assert_eq!(signals[0].cause, Interruption::Cancelled);
    assert_eq!(signals[0].signals, [Signal::Term, Signal::Kill]);
    world.assert_nothing_left();
    assert_eq!(world.app().build_infos.container_image, None);
}

#[tokio::test(start_paused = true)]
async fn a_job_cancelled_before_it_starts_creates_nothing() {
    let world = World::new();
    world.cancel.cancel();
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(error.is_cancelled());
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_hung_publish_times_out_and_leaves_no_image() {
    let mut settings = settings();
    settings.timeouts.publish = Duration::from_secs(30);
    let world = World::with(settings, true);
    world
        .registry
        .inject(RegistryOp::PublishImage, When::Every, Fault::Hang);
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(
        matches!(
            error,
            WorkflowError::TimedOut {
                step: Step::Publish,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        world.registry.images().len() == 1,
        "only the base image remains"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn every_command_has_a_time_limit() {
    let world = World::new();
    world.build(&job(1_700_000_100)).await.unwrap();
    for call in world.runtime.calls() {
        if let lxpack_fake::RuntimeCall::Exec {
            timeout, command, ..
        } = call
        {
            assert!(
                timeout > Duration::ZERO && timeout <= Duration::from_secs(3600),
                "{command:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_command_gets_the_configured_kill_grace() {
    let mut settings = settings();
    settings.timeouts.kill_grace = std::time::Duration::from_secs(17);
    let world = World::with(settings, true);
    world.build(&job(1_700_000_100)).await.unwrap();
    let graces: Vec<std::time::Duration> = world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            lxpack_fake::RuntimeCall::Exec { kill_grace, .. } => Some(kill_grace),
            _ => None,
        })
        .collect();
    assert!(!graces.is_empty());
    assert!(
        graces
            .iter()
            .all(|grace| *grace == std::time::Duration::from_secs(17)),
        "{graces:?}"
    );
}
