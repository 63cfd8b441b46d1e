//! The network a job's instance is attached to, from the policy of its app and
//! module. An `egress` network is made to hold on the daemon once per scope and per
//! [`Workflows`] value: a warm deploy asks the daemon nothing more, and a launch that
//! finds the network gone (an operator removed it) ensures it again, once.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::domain::{
    AppKey, EgressNetwork, NetworkAttachment, NetworkMode, NetworkPolicy, PolicyScope,
};
use crate::events::{Event, EventSink, Step};
use crate::ports::{NetworkPolicies, RuntimeError};
use crate::workflows::capabilities::{CapabilityUse, refused};
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::step::StepRunner;
use crate::workflows::{Workflows, error::PortError};

/// The egress networks ensured so far, by scope: shared by the clones of a
/// [`Workflows`], so concurrent jobs of one process ensure each scope once.
pub(crate) type EnsuredNetworks = Arc<Mutex<BTreeMap<PolicyScope, EgressNetwork>>>;

/// How a job's instance is connected, and under whose policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobNetwork {
    /// Whose policy it is.
    pub(crate) scope: PolicyScope,
    /// The policy.
    pub(crate) policy: NetworkPolicy,
    /// What the adapter creates.
    pub(crate) attachment: NetworkAttachment,
}

impl JobNetwork {
    /// Tells the job how it is connected: the mode, and a warning when it is `open`.
    pub(crate) fn announce(&self, events: &dyn EventSink) {
        let egress = match &self.attachment {
            NetworkAttachment::Egress { network, acl, .. } => Some((network.clone(), acl.clone())),
            _ => None,
        };
        events.emit(Event::Network {
            mode: self.policy.mode,
            scope: self.scope.clone(),
            egress,
        });
        if self.policy.mode == NetworkMode::Open {
            events.emit(Event::Warning {
                message: format!(
                    "the network of this job is open (lxpack.network, {} policy): the build reaches whatever the daemon's profile gives it, the host and private networks included",
                    self.scope
                ),
            });
        }
    }
}

/// Whether a launch failed because the network it names is gone from the daemon.
pub(crate) fn network_missing(error: &WorkflowError) -> bool {
    matches!(
        error,
        WorkflowError::StepFailed { step: Step::Launch, source, .. }
            if matches!(
                source.as_ref(),
                PortError::Runtime(RuntimeError::NotFound { what: "network" | "network ACL", .. })
            )
    )
}

impl Workflows {
    /// The network of a job of `app` (its `module`, for a deploy), as of
    /// [`NetworkSettings::policy_for`](crate::workflows::NetworkSettings::policy_for):
    /// `none` is loopback only, `open` the daemon's profile, and `egress` the scope's
    /// egress network, made to hold on the daemon (step `network`) unless this value
    /// already did. `again` forgets what was ensured first (a launch found it gone).
    pub(crate) async fn job_network(
        &self,
        app: &AppKey,
        module: Option<&str>,
        runner: &StepRunner<'_>,
        again: bool,
    ) -> Result<JobNetwork, WorkflowError> {
        let (scope, policy) = self.settings.network.policy_for(app, module);
        let attachment = match policy.mode {
            NetworkMode::None => NetworkAttachment::Loopback,
            NetworkMode::Open => NetworkAttachment::DaemonDefault,
            NetworkMode::Egress => {
                let mut ensured = self.networks.lock().await;
                if again {
                    ensured.remove(&scope);
                }
                let network = match ensured.get(&scope) {
                    Some(network) => network.clone(),
                    None => {
                        let network = runner
                            .run(Step::Network, async {
                                self.ensure_egress(&scope, policy)
                                    .await
                                    .map_err(|e| runner.failed(Step::Network, e))
                            })
                            .await?;
                        ensured.insert(scope.clone(), network.clone());
                        network
                    }
                };
                NetworkAttachment::egress(&network)
            }
        };
        Ok(JobNetwork {
            scope,
            policy: policy.clone(),
            attachment,
        })
    }

    /// The network a standby of `app`'s pool serving `module` was started with,
    /// asking the daemon nothing: the attachment's names do not depend on the host.
    pub(crate) fn planned_network(&self, app: &AppKey, module: Option<&str>) -> JobNetwork {
        let (scope, policy) = self.settings.network.policy_for(app, module);
        let attachment = match policy.mode {
            NetworkMode::None => NetworkAttachment::Loopback,
            NetworkMode::Open => NetworkAttachment::DaemonDefault,
            NetworkMode::Egress => NetworkAttachment::egress(&EgressNetwork::plan(
                &scope,
                policy,
                &self.settings.network.bridge,
                &[],
            )),
        };
        JobNetwork {
            scope,
            policy: policy.clone(),
            attachment,
        }
    }

    /// Plans the egress network of `scope` for this host and makes the daemon hold it.
    async fn ensure_egress(
        &self,
        scope: &PolicyScope,
        policy: &NetworkPolicy,
    ) -> Result<EgressNetwork, RuntimeError> {
        let port = self.network_port()?;
        let network = self.plan_egress(port, scope, policy).await?;
        port.ensure_egress(&network).await?;
        Ok(network)
    }

    /// The egress network of `scope` as the daemon must hold it, with the host's
    /// addresses denied.
    pub(crate) async fn plan_egress(
        &self,
        port: &dyn NetworkPolicies,
        scope: &PolicyScope,
        policy: &NetworkPolicy,
    ) -> Result<EgressNetwork, RuntimeError> {
        let hosts = port.host_addresses().await?;
        Ok(EgressNetwork::plan(
            scope,
            policy,
            &self.settings.network.bridge,
            &hosts,
        ))
    }

    /// The network policies port, or the refusal a job that skipped
    /// [`Workflows::check_capabilities`] gets.
    pub(crate) fn network_port(&self) -> Result<&dyn NetworkPolicies, RuntimeError> {
        self.ports
            .capabilities
            .network_policies
            .as_deref()
            .ok_or_else(|| {
                refused(
                    "ensure the egress network".to_owned(),
                    &WorkflowError::MissingCapability {
                        usage: CapabilityUse::Network,
                    },
                )
            })
    }
}
