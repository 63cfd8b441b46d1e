//! Running a build: the provisioning steps an earlier build's snapshot does not hold
//! (each snapshotted for the next build when its key is known), between the delivery
//! and the removal of the secrets' files when they are files, then a stop, so that
//! what is published is at rest.

use crate::domain::{Owner, StepKey};
use crate::events::Step;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;

use super::prepare::ImagePlan;

/// Runs the steps left and stops the instance; returns the keys of the steps
/// snapshotted.
pub(super) async fn run(
    job: &JobContext<'_>,
    plan: &ImagePlan,
) -> Result<Vec<StepKey>, WorkflowError> {
    let (runtime, runner, name) = (job.runtime(), &job.runner, &plan.name);
    let snapshot = !plan.keys.is_empty();
    let class = job.settings().resources.class_for(&plan.app.key, None);
    // The hooks and features run as root.
    let steps = job.run_steps(name, &plan.steps, &plan.keys, plan.done(), snapshot, &class);
    let taken = job
        .with_secret_files(name, &plan.secrets, Owner::ROOT, steps)
        .await?;
    let graceful = job.settings().timeouts.graceful_stop;
    runner
        .run(Step::Stop, async {
            runtime
                .stop_instance(name, graceful)
                .await
                .map_err(|e| runner.failed(Step::Stop, e))
        })
        .await?;
    Ok(taken)
}
