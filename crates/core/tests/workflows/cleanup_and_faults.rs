//! Every call of both workflows fails in turn, by injection. Whatever fails, the error
//! names the step, nothing is left behind, the app record is unchanged, and no image is
//! left published but unrecorded.

use lxpack_core::domain::ImageAlias;
use lxpack_core::events::Step;
use lxpack_core::workflows::{CleanupMode, PortError, WorkflowError};
use lxpack_fake::{
    CatalogOp, ExecScript, FakeFailure, Fault, RegistryOp, RuntimeOp, StoreOp, When,
};

use crate::helpers::*;

/// Where a fault is injected.
#[derive(Debug, Clone, Copy)]
enum Point {
    Runtime(RuntimeOp, u32),
    Registry(RegistryOp, u32),
    Catalog(CatalogOp, u32),
    Store(StoreOp, u32),
}

fn points(world: &World) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::new();
    points.extend(
        world
            .runtime
            .call_points()
            .into_iter()
            .map(|(op, n)| Point::Runtime(op, n)),
    );
    points.extend(
        world
            .registry
            .call_points()
            .into_iter()
            .map(|(op, n)| Point::Registry(op, n)),
    );
    points.extend(
        world
            .catalog
            .call_points()
            .into_iter()
            .map(|(op, n)| Point::Catalog(op, n)),
    );
    points.extend(
        world
            .store
            .call_points()
            .into_iter()
            .map(|(op, n)| Point::Store(op, n)),
    );
    points
}

fn inject(world: &World, point: Point) {
    let fail = || FakeFailure::Other;
    match point {
        Point::Runtime(op, n) => world.runtime.inject(op, When::Nth(n), Fault::fail(fail())),
        Point::Registry(op, n) => world.registry.inject(op, When::Nth(n), Fault::fail(fail())),
        Point::Catalog(op, n) => world.catalog.inject(op, When::Nth(n), Fault::fail(fail())),
        Point::Store(op, n) => world.store.inject(op, When::Nth(n), Fault::fail(fail())),
    }
}

/// Asserts the error is the step's own, names it, and is not a cleanup failure.
fn assert_names_a_step(error: &WorkflowError, point: Point) {
    assert!(
        !matches!(error, WorkflowError::Cleanup { .. }),
        "{point:?}: cleanup must not fail: {error}"
    );
    match error {
        WorkflowError::StepFailed { step, source, .. } => {
            assert!(
                error.to_string().contains(&format!("step {step} failed")),
                "{error}"
            );
            let injected = match source.as_ref() {
                PortError::Runtime(e) => format!("{e:?}"),
                PortError::Registry(e) => format!("{e:?}"),
                PortError::Catalog(e) => format!("{e:?}"),
                PortError::Store(e) => format!("{e:?}"),
                other => format!("{other:?}"),
            };
            assert!(injected.contains("InjectedFault"), "{point:?}: {injected}");
        }
        WorkflowError::LoadApp { .. } => assert!(matches!(point, Point::Store(StoreOp::GetApp, _))),
        // A job whose start cannot be recorded does not run at all.
        WorkflowError::RecordJobStart { .. } => {
            assert!(
                matches!(point, Point::Store(StoreOp::RecordJob, 1)),
                "{point:?}"
            );
        }
        other => panic!("{point:?}: unexpected error {other:?}"),
    }
}

/// A job that could not read the earlier jobs' pending releases: it ran, said so, and
/// left nothing.
fn assert_releases_unread<T: std::fmt::Debug>(world: &World, result: Result<T, WorkflowError>) {
    result.unwrap_or_else(|e| panic!("the job runs: {e}"));
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("could not read the pending releases")),
        "{:?}",
        world.events.warnings()
    );
    world.assert_nothing_left();
}

