//! Deploy caches on the fakes: each deploy copies the current generation, a successful
//! one's copy becomes the cache unless a newer job's is, a failed one's is dropped, and
//! a failure at any call leaves the cache as it was (or as the job left it), never a
//! copy in between.

use std::collections::BTreeMap;

use lxpack_core::domain::{
    CacheKey, CacheMark, CacheState, GuestPath, JobId, MountSource, VolumeName,
};
use lxpack_core::events::Event;
use lxpack_core::ports::VolumeSpec;
use lxpack_core::workflows::{CacheSettings, CleanupMode, Settings, WorkflowError};
use lxpack_fake::{ExecScript, FakeFailure, Fault, RuntimeCall, RuntimeOp, When};

use crate::helpers::*;

const PIP: &str = "/root/.cache/pip";
const NODE: &str = "/var/www/api/node_modules";

fn path(text: &str) -> GuestPath {
    GuestPath::parse(text).unwrap()
}

fn cache_key(text: &str) -> CacheKey {
    CacheKey {
        app: key("web"),
        module: "api".to_owned(),
        path: path(text),
    }
}

fn cached(cleanup: CleanupMode, budget: Option<u64>) -> Settings {
    let mut paths = BTreeMap::new();
    paths.insert((key("web"), "api".to_owned()), vec![path(PIP), path(NODE)]);
    Settings {
        cleanup,
        cache: CacheSettings {
            paths,
            quota: Some(1 << 30),
            budget,
        },
        ..settings()
    }
}

/// The volumes on the fake daemon: (path, job, state).
fn volumes(world: &World) -> Vec<(String, JobId, CacheState)> {
    world
        .runtime
        .volumes()
        .into_iter()
        .map(|v| (v.mark.key.path.to_string(), v.mark.job, v.mark.state))
        .collect()
}

fn current(world: &World, cache: &str) -> Vec<JobId> {
    volumes(world)
        .into_iter()
        .filter(|(p, _, state)| p == cache && *state == CacheState::Current)
        .map(|(_, job, _)| job)
        .collect()
}

fn copies(world: &World) -> Vec<(String, JobId)> {
    volumes(world)
        .into_iter()
        .filter(|(_, _, state)| *state == CacheState::Copy)
        .map(|(p, job, _)| (p, job))
        .collect()
}

fn volume_of(cache: &str, job: &JobId) -> VolumeName {
    VolumeName::for_cache(&cache_key(cache).id(), job)
}

async fn world(cleanup: CleanupMode) -> World {
    let world = World::with(cached(cleanup, None), true);
    world.built(&job(1_700_000_100)).await;
    world
}

