//! A deploy's claim: one compare-and-set per candidate, tried in an order of the
//! job's own so that deploys starting together mostly try different standbys. Losing
//! a race costs one round trip and moves on; finding nothing is a cold start, said in
//! the job's events.

use super::super::Workflows;
use super::super::error::PortError;
use super::super::step::StepRunner;
use super::Standby;
use crate::domain::{InstanceName, Labels, MemberName, PoolKey, claim_order, claimable, staleness};
use crate::events::{Event, Step};
use crate::ports::RuntimeError;
use crate::workflows::WorkflowError;

/// The standby a job claimed: its instance from now on.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) name: InstanceName,
    pub(crate) member: Option<MemberName>,
}

impl Workflows {
    /// Claims a ready standby of the pool of `key` for the job of `labels`, or says
    /// why none serves it (a cold start). A claim that fails for any other reason than
    /// losing the race fails the step: the daemon is in trouble, and a launch would
    /// meet the same trouble.
    pub(crate) async fn claim_standby(
        &self,
        runner: &StepRunner<'_>,
        key: &PoolKey,
        labels: &Labels,
    ) -> Result<Option<Claimed>, WorkflowError> {
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
                    match self
                        .ports
                        .runtime
                        .claim_standby(&standby.name, &standby.mark, labels)
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
                        Err(RuntimeError::Changed { .. } | RuntimeError::NotFound { .. }) => {}
                        Err(RuntimeError::Unsupported { what, .. }) => {
                            cold(runner, format!("{what}; starting a container"));
                            return Ok(None);
                        }
                        Err(error) => {
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
