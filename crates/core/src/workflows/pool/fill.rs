//! Filling a pool is idempotent and safe to run from several processes at once: it
//! retires what is stale, starts what is missing (counting standbys still starting,
//! which another filler may own), and retires what is over the size. Every change to
//! a standby is a compare-and-set, so a filler never takes one a deploy just claimed.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;

use crate::domain::{
    App, AppKey, ImageAlias, ImageRef, ImageSelector, InstanceName, JobId, LaunchSpec,
    NetworkAttachment, Owner, PoolId, RetireReason, StandbyMark, StandbyPool, StandbyState,
    staleness,
};
use crate::events::{EventSink, Step};
use crate::ports::RuntimeError;
use crate::workflows::error::{PortError, WorkflowError};
use crate::workflows::mechanics::readiness::wait_until_ready;
use crate::workflows::mechanics::step::StepRunner;
use crate::workflows::pool::{RetiredStandby, Standby};
use crate::workflows::{PoolSize, Workflows};

/// How many standbys one filler starts at once: the daemon serialises much of a
/// start (storage, idmap), and a host's cores are shared with running builds.
const PARALLEL_STARTS: usize = 4;

/// Which pools of an app to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRequest {
    /// The app.
    pub app: AppKey,
    /// The checkout owner the standbys map, on a daemon whose pools are keyed by one.
    /// `None` there fills the pools of every owner the app's standbys map now.
    pub owner: Option<Owner>,
    /// The size to fill to, instead of the configured one.
    pub size: Option<usize>,
}

/// One pool a fill looked after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilledPool {
    /// The pool.
    pub pool: PoolId,
    /// The owner its standbys map, if it is keyed by one.
    pub owner: Option<Owner>,
    /// Its size.
    pub size: usize,
    /// Standbys it had, ready or starting, before the fill started any.
    pub had: usize,
    /// Standbys the fill started (ready now).
    pub started: Vec<InstanceName>,
    /// Starts that failed, each with why (what they created was removed).
    pub failures: Vec<String>,
}

/// What a fill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillReport {
    /// The app.
    pub app: AppKey,
    /// The pools filled (one, or one per owner).
    pub pools: Vec<FilledPool>,
    /// Standbys retired: stale, never ready, or over the size.
    pub retired: Vec<RetiredStandby>,
}

impl FillReport {
    /// Whether every start succeeded.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.pools.iter().all(|pool| pool.failures.is_empty())
    }
}

