//! Cleanup is the one part that must run whatever happened before it: on success, on
//! failure, on timeout and after cancellation (its port calls take no cancellation
//! token). Cloud Deploy's deploy path had no `finally` and leaked containers.

use std::time::SystemTime;

use tokio::time::Instant;

use crate::domain::{InstanceName, ProfileName};
use crate::events::{Event, EventSink, Step};
use crate::ports::{ContainerRuntime, ResourceKind, RuntimeError};
use crate::workflows::Workflows;
use crate::workflows::error::{CleanupFailure, PortError, WorkflowError};

/// What a job may have created, so cleanup removes exactly that.
#[derive(Debug)]
pub(crate) struct Created {
    pub(crate) name: InstanceName,
    /// A profile create was attempted (it may exist even if the call failed).
    pub(crate) profile: bool,
    /// A launch was attempted.
    pub(crate) instance: bool,
    /// The instance is ephemeral and may be released without waiting for its stop
    /// (`CleanupMode::Background`, deploys only).
    pub(crate) release_in_background: bool,
}

impl Created {
    pub(crate) fn new(name: InstanceName) -> Self {
        Self {
            name,
            profile: false,
            instance: false,
            release_in_background: false,
        }
    }
}

/// Whether a job keeps what it created, and until when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepRule {
    /// Keep whatever happens (`keep`, `container.debug`).
    pub(crate) always: bool,
    /// Keep when the job fails (not when it is cancelled).
    pub(crate) on_failure: bool,
    /// When what is kept expires.
    pub(crate) until: SystemTime,
}

impl KeepRule {
    /// Whether a job that ended with `outcome` keeps its resources: always when asked
    /// to, and on a failure (a cancellation is not one) when asked to keep failures.
    pub(crate) fn keeps<T>(&self, outcome: &Result<T, WorkflowError>) -> bool {
        self.always || (self.on_failure && matches!(outcome, Err(error) if !error.is_cancelled()))
    }

    /// Whether the instance must outlive the job's end, so cannot be ephemeral: it may
    /// be kept.
    pub(crate) fn may_keep(&self) -> bool {
        self.always || self.on_failure
    }
}

impl Workflows {
    /// The keep rule of a job asked to `keep` (or to keep on failure), with the
    /// settings' own (`container.debug`, keep on failure); its expiry is set at the
    /// job's end ([`Workflows::kept_until`]).
    pub(crate) fn keep_rule(&self, keep: bool, on_failure: bool) -> KeepRule {
        KeepRule {
            always: keep || self.settings.keep_resources,
            on_failure: on_failure || self.settings.keep.on_failure,
            until: self.kept_until(),
        }
    }

    /// When what a job ending now keeps expires.
    pub(crate) fn kept_until(&self) -> SystemTime {
        let now = self.clock.now();
        // The config caps the expiry; a clock at the end of time keeps nothing.
        now.checked_add(self.settings.keep.expiry).unwrap_or(now)
    }
}

/// Removes what the job created, or keeps it (marked with its expiry, and reported).
/// Combines cleanup failures with the job's own outcome: a failing cleanup never hides
/// the original error.
pub(crate) async fn finish<T>(
    runtime: &dyn ContainerRuntime,
    events: &dyn EventSink,
    created: &Created,
    keep: KeepRule,
    outcome: Result<T, WorkflowError>,
) -> Result<T, WorkflowError> {
    if !created.profile && !created.instance {
        return outcome;
    }
    if keep.keeps(&outcome) && kept(runtime, events, created, keep).await {
        events.emit(Event::ResourcesKept {
            instance: created.name.clone(),
            profile: ProfileName::of(&created.name),
            until: keep.until,
        });
        return outcome;
    }
    events.emit(Event::StepStarted {
        step: Step::Cleanup,
    });
    let started = Instant::now();
    let (failures, released) = remove(runtime, created).await;
    if released {
        events.emit(Event::Released {
            instance: created.name.clone(),
        });
    }
    events.emit(Event::StepFinished {
        step: Step::Cleanup,
        duration: started.elapsed(),
        succeeded: failures.is_empty(),
    });
    let failures = if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    };
    match (failures, outcome) {
        (Ok(()), outcome) => outcome,
        (Err(failures), Ok(_)) => Err(WorkflowError::Cleanup {
            original: None,
            failures,
        }),
        (Err(failures), Err(original)) => Err(WorkflowError::Cleanup {
            original: Some(Box::new(original)),
            failures,
        }),
    }
}

/// Marks the instance kept until `keep.until`. False when there is no instance to keep
/// after a failure (its launch failed): then what exists is removed as usual. A mark
/// that fails otherwise is a warning: the job's record still says what is kept.
async fn kept(
    runtime: &dyn ContainerRuntime,
    events: &dyn EventSink,
    created: &Created,
    keep: KeepRule,
) -> bool {
    if !created.instance {
        return keep.always;
    }
    match runtime.mark_kept(&created.name, keep.until).await {
        Ok(()) => true,
        Err(RuntimeError::NotFound { .. }) => keep.always,
        Err(error) => {
            events.emit(Event::Warning {
                message: format!(
                    "could not mark {} as kept on the daemon ({error}); this host's history \
                     still keeps it, but a sweep from another host may remove it",
                    created.name
                ),
            });
            true
        }
    }
}

/// Removes what the job created; says whether the instance was released without
/// waiting for its stop (and so is still to be confirmed gone).
async fn remove(runtime: &dyn ContainerRuntime, created: &Created) -> (Vec<CleanupFailure>, bool) {
    let mut failures = Vec::new();
    let name = &created.name;
    let profile = ProfileName::of(name);
    if created.release_in_background && created.instance && created.profile {
        match runtime.release_ephemeral(name, &profile).await {
            Ok(()) => return (failures, true),
            // No instance to release (its launch failed, or it went already): the
            // waiting path removes the profile, which may still be there.
            Err(RuntimeError::NotFound { .. }) => {}
            // Whatever part failed, the waiting path below removes what is left, and
            // reports what it cannot.
            Err(error) => {
                tracing::warn!(instance = %name, %error, "releasing the instance in the background failed; removing it and waiting");
            }
        }
    }
    if created.instance {
        match runtime.delete_instance(name).await {
            Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
            Err(error) => failures.push(CleanupFailure {
                kind: ResourceKind::Instance,
                name: name.to_string(),
                error: PortError::Runtime(error),
            }),
        }
    }
    if created.profile {
        match runtime.delete_profile(&profile).await {
            Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
            Err(error) => failures.push(CleanupFailure {
                kind: ResourceKind::Profile,
                name: profile.to_string(),
                error: PortError::Runtime(error),
            }),
        }
    }
    (failures, false)
}
