//! A deploy's claim, per candidate in an order of the job's own (so that deploys
//! starting together mostly try different standbys): first the job's profile, named
//! after the standby, then one compare-and-set of the standby's labels. Creating a
//! profile is atomic on the daemon (its name is unique), so the profile is the claim's
//! lock: of deploys racing for one standby, exactly one creates it, and the others
//! move on without touching the standby. The compare-and-set alone is not enough: the
//! daemons check an update's `If-Match` before taking the instance's lock, so two
//! updates that follow each other closely can both pass (seen on LXD 5.0 with 16
//! deploys at once). Losing costs one round trip; finding nothing is a cold start,
//! said in the job's events.

use crate::domain::{
    InstanceName, Labels, MemberName, PoolId, ProfileName, StandbyPool, claim_order, claimable,
    staleness,
};
use crate::events::{Event, Step};
use crate::ports::{ContainerRuntime, RuntimeError, Standbys};
use crate::workflows::Workflows;
use crate::workflows::error::{PortError, WorkflowError};
use crate::workflows::mechanics::launch::Launch;
use crate::workflows::mechanics::step::StepRunner;

use super::Standby;

/// The standby a job claimed: its instance from now on.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) name: InstanceName,
    pub(crate) member: Option<MemberName>,
}

impl Workflows {
    /// Claims a ready standby of `pool` for the job `launch` describes,
    /// creating the job's profile for it, or says why none serves it (a cold start).
    /// A claim that fails for any other reason than losing the race fails the step
    /// (the daemon is in trouble, and a launch would meet the same trouble), and
    /// leaves nothing of the job on the standby.
    pub(crate) async fn claim_standby(
        &self,
        runner: &StepRunner<'_>,
        pool: &StandbyPool,
        launch: &Launch<'_>,
    ) -> Result<Option<Claimed>, WorkflowError> {
        let Ok(standbys) = self.standby_port() else {
            cold(
                runner,
                "this container runtime has no standby pools; starting a container".to_owned(),
            );
            return Ok(None);
        };
        let key = &pool.key;
        let size = self.settings.pool.for_app(&key.app);
        runner
            .run(Step::ClaimStandby, async {
                let claim = Claim {
                    runtime: self.ports.runtime.as_ref(),
                    standbys,
                    runner,
                    launch,
                    labels: launch.labels(),
                    pool: pool.id(),
                    now: self.now(),
                };
                let ready: Vec<Standby> = self
                    .standbys()
                    .await?
                    .into_iter()
                    .filter(|s| s.mark.pool == claim.pool && s.labels.is_none())
                    .filter(|s| claimable(&s.mark))
                    .filter(|s| {
                        staleness(&s.mark, Some(&key.image), size.max_age, claim.now).is_none()
                    })
                    .collect();
                let ordered = claim_order(
                    &claim.labels.job,
                    ready.iter().map(|s| (s.name.as_str(), s)),
                );
                for standby in ordered {
                    match claim.attempt(standby).await? {
                        Attempt::Won(claimed) => return Ok(Some(claimed)),
                        Attempt::Lost => {}
                        Attempt::Unsupported(what) => {
                            cold(runner, format!("{what}; starting a container"));
                            return Ok(None);
                        }
                    }
                }
                cold(runner, claim.none_left(ready.len(), size.size));
                Ok(None)
            })
            .await
    }
}

/// One job's claim on the ready standbys of one pool.
struct Claim<'a> {
    runtime: &'a dyn ContainerRuntime,
    standbys: &'a dyn Standbys,
    runner: &'a StepRunner<'a>,
    launch: &'a Launch<'a>,
    /// The job's labels, which the claimed standby takes.
    labels: Labels,
    pool: PoolId,
    now: std::time::SystemTime,
}

/// How a claim of one standby went.
enum Attempt {
    Won(Claimed),
    /// Another job's, retired or gone: try the next.
    Lost,
    /// The daemon cannot claim: a cold start.
    Unsupported(String),
}

impl Claim<'_> {
    /// Locks `standby` with the job's profile, then claims it.
    async fn attempt(&self, standby: &Standby) -> Result<Attempt, WorkflowError> {
        // The lock: another job's profile for this standby means it is that job's.
        match self
            .runtime
            .create_profile(&self.launch.profile_for(&standby.name))
            .await
        {
            Ok(()) => {}
            Err(RuntimeError::AlreadyExists { .. }) => return Ok(Attempt::Lost),
            Err(error) => {
                // It may exist all the same (the call failed on its way back): it is
                // this job's to remove, or gc's after it.
                let _ = self
                    .runtime
                    .delete_profile(&ProfileName::of(&standby.name))
                    .await;
                return Err(self.failed(error));
            }
        }
        let lost = match self
            .standbys
            .claim_standby(&standby.name, &standby.mark, &self.labels)
            .await
        {
            Ok(()) => return Ok(Attempt::Won(self.won(standby))),
            Err(error) => error,
        };
        self.unlock(standby).await;
        match lost {
            RuntimeError::Changed { .. } | RuntimeError::NotFound { .. } => Ok(Attempt::Lost),
            RuntimeError::Unsupported { what, .. } => Ok(Attempt::Unsupported(what)),
            error => Err(self.failed(error)),
        }
    }

    /// The standby is the job's: said in its events.
    fn won(&self, standby: &Standby) -> Claimed {
        self.runner.events.emit(Event::StandbyClaimed {
            instance: standby.name.clone(),
            pool: self.pool.clone(),
            waited: standby.mark.age(self.now),
        });
        Claimed {
            name: standby.name.clone(),
            member: standby.member.clone(),
        }
    }

    /// Not the job's after all (retired, or gone): gives the lock back.
    async fn unlock(&self, standby: &Standby) {
        let profile = ProfileName::of(&standby.name);
        if let Err(error) = self.runtime.delete_profile(&profile).await {
            self.runner.events.emit(Event::Warning {
                message: format!(
                    "could not delete the profile {profile} of a standby this job did not get: {error} (`lxpack gc` removes it)"
                ),
            });
        }
    }

    fn failed(&self, error: RuntimeError) -> WorkflowError {
        self.runner
            .failed(Step::ClaimStandby, PortError::Runtime(error))
    }

    /// Why no standby of the `waiting` ready ones served the job (the pool's size is
    /// `size`).
    fn none_left(&self, waiting: usize, size: usize) -> String {
        let pool = &self.pool;
        if waiting == 0 {
            format!(
                "no standby of pool {pool} is ready (lxpack.pool size {size}); starting a container, and asking for a refill"
            )
        } else {
            format!(
                "the {waiting} ready standbys of pool {pool} were claimed by other jobs first; starting a container"
            )
        }
    }
}

fn cold(runner: &StepRunner<'_>, reason: String) {
    runner.events.emit(Event::ColdStart { reason });
}