impl Workflows {
    /// Fills the pools of `request.app` to their size: retires its stale standbys
    /// (app image replaced, older than `max_age`, never ready), starts the missing
    /// ones, each labelled with its pool's mark and marked ready once it answers a
    /// command, and retires any over the size.
    ///
    /// # Errors
    /// `LoadApp` when the app cannot be loaded; `NoContainerImage` when it has no
    /// image; `PoolOwnerNeeded` when the daemon's pools are keyed by the checkout
    /// owner and none is given or known; `StepFailed` (step `pool`) when the daemon
    /// cannot be asked. Failed starts are reported, not errors.
    pub async fn fill_pool(
        &self,
        request: &FillRequest,
        events: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<FillReport, WorkflowError> {
        self.standby_port()?;
        if let Some(size) = request.size.filter(|size| *size > PoolSize::MAX_SIZE) {
            return Err(WorkflowError::PoolTooLarge {
                size,
                max: PoolSize::MAX_SIZE,
            });
        }
        let app = self.load_app(&request.app).await?;
        let Some(image) = app.build_infos.container_image.clone() else {
            return Err(WorkflowError::NoContainerImage {
                app: app.key.clone(),
            });
        };
        let size = request
            .size
            .unwrap_or_else(|| self.settings.pool.for_app(&app.key).size);
        // One listing serves the retirement, the owners and the counts; only the
        // surplus check after the starts looks again.
        let (doomed, kept): (Vec<_>, Vec<_>) = self
            .standbys()
            .await?
            .into_iter()
            .filter(|s| s.mark.app == app.key)
            .map(|s| (self.stale_reason(&s, Some(&image)), s))
            .partition(|(reason, _)| reason.is_some());
        let doomed = doomed
            .into_iter()
            .filter_map(|(reason, s)| Some((s, reason?)))
            .collect();
        let kept: Vec<Standby> = kept.into_iter().map(|(_, s)| s).collect();
        let mut report = FillReport {
            app: app.key.clone(),
            pools: Vec::new(),
            retired: self.retire(doomed, false, events).await.retired,
        };
        let owners = self.owners_to_fill(&app, request.owner, &kept).await?;
        let network = self.standby_network(&app.key, size, events, cancel).await?;
        let filler = Filler {
            workflows: self,
            app: &app,
            size,
            network,
            events,
            cancel,
        };
        for owner in owners {
            let key = self.pool_key(&app.key, None, &image, owner).await?;
            let pool = filler.fill_one(&key, &kept).await?;
            report.retired.extend(filler.retire_surplus(&key).await?);
            report.pools.push(pool);
        }
        Ok(report)
    }

    /// The network the app's standbys are started with (its app-scope policy; the
    /// egress network made to hold first, unless nothing is to be started).
    async fn standby_network(
        &self,
        app: &AppKey,
        size: usize,
        events: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<NetworkAttachment, WorkflowError> {
        if size == 0 {
            return Ok(NetworkAttachment::DaemonDefault);
        }
        let runner = StepRunner {
            events,
            cancel,
            instance: None,
            kill_grace: self.settings.timeouts.kill_grace,
            secrets: &crate::workflows::mechanics::step::NO_SECRETS,
        };
        let network = self.job_network(app, None, &runner, false).await?;
        Ok(network.attachment)
    }

    /// The owners whose pools to fill: the one asked for; on a daemon that needs none,
    /// none; else every owner the app's standbys (`found`) map.
    async fn owners_to_fill(
        &self,
        app: &App,
        asked: Option<Owner>,
        found: &[Standby],
    ) -> Result<Vec<Option<Owner>>, WorkflowError> {
        let shifts = self
            .ports
            .runtime
            .server_info()
            .await
            .map_err(|e| super::pool_failure(PortError::Runtime(e)))?
            .can_shift_mounts;
        if shifts {
            return Ok(vec![None]);
        }
        if let Some(owner) = asked {
            return Ok(vec![Some(owner)]);
        }
        let mut owners: Vec<Option<Owner>> = found
            .iter()
            .filter(|s| s.mark.owner.is_some())
            .map(|s| s.mark.owner)
            .collect();
        owners.sort_by_key(|o| o.map(|o| (o.uid, o.gid)));
        owners.dedup();
        if owners.is_empty() {
            return Err(WorkflowError::PoolOwnerNeeded {
                app: app.key.clone(),
            });
        }
        Ok(owners)
    }

    /// Why one of the app's standbys should go rather than serve, if it should: it is
    /// ready but stale, or it never became ready.
    /// `current` is its app's image now (`None`: the app has none).
    pub(crate) fn stale_reason(
        &self,
        standby: &Standby,
        current: Option<&JobId>,
    ) -> Option<RetireReason> {
        let now = self.now();
        match standby.state() {
            StandbyState::Ready => staleness(
                &standby.mark,
                current,
                self.settings.pool.for_app(&standby.mark.app).max_age,
                now,
            ),
            StandbyState::Starting if standby.mark.age(now) > self.starting_limit() => {
                Some(RetireReason::NeverReady)
            }
            _ => None,
        }
    }

    /// The longest a standby may take to become ready before it counts as abandoned.
    pub(crate) fn starting_limit(&self) -> Duration {
        self.settings
            .timeouts
            .launch
            .saturating_add(self.settings.timeouts.ready)
    }
}

/// One fill of one app's pools: what its starts share.
struct Filler<'a> {
    workflows: &'a Workflows,
    app: &'a App,
    /// The size to fill each pool to.
    size: usize,
    /// How its standbys are connected.
    network: NetworkAttachment,
    events: &'a dyn EventSink,
    cancel: &'a CancellationToken,
}

impl Filler<'_> {
    /// Starts the standbys `key`'s pool lacks, of those `found` (ready or starting).
    async fn fill_one(
        &self,
        key: &StandbyPool,
        found: &[Standby],
    ) -> Result<FilledPool, WorkflowError> {
        let size = self.size;
        let pool = key.id();
        let had = found
            .iter()
            .filter(|s| {
                s.mark.pool == pool
                    && matches!(s.state(), StandbyState::Ready | StandbyState::Starting)
            })
            .count();
        let missing = size.saturating_sub(had);
        let starts = futures_util::stream::iter(0..missing)
            .map(|_| self.start_standby(key))
            .buffer_unordered(PARALLEL_STARTS)
            .collect::<Vec<_>>()
            .await;
        let mut filled = FilledPool {
            pool,
            owner: key.key.owner,
            size,
            had,
            started: Vec::new(),
            failures: Vec::new(),
        };
        for start in starts {
            match start {
                Ok(name) => filled.started.push(name),
                Err(failure) => filled.failures.push(failure),
            }
        }
        filled.started.sort();
        Ok(filled)
    }