#[tokio::test(start_paused = true)]
async fn a_first_deploy_starts_empty_gives_the_build_user_the_caches_and_saves_them() {
    let world = world(CleanupMode::Wait).await;
    let first = job(1_700_000_200);
    world.deploy("api", &first).await.unwrap();
    let restored: Vec<Event> = world
        .events
        .take()
        .into_iter()
        .filter(|e| matches!(e, Event::CacheRestored { .. } | Event::CacheSaved { .. }))
        .collect();
    assert_eq!(restored.len(), 4, "{restored:?}");
    assert!(matches!(
        &restored[0],
        Event::CacheRestored { from: None, .. }
    ));
    assert!(matches!(
        &restored[2],
        Event::CacheSaved { saved: true, .. }
    ));
    // The copies are in the job's profile, with the checkout.
    let profile = world.created_profile();
    assert!(
        profile
            .mounts
            .iter()
            .any(|m| m.source == MountSource::Volume(volume_of(PIP, &first))
                && m.target == path(PIP))
    );
    // Both new caches are handed to the build user, in one command, before the buildpack.
    let commands = world.commands();
    let chown = commands.iter().position(|c| c[0] == "chown").unwrap();
    assert_eq!(commands[chown], ["chown", "1000:1000", PIP, NODE]);
    assert!(commands[chown + 1][0].contains("buildpack"));
    assert_eq!(current(&world, PIP), vec![first.clone()]);
    assert_eq!(current(&world, NODE), [first]);
    assert!(copies(&world).is_empty());
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn the_next_deploy_starts_from_the_cache_and_replaces_it() {
    for cleanup in [CleanupMode::Wait, CleanupMode::Background] {
        let world = world(cleanup).await;
        let first = job(1_700_000_200);
        world.deploy("api", &first).await.unwrap();
        assert!(
            world
                .runtime
                .write_volume(&volume_of(PIP, &first), "wheel", b"numpy")
        );
        let second = job(1_700_000_300);
        world.runtime.clear_calls();
        world.deploy("api", &second).await.unwrap();
        let created: Vec<VolumeSpec> = world
            .runtime
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                RuntimeCall::CreateVolume { spec } => Some(spec),
                _ => None,
            })
            .collect();
        assert_eq!(created[0].copy_of, Some(volume_of(PIP, &first)));
        assert_eq!(created[0].quota, Some(1 << 30));
        // No chown: a copy keeps its owners.
        assert!(
            !world
                .runtime
                .calls()
                .iter()
                .any(|c| matches!(c, RuntimeCall::Exec { command, .. } if command[0] == "chown"))
        );
        assert_eq!(current(&world, PIP), vec![second.clone()], "{cleanup:?}");
        let saved = world
            .runtime
            .volumes()
            .into_iter()
            .find(|v| v.name == volume_of(PIP, &second))
            .unwrap();
        assert_eq!(
            saved.files.get("wheel").map(Vec::as_slice),
            Some(&b"numpy"[..])
        );
        assert_eq!(saved.mark.size, Some(5));
        assert_eq!(
            volumes(&world).len(),
            2,
            "{cleanup:?}: the older generations were pruned"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_deploy_drops_its_copies_and_the_cache_stays() {
    let world = world(CleanupMode::Wait).await;
    let first = job(1_700_000_200);
    world.deploy("api", &first).await.unwrap();
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::exit_code(2));
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { exit_code: 2, .. }),
        "{error:?}"
    );
    assert_eq!(current(&world, PIP), vec![first.clone()]);
    assert_eq!(current(&world, NODE), [first]);
    assert!(copies(&world).is_empty());
    assert!(world.events.take().iter().any(|e| matches!(e, Event::CacheSaved { saved: false, detail, .. } if detail.contains("did not succeed"))));
}

#[tokio::test(start_paused = true)]
async fn an_older_job_finishing_last_never_replaces_a_newer_jobs_cache() {
    let world = world(CleanupMode::Wait).await;
    let newer = job(1_700_000_300);
    let older = job(1_700_000_200);
    world.deploy("api", &newer).await.unwrap();
    world.deploy("api", &older).await.unwrap();
    assert_eq!(current(&world, PIP), vec![newer.clone()]);
    assert!(copies(&world).is_empty());
    assert!(world.events.take().iter().any(|e| matches!(e, Event::CacheSaved { saved: false, detail, .. } if detail.contains(newer.as_str()))));
}

