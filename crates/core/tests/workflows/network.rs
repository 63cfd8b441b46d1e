//! Network policies on the fakes: each mode gives its attachment to buildimage,
//! deploy and standbys; `egress` makes the daemon hold its network once per scope
//! and makes it again when it went; `open` warns at each job; a module with its own
//! policy never takes its app's standbys; every network call failed in turn leaves
//! nothing behind.

use std::net::IpAddr;

use lxpack_core::domain::{
    EgressRule, NetworkAttachment, NetworkMode, NetworkName, NetworkPolicy, egress_rules,
};
use lxpack_core::events::{Event, Step};
use lxpack_core::workflows::{FillRequest, PoolSize, Settings, WorkflowError};
use lxpack_fake::{FakeFailure, Fault, InjectedFault, RuntimeCall, RuntimeOp, When};

use crate::helpers::*;

fn with_mode(mode: NetworkMode) -> Settings {
    let mut settings = settings();
    settings.network.default.mode = mode;
    settings
}

fn policy(mode: NetworkMode, allow: &[&str]) -> NetworkPolicy {
    NetworkPolicy {
        mode,
        allow: allow
            .iter()
            .map(|text| EgressRule::parse_allow(text).unwrap())
            .collect(),
    }
}

/// The attachment of every instance launched, in order.
fn attachments(world: &World) -> Vec<NetworkAttachment> {
    world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            RuntimeCall::LaunchInstance { spec } => Some(spec.network),
            _ => None,
        })
        .collect()
}

fn count(world: &World, op: RuntimeOp) -> usize {
    (world.runtime.call_points().iter())
        .filter(|(called, _)| *called == op)
        .count()
}

fn default_egress() -> NetworkAttachment {
    NetworkAttachment::Egress {
        network: NetworkName::parse("lxpackbr0").unwrap(),
        acl: lxpack_core::domain::AclName::parse("lxpack-egress").unwrap(),
        owned_network: true,
    }
}

