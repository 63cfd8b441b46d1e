//! A runtime states what it can do beyond every job's needs by the capability ports it
//! offers: settings that need one it lacks are refused before any job, and jobs that
//! need none run on a runtime that offers none.

use std::collections::BTreeMap;

use lxpack_core::domain::{GuestPath, NetworkMode, NetworkPolicy};
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

/// The test settings with every build on the daemon's own network (mode `open`),
/// which needs no capability.
fn open_network() -> Settings {
    let mut settings = settings();
    settings.network.default.mode = NetworkMode::Open;
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
    assert_eq!(open_network().capability_uses(), []);
    assert_eq!(settings().capability_uses(), [CapabilityUse::Network]);
    assert_eq!(
        every_capability_used().capability_uses(),
        [
            CapabilityUse::Pools,
            CapabilityUse::Caches,
            CapabilityUse::StepSnapshots,
            CapabilityUse::Network,
        ]
    );
    // One egress policy anywhere needs it, whatever the default.
    let mut one_app = open_network();
    one_app
        .network
        .apps
        .insert(key("web"), NetworkPolicy::default());
    assert_eq!(one_app.capability_uses(), [CapabilityUse::Network]);
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
        (Capability::NetworkPolicies, CapabilityUse::Network),
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
    let world = World::with(open_network(), true).offering(RuntimeCapabilities::none());
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
    let world = World::with(open_network(), true).offering(RuntimeCapabilities::none());
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
    let world = World::with(open_network(), true).offering(RuntimeCapabilities::none());
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

#[tokio::test(start_paused = true)]
async fn egress_without_network_policies_is_refused_naming_the_key() {
    let world = World::new().offering(RuntimeCapabilities::none());
    let refused = world.workflows.check_capabilities().unwrap_err();
    assert!(
        matches!(
            refused,
            WorkflowError::MissingCapability {
                usage: CapabilityUse::Network
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("lxpack.network.mode")
            && refused.to_string().contains("network policies"),
        "{refused}"
    );
    // A caller that skipped the check: the job fails at its network step, before
    // anything is made.
    let error = world.build(&job(1)).await.unwrap_err();
    assert!(
        matches!(
            error,
            WorkflowError::StepFailed {
                step: lxpack_core::events::Step::Network,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        lxpack_core::workflows::error_chain(&error).contains("lxpack.network.mode"),
        "{error}"
    );
    world.assert_nothing_left();
}
