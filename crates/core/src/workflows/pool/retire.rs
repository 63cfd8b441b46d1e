//! Retiring a standby takes the same lock a claim takes (a profile named after the
//! standby: only one can create it), then a compare-and-set (mark it retiring, only if
//! no job claimed it), then a delete: a drain, a refill or a sweep never removes a
//! standby that a deploy claimed a moment earlier, since that is the deploy's instance
//! now. The lock carries the retiring mark, so a sweep finishes (and removes) what an
//! interrupted retirement left.

use crate::domain::{
    AppKey, InstanceName, MemberName, ProfileName, ProfileSpec, RetireReason, StandbyState,
};
use crate::events::{Event, EventSink};
use crate::ports::RuntimeError;
use crate::workflows::Workflows;
use crate::workflows::capabilities::refused;
use crate::workflows::error::WorkflowError;
use crate::workflows::pool::Standby;

/// A standby retired (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredStandby {
    /// The instance.
    pub instance: InstanceName,
    /// Its app.
    pub app: AppKey,
    /// Why it went.
    pub reason: RetireReason,
    /// The cluster member that held it.
    pub member: Option<MemberName>,
}

/// What a retirement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetireReport {
    /// Retired (or, in a dry run, that would be).
    pub retired: Vec<RetiredStandby>,
    /// Claimed by a deploy before they could be retired: they are its instances now.
    pub claimed_meanwhile: Vec<InstanceName>,
    /// Retirements that failed, each with why.
    pub failures: Vec<String>,
}

impl Workflows {
    /// Retires every unclaimed standby of `app`'s pools, or of every pool: the pools
    /// are empty afterwards until a fill (a deploy's refill, `lxpack pool fill`).
    ///
    /// # Errors
    /// `StepFailed` (step `pool`) when the standbys cannot be listed.
    pub async fn drain_pool(
        &self,
        app: Option<&AppKey>,
        dry_run: bool,
        events: &dyn EventSink,
    ) -> Result<RetireReport, WorkflowError> {
        let doomed = self
            .standbys()
            .await?
            .into_iter()
            .filter(|s| app.is_none_or(|app| &s.mark.app == app))
            .filter(|s| matches!(s.state(), StandbyState::Ready | StandbyState::Starting))
            .map(|s| (s, RetireReason::Drained))
            .collect();
        Ok(self.retire(doomed, dry_run, events).await)
    }

    /// Retires each standby for its reason; one a job claimed first is left to it.
    pub(crate) async fn retire(
        &self,
        doomed: Vec<(Standby, RetireReason)>,
        dry_run: bool,
        events: &dyn EventSink,
    ) -> RetireReport {
        let runtime = self.ports.runtime.as_ref();
        let standby_port = self.standby_port();
        let mut report = RetireReport::default();
        for (standby, reason) in doomed {
            let retired = RetiredStandby {
                instance: standby.name.clone(),
                app: standby.mark.app.clone(),
                reason,
                member: standby.member.clone(),
            };
            if dry_run {
                report.retired.push(retired);
                continue;
            }
            let lock = ProfileSpec {
                name: ProfileName::of(&standby.name),
                description: format!("lxpack: retiring standby {} ({reason})", standby.name),
                mounts: Vec::new(),
                labels: None,
                standby: Some(standby.mark.retired()),
            };
            let deleted = match runtime.create_profile(&lock).await {
                // A deploy's profile: the standby is that deploy's.
                Err(RuntimeError::AlreadyExists { .. }) => {
                    report.claimed_meanwhile.push(standby.name.clone());
                    continue;
                }
                Err(error) => Err(error),
                Ok(()) => {
                    let marked = match &standby_port {
                        Ok(port) => {
                            let retired = standby.mark.retired();
                            port.update_standby(&standby.name, &standby.mark, &retired)
                                .await
                        }
                        Err(missing) => Err(refused(format!("retire {}", standby.name), missing)),
                    };
                    let deleted = match marked {
                        Ok(()) => runtime.delete_instance(&standby.name).await,
                        Err(error) => Err(error),
                    };
                    if let Err(error) = runtime.delete_profile(&lock.name).await {
                        tracing::warn!(profile = %lock.name, %error, "the lock of a retirement stays; a sweep removes it");
                    }
                    deleted
                }
            };
            match deleted {
                Ok(()) | Err(RuntimeError::NotFound { .. }) => report.retired.push(retired),
                Err(RuntimeError::Changed { .. }) => {
                    report.claimed_meanwhile.push(standby.name.clone());
                }
                Err(error) => {
                    let message = format!("could not retire standby {}: {error}", standby.name);
                    events.emit(Event::Warning {
                        message: message.clone(),
                    });
                    report.failures.push(message);
                }
            }
        }
        report
    }
}
