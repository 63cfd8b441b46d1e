//! The effective isolation: each network policy's mode and whether the daemon holds
//! its egress bridge and ACL as the policy says; a warning for `open` and for
//! `privileged`, which give a build more of the host than the defaults.

use lxpack_core::domain::{EgressState, Isolation, NetworkMode};
use lxpack_core::workflows::{EgressCheck, ScopeIsolation, network_isolation};

use super::checks::{check, fail};
use super::{Check, Verdict};
use crate::config::Config;
use crate::wiring::network_policies;

/// The isolation checks of `config`: `privileged`, then one line per network scope.
pub(super) async fn isolation_checks(config: &Config, checks: &mut Vec<Check>) {
    checks.push(check(
        "isolation",
        match config.settings.isolation {
            Isolation::Privileged => Verdict::Warn(
                "privileged (lxpack.isolation): root in a build is root on the host; set unprivileged unless a build truly needs it".into(),
            ),
            _ => Verdict::Pass("unprivileged".into()),
        },
    ));
    let port = match network_policies(&config.runtime) {
        Ok(port) => port,
        Err(error) => {
            checks.push(check(
                "network",
                Verdict::Skipped(format!("the daemon cannot be reached: {}", error.error)),
            ));
            return;
        }
    };
    for scope in network_isolation(&config.settings.network, port.as_deref()).await {
        checks.push(check("network", verdict(&scope)));
    }
}

/// What one scope's line says.
fn verdict(scope: &ScopeIsolation) -> Verdict {
    let who = format!("{} policy", scope.scope);
    match (scope.policy.mode, &scope.egress) {
        (NetworkMode::None, _) => Verdict::Pass(format!("{who}: none (no network interface)")),
        (NetworkMode::Open, _) => Verdict::Warn(format!(
            "{who}: open (lxpack.network.mode): builds reach whatever the daemon's profile gives, the host and private networks included; set mode: egress unless they must"
        )),
        (_, Some(EgressCheck::State { network, state })) => {
            let names = format!(
                "{who}: egress on bridge {}{}, ACL {}",
                network.network,
                if network.owned {
                    ""
                } else {
                    " (the operator's)"
                },
                network.acl
            );
            match state {
                EgressState::Matches => {
                    Verdict::Pass(format!("{names}: exists and matches the policy"))
                }
                EgressState::Differs => Verdict::Warn(format!(
                    "{names}: the ACL differs from the policy; the next job updates it"
                )),
                _ if !network.owned => fail(
                    format!("{names}: bridge {} does not exist", network.network),
                    "create the managed bridge, or fix or remove lxpack.network.bridge",
                ),
                _ => Verdict::Pass(format!("{names}: not made yet; the first job makes it")),
            }
        }
        (_, Some(EgressCheck::Failed(error))) => fail(
            format!("{who}: egress: cannot read its network: {error}"),
            "check the daemon (see the checks above)",
        ),
        _ => fail(
            format!("{who}: egress, but this daemon's adapter offers no network ACLs"),
            "set lxpack.network.mode: none (or open, unfiltered) until the daemon offers them",
        ),
    }
}

#[cfg(test)]
mod tests {
    use lxpack_core::domain::{
        AppKey, DefaultBridge, EgressNetwork, NetworkName, NetworkPolicy, PolicyScope,
    };

    use super::*;

    fn scope(mode: NetworkMode, egress: Option<EgressCheck>) -> ScopeIsolation {
        ScopeIsolation {
            scope: PolicyScope::App(AppKey::new("web", "prod", "front")),
            policy: NetworkPolicy {
                mode,
                allow: Vec::new(),
            },
            egress,
        }
    }

    fn state(bridge: Option<&str>, state: EgressState) -> Option<EgressCheck> {
        let bridge = bridge.map_or_else(DefaultBridge::default, |name| {
            DefaultBridge::Operator(NetworkName::parse(name).unwrap())
        });
        let network = EgressNetwork::plan(
            &PolicyScope::Default,
            &NetworkPolicy::default(),
            &bridge,
            &[],
        );
        Some(EgressCheck::State { network, state })
    }

    #[test]
    fn each_mode_and_state_reads_as_its_verdict() {
        let line = |verdict: Verdict| format!("{verdict:?}");
        assert!(line(verdict(&scope(NetworkMode::None, None))).starts_with("Pass"));
        let open = line(verdict(&scope(NetworkMode::Open, None)));
        assert!(
            open.starts_with("Warn") && open.contains("app web/prod/front"),
            "{open}"
        );
        let matches = line(verdict(&scope(
            NetworkMode::Egress,
            state(None, EgressState::Matches),
        )));
        assert!(
            matches.starts_with("Pass")
                && matches.contains("lxpackbr0")
                && matches.contains("matches"),
            "{matches}"
        );
        let differs = line(verdict(&scope(
            NetworkMode::Egress,
            state(None, EgressState::Differs),
        )));
        assert!(
            differs.starts_with("Warn") && differs.contains("differs"),
            "{differs}"
        );
        let missing = line(verdict(&scope(
            NetworkMode::Egress,
            state(None, EgressState::Missing),
        )));
        assert!(
            missing.starts_with("Pass") && missing.contains("not made yet"),
            "{missing}"
        );
        let theirs = line(verdict(&scope(
            NetworkMode::Egress,
            state(Some("br-builds"), EgressState::Missing),
        )));
        assert!(
            theirs.starts_with("Fail") && theirs.contains("br-builds does not exist"),
            "{theirs}"
        );
        let unsupported = line(verdict(&scope(
            NetworkMode::Egress,
            Some(EgressCheck::Unsupported),
        )));
        assert!(
            unsupported.starts_with("Fail") && unsupported.contains("lxpack.network.mode"),
            "{unsupported}"
        );
    }
}
