//! The network policies part of the runtime contract: the host's addresses; an
//! egress network never made reads `Missing`; `ensure_egress` makes the bridge and
//! its ACL, which then read `Matches`; a second ensure, and two at once, succeed;
//! changed rules read `Differs` and an ensure updates them in place; an operator's
//! bridge that does not exist is `NotFound`. It runs when the runtime offers the
//! network policies capability.
//!
//! The port deletes nothing, so the bridge and ACL of the suite's scope stay on the
//! daemon: their names come from the fixture's prefix, and every run reuses them.

use lxpack_core::domain::{
    AppKey, DefaultBridge, EgressNetwork, EgressRule, EgressState, NetworkName, NetworkPolicy,
    PolicyScope,
};
use lxpack_core::ports::{NetworkPolicies, RuntimeError};

use super::Suite;
use crate::report::Checker;

/// An operator's bridge that never exists.
const ABSENT_BRIDGE: &str = "lxpkabsent0";

/// What the changed policy opens (a documentation range: nothing is ever sent).
const CHANGED_ALLOW: &str = "198.51.100.0/24 tcp:443";

/// The egress network the suite's network part makes under `fixture` and leaves on
/// the daemon (the port deletes nothing): its bridge and its ACL, for a test to remove
/// after the suite. Its rules are left empty (the names do not depend on them).
#[must_use]
pub fn network_made(fixture: &super::RuntimeFixture) -> EgressNetwork {
    EgressNetwork::plan(
        &network_scope(&fixture.prefix, "network"),
        &NetworkPolicy::default(),
        &DefaultBridge::default(),
        &[],
    )
}

/// The scope of the suite's networks of `role`.
fn network_scope(prefix: &str, role: &str) -> PolicyScope {
    PolicyScope::App(AppKey::new(prefix, "contract", role))
}

impl Suite<'_> {
    pub(super) async fn networks(&self, checker: &mut Checker, networks: &dyn NetworkPolicies) {
        let Some(hosts) = checker
            .ok("host_addresses", networks.host_addresses())
            .await
        else {
            return;
        };
        checker.that(
            "host_addresses lists the host's addresses",
            !hosts.is_empty(),
            "at least one address",
            &hosts,
        );
        let prefix = &self.fixture.prefix;
        let scope = |role: &str| network_scope(prefix, role);
        let policy = NetworkPolicy::default();
        let plan = EgressNetwork::plan(
            &scope("network"),
            &policy,
            &DefaultBridge::default(),
            &hosts,
        );
        let never = EgressNetwork::plan(
            &scope("never-made"),
            &policy,
            &DefaultBridge::default(),
            &hosts,
        );
        self.state(
            checker,
            networks,
            "egress_state of a network never made",
            &never,
            EgressState::Missing,
        )
        .await;
        if checker
            .ok(
                "ensure_egress creates the bridge and its ACL",
                networks.ensure_egress(&plan),
            )
            .await
            .is_none()
        {
            return;
        }
        self.state(
            checker,
            networks,
            "egress_state after ensure_egress",
            &plan,
            EgressState::Matches,
        )
        .await;
        checker
            .ok(
                "ensure_egress of what the daemon holds",
                networks.ensure_egress(&plan),
            )
            .await;
        let (first, second) =
            tokio::join!(networks.ensure_egress(&plan), networks.ensure_egress(&plan));
        checker.that(
            "two ensure_egress at once both succeed",
            first.is_ok() && second.is_ok(),
            "Ok and Ok",
            (&first, &second),
        );
        self.changed_rules(checker, networks, &plan, &hosts).await;
        let absent = NetworkName::parse(ABSENT_BRIDGE).map(DefaultBridge::Operator);
        let absent = absent.unwrap_or_default();
        let theirs = EgressNetwork::plan(&PolicyScope::Default, &policy, &absent, &hosts);
        checker
            .err(
                "ensure_egress on an operator's bridge that does not exist",
                "NotFound",
                networks.ensure_egress(&theirs),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }

    /// Changed rules read `Differs`, and one ensure updates them in place; the
    /// policy is put back after.
    async fn changed_rules(
        &self,
        checker: &mut Checker,
        networks: &dyn NetworkPolicies,
        plan: &EgressNetwork,
        hosts: &[std::net::IpAddr],
    ) {
        let Ok(allow) = EgressRule::parse_allow(CHANGED_ALLOW) else {
            checker.fail("changed rules", "a valid allow entry", CHANGED_ALLOW);
            return;
        };
        let changed = EgressNetwork {
            rules: lxpack_core::domain::egress_rules(&[allow], hosts),
            ..plan.clone()
        };
        self.state(
            checker,
            networks,
            "egress_state of changed rules",
            &changed,
            EgressState::Differs,
        )
        .await;
        checker
            .ok(
                "ensure_egress updates changed rules",
                networks.ensure_egress(&changed),
            )
            .await;
        self.state(
            checker,
            networks,
            "egress_state after the update",
            &changed,
            EgressState::Matches,
        )
        .await;
        self.state(
            checker,
            networks,
            "egress_state of the former rules",
            plan,
            EgressState::Differs,
        )
        .await;
        checker
            .ok(
                "ensure_egress puts the former rules back",
                networks.ensure_egress(plan),
            )
            .await;
    }

    async fn state(
        &self,
        checker: &mut Checker,
        networks: &dyn NetworkPolicies,
        name: &str,
        network: &EgressNetwork,
        expected: EgressState,
    ) {
        if let Some(state) = checker.ok(name, networks.egress_state(network)).await {
            checker.equal(&format!("{name} reads {expected:?}"), expected, state);
        }
    }
}
