//! Standby pools: instances started ahead of time from an app's image, so a deploy
//! claims one instead of launching (the launch is most of a short deploy, and the
//! daemon's own work: no tuning of our calls removes it). The daemon's state is the
//! pool's only database: standbys carry their mark ([`StandbyMark`](crate::domain::StandbyMark)), a claim is one
//! compare-and-set on the daemon, and a refill is any process that fills the pool to
//! its size. A standby serves one deploy and is then discarded like any deploy
//! container, so a build never sees another build's state.

mod fill;
mod retire;
mod view;

pub use fill::{FillReport, FillRequest, FilledPool};
pub use retire::{RetireReport, RetiredStandby};
pub use view::{PoolStatus, PoolView, StandbyView};

use crate::domain::{App, AppKey};
use crate::ports::AppStoreError;
use crate::workflows::Workflows;
use crate::workflows::error::{PortError, WorkflowError};
pub(crate) use crate::workflows::mechanics::standbys::Standby;
use crate::workflows::mechanics::standbys::pool_failure;

impl Workflows {
    /// The app, or `None` when it is gone: what its standbys are judged by.
    pub(crate) async fn app_if_known(&self, app: &AppKey) -> Result<Option<App>, WorkflowError> {
        match self.ports.apps.get_app(app).await {
            Ok(app) => Ok(Some(app)),
            Err(AppStoreError::AppNotFound { .. }) => Ok(None),
            Err(error) => Err(pool_failure(PortError::Store(error))),
        }
    }
}
