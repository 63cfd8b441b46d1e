//! On a cluster: the job says which member ran it, a member lost mid-job fails the job
//! as unreachable and names the member, the sweep leaves what an unreachable member
//! holds until it is back, and a module with caches deploys only on a named member.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use lxpack_core::domain::{ClusterMember, GuestPath, JobStatus, MemberName, PlacementTarget};
use lxpack_core::events::Event;
use lxpack_core::ports::{ResourceKind, RuntimeError};
use lxpack_core::workflows::{
    CacheSettings, FillRequest, PortError, Settings, SpareReason, WorkflowError,
};
use lxpack_fake::{ExecScript, RuntimeCall};

use crate::helpers::*;

fn member(name: &str, status: &str) -> ClusterMember {
    ClusterMember {
        name: MemberName::parse(name).unwrap(),
        url: format!("https://{name}.example:8443"),
        status: status.to_owned(),
        message: if status == "Online" {
            "Fully operational".into()
        } else {
            "No heartbeat for 21s".into()
        },
        groups: vec!["default".into()],
    }
}

fn m1() -> MemberName {
    MemberName::parse("m1").unwrap()
}

/// A world whose daemon is a cluster of m1 (where new instances go) and m2.
async fn clustered() -> World {
    clustered_with(settings()).await
}

/// The same, with `settings`.
async fn clustered_with(settings: Settings) -> World {
    let world = World::with(settings, true);
    world
        .runtime
        .set_cluster(vec![member("m1", "Online"), member("m2", "Online")]);
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
    world
}

#[tokio::test(start_paused = true)]
async fn a_job_records_and_reports_the_member_it_ran_on() {
    let world = clustered().await;
    let deploy = job(1_700_000_200);
    world.deploy("api", &deploy).await.unwrap();
    let placed: Vec<_> = world
        .events
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Placed { member, .. } => Some(member),
            _ => None,
        })
        .collect();
    assert_eq!(placed, [m1()]);
    let record = world.store.job(&deploy).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.member, Some(m1()));
}

#[tokio::test(start_paused = true)]
async fn a_job_on_a_daemon_that_is_not_clustered_has_no_member() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
    let deploy = job(1_700_000_200);
    world.deploy("api", &deploy).await.unwrap();
    assert!(
        !world
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Event::Placed { .. }))
    );
    assert_eq!(world.store.job(&deploy).unwrap().member, None);
}

#[tokio::test(start_paused = true)]
async fn a_member_lost_mid_job_fails_it_as_unreachable_and_names_the_member() {
    let world = clustered().await;
    // m1 goes down right after the instance answered its first command.
    let runtime = world.runtime.clone();
    let flipped = Arc::new(AtomicBool::new(false));
    world.runtime.on_exec(move |_, _| {
        if !flipped.swap(true, Ordering::SeqCst) {
            runtime.set_member_status(&m1(), "Offline", "No heartbeat for 21s");
        }
        None
    });
    let deploy = job(1_700_000_200);
    let error = world.deploy("api", &deploy).await.unwrap_err();
    let WorkflowError::StepFailed { source, .. } = error.primary() else {
        panic!("{error:?}");
    };
    let PortError::Runtime(RuntimeError::Unreachable(unreachable)) = source.as_ref() else {
        panic!("{source:?}");
    };
    assert!(
        unreachable.endpoint.contains("cluster member m1"),
        "{unreachable:?}"
    );
    // Its cleanup could not reach the member either: said, not hidden.
    assert!(
        matches!(&error, WorkflowError::Cleanup { failures, .. } if !failures.is_empty()),
        "{error:?}"
    );
    let record = world.store.job(&deploy).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.member, Some(m1()));
    assert!(
        record.error.unwrap().contains("cluster member m1"),
        "the record keeps the member"
    );
}