#[tokio::test(start_paused = true)]
async fn a_kept_deploy_keeps_its_copies_mounted_and_gc_removes_them_after_it() {
    let world = world(CleanupMode::Wait).await;
    let kept = job(1_700_000_200);
    world.deploy_kept("api", &kept).await.unwrap();
    assert_eq!(copies(&world).len(), 2);
    assert!(current(&world, PIP).is_empty());
    // Once the kept instance expires, gc removes it and then its copies.
    world.clock.set(
        std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(1_700_000_000 + 3 * 24 * 3600),
    );
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.caches.removed.len(), 2, "{report:?}");
    assert!(volumes(&world).is_empty());
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn gc_removes_finished_jobs_copies_and_superseded_generations_and_evicts_past_the_budget() {
    let world = World::with(cached(CleanupMode::Wait, Some(3 << 20)), true);
    world.built(&job(1_700_000_100)).await;
    let seed = |cache: &str, at: u32, state: CacheState, size: u64| {
        let mark = CacheMark::copy(&cache_key(cache), &job(at));
        let mark = if state == CacheState::Current {
            mark.promoted(Some(size))
        } else {
            mark
        };
        world.runtime.seed_volume(&VolumeSpec {
            name: mark.volume(),
            copy_of: None,
            mark,
            quota: None,
        });
    };
    // A crashed job's copy (its job is unknown here and long over), a superseded
    // generation, and two current caches of 2 MiB each against a budget of 3 MiB.
    seed(PIP, 1_600_000_000, CacheState::Copy, 0);
    seed(PIP, 1_700_000_010, CacheState::Current, 2 << 20);
    seed(PIP, 1_700_000_020, CacheState::Current, 2 << 20);
    seed(NODE, 1_700_000_030, CacheState::Current, 2 << 20);
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_100);
    world.clock.set(now);
    let dry = world.workflows.sweep(true, &world.events).await.unwrap();
    assert_eq!(dry.caches.removed.len(), 3, "{:?}", dry.caches);
    assert_eq!(volumes(&world).len(), 4, "a dry run removes nothing");
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    let why: Vec<(String, String)> = report
        .caches
        .removed
        .iter()
        .map(|c| (c.job.to_string(), c.why.clone()))
        .collect();
    assert_eq!(why.len(), 3, "{why:?}");
    assert!(
        why.iter()
            .any(|(j, w)| *j == job(1_600_000_000).to_string() && w.contains("over"))
    );
    assert!(
        why.iter()
            .any(|(j, w)| *j == job(1_700_000_010).to_string() && w.contains("newer generation"))
    );
    assert!(
        why.iter()
            .any(|(j, w)| *j == job(1_700_000_020).to_string() && w.contains("budget"))
    );
    assert_eq!(current(&world, NODE), [job(1_700_000_030)]);
    assert_eq!(volumes(&world).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn purge_removes_a_modules_caches_but_not_a_running_jobs_copy() {
    let world = world(CleanupMode::Wait).await;
    world.deploy("api", &job(1_700_000_200)).await.unwrap();
    let listed = world.workflows.list_caches().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].job, job(1_700_000_200));
    let dry = world
        .workflows
        .purge_caches(&key("web"), Some("api"), true)
        .await
        .unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert_eq!(volumes(&world).len(), 2);
    let other = world
        .workflows
        .purge_caches(&key("web"), Some("static"), false)
        .await
        .unwrap();
    assert!(other.removed.is_empty());
    let purge = world
        .workflows
        .purge_caches(&key("web"), None, false)
        .await
        .unwrap();
    assert_eq!(purge.removed.len(), 2);
    assert!(volumes(&world).is_empty());
}

