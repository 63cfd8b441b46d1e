//! Provisioning a build's instance: launched from the source image, or from an
//! earlier build's snapshot when one holds the first steps, with the provisioners'
//! formulas mounted read-only.

use crate::domain::JobCommand;
use crate::events::Event;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::launch::Launch;
use crate::workflows::mechanics::provisioning::formulas_mount;

use super::BuildImageRequest;
use super::prepare::ImagePlan;

/// Launches the build's instance and waits until it answers.
pub(super) async fn provision(
    job: &mut JobContext<'_>,
    request: &BuildImageRequest,
    plan: &ImagePlan,
) -> Result<(), WorkflowError> {
    let workflows = job.workflows;
    let mounts = plan
        .provisioners
        .iter()
        .filter_map(|kind| workflows.provisioner(*kind))
        .map(formulas_mount)
        .collect();
    if let Some(resume) = &plan.resume {
        job.events().emit(Event::StepsFromSnapshot {
            steps: plan.steps_from_snapshot(),
            job: resume.job.clone(),
        });
    }
    let launch = Launch {
        app: &plan.app,
        module: None,
        command: JobCommand::BuildImage,
        job: &request.job,
        image: plan.source.clone(),
        mounts,
        ephemeral: false,
        from_snapshot: plan.resume.as_ref().map(|resume| resume.snapshot.clone()),
        class: job.settings().resources.class_for(&plan.app.key, None),
    };
    job.launch(plan.name.clone(), launch).await
}
