//! Preparing a buildimage: the app and its features, the AMI the image is the twin of
//! (and its OS), the image to start from, the steps to run, and an earlier build
//! whose step snapshots the build may start from. Nothing is created yet.

use crate::domain::{
    Ami, AmiId, App, Feature, Image, ImageRef, InstanceName, JobCommand, JobId, OsIdentity, OsType,
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

/// What a buildimage builds, from what, and where.
pub(super) struct ImagePlan {
    pub(super) app: App,
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
    let features = features_by_provisioner(&app, workflows)?;
    let (ami, os) = identify_ami(job, request, &app).await?;
    let (source, source_image) = choose_source(workflows, &job.runner, &app, os.as_ref()).await?;
    let steps = workflows.build_plan(&app, &features);
    let provisioners = features.iter().map(|(kind, _)| *kind).collect();
    let keys = match base_fingerprint(workflows, &source, source_image.as_ref()).await {
        Some(base) if job.settings().step_snapshots => steps.keys(&base),
        _ => Vec::new(),
    };
    let resume = if request.no_cache {
        None
    } else {
        workflows
            .find_resume(&job.runner, &app, &keys)
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

/// The AMI the image is the twin of and its OS, as far as they are known: described
/// by the catalog, or given. A Windows AMI has no twin; an AMI given without its OS
/// needs a catalog, unless the app names its source image.
async fn identify_ami(
    job: &JobContext<'_>,
    request: &BuildImageRequest,
    app: &App,
) -> Result<(Option<AmiId>, Option<OsIdentity>), WorkflowError> {
    let source = AmiSource::choose(request, app, job.workflows.ports.amis.is_some());
    let described = describe_ami(job.workflows, &job.runner, app, &source).await?;
    let (given_ami, given_os) = match &source {
        AmiSource::Given { ami, os } => (ami.clone(), os.clone()),
        AmiSource::Catalog(_) => (None, None),
    };
    let ami = described.as_ref().map(|a| a.id.clone()).or(given_ami);
    let os = described.map(|a| a.os).or(given_os);
    if let (Some(os), Some(ami)) = (&os, &ami)
        && os.os_type == OsType::Windows
    {
        return Err(WorkflowError::WindowsAmi { ami: ami.clone() });
    }
    if let (None, None, Some(ami), AmiSource::Given { .. }) = (
        &os,
        &app.build_infos.source_container_image,
        &request.ami,
        &source,
    ) {
        return Err(WorkflowError::NoAmiCatalog { ami: ami.clone() });
    }
    Ok((ami, os))
}

/// Where buildimage learns about the AMI, as [`AmiSource::choose`] decides.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AmiSource {
    /// Describe it with the AMI catalog.
    Catalog(AmiId),
    /// Known without a catalog. The OS is needed unless the app names its source
    /// image; the id, when given, ties the image to its AMI twin for retention.
    Given {
        /// The AMI, if known.
        ami: Option<AmiId>,
        /// Its OS, if known.
        os: Option<OsIdentity>,
    },
}

impl AmiSource {
    /// An OS given by the caller wins (the AMI, if also given, is only recorded); else
    /// a catalog describes the AMI given, or else the app's `source_ami`; without a
    /// catalog the AMI is only recorded, and the app must name its source image.
    fn choose(request: &BuildImageRequest, app: &App, has_catalog: bool) -> Self {
        match (&request.ami, &request.os) {
            (ami, Some(os)) => Self::Given {
                ami: ami.clone(),
                os: Some(os.clone()),
            },
            (Some(ami), None) if has_catalog => Self::Catalog(ami.clone()),
            (None, None) if has_catalog => match &app.build_infos.source_ami {
                Some(ami) => Self::Catalog(ami.clone()),
                None => Self::Given {
                    ami: None,
                    os: None,
                },
            },
            (ami, None) => Self::Given {
                ami: ami.clone(),
                os: None,
            },
        }
    }
}

async fn describe_ami(
    workflows: &Workflows,
    runner: &StepRunner<'_>,
    app: &App,
    source: &AmiSource,
) -> Result<Option<Ami>, WorkflowError> {
    let AmiSource::Catalog(id) = source else {
        return Ok(None);
    };
    let Some(catalog) = workflows.ports.amis.as_deref() else {
        return Err(WorkflowError::NoAmiCatalog { ami: id.clone() });
    };
    runner
        .run(Step::DescribeAmi, async {
            catalog
                .describe_ami(&app.region, id)
                .await
                .map(Some)
                .map_err(|e| runner.failed(Step::DescribeAmi, e))
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AppKey;

    fn request(ami: Option<&str>, os: Option<OsIdentity>) -> BuildImageRequest {
        BuildImageRequest {
            ami: ami.map(|id| AmiId::parse(id).unwrap()),
            os,
            ..BuildImageRequest::new(app(None).key, JobId::generate(1, [0; 8]))
        }
    }

    fn app(source_ami: Option<&str>) -> App {
        let mut app = App::new(AppKey::new("web", "prod", "webfront"), "eu-west-1");
        app.build_infos.source_ami = source_ami.map(|id| AmiId::parse(id).unwrap());
        app
    }

    fn debian() -> OsIdentity {
        OsIdentity::new(OsType::Linux, "debian", "12", "x86_64")
    }

    #[test]
    fn a_given_os_wins_and_the_ami_is_only_recorded() {
        let chosen = AmiSource::choose(
            &request(Some("ami-00000001"), Some(debian())),
            &app(Some("ami-00000002")),
            true,
        );
        assert_eq!(
            chosen,
            AmiSource::Given {
                ami: Some(AmiId::parse("ami-00000001").unwrap()),
                os: Some(debian())
            }
        );
    }

    #[test]
    fn a_catalog_describes_the_given_ami_else_the_apps_source_ami() {
        let given = AmiSource::choose(&request(Some("ami-00000001"), None), &app(None), true);
        assert_eq!(
            given,
            AmiSource::Catalog(AmiId::parse("ami-00000001").unwrap())
        );
        let apps = AmiSource::choose(&request(None, None), &app(Some("ami-00000002")), true);
        assert_eq!(
            apps,
            AmiSource::Catalog(AmiId::parse("ami-00000002").unwrap())
        );
        let none = AmiSource::choose(&request(None, None), &app(None), true);
        assert_eq!(
            none,
            AmiSource::Given {
                ami: None,
                os: None
            }
        );
    }

    #[test]
    fn without_a_catalog_the_ami_is_only_recorded() {
        let chosen = AmiSource::choose(
            &request(Some("ami-00000001"), None),
            &app(Some("ami-00000002")),
            false,
        );
        assert_eq!(
            chosen,
            AmiSource::Given {
                ami: Some(AmiId::parse("ami-00000001").unwrap()),
                os: None
            }
        );
        let none = AmiSource::choose(&request(None, None), &app(Some("ami-00000002")), false);
        assert_eq!(
            none,
            AmiSource::Given {
                ami: None,
                os: None
            }
        );
    }
}
