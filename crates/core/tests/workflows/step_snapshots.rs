//! buildimage's step snapshots on the fakes: each step is snapshotted under a key of
//! everything before it, the build instance stays as their holder, a re-run starts
//! after its unchanged steps, `--no-cache` and a changed step run again what they
//! must, the holders go with their images, and a failure at any call of a resumed
//! build leaves no more than a cold build's would.

use lxpack_core::domain::{ImageAlias, Script, StepKey};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::{ImageRegistry, ResourceKind};
use lxpack_core::workflows::{BuildImageReport, Settings, WorkflowError};
use lxpack_fake::{FakeFailure, Fault, RuntimeCall, RuntimeOp, When};

use crate::helpers::*;

fn snapshotting(digest: Option<&str>) -> Settings {
    let mut settings = settings();
    settings.step_snapshots = true;
    for provisioner in &mut settings.provisioners {
        provisioner.formulas_digest = digest.map(str::to_owned);
    }
    settings
}

const STEPS: [Step; 3] = [
    Step::PreBuildImageHook,
    Step::Features(lxpack_core::domain::Provisioner::Salt),
    Step::PostBuildImageHook,
];

/// The hooks and features that ran, in order.
fn ran(world: &World) -> Vec<Step> {
    world
        .steps()
        .into_iter()
        .filter(|s| STEPS.contains(s))
        .collect()
}

fn holders(world: &World) -> Vec<(String, Vec<StepKey>)> {
    world
        .runtime
        .instances()
        .into_iter()
        .filter(|i| !i.steps.is_empty())
        .map(|i| (i.name.to_string(), i.steps))
        .collect()
}

fn change_post_hook(world: &World, text: &str) {
    let mut app = world.app();
    app.lifecycle_hooks.post_buildimage = Some(Script::new(text.as_bytes().to_vec()));
    world.store.insert_app(app);
}

