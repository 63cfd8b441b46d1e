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
    InstanceName, MemberName, PoolKey, ProfileName, claim_order, claimable, staleness,
};
use crate::events::{Event, Step};
use crate::ports::RuntimeError;
use crate::workflows::WorkflowError;
use crate::workflows::Workflows;
use crate::workflows::error::PortError;
use crate::workflows::mechanics::launch::Launch;
use crate::workflows::mechanics::step::StepRunner;
use crate::workflows::pool::Standby;

/// The standby a job claimed: its instance from now on.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) name: InstanceName,
    pub(crate) member: Option<MemberName>,
}

impl Workflows {
    /// Claims a ready standby of the pool of `key` for the job `launch` describes,
    /// creating the job's profile for it, or says why none serves it (a cold start).
    /// A claim that fails for any other reason than losing the race fails the step
    /// (the daemon is in trouble, and a launch would meet the same trouble), and
    /// leaves nothing of the job on the standby.
    pub(crate) async fn claim_standby(
        &self,
        runner: &StepRunner<'_>,
        key: &PoolKey,
        launch: &Launch<'_>,
    ) -> Result<Option<Claimed>, WorkflowError> {
        let labels = launch.labels();
        let runtime = self.ports.runtime.as_ref();
        let Ok(standby_port) = self.standby_port() else {
            cold(
                runner,
                "this container runtime has no standby pools; starting a container".to_owned(),
            );
            return Ok(None);
        };
        let size = self.settings.pool.for_app(&key.app);
        runner
            .run(Step::ClaimStandby, async {
                let pool = key.id();
                let now = self.now();
                let standbys = self.standbys().await?;
                let ready: Vec<Standby> = standbys
                    .into_iter()
                    .filter(|s| s.mark.pool == pool && s.labels.is_none() && claimable(&s.mark))
                    .filter(|s| {
                        staleness(&s.mark, Some(&key.image), size.max_age, now).is_none()
                    })
                    .collect();
                let waiting = ready.len();
                let ordered = claim_order(
                    &labels.job,
                    ready.iter().map(|standby| (standby.name.as_str(), standby)),
                );
                for standby in ordered {
                    // The lock: another job's profile for this standby means it is
                    // that job's.
                    match runtime.create_profile(&launch.profile_for(&standby.name)).await {
                        Ok(()) => {}
                        Err(RuntimeError::AlreadyExists { .. }) => continue,
                        Err(error) => {
                            // It may exist all the same (the call failed on its way
                            // back): it is this job's to remove, or gc's after it.
                            let _ = runtime
                                .delete_profile(&ProfileName::of(&standby.name))
                                .await;
                            return Err(runner.failed(Step::ClaimStandby, PortError::Runtime(error)));
                        }
                    }
                    let lost = match standby_port
                        .claim_standby(&standby.name, &standby.mark, &labels)
                        .await
                    {
                        Ok(()) => {
                            runner.events.emit(Event::StandbyClaimed {
                                instance: standby.name.clone(),
                                pool: pool.clone(),
                                waited: standby.mark.age(now),
                            });
                            return Ok(Some(Claimed {
                                name: standby.name.clone(),
                                member: standby.member.clone(),
                            }));
                        }
                        Err(error) => error,
                    };
                    // Not ours after all (retired, or gone): give the lock back.
                    let profile = ProfileName::of(&standby.name);
                    if let Err(error) = runtime.delete_profile(&profile).await {
                        runner.events.emit(Event::Warning {
                            message: format!(
                                "could not delete the profile {profile} of a standby this job did not get: {error} (`lxpack gc` removes it)"
                            ),
                        });
                    }
                    match lost {
                        RuntimeError::Changed { .. } | RuntimeError::NotFound { .. } => {}
                        RuntimeError::Unsupported { what, .. } => {
                            cold(runner, format!("{what}; starting a container"));
                            return Ok(None);
                        }
                        error => {
                            return Err(runner.failed(Step::ClaimStandby, PortError::Runtime(error)));
                        }
                    }
                }
                cold(
                    runner,
                    if waiting == 0 {
                        format!(
                            "no standby of pool {pool} is ready (lxpack.pool size {}); starting a container, and asking for a refill",
                            size.size
                        )
                    } else {
                        format!(
                            "the {waiting} ready standbys of pool {pool} were claimed by other jobs first; starting a container"
                        )
                    },
                );
                Ok(None)
            })
            .await
    }
}

fn cold(runner: &StepRunner<'_>, reason: String) {
    runner.events.emit(Event::ColdStart { reason });
}
