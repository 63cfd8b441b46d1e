//! Provisioning a deploy's instance: the job's copies of its caches first (so they go
//! into its profile with the checkout, and appear at once either way), then a standby
//! claimed from the pool or, failing one, an instance of its own; last, the copies
//! are handed to the build user.

use crate::domain::{
    DiskMount, ImageAlias, ImageRef, ImageSelector, InstanceName, JobCommand, MountSource,
};
use crate::events::Step;
use crate::ports::RuntimeError;
use crate::workflows::error::{PortError, WorkflowError};
use crate::workflows::mechanics::caches::JobCaches;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::launch::Launch;

use super::DeployRequest;
use super::prepare::DeployPlan;

/// Makes the job's instance ready for the buildpack, and names it. The copies of the
/// caches go into `caches` as they are made, for the job's conclusion to save or drop.
pub(super) async fn provision(
    job: &mut JobContext<'_>,
    request: &DeployRequest,
    plan: &DeployPlan,
    caches: &mut JobCaches,
) -> Result<InstanceName, WorkflowError> {
    let (app, module) = (&plan.app.key, &plan.module.name);
    let mut mounts = vec![checkout_mount(request, plan)];
    mounts.extend(caches.restore(job, app, module, &request.job).await?);
    let launch = Launch {
        app: &plan.app,
        module: Some(module),
        command: JobCommand::Deploy,
        job: &request.job,
        image: ImageRef::Local(ImageSelector::Alias(ImageAlias::for_job(&plan.image))),
        mounts,
        ephemeral: !job.keep.may_keep(),
        from_snapshot: None,
        class: job.settings().resources.class_for(app, Some(module)),
    };
    let claimed = match &plan.pool {
        Some(key) => {
            job.workflows
                .claim_standby(&job.runner, key, &launch)
                .await?
        }
        None => None,
    };
    let name = match claimed {
        Some(claimed) => {
            (job.workflows)
                .planned_network(app, Some(module))
                .announce(job.events());
            job.take_claimed(claimed).await?
        }
        None => launch_own(job, plan, launch).await?,
    };
    caches.hand_over(job, &name, request.checkout.owner).await?;
    Ok(name)
}

/// The checkout, mounted at the module's path, owned by its owner.
fn checkout_mount(request: &DeployRequest, plan: &DeployPlan) -> DiskMount {
    DiskMount {
        device: "lxpack-checkout".to_owned(),
        source: MountSource::Host(request.checkout.path.clone()),
        target: plan.module.path.clone(),
        read_only: false,
        owner: Some(request.checkout.owner),
    }
}

/// Launches the job's own instance (a cold start). An image the daemon does not have
/// is the app's image gone missing.
async fn launch_own(
    job: &mut JobContext<'_>,
    plan: &DeployPlan,
    launch: Launch<'_>,
) -> Result<InstanceName, WorkflowError> {
    let name = plan.cold_name.clone();
    job.launch(name.clone(), launch)
        .await
        .map_err(|error| match error {
            WorkflowError::StepFailed {
                step: Step::Launch,
                source,
                ..
            } if matches!(
                source.as_ref(),
                PortError::Runtime(RuntimeError::ImageNotFound { .. })
            ) =>
            {
                WorkflowError::ContainerImageMissing {
                    app: plan.app.key.clone(),
                    job: plan.image.clone(),
                }
            }
            other => other,
        })?;
    Ok(name)
}