#[tokio::test(start_paused = true)]
async fn the_sweep_leaves_what_an_unreachable_member_holds_until_it_is_back() {
    let world = clustered().await;
    let kept = job(1_700_000_200);
    world.deploy_kept("api", &kept).await.unwrap();
    world
        .runtime
        .set_member_status(&m1(), "Offline", "No heartbeat for 21s");
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_100_000);

    world.clock.set(later);
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert!(report.removed.is_empty(), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    let spared: Vec<(ResourceKind, SpareReason)> = report
        .spared
        .iter()
        .map(|s| (s.resource.kind, s.reason))
        .collect();
    assert_eq!(
        spared,
        [
            (ResourceKind::Instance, SpareReason::MemberUnreachable),
            (ResourceKind::Profile, SpareReason::MemberUnreachable),
        ]
    );
    assert_eq!(report.unreachable_members.len(), 1);
    assert_eq!(report.unreachable_members[0].name, m1());
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("cluster member m1 is offline")),
        "{:?}",
        world.events.warnings()
    );

    world
        .runtime
        .set_member_status(&m1(), "Online", "Fully operational");
    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    assert_eq!(report.removed.len(), 2, "{report:?}");
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_member_lost_while_the_instance_starts_fails_at_once_not_after_the_ready_limit() {
    let world = clustered().await;
    world.runtime.on_exec({
        let runtime = world.runtime.clone();
        // The first probe finds the instance not ready yet, and its member goes; the
        // next probe meets the member gone.
        move |_, _| {
            runtime.set_member_status(&m1(), "Offline", "No heartbeat for 21s");
            Some(ExecScript::exit_code(1))
        }
    });
    let started = tokio::time::Instant::now();
    let error = world.deploy("api", &job(1_700_000_200)).await.unwrap_err();
    assert!(
        matches!(
            error.primary(),
            WorkflowError::StepFailed { step: lxpack_core::events::Step::WaitReady, source, .. }
                if matches!(source.as_ref(), PortError::Runtime(RuntimeError::Unreachable(_)))
        ),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Settings where module api of web keeps one cache, with `target` and a pool of
/// `pool` standbys.
fn cached_on(target: Option<&str>, pool: usize) -> Settings {
    let mut paths = BTreeMap::new();
    paths.insert(
        (key("web"), "api".to_owned()),
        vec![GuestPath::parse("/root/.cache/pip").unwrap()],
    );
    let mut settings = Settings {
        placement: target.map(|t| PlacementTarget::parse(t).unwrap()),
        cache: CacheSettings {
            paths,
            quota: None,
            budget: None,
        },
        ..settings()
    };
    settings.pool.default.size = pool;
    settings
}

/// Whether any call of `world`'s runtime made something (a volume, a profile, an
/// instance) or claimed a standby.
fn made_anything(world: &World) -> Vec<RuntimeCall> {
    world
        .runtime
        .calls()
        .into_iter()
        .filter(|call| {
            matches!(
                call,
                RuntimeCall::CreateVolume { .. }
                    | RuntimeCall::CreateProfile { .. }
                    | RuntimeCall::LaunchInstance { .. }
                    | RuntimeCall::ClaimStandby { .. }
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn caches_on_a_cluster_without_a_member_target_are_refused_before_anything_is_made() {
    for (target, pool) in [(None, 0), (Some("@odd"), 0), (Some("@odd"), 1)] {
        let world = clustered_with(cached_on(target, pool)).await;
        if pool > 0 {
            let fill = FillRequest {
                app: key("web"),
                owner: None,
                size: None,
            };
            let report = world
                .workflows
                .fill_pool(&fill, &world.events, &world.cancel)
                .await
                .unwrap();
            assert!(report.is_complete(), "{report:?}");
        }
        let standbys_before = world.runtime.instances().len();
        world.runtime.clear_calls();
        let deploy = job(1_700_000_200);
        let error = world.deploy("api", &deploy).await.unwrap_err();
        let case = format!("{target:?}, pool {pool}");
        assert!(
            matches!(&error, WorkflowError::CachesNeedOneMember { target: t, .. }
                if t.as_deref().map(ToString::to_string).as_deref() == target),
            "{case}: {error:?}"
        );
        let message = error.to_string();
        for words in [
            "lxpack.runtime.target",
            "lxpack.cache",
            "name one member",
            "m1, m2",
        ] {
            assert!(message.contains(words), "{case}: {words} not in {message}");
        }
        assert!(
            made_anything(&world).is_empty(),
            "{case}: {:?}",
            made_anything(&world)
        );
        assert!(world.runtime.volumes().is_empty(), "{case}");
        assert_eq!(world.runtime.instances().len(), standbys_before, "{case}");
        assert_eq!(
            world.store.job(&deploy).unwrap().status,
            JobStatus::Failed,
            "{case}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn caches_on_a_named_member_or_off_a_cluster_are_kept_between_deploys() {
    for clustered in [true, false] {
        let world = if clustered {
            clustered_with(cached_on(Some("m1"), 0)).await
        } else {
            let world = World::with(cached_on(None, 0), true);
            world.built(&job(1_700_000_100)).await;
            world
                .runtime
                .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
            world
        };
        let first = job(1_700_000_200);
        world.deploy("api", &first).await.unwrap();
        let second = job(1_700_000_300);
        world.deploy("api", &second).await.unwrap();
        let restored: Vec<Option<lxpack_core::domain::JobId>> = world
            .events
            .events()
            .into_iter()
            .filter_map(|event| match event {
                Event::CacheRestored { from, .. } => Some(from),
                _ => None,
            })
            .collect();
        assert_eq!(restored, [None, Some(first)], "clustered: {clustered}");
        world.assert_nothing_left();
    }
}

#[tokio::test(start_paused = true)]
async fn a_cache_placement_check_that_cannot_list_the_members_fails_the_step_and_makes_nothing() {
    let world = clustered_with(cached_on(Some("@odd"), 0)).await;
    world.runtime.clear_calls();
    world.runtime.inject(
        lxpack_fake::RuntimeOp::ClusterMembers,
        lxpack_fake::When::Every,
        lxpack_fake::Fault::fail(lxpack_fake::FakeFailure::Other),
    );
    let error = world.deploy("api", &job(1_700_000_200)).await.unwrap_err();
    assert!(
        matches!(
            &error,
            WorkflowError::StepFailed {
                step: lxpack_core::events::Step::RestoreCache,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(made_anything(&world).is_empty());
}
