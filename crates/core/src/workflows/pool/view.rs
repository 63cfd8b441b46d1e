//! What the pools hold, for `lxpack pool list` and the metrics: standbys grouped by
//! pool, with their state and whether they still match their app's image.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::domain::{AppKey, InstanceName, JobId, MemberName, Owner, PoolId, StandbyState};
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;

/// One standby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandbyView {
    /// The instance.
    pub instance: InstanceName,
    /// Starting, ready, claimed or retiring.
    pub state: StandbyState,
    /// When it was started.
    pub since: SystemTime,
    /// The job that claimed it.
    pub job: Option<JobId>,
    /// The cluster member that holds it.
    pub member: Option<MemberName>,
}

/// One pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolView {
    /// Its id.
    pub pool: PoolId,
    /// The app.
    pub app: AppKey,
    /// The image its standbys run.
    pub image: JobId,
    /// The owner they map, when the pool is keyed by one.
    pub owner: Option<Owner>,
    /// The configured size of the app's pools.
    pub size: usize,
    /// The configured maximum age.
    pub max_age: Duration,
    /// Whether its image is the app's image now (if not, a refill or `gc` retires its
    /// standbys).
    pub current: bool,
    /// Its standbys, oldest first.
    pub standbys: Vec<StandbyView>,
}

impl PoolView {
    /// How many of its standbys are in `state`.
    #[must_use]
    pub fn count(&self, state: StandbyState) -> usize {
        self.standbys.iter().filter(|s| s.state == state).count()
    }
}

/// Every pool found on the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// The pools, by app then id.
    pub pools: Vec<PoolView>,
}

impl Workflows {
    /// The pools on the daemon and their standbys, of `app` or of every app.
    ///
    /// # Errors
    /// `StepFailed` (step `pool`) when the standbys cannot be listed or the apps
    /// read.
    pub async fn pool_status(&self, app: Option<&AppKey>) -> Result<PoolStatus, WorkflowError> {
        let mut pools: BTreeMap<(AppKey, PoolId), PoolView> = BTreeMap::new();
        for standby in self.standbys().await? {
            if app.is_some_and(|app| app != &standby.mark.app) {
                continue;
            }
            let id = (standby.mark.app.clone(), standby.mark.pool.clone());
            if !pools.contains_key(&id) {
                let configured = self.settings.pool.for_app(&standby.mark.app);
                // Its image is the app's now (an app this store does not know has none).
                let current = self
                    .app_if_known(&standby.mark.app)
                    .await?
                    .and_then(|app| app.build_infos.container_image)
                    == Some(standby.mark.image.clone());
                pools.insert(
                    id.clone(),
                    PoolView {
                        pool: standby.mark.pool.clone(),
                        app: standby.mark.app.clone(),
                        image: standby.mark.image.clone(),
                        owner: standby.mark.owner,
                        size: configured.size,
                        max_age: configured.max_age,
                        current,
                        standbys: Vec::new(),
                    },
                );
            }
            if let Some(view) = pools.get_mut(&id) {
                view.standbys.push(StandbyView {
                    instance: standby.name.clone(),
                    state: standby.state(),
                    since: standby.mark.since,
                    job: standby.labels.as_ref().map(|labels| labels.job.clone()),
                    member: standby.member.clone(),
                });
            }
        }
        let mut pools: Vec<PoolView> = pools.into_values().collect();
        for pool in &mut pools {
            pool.standbys
                .sort_by(|a, b| (a.since, &a.instance).cmp(&(b.since, &b.instance)));
        }
        Ok(PoolStatus { pools })
    }
}
