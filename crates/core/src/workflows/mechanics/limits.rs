//! A command step that fails under a resource class is checked against the
//! instance's limit counters: when they show a cap was hit, the job's error says which
//! cap of which class, and by how much, rather than an exit code the reader must
//! interpret. A counter the runtime cannot read proves nothing; reading them never
//! turns a failure into another kind of failure.

use crate::domain::{ExecRequest, InstanceName, ResourceClass};
use crate::events::{Event, Step};
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;

impl JobContext<'_> {
    /// Runs a command as `step` on `instance` (see `StepRunner::exec`); when it
    /// exits non-zero or times out and the instance's counters show a cap of `class`
    /// was hit, fails with `LimitHit` around the step's own error.
    pub(crate) async fn exec_in_class(
        &self,
        step: Step,
        instance: &InstanceName,
        request: &ExecRequest,
        class: &ResourceClass,
    ) -> Result<(), WorkflowError> {
        let result = self
            .runner
            .exec(self.runtime(), step, instance, request)
            .await;
        match result {
            Err(
                failure @ (WorkflowError::CommandFailed { .. } | WorkflowError::TimedOut { .. }),
            ) => Err(self.explain(step, instance, class, failure).await),
            other => other,
        }
    }

    /// `failure`, or `LimitHit` around it when the counters show `class` stopped the
    /// step. Counters that cannot be read leave `failure` as it is, with a warning.
    async fn explain(
        &self,
        step: Step,
        instance: &InstanceName,
        class: &ResourceClass,
        failure: WorkflowError,
    ) -> WorkflowError {
        let Some(counters) = self
            .workflows
            .ports
            .capabilities
            .resource_classes
            .as_deref()
        else {
            return failure;
        };
        match counters.limit_counters(instance).await {
            Ok(readings) => match class.limit_hit(&readings) {
                Some(hit) => WorkflowError::LimitHit {
                    step,
                    instance: instance.clone(),
                    class: class.name.clone(),
                    hit: Box::new(hit),
                    failure: Box::new(failure),
                },
                None => failure,
            },
            Err(error) => {
                self.events().emit(Event::Warning {
                    message: format!(
                        "could not read the limit counters of {instance} to tell whether resource class {} stopped step {step}: {error}",
                        class.name
                    ),
                });
                failure
            }
        }
    }
}
