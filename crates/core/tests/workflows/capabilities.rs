//! A runtime states what it can do beyond every job's needs by the capability ports it
//! offers: settings that need one it lacks are refused before any job, and jobs that
//! need none run on a runtime that offers none.

use std::collections::BTreeMap;

use lxpack_core::domain::GuestPath;
use lxpack_core::ports::{Capability, RuntimeCapabilities};
use lxpack_core::workflows::{
    CapabilityUse, DeployOutcome, FillRequest, PoolSize, Settings, WorkflowError,
};
use lxpack_fake::fixtures::job;

use crate::helpers::{World, key, settings};

fn every_capability_used() -> Settings {
    let mut settings = settings();
    settings.pool.apps.insert(
        key("web"),
        PoolSize {
            size: 2,
            ..PoolSize::default()
        },
    );
    let mut paths = BTreeMap::new();
    paths.insert(
        (key("web"), "api".to_owned()),
        vec![GuestPath::parse("/root/.cache/pip").unwrap()],
    );
    settings.cache.paths = paths;
    settings.step_snapshots = true;
    settings
}

fn all(world: &World) -> RuntimeCapabilities {
    world.workflows.ports().capabilities.clone()
}

fn refused_use(result: Result<(), WorkflowError>) -> Option<CapabilityUse> {
    match result {
        Ok(()) => None,
        Err(WorkflowError::MissingCapability { usage }) => Some(usage),
        Err(other) => panic!("expected MissingCapability, got {other:?}"),
    }
}

#[test]
fn settings_name_what_they_turn_on() {
    assert_eq!(settings().capability_uses(), []);
    assert_eq!(
        every_capability_used().capability_uses(),
        [
            CapabilityUse::Pools,
            CapabilityUse::Caches,
            CapabilityUse::StepSnapshots
        ]
    );
}

#[test]
fn a_runtime_with_every_capability_serves_every_setting() {
    let world = World::with(every_capability_used(), true);
    assert_eq!(refused_use(world.workflows.check_capabilities()), None);
}

#[test]
fn each_setting_is_refused_without_its_capability() {
    for (capability, usage) in [
        (Capability::Standbys, CapabilityUse::Pools),
        (Capability::CacheVolumes, CapabilityUse::Caches),
        (Capability::StepSnapshots, CapabilityUse::StepSnapshots),
    ] {
        let world = World::with(every_capability_used(), true);
        let without = all(&world).without(capability);
        let world = world.offering(without);
        assert_eq!(
            refused_use(world.workflows.check_capabilities()),
            Some(usage),
            "without {capability}"
        );
        assert_eq!(usage.capability(), capability);
    }
    // Capabilities no setting needs are not asked for.
    let world = World::new().offering(RuntimeCapabilities::none());
    assert_eq!(refused_use(world.workflows.check_capabilities()), None);
}

#[test]
fn the_refusal_names_the_setting_and_the_capability() {
    let error = WorkflowError::MissingCapability {
        usage: CapabilityUse::Caches,
    };
    assert_eq!(
        error.to_string(),
        "a module's dependency caches: this container runtime does not offer cache volumes"
    );
}

#[tokio::test(start_paused = true)]
async fn a_runtime_without_capabilities_builds_and_deploys() {
    let world = World::new().offering(RuntimeCapabilities::none());
    world.built(&job(1)).await;
    let report = world.deploy("api", &job(2)).await.unwrap();
    assert!(
        matches!(report.outcome, DeployOutcome::Built { .. }),
        "{report:?}"
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn filling_a_pool_without_standbys_is_refused_before_anything_starts() {
    let world = World::new().offering(RuntimeCapabilities::none());
    world.built(&job(1)).await;
    let calls = world.runtime.calls().len();
    let request = FillRequest {
        app: key("web"),
        owner: None,
        size: Some(1),
    };
    let error = world
        .workflows
        .fill_pool(&request, &world.events, &world.cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            WorkflowError::MissingCapability {
                usage: CapabilityUse::Pools
            }
        ),
        "{error:?}"
    );
    assert_eq!(world.runtime.calls().len(), calls, "no runtime call");
}
