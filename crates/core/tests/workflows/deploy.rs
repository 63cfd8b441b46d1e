//! deploy end to end on the fakes.

use std::time::Duration;

use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector, JobId};
use lxpack_core::events::Event;
use lxpack_core::workflows::{DeployOutcome, WorkflowError};
use lxpack_fake::RuntimeCall;

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn runs_the_buildpack_unedited_in_the_module_path_as_the_checkout_owner() {
    let world = World::new();
    let image = job(1_700_000_100);
    world.built(&image).await;
    let report = world.deploy("api", &job(1_700_000_300)).await.unwrap();
    assert!(matches!(&report.outcome, DeployOutcome::Built { image: i, .. } if *i == image));

    let calls = world.runtime.calls();
    let profile = world.created_profile();
    let mount = &profile.mounts[0];
    assert_eq!(mount.target.as_str(), "/var/www/api");
    assert_eq!(mount.source.to_string(), "/home/ci/checkouts/api");
    assert!(!mount.read_only);
    assert_eq!(mount.owner, Some(OWNER));

    let spec = calls
        .iter()
        .find_map(|c| match c {
            RuntimeCall::LaunchInstance { spec } => Some(spec.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        spec.image,
        ImageRef::Local(ImageSelector::Alias(ImageAlias::for_job(&image)))
    );
    assert!(spec.ephemeral);

    let pushed = calls
        .iter()
        .find_map(|c| match c {
            RuntimeCall::PushFile { file, .. } => Some(file.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        pushed.contents, BUILDPACK,
        "the script is delivered byte for byte"
    );

    let (command, cwd, user, env) = calls
        .iter()
        .filter_map(|c| match c {
            RuntimeCall::Exec {
                command,
                cwd,
                user,
                env,
                ..
            } => Some((command.clone(), cwd.clone(), *user, env.clone())),
            _ => None,
        })
        .next_back()
        .unwrap();
    assert_eq!(
        command,
        ["/tmp/lxpack-buildpack"],
        "a #! script runs as itself"
    );
    assert_eq!(cwd.unwrap().as_str(), "/var/www/api");
    assert_eq!(user, Some(OWNER));
    assert!(env.contains(&("GHOST_APP".into(), "web".into())));
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_module_without_buildpack_is_skipped_without_a_container() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    let report = world.deploy("static", &job(1_700_000_300)).await.unwrap();
    assert!(matches!(report.outcome, DeployOutcome::Skipped { .. }));
    assert!(world.runtime.calls().is_empty());
    assert!(
        world
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Event::ModuleSkipped { module, .. } if module == "static"))
    );
}

#[tokio::test(start_paused = true)]
async fn an_app_without_image_is_told_to_run_buildimage() {
    let world = World::new();
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(matches!(error, WorkflowError::NoContainerImage { .. }));
    assert!(
        error.to_string().contains("buildimage has not run for it"),
        "{error}"
    );
    assert!(world.runtime.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unknown_module_lists_the_modules() {
    let world = World::new();
    let error = world
        .deploy("worker", &job(1_700_000_300))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "app web/prod/webfront has no module \"worker\" (its modules: api, static)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_script_without_shebang_runs_with_sh() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    let mut app = world.app();
    app.modules[0].build_pack = Some(lxpack_core::domain::Script::new(b"make\n".to_vec()));
    world.store.insert_app(app);
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let last = world.commands().pop().unwrap();
    assert_eq!(last, ["sh", "/tmp/lxpack-buildpack"]);
}

#[tokio::test(start_paused = true)]
async fn concurrent_deploys_of_one_job_use_distinct_containers() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    let mut app = world.app();
    let mut second = app.modules[0].clone();
    second.name = "api2".into();
    app.modules.push(second);
    world.store.insert_app(app);
    let deploy_job = job(1_700_000_300);
    let (a, b) = tokio::join!(
        world.deploy("api", &deploy_job),
        world.deploy("api2", &deploy_job)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let name = |o: &DeployOutcome| match o {
        DeployOutcome::Built { instance, .. } => instance.clone(),
        other => panic!("{other:?}"),
    };
    assert_ne!(name(&a.outcome), name(&b.outcome));
    world.assert_nothing_left();
}

fn background_cleanup() -> World {
    World::with(
        lxpack_core::workflows::Settings {
            cleanup: lxpack_core::workflows::CleanupMode::Background,
            ..settings()
        },
        true,
    )
}

#[tokio::test(start_paused = true)]
async fn background_cleanup_releases_the_ephemeral_instance_instead_of_deleting_it() {
    let world = background_cleanup();
    world.built(&job(1_700_000_100)).await;
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let calls = world.runtime.calls();
    let released: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            RuntimeCall::ReleaseEphemeral { instance, profile } => Some((instance, profile)),
            _ => None,
        })
        .collect();
    assert_eq!(released.len(), 1, "{calls:#?}");
    assert_eq!(
        released[0].1,
        &lxpack_core::domain::ProfileName::of(released[0].0),
        "the profile is the instance's own"
    );
    assert!(
        !calls.iter().any(|c| matches!(
            c,
            RuntimeCall::DeleteInstance { .. } | RuntimeCall::DeleteProfile { .. }
        )),
        "{calls:#?}"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_failed_background_release_falls_back_to_deleting_and_waiting() {
    let world = background_cleanup();
    world.built(&job(1_700_000_100)).await;
    world.runtime.inject(
        lxpack_fake::RuntimeOp::ReleaseEphemeral,
        lxpack_fake::When::Every,
        lxpack_fake::Fault::fail(lxpack_fake::FakeFailure::Unreachable),
    );
    let report = world.deploy("api", &job(1_700_000_300)).await.unwrap();
    assert!(matches!(report.outcome, DeployOutcome::Built { .. }));
    let calls = world.runtime.calls();
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, RuntimeCall::DeleteInstance { .. }))
            && calls
                .iter()
                .any(|c| matches!(c, RuntimeCall::DeleteProfile { .. })),
        "{calls:#?}"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn buildimage_waits_for_its_cleanup_even_in_background_mode() {
    let world = background_cleanup();
    world.build(&job(1_700_000_100)).await.unwrap();
    assert!(
        world
            .runtime
            .calls()
            .iter()
            .any(|c| matches!(c, RuntimeCall::DeleteInstance { .. })),
        "buildimage deletes its instance"
    );
    assert!(
        !world
            .runtime
            .calls()
            .iter()
            .any(|c| matches!(c, RuntimeCall::ReleaseEphemeral { .. })),
        "buildimage never releases in the background"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_recorded_image_deleted_by_hand_is_named_as_missing() {
    use lxpack_core::ports::ImageRegistry as _;
    let world = World::new();
    let image_job = job(1_700_000_100);
    world.built(&image_job).await;
    let image = world
        .registry
        .image(&lxpack_core::domain::ImageAlias::for_job(&image_job))
        .unwrap();
    world
        .registry
        .delete_image(&image.fingerprint)
        .await
        .unwrap();
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(&error, WorkflowError::ContainerImageMissing { job, .. } if *job == image_job),
        "{error:?}"
    );
    world.assert_nothing_left();

    let inventory = world.workflows.inventory(None).await.unwrap();
    assert!(inventory.images.is_empty());
    assert_eq!(inventory.missing.len(), 1);
    assert_eq!(inventory.missing[0].job, image_job);
}

fn release_of(world: &World, job: &JobId) -> Option<lxpack_core::domain::Release> {
    world.store.job(job).and_then(|record| record.release)
}

#[tokio::test(start_paused = true)]
async fn a_background_release_is_pending_until_the_next_job_sees_the_instance_gone() {
    use lxpack_core::domain::ReleaseState;
    let world = background_cleanup();
    world.built(&job(1_700_000_100)).await;
    let first = job(1_700_000_300);
    world.deploy("api", &first).await.unwrap();
    let release = release_of(&world, &first).expect("the release is recorded");
    assert_eq!(release.state, ReleaseState::Pending);
    assert!(release.instance.as_str().starts_with("lxpack-deploy-"));
    // A job right after does not look yet (the stop is most likely under way)...
    world.deploy("api", &job(1_700_000_301)).await.unwrap();
    assert_eq!(
        release_of(&world, &first).map(|r| r.state),
        Some(ReleaseState::Pending)
    );
    // ...a later one looks, and the fake's stop has ended: confirmed.
    world.clock.advance(Duration::from_secs(5));
    world.deploy("api", &job(1_700_000_306)).await.unwrap();
    assert_eq!(
        release_of(&world, &first).map(|r| r.state),
        Some(ReleaseState::Confirmed)
    );
    // A waiting cleanup records no release.
    let waiting = World::new();
    waiting.built(&job(1_700_000_100)).await;
    waiting.deploy("api", &job(1_700_000_302)).await.unwrap();
    assert_eq!(release_of(&waiting, &job(1_700_000_302)), None);
}

#[tokio::test(start_paused = true)]
async fn a_background_stop_that_failed_is_recorded_on_its_job_and_its_instance_removed() {
    use lxpack_core::domain::ReleaseState;
    let world = background_cleanup();
    world.built(&job(1_700_000_100)).await;
    world.runtime.fail_released_stops(true);
    let first = job(1_700_000_300);
    world.deploy("api", &first).await.unwrap();
    let instance = release_of(&world, &first).unwrap().instance;
    let left = world.runtime.instance(&instance).expect("its stop failed");
    assert_eq!(
        left.profiles,
        vec!["default".to_owned()],
        "the checkout is unmounted"
    );
    assert!(world.runtime.profiles().is_empty());
    // Soon after, it may still be stopping: still pending.
    world.clock.advance(Duration::from_secs(20));
    world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(
        release_of(&world, &first).map(|r| r.state),
        Some(ReleaseState::Pending)
    );
    // Long after its job: the stop failed; it is said and the instance goes.
    world.clock.advance(Duration::from_secs(60));
    world.workflows.sweep(false, &world.events).await.unwrap();
    let release = release_of(&world, &first).unwrap();
    assert_eq!(release.state, ReleaseState::Failed);
    let note = release.note.unwrap();
    assert!(
        note.contains("its stop failed") && note.contains("lxpack deleted it"),
        "{note}"
    );
    assert!(world.runtime.instance(&instance).is_none());
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains(&format!("job {first}"))),
        "{:?}",
        world.events.warnings()
    );
    world.assert_nothing_left();
}