/// Every call of a deploy with one cache to copy and one new cache fails in turn:
/// the job fails naming its step (or, after the buildpack, as a cleanup failure),
/// nothing is left but what a failed removal could not remove, and each cache is
/// either the one before or the job's, never a copy in between.
#[tokio::test(start_paused = true)]
async fn a_deploy_with_caches_survives_a_failure_at_every_call() {
    for cleanup in [CleanupMode::Wait, CleanupMode::Background] {
        let before = job(1_700_000_200);
        let this = job(1_700_000_300);
        let world_of = || async {
            let world = World::with(cached(cleanup, None), true);
            world.built(&job(1_700_000_100)).await;
            // A generation of the pip cache only: the node cache is new.
            let mark = CacheMark::copy(&cache_key(PIP), &before).promoted(Some(0));
            world.runtime.seed_volume(&VolumeSpec {
                name: mark.volume(),
                copy_of: None,
                mark,
                quota: None,
            });
            world.store.clear_calls();
            world.runtime.clear_calls();
            world
        };
        let reference = world_of().await;
        reference.deploy("api", &this).await.unwrap();
        let points: Vec<(RuntimeOp, u32)> = reference.runtime.call_points();
        for op in [
            RuntimeOp::ListVolumes,
            RuntimeOp::CreateVolume,
            RuntimeOp::VolumeUsage,
            RuntimeOp::MarkVolume,
            RuntimeOp::DeleteVolume,
        ] {
            assert!(points.iter().any(|(o, _)| *o == op), "{op:?} in {points:?}");
        }
        for (op, n) in points {
            let world = world_of().await;
            world
                .runtime
                .inject(op, When::Nth(n), Fault::fail(FakeFailure::Other));
            let result = world.deploy("api", &this).await;
            let point = format!("{cleanup:?} {op:?} #{n}");
            // A failed instance or profile removal leaves them, and the copies they
            // mount, for gc (below).
            let removal = matches!(op, RuntimeOp::DeleteInstance | RuntimeOp::DeleteProfile);
            if !removal {
                world.assert_nothing_left();
            }
            let pip = current(&world, PIP);
            let node = current(&world, NODE);
            match &result {
                Ok(_) => {
                    assert_eq!(pip, vec![this.clone()], "{point}");
                    assert_eq!(node, vec![this.clone()], "{point}");
                }
                Err(error) => {
                    assert!(
                        pip == [before.clone()]
                            || pip == [this.clone()]
                            || pip == [before.clone(), this.clone()],
                        "{point}: {pip:?}"
                    );
                    assert!(
                        node.is_empty() || node == [this.clone()],
                        "{point}: {node:?}"
                    );
                    assert!(!error.to_string().is_empty());
                }
            }
            // Only a failed removal leaves a copy, for gc.
            let left = copies(&world);
            if op != RuntimeOp::DeleteVolume && !removal {
                assert!(left.is_empty(), "{point}: copies left: {left:?}");
            }
            if matches!(
                op,
                RuntimeOp::ListVolumes
                    | RuntimeOp::VolumeUsage
                    | RuntimeOp::MarkVolume
                    | RuntimeOp::DeleteVolume
            ) && n > 1
            {
                assert!(
                    matches!(result, Err(WorkflowError::Cleanup { .. })) || result.is_ok(),
                    "{point}: {result:?}"
                );
            }
            // Whatever is left, gc leaves exactly one generation per cache that has one.
            let now =
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_100_000);
            world.clock.set(now);
            world.workflows.sweep(false, &world.events).await.unwrap();
            assert!(copies(&world).is_empty(), "{point}: gc left copies");
            assert_eq!(current(&world, PIP).len(), 1, "{point}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn on_storage_that_cannot_tell_a_size_the_budget_has_the_job_measure_its_copies() {
    let world = World::with(cached(CleanupMode::Wait, Some(1 << 30)), true);
    world.built(&job(1_700_000_100)).await;
    world.runtime.set_volume_usage_known(false);
    world.runtime.on_command(
        &["du"],
        ExecScript::new().stdout(format!("2048\t{PIP}\n1\t{NODE}\n")),
    );
    world.deploy("api", &job(1_700_000_200)).await.unwrap();
    let sizes: Vec<(String, Option<u64>)> = world
        .runtime
        .volumes()
        .into_iter()
        .map(|v| (v.mark.key.path.to_string(), v.mark.size))
        .collect();
    assert!(
        sizes.contains(&(PIP.to_owned(), Some(2 << 20))),
        "{sizes:?}"
    );
    assert!(sizes.contains(&(NODE.to_owned(), Some(1024))), "{sizes:?}");
    // Without a budget nothing needs the size: no du runs.
    let world = World::with(cached(CleanupMode::Wait, None), true);
    world.built(&job(1_700_000_100)).await;
    world.runtime.set_volume_usage_known(false);
    world.deploy("api", &job(1_700_000_200)).await.unwrap();
    assert!(
        !world
            .runtime
            .calls()
            .iter()
            .any(|c| matches!(c, RuntimeCall::Exec { command, .. } if command[0] == "du"))
    );
    assert!(
        world
            .runtime
            .volumes()
            .iter()
            .all(|v| v.mark.size.is_none())
    );
}