/// The end of a job that could not be recorded: the job's own outcome stands, a
/// warning says so, and the record stays `running` until a sweep finds it lost.
fn assert_end_unrecorded<T: std::fmt::Debug>(
    world: &World,
    job: &lxpack_core::domain::JobId,
    result: Result<T, WorkflowError>,
) {
    result.unwrap_or_else(|e| panic!("the job's own outcome stands: {e}"));
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains(&format!("could not record the end of job {job}"))),
        "{:?}",
        world.events.warnings()
    );
    assert_eq!(
        world.store.job(job).map(|r| r.status),
        Some(lxpack_core::domain::JobStatus::Running)
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn buildimage_survives_a_failure_at_every_call() {
    let reference = World::new();
    let job = job(1_700_000_100);
    reference.build(&job).await.unwrap();
    let all = points(&reference);
    assert!(all.len() >= 19, "{all:?}");
    let before = reference.store.app(&key("web")).map(|mut app| {
        app.build_infos.container_image = None;
        app
    });

    for point in all {
        let world = World::new();
        inject(&world, point);
        let result = world.build(&job).await;
        let published = world.registry.image(&ImageAlias::for_job(&job));
        match point {
            // The readiness probe is retried.
            Point::Runtime(RuntimeOp::Exec, 1) => {
                result.unwrap_or_else(|e| panic!("{point:?}: {e}"));
                world.assert_nothing_left();
            }
            Point::Store(StoreOp::RecordJob, 2) => assert_end_unrecorded(&world, &job, result),
            // Earlier jobs' pending releases are looked at on the way: not this job's
            // business, so a history that cannot list them is a warning.
            Point::Store(StoreOp::ListJobs, _) => assert_releases_unread(&world, result),
            // Retention never fails the job, and deletes nothing when it cannot list.
            Point::Registry(RegistryOp::ListImages, 2)
            | Point::Catalog(CatalogOp::ListAppAmis, _) => {
                let report = result.unwrap_or_else(|e| panic!("{point:?}: {e}"));
                assert!(report.retention.skipped.is_some(), "{point:?}");
                assert!(report.retention.deleted.is_empty());
                assert!(
                    world
                        .events
                        .warnings()
                        .iter()
                        .any(|w| w.contains("nothing deleted"))
                );
                world.assert_nothing_left();
            }
            // Cleanup fails after success: the job's result is kept, the leftover named.
            Point::Runtime(RuntimeOp::DeleteInstance | RuntimeOp::DeleteProfile, _) => {
                let error = result.unwrap_err();
                let WorkflowError::Cleanup { original, failures } = &error else {
                    panic!("{point:?}: {error:?}");
                };
                assert!(original.is_none());
                assert!(!failures.is_empty());
                assert!(
                    error
                        .to_string()
                        .contains("the job succeeded, but cleanup failed"),
                    "{error}"
                );
                assert_eq!(world.app().build_infos.container_image, Some(job.clone()));
                assert!(published.is_some());
            }
            _ => {
                let error = result.unwrap_err();
                assert_names_a_step(&error, point);
                world.assert_nothing_left();
                let mut app = world.app();
                assert_eq!(
                    app.build_infos.container_image, None,
                    "{point:?}: the app changed"
                );
                app.build_infos.container_image = None;
                assert_eq!(Some(app), before);
                assert!(
                    published.is_none(),
                    "{point:?}: an image was left published but unrecorded"
                );
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn buildimage_fails_on_every_non_zero_exit_with_its_step_code_and_output() {
    let reference = World::new();
    let job = job(1_700_000_100);
    reference.build(&job).await.unwrap();
    let execs = reference
        .runtime
        .call_points()
        .into_iter()
        .filter(|(op, _)| *op == RuntimeOp::Exec)
        .count();
    // Exec 1 is the readiness probe; the others are hooks, features and script removal.
    for n in 2..=u32::try_from(execs).unwrap() {
        let world = World::new();
        world.runtime.script_exec(
            When::Nth(n),
            ExecScript::new()
                .stdout("line 1\nline 2\n")
                .stderr("it broke\n")
                .exit(3),
        );
        let error = world.build(&job).await.unwrap_err();
        let WorkflowError::CommandFailed {
            step,
            exit_code,
            output_tail,
            instance,
        } = &error
        else {
            panic!("exec {n}: {error:?}");
        };
        assert_eq!(*exit_code, 3);
        assert!(output_tail.contains("it broke"), "{output_tail}");
        assert!(instance.as_str().starts_with("lxpack-build-web-"));
        let message = error.to_string();
        assert!(
            message.contains(&format!("step {step} failed on {instance}: exit code 3")),
            "{message}"
        );
        assert!(message.contains("line 2"), "{message}");
        world.assert_nothing_left();
        assert_eq!(world.app().build_infos.container_image, None);
        assert!(world.registry.image(&ImageAlias::for_job(&job)).is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn deploy_survives_a_failure_at_every_call() {
    deploy_survives_a_failure_at_every_call_with(CleanupMode::Wait).await;
}

#[tokio::test(start_paused = true)]
async fn a_deploy_with_background_cleanup_survives_a_failure_at_every_call() {
    deploy_survives_a_failure_at_every_call_with(CleanupMode::Background).await;
}

async fn deploy_survives_a_failure_at_every_call_with(cleanup: CleanupMode) {
    let image_job = job(1_700_000_100);
    let deploy_job = job(1_700_000_300);
    let world_of = || {
        World::with(
            lxpack_core::workflows::Settings {
                cleanup,
                ..settings()
            },
            true,
        )
    };
    let reference = world_of();
    reference.built(&image_job).await;
    reference.store.clear_calls();
    reference.registry.clear_calls();
    reference.catalog.clear_calls();
    reference.deploy("api", &deploy_job).await.unwrap();
    // Occurrences count from each fake's creation, and every world runs the same
    // build first, so the reference's points apply as they are.
    let all = points(&reference);
    assert!(all.len() >= 7, "{all:?}");
    let probe = all
        .iter()
        .find_map(|p| match p {
            Point::Runtime(RuntimeOp::Exec, n) => Some(*n),
            _ => None,
        })
        .unwrap();

    for point in all {
        let world = world_of();
        world.built(&image_job).await;
        world.store.clear_calls();
        world.registry.clear_calls();
        world.catalog.clear_calls();
        inject(&world, point);
        let result = world.deploy("api", &deploy_job).await;
        match point {
            Point::Runtime(RuntimeOp::DeleteInstance | RuntimeOp::DeleteProfile, _) => {
                let error = result.unwrap_err();
                assert!(
                    matches!(&error, WorkflowError::Cleanup { original: None, .. }),
                    "{point:?}: {error:?}"
                );
            }
            Point::Runtime(RuntimeOp::Exec, n) if n == probe => {
                result.unwrap_or_else(|e| panic!("{point:?}: {e}"));
                world.assert_nothing_left();
            }
            Point::Store(StoreOp::RecordJob, 2) => {
                assert_end_unrecorded(&world, &deploy_job, result);
            }
            Point::Store(StoreOp::ListJobs, _) => assert_releases_unread(&world, result),
            // A release that fails falls back to deleting and waiting.
            Point::Runtime(RuntimeOp::ReleaseEphemeral, _) => {
                result.unwrap_or_else(|e| panic!("{point:?}: {e}"));
                world.assert_nothing_left();
            }
            _ => {
                let Err(error) = result else {
                    panic!("{point:?}: the deploy succeeded");
                };
                assert_names_a_step(&error, point);
                world.assert_nothing_left();
            }
        }
        assert_eq!(
            world.app().build_infos.container_image,
            Some(image_job.clone())
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_cleanup_is_reported_with_the_original_error() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new()
            .stderr("make: *** [all] Error 2\n")
            .exit(2),
    );
    world.runtime.inject(
        RuntimeOp::DeleteInstance,
        When::Every,
        Fault::fail(FakeFailure::Unreachable),
    );
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let WorkflowError::Cleanup {
        original: Some(original),
        failures,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert!(matches!(
        original.as_ref(),
        WorkflowError::CommandFailed {
            step: Step::Buildpack,
            exit_code: 2,
            ..
        }
    ));
    assert!(matches!(
        error.primary(),
        WorkflowError::CommandFailed { .. }
    ));
    assert_eq!(failures[0].kind, lxpack_core::ports::ResourceKind::Instance);
    assert!(failures[0].name.starts_with("lxpack-deploy-web-api-"));
    let chain = std::error::Error::source(&error).unwrap().to_string();
    assert!(chain.contains("exit code 2"), "{chain}");
}

#[tokio::test(start_paused = true)]
async fn a_record_failure_takes_the_image_back_or_names_it() {
    let job = job(1_700_000_100);
    let world = World::new();
    world.store.inject(
        StoreOp::RecordContainerImage,
        When::Every,
        Fault::fail(FakeFailure::Other),
    );
    world.registry.inject(
        RegistryOp::DeleteImage,
        When::Every,
        Fault::fail(FakeFailure::Other),
    );
    let error = world.build(&job).await.unwrap_err();
    let WorkflowError::HalfPublished { fingerprint, .. } = &error else {
        panic!("{error:?}")
    };
    let left = world.registry.image(&ImageAlias::for_job(&job)).unwrap();
    assert_eq!(&left.fingerprint, fingerprint);
    world.assert_nothing_left();
}
