//! What a deploy needs of the standby pools: the pool it draws from, the standbys on
//! the daemon, its claim of one, and a refill asked for off its path. The daemon's
//! state is the pool's only database: standbys carry their mark ([`StandbyMark`]).

mod claim;

pub(crate) use claim::Claimed;

use crate::domain::{
    AppKey, InstanceName, JobId, Labels, MemberName, Owner, PoolKey, StandbyMark, StandbyPool,
    StandbyState,
};
use crate::events::{Event, EventSink, Step};
use crate::ports::{RefillRequest, ResourceKind};
use crate::workflows::Workflows;
use crate::workflows::error::{PortError, WorkflowError};

/// A standby found on the daemon.
#[derive(Debug, Clone)]
pub(crate) struct Standby {
    pub(crate) name: InstanceName,
    pub(crate) mark: StandbyMark,
    /// The job that claimed it, if one did.
    pub(crate) labels: Option<Labels>,
    pub(crate) member: Option<MemberName>,
}

impl Standby {
    pub(crate) fn state(&self) -> StandbyState {
        StandbyState::of(&self.mark, self.labels.as_ref())
    }
}

/// The error of a pool operation that failed on a port.
pub(crate) fn pool_failure(source: impl Into<PortError>) -> WorkflowError {
    WorkflowError::StepFailed {
        step: Step::Pool,
        instance: None,
        source: Box::new(source.into()),
    }
}

impl Workflows {
    /// The pool a deploy of `module` of `app` (or, with `None`, any module of the
    /// app's own class: the pool a fill fills) from `image`, whose checkout `owner`
    /// owns, draws from. The owner is part of the key only where the daemon must map
    /// it when the instance starts (no idmapped mounts); the resource class and the
    /// network policy always are, so a module with a class or a policy of its own
    /// never takes its app's standbys.
    pub(crate) async fn pool_key(
        &self,
        app: &AppKey,
        module: Option<&str>,
        image: &JobId,
        owner: Option<Owner>,
    ) -> Result<StandbyPool, WorkflowError> {
        let info = self
            .ports
            .runtime
            .server_info()
            .await
            .map_err(|e| pool_failure(PortError::Runtime(e)))?;
        let key = PoolKey {
            app: app.clone(),
            image: image.clone(),
            isolation: self.settings.isolation,
            limits: self.settings.resources.class_for(app, module).limits,
            target: self.settings.placement.clone(),
            owner: if info.can_shift_mounts { None } else { owner },
        };
        let (_, network) = self.settings.network.policy_for(app, module);
        Ok(StandbyPool {
            key,
            network: network.clone(),
            bridge: self.settings.network.bridge.clone(),
        })
    }

    /// Every standby on the daemon (in the runtime's project), claimed or not.
    pub(crate) async fn standbys(&self) -> Result<Vec<Standby>, WorkflowError> {
        let resources = self
            .ports
            .runtime
            .list_resources()
            .await
            .map_err(|e| pool_failure(PortError::Runtime(e)))?;
        Ok(resources
            .into_iter()
            .filter(|resource| resource.kind == ResourceKind::Instance)
            .filter_map(|resource| {
                let mark = resource.standby?;
                let name = InstanceName::parse(&resource.name).ok()?;
                Some(Standby {
                    name,
                    mark,
                    labels: resource.labels,
                    member: resource.member,
                })
            })
            .collect())
    }

    /// Asks for the pool of `key` to be refilled off the job's path; a refill that
    /// cannot be started is a warning (the next deploy asks again).
    pub(crate) async fn request_refill(&self, pool: &StandbyPool, events: &dyn EventSink) {
        let key = &pool.key;
        let request = RefillRequest {
            app: key.app.clone(),
            owner: key.owner,
        };
        if let Err(error) = self.refill.request_refill(&request).await {
            events.emit(Event::Warning {
                message: format!(
                    "could not start refilling the standby pool of {}: {error} (`lxpack pool fill {}` fills it)",
                    key.app, key.app
                ),
            });
        }
    }
}
