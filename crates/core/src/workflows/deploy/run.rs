//! Running a deploy: the module's buildpack, delivered to the instance and run in the
//! module's directory as the checkout's owner (with the secrets' files around it when
//! secrets are files); then the caches it filled are measured.

use crate::domain::{ExecRequest, InstanceName};
use crate::events::Step;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::caches::JobCaches;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::scripts::deliver;

use super::DeployRequest;
use super::prepare::DeployPlan;

/// Runs the buildpack in `name`; it fails the job unless it exits 0.
pub(super) async fn run(
    job: &JobContext<'_>,
    request: &DeployRequest,
    plan: &DeployPlan,
    name: &InstanceName,
    caches: &mut JobCaches,
) -> Result<(), WorkflowError> {
    let runtime = job.runtime();
    let runner = &job.runner;
    let script = deliver("buildpack", &plan.build_pack);
    runner
        .run(Step::DeliverScripts, async {
            runtime
                .push_file(name, &script.file)
                .await
                .map_err(|e| runner.failed(Step::DeliverScripts, e))
        })
        .await?;
    let mut exec = ExecRequest::new(script.command.clone(), job.settings().timeouts.buildpack);
    exec.env = plan.app.hook_environment();
    exec.cwd = Some(plan.module.path.clone());
    exec.user = Some(request.checkout.owner);
    if job.secret_files(&plan.secrets) {
        exec.env = plan.secrets.file_environment(exec.env);
    }
    let resources = &job.settings().resources;
    let class = resources.class_for(&plan.app.key, Some(&plan.module.name));
    let buildpack = job.exec_in_class(Step::Buildpack, name, &exec, &class);
    job.with_secret_files(name, &plan.secrets, request.checkout.owner, buildpack)
        .await?;
    caches.measure(job, name).await;
    Ok(())
}