async fn build(world: &World, at: u32) -> BuildImageReport {
    let _ = world.events.take();
    world.runtime.clear_calls();
    world.build(&job(at)).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_build_snapshots_each_step_and_its_instance_stays_as_their_holder() {
    let world = World::with(snapshotting(Some("formulas-1")), true);
    let report = build(&world, 1_700_000_100).await;
    assert_eq!(report.steps_snapshotted, 3);
    assert!(report.steps_from_snapshot.is_empty());
    let snapshots: Vec<String> = world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            RuntimeCall::SnapshotInstance { snapshot, .. } => Some(snapshot),
            _ => None,
        })
        .collect();
    assert_eq!(snapshots.len(), 3);
    let held = holders(&world);
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0]
            .1
            .iter()
            .map(StepKey::snapshot_name)
            .collect::<Vec<_>>(),
        snapshots
    );
    // Its profile is gone; the holder is stopped and keeps only the base profile.
    assert!(world.runtime.profiles().is_empty());
    let holder = &world.runtime.instances()[0];
    assert_eq!(holder.profiles, ["default"]);
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_rebuild_starts_after_its_last_step_and_publishes_the_same_files() {
    let world = World::with(snapshotting(Some("formulas-1")), true);
    let cold = build(&world, 1_700_000_100).await;
    let warm = build(&world, 1_700_000_200).await;
    assert_eq!(warm.steps_from_snapshot, STEPS);
    assert_eq!(warm.resumed_from, Some(job(1_700_000_100)));
    assert!(ran(&world).is_empty(), "{:?}", ran(&world));
    let launch = world
        .runtime
        .calls()
        .into_iter()
        .find_map(|c| match c {
            RuntimeCall::LaunchInstance { spec } => Some(spec),
            _ => None,
        })
        .unwrap();
    let from = launch.from_snapshot.unwrap();
    assert_eq!(from.instance, cold.instance);
    assert!(
        world
            .events
            .take()
            .iter()
            .any(|e| matches!(e, Event::StepsFromSnapshot { steps, .. } if steps.len() == 3))
    );
    // The published images hold the same files and properties but for the job's own.
    let image = |at| {
        world
            .registry
            .image(&ImageAlias::for_job(&job(at)))
            .unwrap()
    };
    let (first, second) = (image(1_700_000_100), image(1_700_000_200));
    let without_job = |image: &lxpack_core::domain::Image| {
        let mut properties = image.properties.clone();
        properties.remove(lxpack_core::domain::property::JOB);
        properties.remove(lxpack_core::domain::property::DESCRIPTION);
        properties
    };
    assert_eq!(without_job(&first), without_job(&second));
    // Both builds are holders now, each of its own snapshots.
    assert_eq!(holders(&world).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_changed_last_hook_runs_again_alone_and_no_cache_runs_every_step() {
    let world = World::with(snapshotting(Some("formulas-1")), true);
    build(&world, 1_700_000_100).await;
    change_post_hook(&world, "echo post v2\n");
    let changed = build(&world, 1_700_000_200).await;
    assert_eq!(changed.steps_from_snapshot, STEPS[..2]);
    assert_eq!(ran(&world), [Step::PostBuildImageHook]);
    // Every script is delivered again: the snapshot holds the old post hook.
    assert!(world.runtime.calls().iter().any(
        |c| matches!(c, RuntimeCall::PushFile { file, .. } if file.contents == b"echo post v2\n")
    ));
    let full = {
        let _ = world.events.take();
        world.runtime.clear_calls();
        let mut request = world.build_request(&job(1_700_000_300));
        request.no_cache = true;
        world
            .workflows
            .build_image(&request, &world.events, &world.cancel)
            .await
            .unwrap()
    };
    assert!(full.steps_from_snapshot.is_empty());
    assert_eq!(ran(&world), STEPS);
    assert_eq!(full.steps_snapshotted, 3);
}

#[tokio::test(start_paused = true)]
async fn without_a_formulas_digest_the_features_and_later_steps_always_run() {
    let world = World::with(snapshotting(None), true);
    let first = build(&world, 1_700_000_100).await;
    assert_eq!(first.steps_snapshotted, 1);
    let second = build(&world, 1_700_000_200).await;
    assert_eq!(second.steps_from_snapshot, [Step::PreBuildImageHook]);
    assert_eq!(ran(&world), STEPS[1..]);
}

#[tokio::test(start_paused = true)]
async fn off_by_default_nothing_is_snapshotted_or_kept() {
    let world = World::new();
    let report = build(&world, 1_700_000_100).await;
    assert_eq!(report.steps_snapshotted, 0);
    assert!(
        !world
            .runtime
            .calls()
            .iter()
            .any(|c| matches!(c, RuntimeCall::SnapshotInstance { .. }))
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn gc_keeps_a_holder_while_its_image_exists() {
    let world = World::with(snapshotting(Some("formulas-1")), true);
    build(&world, 1_700_000_100).await;
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    world.clock.set(now);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.spared.len(), 1, "{report:?}");
    assert_eq!(holders(&world).len(), 1);
    let image = world
        .registry
        .image(&ImageAlias::for_job(&job(1_700_000_100)))
        .unwrap();
    world
        .registry
        .delete_image(&image.fingerprint)
        .await
        .unwrap();
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.removed.len(), 1, "{report:?}");
    assert_eq!(report.removed[0].kind, ResourceKind::Instance);
    world.assert_nothing_left();
}

/// Every call of a build that resumes after a changed post hook fails in turn: the
/// build fails naming its step, or (snapshot, holder, listing failures) goes on
/// without; either way nothing is left but the holders of successful builds.
#[tokio::test(start_paused = true)]
async fn a_resumed_build_survives_a_failure_at_every_call() {
    let setup = || async {
        let world = World::with(snapshotting(Some("formulas-1")), true);
        build(&world, 1_700_000_100).await;
        change_post_hook(&world, "echo post v2\n");
        world.runtime.clear_calls();
        world
    };
    let reference = setup().await;
    reference.build(&job(1_700_000_200)).await.unwrap();
    let points = reference.runtime.call_points();
    for op in [
        RuntimeOp::ListResources,
        RuntimeOp::SnapshotInstance,
        RuntimeOp::KeepAsStepHolder,
    ] {
        assert!(points.iter().any(|(o, _)| *o == op), "{op:?}: {points:?}");
    }
    for (op, n) in points {
        let world = setup().await;
        world
            .runtime
            .inject(op, When::Nth(n), Fault::fail(FakeFailure::Other));
        let result = world.build(&job(1_700_000_200)).await;
        let point = format!("{op:?} #{n}");
        let held: Vec<String> = holders(&world).into_iter().map(|(name, _)| name).collect();
        let others: Vec<String> = world
            .runtime
            .instances()
            .into_iter()
            .filter(|i| i.steps.is_empty())
            .map(|i| i.name.to_string())
            .collect();
        match (&result, op) {
            (
                Err(WorkflowError::Cleanup { .. }),
                RuntimeOp::DeleteInstance | RuntimeOp::DeleteProfile,
            ) => continue,
            (Ok(report), _) => {
                // No holder of its own when it could not be kept, or took no snapshot.
                let kept = !(op == RuntimeOp::KeepAsStepHolder
                    || (op == RuntimeOp::SnapshotInstance && n == 1));
                let expected = if kept { 2 } else { 1 };
                assert_eq!(held.len(), expected, "{point}: {held:?}");
                if matches!(
                    op,
                    RuntimeOp::SnapshotInstance
                        | RuntimeOp::KeepAsStepHolder
                        | RuntimeOp::ListResources
                ) {
                    assert!(
                        !world.events.warnings().is_empty(),
                        "{point}: a warning says what was skipped"
                    );
                }
                if op == RuntimeOp::ListResources && n == 1 {
                    assert!(
                        report.steps_from_snapshot.is_empty(),
                        "{point}: a cold build"
                    );
                }
            }
            (Err(error), _) => {
                assert!(!error.to_string().is_empty());
                assert_eq!(
                    held.len(),
                    1,
                    "{point}: only the first build's holder: {held:?}"
                );
            }
        }
        assert!(others.is_empty(), "{point}: instances left: {others:?}");
        assert!(
            world.runtime.profiles().is_empty(),
            "{point}: profiles left"
        );
    }
}
