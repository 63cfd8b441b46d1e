//! Preparing a buildimage: the app and its features, the AMI the image is the twin of
//! (and its OS), the image to start from, the steps to run, and an earlier build
//! whose step snapshots the build may start from. Nothing is created yet.

use crate::domain::{
    AmiId, App, AppSecrets, Feature, Image, ImageRef, InstanceName, JobCommand, JobId, OsIdentity,
    Provisioner, SnapshotSource, StepKey,
};
use crate::events::Step;
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::build_steps::BuildPlan;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::source_image::{match_source_image, selector_of};
use crate::workflows::mechanics::step::StepRunner;

use super::BuildImageRequest;
use super::ami::identify_ami;

/// What a buildimage builds, from what, and where.
pub(super) struct ImagePlan {
    pub(super) app: App,
    /// The app's secrets.
    pub(super) secrets: AppSecrets,
    /// The provisioners the app's features use, whose formulas are mounted.
    pub(super) provisioners: Vec<Provisioner>,
    /// The AMI the image is the twin of, if known.
    pub(super) ami: Option<AmiId>,
    /// Its OS, if known.
    pub(super) os: Option<OsIdentity>,
    /// The image to start from.
    pub(super) source: ImageRef,
    /// The local image it is, when known.
    pub(super) source_image: Option<Image>,
    /// The files to deliver and the steps to run.
    pub(super) steps: BuildPlan,
    /// The key after each step whose inputs are known (none without snapshots).
    pub(super) keys: Vec<StepKey>,
    /// The earlier build whose snapshot holds the first steps, if one does.
    pub(super) resume: Option<Resume>,
    /// The build's instance.
    pub(super) name: InstanceName,
}

/// Where a build resumes: after its first `done` steps, from `snapshot` of `job`.
pub(super) struct Resume {
    pub(super) done: usize,
    pub(super) snapshot: SnapshotSource,
    pub(super) job: JobId,
}

impl ImagePlan {
    /// The steps already done when the build starts (taken from a snapshot).
    pub(super) fn done(&self) -> usize {
        self.resume.as_ref().map_or(0, |resume| resume.done)
    }

    /// Those steps, in order.
    pub(super) fn steps_from_snapshot(&self) -> Vec<Step> {
        self.steps.steps[..self.done()]
            .iter()
            .map(|planned| planned.step)
            .collect()
    }
}

/// Loads the app, identifies the AMI, chooses the image to start from and plans the
/// steps.
pub(super) async fn prepare(
    job: &JobContext<'_>,
    request: &BuildImageRequest,
) -> Result<ImagePlan, WorkflowError> {
    let workflows = job.workflows;
    let app = workflows.load_app(&request.app).await?;
    let secrets = workflows.app_secrets(&app)?;
    job.hold_secrets(&secrets.masker);
    let features = features_by_provisioner(&app, workflows)?;
    let (ami, os) = identify_ami(job, request, &app).await?;
    let (source, source_image) = choose_source(workflows, &job.runner, &app, os.as_ref()).await?;
    let steps = workflows.build_plan(&app, &secrets, &features);
    let provisioners = features.iter().map(|(kind, _)| *kind).collect();
    let keys = match base_fingerprint(workflows, &source, source_image.as_ref()).await {
        Some(base) if job.settings().step_snapshots => steps.keys(&base),
        _ => Vec::new(),
    };
    let resume = if request.no_cache {
        None
    } else {
        job.find_resume(&app, &keys)
            .await
            .map(|(done, snapshot, job)| Resume {
                done,
                snapshot,
                job,
            })
    };
    let name = InstanceName::for_job(
        JobCommand::BuildImage,
        &app.key,
        app.color,
        None,
        &request.job,
    );
    Ok(ImagePlan {
        app,
        secrets,
        provisioners,
        ami,
        os,
        source,
        source_image,
        steps,
        keys,
        resume,
        name,
    })
}

/// The image to start from, and the local image it is when known.
async fn choose_source(
    workflows: &Workflows,
    runner: &StepRunner<'_>,
    app: &App,
    os: Option<&OsIdentity>,
) -> Result<(ImageRef, Option<Image>), WorkflowError> {
    runner
        .run(Step::ChooseSourceImage, async {
            if let Some(selector) = &app.build_infos.source_container_image {
                return Ok(match &workflows.settings.source_server {
                    Some(server) => (
                        ImageRef::Remote {
                            server: server.clone(),
                            image: selector.clone(),
                        },
                        None,
                    ),
                    None => (ImageRef::Local(selector.clone()), None),
                });
            }
            let Some(os) = os else {
                return Err(WorkflowError::NoSourceImage {
                    app: app.key.clone(),
                });
            };
            let images = workflows
                .ports
                .registry
                .list_images()
                .await
                .map_err(|e| runner.failed(Step::ChooseSourceImage, e))?;
            let image = match_source_image(&images, os)?;
            Ok((ImageRef::Local(selector_of(image)), Some(image.clone())))
        })
        .await
}

/// The fingerprint of the image a build starts from, which its step keys start
/// with: the local image chosen, or the one a local selector names; `None` for a
/// remote image (its server may change it), which is built without snapshots.
async fn base_fingerprint(
    workflows: &Workflows,
    source: &ImageRef,
    chosen: Option<&Image>,
) -> Option<String> {
    if !workflows.settings.step_snapshots {
        return None;
    }
    if let Some(image) = chosen {
        return Some(image.fingerprint.to_string());
    }
    match source {
        ImageRef::Local(selector) => workflows
            .ports
            .registry
            .resolve_image(selector)
            .await
            .ok()
            .map(|image| image.fingerprint.to_string()),
        _ => None,
    }
}

/// The app's features grouped by provisioner, in the configured provisioner order.
fn features_by_provisioner<'a>(
    app: &'a App,
    workflows: &Workflows,
) -> Result<Vec<(Provisioner, Vec<&'a Feature>)>, WorkflowError> {
    if let Some(feature) = app
        .features
        .iter()
        .find(|f| workflows.provisioner(f.provisioner).is_none())
    {
        return Err(WorkflowError::ProvisionerNotConfigured {
            feature: feature.name.clone(),
            provisioner: feature.provisioner,
        });
    }
    Ok(workflows
        .settings
        .provisioners
        .iter()
        .map(|p| {
            (
                p.kind,
                app.features
                    .iter()
                    .filter(|f| f.provisioner == p.kind)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, list)| !list.is_empty())
        .collect())
}
