//! Resource classes: every instance gets its class's caps, a step stopped by a cap
//! says which, and a class past the host is refused before any job.

use std::sync::Arc;
use std::time::Duration;

use lxpack_core::domain::{
    ClassName, DEFAULT_PROCESSES, LaunchSpec, LimitHit, LimitReadings, ResourceLimits,
};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::{Capability, HostResources};
use lxpack_core::workflows::{FillRequest, Settings, WorkflowError, Workflows};
use lxpack_fake::{ExecScript, FakeFailure, Fault, RuntimeCall, RuntimeOp, When};

use crate::helpers::*;

const BUILDPACK_COMMAND: &str = "/tmp/lxpack-buildpack";

fn class(name: &str) -> ClassName {
    ClassName::parse(name).unwrap()
}

/// The test settings with a `small` class (64 MiB, 50 processes) for module `api`
/// of `web`, and a `large` one for the app.
fn with_classes() -> Settings {
    let mut settings = settings();
    let resources = &mut settings.resources;
    resources.classes.insert(
        class("small"),
        ResourceLimits {
            memory: Some("64MiB".into()),
            processes: Some(50),
            ..ResourceLimits::default()
        },
    );
    resources.classes.insert(
        class("large"),
        ResourceLimits {
            cpu: Some("4".into()),
            processes: Some(4000),
            ..ResourceLimits::default()
        },
    );
    resources.apps.insert(key("web"), class("large"));
    resources
        .modules
        .insert((key("web"), "api".into()), class("small"));
    settings
}

