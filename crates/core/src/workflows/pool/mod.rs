//! Standby pools: instances started ahead of time from an app's image, so a deploy
//! claims one instead of launching (the launch is most of a short deploy, and the
//! daemon's own work: no tuning of our calls removes it). The daemon's state is the
//! pool's only database: standbys carry their mark ([`StandbyMark`]), a claim is one
//! compare-and-set on the daemon, and a refill is any process that fills the pool to
//! its size. A standby serves one deploy and is then discarded like any deploy
//! container, so a build never sees another build's state.

mod claim;
mod fill;
mod retire;
mod view;

pub use fill::{FillReport, FillRequest, FilledPool};
pub use retire::{RetireReport, RetiredStandby};
pub use view::{PoolStatus, PoolView, StandbyView};

use super::Workflows;
use super::error::{PortError, WorkflowError};
use crate::domain::{
    App, AppKey, InstanceName, JobId, Labels, MemberName, Owner, PoolKey, StandbyMark, StandbyState,
};
use crate::events::Step;
use crate::ports::{AppStoreError, ResourceKind};

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

fn pool_failure(source: impl Into<PortError>) -> WorkflowError {
    WorkflowError::StepFailed {
        step: Step::Pool,
        instance: None,
        source: Box::new(source.into()),
    }
}

impl Workflows {
    /// The pool a deploy of `app` from `image`, whose checkout `owner` owns, draws
    /// from. The owner is part of the key only where the daemon must map it when the
    /// instance starts (no idmapped mounts).
    pub(crate) async fn pool_key(
        &self,
        app: &AppKey,
        image: &JobId,
        owner: Option<Owner>,
    ) -> Result<PoolKey, WorkflowError> {
        let info = self
            .ports
            .runtime
            .server_info()
            .await
            .map_err(|e| pool_failure(PortError::Runtime(e)))?;
        Ok(PoolKey {
            app: app.clone(),
            image: image.clone(),
            isolation: self.settings.isolation,
            limits: self.settings.limits.clone(),
            target: self.settings.placement.clone(),
            owner: if info.can_shift_mounts { None } else { owner },
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

    /// The app, or `None` when it is gone: what its standbys are judged by.
    pub(crate) async fn app_if_known(&self, app: &AppKey) -> Result<Option<App>, WorkflowError> {
        match self.ports.apps.get_app(app).await {
            Ok(app) => Ok(Some(app)),
            Err(AppStoreError::AppNotFound { .. }) => Ok(None),
            Err(error) => Err(pool_failure(PortError::Store(error))),
        }
    }
}
