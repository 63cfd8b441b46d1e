//! Which AMI the image is the twin of, and its OS: told by the caller, or described by
//! the AMI catalog, or only recorded when there is no catalog (then the app names its
//! source image).

use crate::domain::{Ami, AmiId, App, OsIdentity, OsType};
use crate::events::Step;
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::step::StepRunner;

use super::BuildImageRequest;

/// The AMI the image is the twin of and its OS, as far as they are known: described
/// by the catalog, or given. A Windows AMI has no twin; an AMI given without its OS
/// needs a catalog, unless the app names its source image.
pub(super) async fn identify_ami(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AppKey, JobId};

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
