//! Concluding a build, whatever its outcome: a successful build's instance stays,
//! stopped, as the holder of its step snapshots (unless it is kept for inspection,
//! with its profile); the rest goes, or is kept, as the keep rule says.

use crate::domain::StepKey;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;

use super::BuildImageReport;
use super::prepare::ImagePlan;

/// Ends the job with `outcome` (its report and the steps it snapshotted), keeping any
/// cleanup failure beside it.
pub(super) async fn conclude(
    mut job: JobContext<'_>,
    plan: &ImagePlan,
    outcome: Result<(BuildImageReport, Vec<StepKey>), WorkflowError>,
) -> Result<BuildImageReport, WorkflowError> {
    if let Ok((_, taken)) = &outcome
        && !job.keep.always
        && job.keep_step_holder(&plan.name, taken).await
        && let Some(created) = &mut job.created
    {
        created.instance = false;
    }
    job.finish(outcome.map(|(report, _)| report)).await
}
