//! deploy: a module's buildpack, run in a fresh container from the app's image with the
//! checkout mounted at the module's path, as the checkout's owner, so the files it
//! writes belong to that owner on the host (Cloud Deploy chowned to 1001:1002).
//!
//! A deploy reads as its phases, one file each: `prepare` (the app, the module, the
//! image, the pool), `provision` (the caches' copies, then a claimed standby or a
//! launch), `run` (the buildpack) and `conclude` (cleanup, the caches saved, a refill
//! asked for).

mod conclude;
mod prepare;
mod provision;
mod run;

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::domain::{AppKey, InstanceName, JobCommand, JobId, Owner};
use crate::events::EventSink;
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::caches::JobCaches;
use crate::workflows::mechanics::job::{JobContext, JobEvents, JobIdentity};
use conclude::conclude;
use prepare::{Prepared, prepare};
use provision::provision;
use run::run;

/// The module's source tree on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// Its directory.
    pub path: PathBuf,
    /// Its owner: the buildpack runs as this user and group.
    pub owner: Owner,
}

/// One deploy of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    /// The app.
    pub app: AppKey,
    /// The module name.
    pub module: String,
    /// The job id.
    pub job: JobId,
    /// The module's checkout.
    pub checkout: Checkout,
    /// Keep the instance and profile afterwards (also on with `container.debug`).
    pub keep: bool,
    /// Keep the instance and profile when the job fails (also on with
    /// [`KeepSettings::on_failure`](super::KeepSettings::on_failure)).
    pub keep_on_failure: bool,
    /// Where the caller writes the job's output, recorded with the job.
    pub log_path: Option<PathBuf>,
}

impl DeployRequest {
    /// deploy of `module` of `app` from `checkout`, as job `job`.
    #[must_use]
    pub fn new(app: AppKey, module: impl Into<String>, job: JobId, checkout: Checkout) -> Self {
        Self {
            app,
            module: module.into(),
            job,
            checkout,
            keep: false,
            keep_on_failure: false,
            log_path: None,
        }
    }
}

/// What happened to the module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployOutcome {
    /// The buildpack ran and exited 0.
    Built {
        /// The instance it ran in.
        instance: InstanceName,
        /// The image it started from (the app's current image).
        image: JobId,
    },
    /// The module has no buildpack: nothing ran.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// What a successful deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployReport {
    /// The job.
    pub job: JobId,
    /// The module.
    pub module: String,
    /// Built or skipped.
    pub outcome: DeployOutcome,
    /// True when the instance and profile were kept.
    pub kept_resources: bool,
}

impl Workflows {
    /// Runs a module's buildpack in a container from the app's current image. The
    /// job is recorded in the job history as running before anything is created, and
    /// ended after cleanup.
    ///
    /// # Errors
    /// `UnknownModule`; `NoContainerImage` when buildimage never ran for the app;
    /// `CachesNeedOneMember` when the module keeps caches on a cluster and no member
    /// is named to run it on; any step's error; a [`WorkflowError::Cleanup`] that
    /// keeps the original error when cleanup fails too.
    pub async fn deploy(
        &self,
        request: &DeployRequest,
        events: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<DeployReport, WorkflowError> {
        let job = JobIdentity {
            id: &request.job,
            command: JobCommand::Deploy,
            app: &request.app,
            module: Some(&request.module),
            log_path: request.log_path.as_ref(),
        };
        let keep = self.keep_rule(request.keep, request.keep_on_failure);
        let events = JobEvents::new(events);
        self.run_job(job, keep, &events, cancel, |job| deploy_job(job, request))
            .await
    }
}

/// The phases of a deploy. Whatever fails once provisioning started, the job
/// concludes: what it created goes (or is kept), and its caches are saved or dropped.
async fn deploy_job(
    mut job: JobContext<'_>,
    request: &DeployRequest,
) -> Result<DeployReport, WorkflowError> {
    let plan = match prepare(&job, request).await? {
        Prepared::Deploy(plan) => plan,
        Prepared::Skipped(report) => return Ok(report),
    };
    let mut caches = JobCaches::default();
    let outcome = async {
        let instance = provision(&mut job, request, &plan, &mut caches).await?;
        run(&job, request, &plan, &instance, &mut caches).await?;
        Ok(DeployReport {
            job: request.job.clone(),
            module: plan.module.name.clone(),
            outcome: DeployOutcome::Built {
                instance,
                image: plan.image.clone(),
            },
            kept_resources: job.keep.always,
        })
    }
    .await;
    conclude(job, &plan, &caches, outcome).await
}
