//! Cleanup is the one part that must run whatever happened before it: on success, on
//! failure, on timeout and after cancellation (its port calls take no cancellation
//! token). Cloud Deploy's deploy path had no `finally` and leaked containers.

use tokio::time::Instant;

use super::error::{CleanupFailure, PortError, WorkflowError};
use crate::domain::{InstanceName, ProfileName};
use crate::events::{Event, EventSink, Step};
use crate::ports::{ContainerRuntime, ResourceKind, RuntimeError};

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

/// Removes what the job created, or reports it kept. Combines cleanup failures with
/// the job's own outcome: a failing cleanup never hides the original error.
pub(crate) async fn finish<T>(
    runtime: &dyn ContainerRuntime,
    events: &dyn EventSink,
    created: &Created,
    keep: bool,
    outcome: Result<T, WorkflowError>,
) -> Result<T, WorkflowError> {
    if !created.profile && !created.instance {
        return outcome;
    }
    if keep {
        events.emit(Event::ResourcesKept {
            instance: created.name.clone(),
            profile: ProfileName::of(&created.name),
        });
        return outcome;
    }
    events.emit(Event::StepStarted {
        step: Step::Cleanup,
    });
    let started = Instant::now();
    let failures = remove(runtime, created).await;
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

async fn remove(runtime: &dyn ContainerRuntime, created: &Created) -> Vec<CleanupFailure> {
    let mut failures = Vec::new();
    let name = &created.name;
    let profile = ProfileName::of(name);
    if created.release_in_background && created.instance && created.profile {
        match runtime.release_ephemeral(name, &profile).await {
            Ok(()) | Err(RuntimeError::NotFound { .. }) => return failures,
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
    failures
}
