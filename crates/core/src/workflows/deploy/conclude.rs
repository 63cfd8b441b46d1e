//! Concluding a deploy, whatever its outcome: what it created goes (or is kept), then
//! its caches are saved or dropped (no instance mounts them any more), and the pool it
//! drew from is asked to refill.

use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::caches::JobCaches;
use crate::workflows::mechanics::job::JobContext;

use super::DeployReport;
use super::prepare::DeployPlan;

/// Ends the job with `outcome`, keeping any cleanup or save failure beside it.
pub(super) async fn conclude(
    mut job: JobContext<'_>,
    plan: &DeployPlan,
    caches: &JobCaches,
    outcome: Result<DeployReport, WorkflowError>,
) -> Result<DeployReport, WorkflowError> {
    // A kept instance keeps its copies mounted: they are neither saved nor dropped.
    let kept = job.keeps_instance(&outcome);
    let ended = job.finish(outcome).await;
    let ended = caches.save(&job, kept, ended).await;
    if let Some(key) = &plan.pool {
        job.workflows.request_refill(key, job.events()).await;
    }
    ended
}