    /// Starts one standby and marks it ready once it answers; removes it again when
    /// any of that fails.
    async fn start_standby(&self, pool: &StandbyPool) -> Result<InstanceName, String> {
        let key = &pool.key;
        let (workflows, app, events, cancel) = (self.workflows, self.app, self.events, self.cancel);
        let runtime = workflows.ports.runtime.as_ref();
        let standby_port = workflows
            .standby_port()
            .map_err(|missing| missing.to_string())?;
        let now = workflows.now();
        let name = InstanceName::for_standby(&app.key, app.color, &JobId::new_at(now));
        let mark = StandbyMark::of_pool(pool, now);
        let spec = LaunchSpec {
            name: name.clone(),
            image: ImageRef::Local(ImageSelector::Alias(ImageAlias::for_job(&key.image))),
            profile: None,
            ephemeral: true,
            isolation: key.isolation,
            limits: key.limits.clone(),
            network: self.network.clone(),
            labels: None,
            standby: Some(mark.clone()),
            map_owner: key.owner,
            from_snapshot: None,
            timeout: workflows.settings.timeouts.launch,
        };
        let runner = StepRunner {
            events,
            cancel,
            instance: Some(name.clone()),
            kill_grace: workflows.settings.timeouts.kill_grace,
            secrets: &crate::workflows::mechanics::step::NO_SECRETS,
        };
        let started = async {
            runtime
                .launch_instance(&spec, cancel)
                .await
                .map_err(|e| runner.failed(Step::Launch, e))?;
            wait_until_ready(&runner, runtime, &name, workflows.settings.timeouts.ready).await?;
            standby_port
                .update_standby(&name, &mark, &mark.readied())
                .await
                .map_err(|e| runner.failed(Step::Pool, e))
        }
        .await;
        match started {
            Ok(()) => Ok(name),
            Err(error) => {
                let mut message =
                    format!("standby {name}: {}", crate::workflows::error_chain(&error));
                match runtime.delete_instance(&name).await {
                    Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
                    Err(cleanup) => {
                        message.push_str(&format!(
                            "; removing it failed too ({cleanup}): `lxpack gc` retires it later"
                        ));
                    }
                }
                Err(message)
            }
        }
    }

    /// Retires the newest ready standbys of `key`'s pool beyond `size` (two fillers
    /// that ran at once may have started one each).
    async fn retire_surplus(
        &self,
        key: &StandbyPool,
    ) -> Result<Vec<RetiredStandby>, WorkflowError> {
        let (pool, size) = (key.id(), self.size);
        let mut ready: Vec<Standby> = self
            .workflows
            .standbys()
            .await?
            .into_iter()
            .filter(|s| s.mark.pool == pool && s.state() == StandbyState::Ready)
            .collect();
        if ready.len() <= size {
            return Ok(Vec::new());
        }
        // Oldest first, by start time then name: every filler picks the same ones.
        ready.sort_by(|a, b| (a.mark.since, &a.name).cmp(&(b.mark.since, &b.name)));
        let surplus = ready
            .split_off(size)
            .into_iter()
            .map(|s| (s, RetireReason::Surplus))
            .collect();
        Ok(self
            .workflows
            .retire(surplus, false, self.events)
            .await
            .retired)
    }
}