fn launches(world: &World) -> Vec<LaunchSpec> {
    world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            RuntimeCall::LaunchInstance { spec } => Some(spec),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn without_classes_every_instance_caps_its_processes() {
    let world = World::new();
    world.build(&job(1_700_000_100)).await.unwrap();
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let launched = launches(&world);
    assert_eq!(launched.len(), 2, "a build and a deploy");
    for spec in launched {
        assert_eq!(
            spec.limits.processes,
            Some(DEFAULT_PROCESSES),
            "{}",
            spec.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn builds_take_the_apps_class_and_deploys_their_modules() {
    let world = World::with(with_classes(), true);
    world.build(&job(1_700_000_100)).await.unwrap();
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let launched = launches(&world);
    assert_eq!(
        launched[0].limits.cpu.as_deref(),
        Some("4"),
        "the build: large"
    );
    assert_eq!(launched[1].limits.processes, Some(50), "api: small");
    assert_eq!(launched[1].limits.memory.as_deref(), Some("64MiB"));
}

fn limit_hit(error: &WorkflowError) -> (&ClassName, &LimitHit, &WorkflowError) {
    match error {
        WorkflowError::LimitHit {
            step: Step::Buildpack,
            class,
            hit,
            failure,
            ..
        } => (class, hit, failure),
        other => panic!("expected LimitHit, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_fork_bomb_fails_naming_the_process_limit() {
    let world = World::with(with_classes(), true);
    world.built(&job(1_700_000_100)).await;
    let refused = LimitReadings {
        oom_kills: Some(0),
        process_refusals: Some(26),
        processes: Some(50),
        memory_peak: None,
        disk_used: None,
    };
    world
        .runtime
        .on_command(&[BUILDPACK_COMMAND], ExecScript::exit_code(2).hits(refused));
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let (class, hit, failure) = limit_hit(&error);
    assert_eq!(class.as_str(), "small");
    assert_eq!(hit.field(), "processes");
    assert!(matches!(
        failure,
        WorkflowError::CommandFailed { exit_code: 2, .. }
    ));
    let message = error.to_string();
    assert!(
        message.contains("stopped by resource class small: process limit reached: processes 50, 26 fork(s) refused"),
        "{message}"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_disk_filler_fails_naming_the_root_disk_size() {
    let mut settings = with_classes();
    if let Some(small) = settings.resources.classes.get_mut(&class("small")) {
        small.root_size = Some(64 << 20);
    }
    let world = World::with(settings, true);
    world.built(&job(1_700_000_100)).await;
    let full = LimitReadings {
        oom_kills: Some(0),
        process_refusals: Some(0),
        processes: Some(2),
        disk_used: Some(65_077_248),
        ..LimitReadings::default()
    };
    world
        .runtime
        .on_command(&[BUILDPACK_COMMAND], ExecScript::exit_code(1).hits(full));
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let (class, hit, failure) = limit_hit(&error);
    assert_eq!(class.as_str(), "small");
    assert_eq!(
        hit,
        &LimitHit::Disk {
            size: 64 << 20,
            used: 65_077_248
        }
    );
    assert!(matches!(
        failure,
        WorkflowError::CommandFailed { exit_code: 1, .. }
    ));
    assert!(
        error.to_string().contains(
            "stopped by resource class small: disk full: root disk 64 MiB, 62.1 MiB used"
        ),
        "{error}"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_disk_far_from_full_is_no_limit_hit() {
    let mut settings = with_classes();
    if let Some(small) = settings.resources.classes.get_mut(&class("small")) {
        small.root_size = Some(64 << 20);
    }
    let world = World::with(settings, true);
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &[BUILDPACK_COMMAND],
        ExecScript::exit_code(1).hits(LimitReadings {
            disk_used: Some(32 << 20),
            ..LimitReadings::default()
        }),
    );
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { exit_code: 1, .. }),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_memory_hog_that_hangs_past_its_time_is_out_of_memory() {
    let mut settings = with_classes();
    settings.timeouts.buildpack = Duration::from_secs(5);
    let world = World::with(settings, true);
    world.built(&job(1_700_000_100)).await;
    let killed = LimitReadings {
        oom_kills: Some(1),
        memory_peak: Some(64 << 20),
        ..LimitReadings::default()
    };
    world
        .runtime
        .on_command(&[BUILDPACK_COMMAND], ExecScript::hanging().hits(killed));
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let (_, hit, failure) = limit_hit(&error);
    assert_eq!(hit.field(), "memory");
    assert!(matches!(failure, WorkflowError::TimedOut { .. }));
    assert!(error.to_string().contains("out of memory"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_plain_failure_stays_a_plain_failure() {
    let world = World::with(with_classes(), true);
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&[BUILDPACK_COMMAND], ExecScript::exit_code(3));
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { exit_code: 3, .. }),
        "{error:?}"
    );
    assert!(
        world
            .runtime
            .calls()
            .iter()
            .any(|call| matches!(call, RuntimeCall::LimitCounters { .. })),
        "the counters were asked"
    );
}

#[tokio::test(start_paused = true)]
async fn unreadable_counters_leave_the_failure_as_it_was_with_a_warning() {
    let world = World::with(with_classes(), true);
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &[BUILDPACK_COMMAND],
        ExecScript::exit_code(2).hits(LimitReadings {
            process_refusals: Some(1),
            ..LimitReadings::default()
        }),
    );
    world.runtime.inject(
        RuntimeOp::LimitCounters,
        When::Every,
        Fault::fail(FakeFailure::Unreachable),
    );
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { .. }),
        "{error:?}"
    );
    assert!(world.events.take().iter().any(|event| matches!(
        event,
        Event::Warning { message } if message.contains("could not read the limit counters")
    )));
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_runtime_without_counters_is_not_asked() {
    let world = World::with(with_classes(), true);
    let capabilities =
        (world.workflows.ports().capabilities.clone()).without(Capability::ResourceClasses);
    let world = world.offering(capabilities);
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &[BUILDPACK_COMMAND],
        ExecScript::exit_code(2).hits(LimitReadings {
            process_refusals: Some(1),
            ..LimitReadings::default()
        }),
    );
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { .. }),
        "{error:?}"
    );
    assert!(
        world.workflows.check_resource_classes().await.is_ok(),
        "no host figures: nothing to refuse"
    );
}

#[tokio::test]
async fn a_class_past_the_host_is_refused_naming_its_key() {
    let world = World::with(with_classes(), true);
    assert!(world.workflows.check_resource_classes().await.is_ok());
    world.runtime.set_host_resources(HostResources {
        cpus: Some(2),
        memory: Some(16 << 30),
    });
    match world.workflows.check_resource_classes().await {
        Err(WorkflowError::ClassPastHost { key, problem }) => {
            assert_eq!(key, "lxpack.resources.classes.large.cpu");
            assert!(
                problem.contains("more than the 2 the host has"),
                "{problem}"
            );
        }
        other => panic!("expected ClassPastHost, got {other:?}"),
    }
    world.runtime.set_host_resources(HostResources {
        cpus: Some(8),
        memory: Some(32 << 20),
    });
    match world.workflows.check_resource_classes().await {
        Err(WorkflowError::ClassPastHost { key, .. }) => {
            assert_eq!(key, "lxpack.resources.classes.small.memory");
        }
        other => panic!("expected ClassPastHost, got {other:?}"),
    }
    assert!(world.runtime.instances().is_empty(), "nothing created");
}

#[tokio::test]
async fn classes_that_cap_no_cpu_or_memory_do_not_ask_the_host() {
    let world = World::with(settings(), true);
    world.runtime.set_host_resources(HostResources {
        cpus: Some(1),
        memory: Some(1 << 20),
    });
    assert!(world.workflows.check_resource_classes().await.is_ok());
    assert!(
        !world.runtime.calls().contains(&RuntimeCall::HostResources),
        "the default class caps processes only: {:?}",
        world.runtime.calls()
    );
    let world = World::with(with_classes(), true);
    assert!(world.workflows.check_resource_classes().await.is_ok());
    assert!(world.runtime.calls().contains(&RuntimeCall::HostResources));
}

#[tokio::test(start_paused = true)]
async fn a_deploy_claims_only_a_standby_of_its_own_class() {
    let mut settings = with_classes();
    settings.pool.default.size = 1;
    let world = World::with(settings, true);
    world.build(&job(1_700_000_100)).await.unwrap();
    let fill = FillRequest {
        app: key("web"),
        owner: None,
        size: None,
    };
    let report = (world.workflows)
        .fill_pool(&fill, &world.events, &world.cancel)
        .await
        .unwrap();
    assert_eq!(report.pools[0].started.len(), 1);
    world.runtime.clear_calls();
    // `api` runs under `small`, the standby under the app's `large`: a cold start.
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let calls = world.runtime.calls();
    assert!(
        !calls
            .iter()
            .any(|call| matches!(call, RuntimeCall::ClaimStandby { .. })),
        "claimed a standby of another class"
    );
    assert_eq!(launches(&world)[0].limits.processes, Some(50));
    // Without a class of its own, a module takes the app's and the standby serves it.
    let mut same = with_classes();
    same.pool.default.size = 1;
    same.resources.modules.clear();
    let world = World {
        workflows: Workflows::new(world.workflows.ports().clone(), same)
            .with_clock(Arc::new(world.clock.clone())),
        ..world
    };
    world.runtime.clear_calls();
    world.deploy("api", &job(1_700_000_400)).await.unwrap();
    assert!(
        world
            .runtime
            .calls()
            .iter()
            .any(|call| matches!(call, RuntimeCall::ClaimStandby { .. })),
        "the app's standby serves a module of the app's class"
    );
}
