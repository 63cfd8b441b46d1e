//! buildimage: a container twin of an AMI, built with the app's hooks and features,
//! published under the job id and recorded on the app.
//!
//! A buildimage reads as its phases, one file each: `prepare` (the app, the AMI, the
//! source image, the steps, a snapshot to resume from), `provision` (the instance),
//! `run` (the steps, then a stop), `publish` (the image, its record on the app,
//! retention) and `conclude` (the step holder kept, cleanup).

mod ami;
mod conclude;
mod prepare;
mod provision;
mod publish;
mod run;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::domain::{AmiId, AppKey, Image, ImageRef, InstanceName, JobCommand, JobId, OsIdentity};
use crate::events::{EventSink, Step};
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::{JobContext, JobEvents, JobIdentity};
use crate::workflows::mechanics::retention::RetentionReport;
use conclude::conclude;
use prepare::{ImagePlan, prepare};
use provision::provision;
use publish::{Published, publish};
use run::run;

/// One buildimage job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildImageRequest {
    /// The app.
    pub app: AppKey,
    /// The job id, which becomes the image alias ([`Workflows::new_job_id`]).
    pub job: JobId,
    /// The AMI this image is the twin of. Without it, the app's `source_ami` when an
    /// AMI catalog is configured.
    pub ami: Option<AmiId>,
    /// The AMI's OS, when known without asking the catalog; given, the catalog is not
    /// asked.
    pub os: Option<OsIdentity>,
    /// Keep the instance and profile afterwards (also on with `container.debug`).
    pub keep: bool,
    /// Keep the instance and profile when the job fails (also on with
    /// [`KeepSettings::on_failure`](super::KeepSettings::on_failure)).
    pub keep_on_failure: bool,
    /// Where the caller writes the job's output, recorded with the job.
    pub log_path: Option<PathBuf>,
    /// Run every step, even those an earlier build's snapshots hold (the steps are
    /// still snapshotted for the next build).
    pub no_cache: bool,
}

impl BuildImageRequest {
    /// buildimage of `app` as job `job`, with the AMI chosen as the app says.
    #[must_use]
    pub fn new(app: AppKey, job: JobId) -> Self {
        Self {
            app,
            job,
            ami: None,
            os: None,
            keep: false,
            keep_on_failure: false,
            log_path: None,
            no_cache: false,
        }
    }
}

/// Whether the new image became the app's current one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordOutcome {
    /// Recorded; it replaced this job's image, if any.
    Recorded {
        /// The previous image's job.
        replaced: Option<JobId>,
    },
    /// A newer job's image was already recorded and stays current.
    Superseded {
        /// That newer job.
        current: JobId,
    },
}

/// What a successful buildimage did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildImageReport {
    /// The job.
    pub job: JobId,
    /// The instance it built in.
    pub instance: InstanceName,
    /// The image it started from.
    pub source: ImageRef,
    /// The image it published.
    pub image: Image,
    /// Whether it became current.
    pub record: RecordOutcome,
    /// What retention did.
    pub retention: RetentionReport,
    /// True when the instance and profile were kept.
    pub kept_resources: bool,
    /// The steps taken from an earlier build's snapshots instead of run, in order.
    pub steps_from_snapshot: Vec<Step>,
    /// The build whose snapshots they came from.
    pub resumed_from: Option<JobId>,
    /// The steps snapshotted for the next build.
    pub steps_snapshotted: usize,
}

impl Workflows {
    /// Runs buildimage: describe the AMI, choose the source image, create the profile
    /// (formulas mounted read-only), launch and wait until ready, optionally bootstrap
    /// provisioners, run `pre_buildimage`, each provisioner's features, then
    /// `post_buildimage`, stop, publish under the job id, record the image on the app,
    /// apply retention, and always clean up (unless kept).
    ///
    /// The job is recorded in the job history as running before anything is
    /// created, and ended after cleanup.
    ///
    /// # Errors
    /// A [`WorkflowError`] naming the step; if cleanup also failed, a
    /// [`WorkflowError::Cleanup`] that keeps the original error.
    pub async fn build_image(
        &self,
        request: &BuildImageRequest,
        events: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<BuildImageReport, WorkflowError> {
        let job = JobIdentity {
            id: &request.job,
            command: JobCommand::BuildImage,
            app: &request.app,
            module: None,
            log_path: request.log_path.as_ref(),
        };
        let keep = self.keep_rule(request.keep, request.keep_on_failure);
        let events = JobEvents::new(events);
        self.run_job(job, keep, &events, cancel, |job| {
            build_image_job(job, request)
        })
        .await
    }
}

/// The phases of a buildimage. Whatever fails once provisioning started, the job
/// concludes: what it created goes (or is kept, or holds its step snapshots).
async fn build_image_job(
    mut job: JobContext<'_>,
    request: &BuildImageRequest,
) -> Result<BuildImageReport, WorkflowError> {
    let plan = prepare(&job, request).await?;
    let outcome = async {
        provision(&mut job, request, &plan).await?;
        let taken = run(&job, &plan).await?;
        let published = publish(&job, request, &plan).await?;
        let report = report(&job, request, &plan, published, taken.len());
        Ok((report, taken))
    }
    .await;
    conclude(job, &plan, outcome).await
}

/// What the build did, as its report says.
fn report(
    job: &JobContext<'_>,
    request: &BuildImageRequest,
    plan: &ImagePlan,
    published: Published,
    steps_snapshotted: usize,
) -> BuildImageReport {
    BuildImageReport {
        job: request.job.clone(),
        instance: plan.name.clone(),
        source: plan.source.clone(),
        image: published.image,
        record: published.record,
        retention: published.retention,
        kept_resources: job.keep.always,
        steps_from_snapshot: plan.steps_from_snapshot(),
        resumed_from: plan.resume.as_ref().map(|resume| resume.job.clone()),
        steps_snapshotted,
    }
}