fn network_events(world: &World) -> Vec<NetworkMode> {
    (world.events.events().into_iter())
        .filter_map(|event| match event {
            Event::Network { mode, .. } => Some(mode),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn mode_none_launches_without_a_nic_and_asks_the_daemon_nothing() {
    let world = World::with(with_mode(NetworkMode::None), true);
    world.build(&job(1)).await.unwrap();
    world.deploy("api", &job(2)).await.unwrap();
    assert_eq!(
        attachments(&world),
        [NetworkAttachment::Loopback, NetworkAttachment::Loopback]
    );
    assert_eq!(count(&world, RuntimeOp::HostAddresses), 0);
    assert_eq!(count(&world, RuntimeOp::EnsureEgress), 0);
    assert!(world.runtime.networks().is_empty() && world.runtime.acls().is_empty());
    assert_eq!(
        network_events(&world),
        [NetworkMode::None, NetworkMode::None]
    );
    assert!(
        world.events.warnings().is_empty(),
        "{:?}",
        world.events.warnings()
    );
}

#[tokio::test(start_paused = true)]
async fn mode_open_keeps_the_daemons_profile_and_warns_at_each_job() {
    let world = World::with(with_mode(NetworkMode::Open), true);
    world.build(&job(1)).await.unwrap();
    world.deploy("api", &job(2)).await.unwrap();
    assert_eq!(
        attachments(&world),
        [
            NetworkAttachment::DaemonDefault,
            NetworkAttachment::DaemonDefault
        ]
    );
    assert_eq!(count(&world, RuntimeOp::EnsureEgress), 0);
    let open: Vec<String> = (world.events.warnings().into_iter())
        .filter(|w| w.contains("network of this job is open"))
        .collect();
    assert_eq!(open.len(), 2, "one warning per job: {open:?}");
}

#[tokio::test(start_paused = true)]
async fn egress_is_made_once_then_every_job_attaches_to_it() {
    let world = World::new();
    world.build(&job(1)).await.unwrap();
    world.deploy("api", &job(2)).await.unwrap();
    world.deploy("api", &job(3)).await.unwrap();
    assert_eq!(attachments(&world), vec![default_egress(); 3]);
    assert_eq!(count(&world, RuntimeOp::HostAddresses), 1);
    assert_eq!(
        count(&world, RuntimeOp::EnsureEgress),
        1,
        "warm deploys ask nothing"
    );
    let acls = world.runtime.acls();
    assert_eq!(acls.len(), 1);
    let hosts: Vec<IpAddr> = vec![[203, 0, 113, 7].into(), [127, 0, 0, 1].into()];
    assert_eq!(
        acls[0].rules,
        egress_rules(&[], &hosts),
        "the host is denied"
    );
    let networks = world.runtime.networks();
    assert_eq!(networks.len(), 1);
    assert_eq!(networks[0].acl.as_deref(), Some("lxpack-egress"));
    assert_eq!(network_events(&world), vec![NetworkMode::Egress; 3]);
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn a_changed_policy_updates_the_acl_in_place() {
    let world = World::new();
    world.build(&job(1)).await.unwrap();
    let mut settings = settings();
    settings.network.default = policy(NetworkMode::Egress, &["10.9.0.5 tcp:3128"]);
    let changed = World::with(settings, true);
    let world = World {
        workflows: lxpack_core::workflows::Workflows::new(
            world.workflows.ports().clone(),
            changed.workflows.settings().clone(),
        ),
        ..world
    };
    world.deploy("api", &job(2)).await.unwrap();
    let acls = world.runtime.acls();
    assert_eq!(acls.len(), 1, "the same ACL");
    assert_eq!(acls[0].revision, 2);
    assert!(
        acls[0]
            .rules
            .contains(&EgressRule::parse_allow("10.9.0.5 tcp:3128").unwrap()),
        "{:?}",
        acls[0].rules
    );
}

#[tokio::test(start_paused = true)]
async fn a_module_with_its_own_policy_gets_its_own_network() {
    let mut settings = settings();
    settings.network.modules.insert(
        (key("web"), "api".to_owned()),
        policy(NetworkMode::Egress, &["10.9.0.0/24"]),
    );
    let world = World::with(settings, true);
    world.build(&job(1)).await.unwrap();
    world.deploy("api", &job(2)).await.unwrap();
    let launched = attachments(&world);
    assert_eq!(launched[0], default_egress(), "buildimage: the app's");
    let NetworkAttachment::Egress { network, acl, .. } = &launched[1] else {
        panic!("{launched:?}");
    };
    assert!(network.as_str().starts_with("lxpk"), "{network}");
    let own = world
        .runtime
        .acls()
        .into_iter()
        .find(|a| a.name == acl.as_str())
        .unwrap();
    assert!(
        own.rules
            .contains(&EgressRule::parse_allow("10.9.0.0/24").unwrap())
    );
    assert_eq!(world.runtime.networks().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_operators_bridge_is_used_as_it_is_and_must_exist() {
    let mut settings = settings();
    settings.network.bridge =
        lxpack_core::domain::DefaultBridge::Operator(NetworkName::parse("br-builds").unwrap());
    let world = World::with(settings.clone(), true);
    let error = world.build(&job(1)).await.unwrap_err();
    assert!(
        matches!(
            &error,
            WorkflowError::StepFailed {
                step: Step::Network,
                ..
            }
        ),
        "{error:?}"
    );
    let chain = lxpack_core::workflows::error_chain(&error);
    assert!(
        chain.contains("network br-builds does not exist"),
        "{chain}"
    );
    world.assert_nothing_left();
    assert!(world.runtime.acls().is_empty(), "nothing made");

    let world = World::with(settings, true);
    world.runtime.add_operator_network("br-builds");
    world.build(&job(1)).await.unwrap();
    assert!(matches!(
        &attachments(&world)[0],
        NetworkAttachment::Egress { network, owned_network: false, .. } if network.as_str() == "br-builds"
    ));
    let networks = world.runtime.networks();
    assert_eq!(networks.len(), 1);
    assert_eq!(
        networks[0].acl, None,
        "the operator's bridge is never changed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_network_removed_behind_lxpacks_back_is_made_again_once() {
    let world = World::new();
    world.build(&job(1)).await.unwrap();
    assert!(world.runtime.remove_network("lxpackbr0"));
    world.deploy("api", &job(2)).await.unwrap();
    assert_eq!(count(&world, RuntimeOp::EnsureEgress), 2);
    assert_eq!(count(&world, RuntimeOp::LaunchInstance), 3, "one retry");
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn every_network_call_failed_in_turn_fails_the_job_at_its_network_step() {
    for op in [RuntimeOp::HostAddresses, RuntimeOp::EnsureEgress] {
        for kind in [FakeFailure::Other, FakeFailure::Unreachable] {
            let world = World::new();
            world.runtime.inject(op, When::Nth(1), Fault::fail(kind));
            let error = world.build(&job(1)).await.unwrap_err();
            let WorkflowError::StepFailed { step, .. } = &error else {
                panic!("{op:?}: {error:?}");
            };
            assert_eq!(*step, Step::Network, "{op:?}");
            if kind == FakeFailure::Other {
                let chain = lxpack_core::workflows::error_chain(&error);
                assert!(chain.contains(&InjectedFault.to_string()), "{chain}");
            }
            world.assert_nothing_left();
            assert_eq!(count(&world, RuntimeOp::CreateProfile), 0, "{op:?}");
            // Nothing was remembered: the next job ensures the network.
            world.build(&job(2)).await.unwrap();
            assert_eq!(attachments(&world), [default_egress()]);
        }
    }
}

/// A world whose app has an image and a pool of 1, filled, under `settings`.
async fn pooled(mut settings: Settings) -> World {
    settings.pool.default = PoolSize {
        size: 1,
        ..PoolSize::default()
    };
    let world = World::with(settings, true);
    world.build(&job(1)).await.unwrap();
    let request = FillRequest {
        app: key("web"),
        owner: None,
        size: None,
    };
    let report = world
        .workflows
        .fill_pool(&request, &world.events, &world.cancel)
        .await
        .unwrap();
    assert!(report.is_complete(), "{report:?}");
    world.runtime.clear_calls();
    let _ = world.events.take();
    world
}

fn standby_networks(world: &World) -> Vec<NetworkAttachment> {
    (world.runtime.instances().into_iter())
        .filter(|i| i.standby.is_some() && i.labels.is_none())
        .map(|i| i.network)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn standbys_start_with_their_apps_policy() {
    let world = pooled(settings()).await;
    assert_eq!(standby_networks(&world), [default_egress()]);
    // A deploy on the app's policy takes it, launches nothing, and says its network.
    world.deploy("api", &job(2)).await.unwrap();
    assert!(standby_networks(&world).is_empty(), "claimed");
    assert!(attachments(&world).is_empty());
    assert_eq!(network_events(&world), [NetworkMode::Egress]);
    let mut open = settings();
    open.network
        .apps
        .insert(key("web"), policy(NetworkMode::Open, &[]));
    let world = pooled(open).await;
    assert_eq!(standby_networks(&world), [NetworkAttachment::DaemonDefault]);
    let world = pooled(with_mode(NetworkMode::None)).await;
    assert_eq!(standby_networks(&world), [NetworkAttachment::Loopback]);
}

#[tokio::test(start_paused = true)]
async fn a_module_with_its_own_policy_never_takes_its_apps_standby() {
    let mut settings = settings();
    settings.network.modules.insert(
        (key("web"), "api".to_owned()),
        policy(NetworkMode::None, &[]),
    );
    let world = pooled(settings).await;
    world.deploy("api", &job(2)).await.unwrap();
    assert_eq!(attachments(&world), [NetworkAttachment::Loopback], "cold");
    assert_eq!(standby_networks(&world).len(), 1, "the standby still waits");
    assert_eq!(network_events(&world), [NetworkMode::None]);
}

#[tokio::test(start_paused = true)]
async fn doctor_reads_each_scopes_mode_and_whether_its_network_matches() {
    use lxpack_core::domain::{EgressState, PolicyScope};
    use lxpack_core::workflows::{EgressCheck, network_isolation};
    let mut settings = settings();
    (settings.network.apps).insert(key("web"), policy(NetworkMode::Open, &[]));
    let world = World::with(settings.clone(), true);
    let state = |report: &[lxpack_core::workflows::ScopeIsolation]| -> Vec<Option<EgressState>> {
        report
            .iter()
            .map(|scope| match &scope.egress {
                Some(EgressCheck::State { state, .. }) => Some(*state),
                _ => None,
            })
            .collect()
    };
    let report = network_isolation(&settings.network, Some(&world.runtime)).await;
    assert_eq!(report.len(), 2);
    assert_eq!(report[0].scope, PolicyScope::Default);
    assert_eq!(state(&report), [Some(EgressState::Missing), None]);
    let other = World::with(crate::helpers::settings(), true);
    let report = network_isolation(&settings.network, Some(&other.runtime)).await;
    assert_eq!(state(&report)[0], Some(EgressState::Missing));
    other.build(&job(1)).await.unwrap();
    let report = network_isolation(&settings.network, Some(&other.runtime)).await;
    assert_eq!(state(&report)[0], Some(EgressState::Matches));
    let mut changed = settings.clone();
    changed.network.default = policy(NetworkMode::Egress, &["10.9.0.0/24"]);
    let report = network_isolation(&changed.network, Some(&other.runtime)).await;
    assert_eq!(state(&report)[0], Some(EgressState::Differs));
    let report = network_isolation(&settings.network, None).await;
    assert!(matches!(report[0].egress, Some(EgressCheck::Unsupported)));
    other.runtime.inject(
        RuntimeOp::EgressState,
        When::Every,
        Fault::fail(FakeFailure::Unreachable),
    );
    let report = network_isolation(&settings.network, Some(&other.runtime)).await;
    assert!(matches!(report[0].egress, Some(EgressCheck::Failed(_))));
}

#[tokio::test(start_paused = true)]
async fn a_build_resumed_from_a_snapshot_keeps_its_policy() {
    for mode in [NetworkMode::None, NetworkMode::Egress] {
        let mut settings = with_mode(mode);
        settings.step_snapshots = true;
        for provisioner in &mut settings.provisioners {
            provisioner.formulas_digest = Some("formulas-1".to_owned());
        }
        let world = World::with(settings, true);
        world.build(&job(1)).await.unwrap();
        let resumed = world.build(&job(2)).await.unwrap();
        assert!(resumed.resumed_from.is_some(), "{mode}: {resumed:?}");
        let launched = attachments(&world);
        assert_eq!(launched.len(), 2);
        assert_eq!(launched[0], launched[1], "{mode}");
        assert_eq!(
            matches!(launched[1], NetworkAttachment::Loopback),
            mode == NetworkMode::None
        );
    }
}
