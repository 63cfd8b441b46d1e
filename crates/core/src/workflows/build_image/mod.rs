//! buildimage: a container twin of an AMI, built with the app's hooks and features,
//! published under the job id and recorded on the app.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::domain::{
    Ami, AmiId, App, AppKey, Feature, Image, ImageAlias, ImageRef, InstanceName, JobCommand, JobId,
    OsIdentity, OsType, Provisioner, property,
};
use crate::events::{Event, EventSink, Step};
use crate::ports::{AppStoreError, PublishRequest};
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::cleanup::{Created, finish};
use crate::workflows::mechanics::job::{JobEvents, JobIdentity};
use crate::workflows::mechanics::launch::Launch;
use crate::workflows::mechanics::provisioning::formulas_mount;
use crate::workflows::mechanics::retention::RetentionReport;
use crate::workflows::mechanics::source_image::{match_source_image, selector_of};
use crate::workflows::mechanics::step::StepRunner;

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
        let events = JobEvents::new(events);
        self.run_job(job, &events, self.build_image_job(request, &events, cancel))
            .await
    }

    async fn build_image_job(
        &self,
        request: &BuildImageRequest,
        events: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<BuildImageReport, WorkflowError> {
        let app = self.load_app(&request.app).await?;
        let features = features_by_provisioner(&app, self)?;
        let mut runner = StepRunner {
            events,
            cancel,
            instance: None,
            kill_grace: self.settings.timeouts.kill_grace,
        };
        let source = AmiSource::choose(request, &app, self.ports.amis.is_some());
        let ami = self.describe_ami(&runner, &app, &source).await?;
        let ami_id = ami
            .as_ref()
            .map(|a| a.id.clone())
            .or_else(|| match &source {
                AmiSource::Given { ami, .. } => ami.clone(),
                AmiSource::Catalog(_) => None,
            });
        let os = ami.map(|a| a.os).or_else(|| match &source {
            AmiSource::Given { os, .. } => os.clone(),
            AmiSource::Catalog(_) => None,
        });
        if let (Some(os), Some(ami)) = (&os, &ami_id)
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
        let (source, source_image) = self.choose_source(&runner, &app, os.as_ref()).await?;
        let plan = self.build_plan(&app, &features);
        let keys = match self.base_fingerprint(&source, source_image.as_ref()).await {
            Some(base) if self.settings.step_snapshots => plan.keys(&base),
            _ => Vec::new(),
        };
        let resume = if request.no_cache {
            None
        } else {
            self.find_resume(&runner, &app, &keys).await
        };

        let name = InstanceName::for_job(
            JobCommand::BuildImage,
            &app.key,
            app.color,
            None,
            &request.job,
        );
        runner.instance = Some(name.clone());
        let mut created = Created::new(name.clone());
        let mut keep = self.keep_rule(request.keep, request.keep_on_failure);
        let outcome = async {
            let mounts = features
                .iter()
                .filter_map(|(kind, _)| self.provisioner(*kind))
                .map(formulas_mount)
                .collect();
            let (done, from_snapshot) = match &resume {
                Some((done, snapshot, job)) => {
                    runner.events.emit(Event::StepsFromSnapshot {
                        steps: plan.steps[..*done].iter().map(|p| p.step).collect(),
                        job: job.clone(),
                    });
                    (*done, Some(snapshot.clone()))
                }
                None => (0, None),
            };
            self.launch(
                &runner,
                &mut created,
                Launch {
                    app: &app,
                    command: JobCommand::BuildImage,
                    job: &request.job,
                    image: source.clone(),
                    mounts,
                    ephemeral: false,
                    from_snapshot,
                },
            )
            .await?;
            let taken = self
                .run_steps(&runner, &name, &plan, &keys, done, !keys.is_empty())
                .await?;
            let runtime = self.ports.runtime.as_ref();
            let graceful = self.settings.timeouts.graceful_stop;
            runner
                .run(Step::Stop, async {
                    runtime
                        .stop_instance(&name, graceful)
                        .await
                        .map_err(|e| runner.failed(Step::Stop, e))
                })
                .await?;
            let properties = image_properties(
                &app,
                &request.job,
                ami_id.as_ref(),
                os.as_ref(),
                source_image.as_ref(),
            );
            let image = self
                .publish(&runner, &name, &request.job, properties)
                .await?;
            let record = self.record(&runner, &app, &request.job, &image).await?;
            let retention = self
                .apply_retention(&runner, &app, Some(&request.job), false)
                .await;
            let deleted: Vec<JobId> = retention.deleted.iter().map(|d| d.job.clone()).collect();
            self.retire_step_holders(&runner, &app, &deleted).await;
            let report = BuildImageReport {
                job: request.job.clone(),
                instance: name.clone(),
                source: source.clone(),
                image,
                record,
                retention,
                kept_resources: keep.always,
                steps_from_snapshot: plan.steps[..done].iter().map(|p| p.step).collect(),
                resumed_from: resume.as_ref().map(|(_, _, job)| job.clone()),
                steps_snapshotted: taken.len(),
            };
            Ok((report, taken))
        }
        .await;
        // A successful build's instance stays, stopped, as the holder of its step
        // snapshots (unless it is kept for inspection, with its profile).
        if let Ok((_, taken)) = &outcome
            && !keep.always
            && self.keep_step_holder(&runner, &name, taken).await
        {
            created.instance = false;
        }
        let outcome = outcome.map(|(report, _)| report);
        keep.until = self.kept_until();
        finish(self.ports.runtime.as_ref(), events, &created, keep, outcome).await
    }

    /// The fingerprint of the image a build starts from, which its step keys start
    /// with: the local image chosen, or the one a local selector names; `None` for a
    /// remote image (its server may change it), which is built without snapshots.
    async fn base_fingerprint(&self, source: &ImageRef, chosen: Option<&Image>) -> Option<String> {
        if !self.settings.step_snapshots {
            return None;
        }
        if let Some(image) = chosen {
            return Some(image.fingerprint.to_string());
        }
        match source {
            ImageRef::Local(selector) => self
                .ports
                .registry
                .resolve_image(selector)
                .await
                .ok()
                .map(|image| image.fingerprint.to_string()),
            _ => None,
        }
    }

    async fn describe_ami(
        &self,
        runner: &StepRunner<'_>,
        app: &App,
        source: &AmiSource,
    ) -> Result<Option<Ami>, WorkflowError> {
        let AmiSource::Catalog(id) = source else {
            return Ok(None);
        };
        let Some(catalog) = self.ports.amis.as_deref() else {
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
        &self,
        runner: &StepRunner<'_>,
        app: &App,
        os: Option<&OsIdentity>,
    ) -> Result<(ImageRef, Option<Image>), WorkflowError> {
        runner
            .run(Step::ChooseSourceImage, async {
                if let Some(selector) = &app.build_infos.source_container_image {
                    return Ok(match &self.settings.source_server {
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
                let images = self
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

    async fn publish(
        &self,
        runner: &StepRunner<'_>,
        name: &InstanceName,
        job: &JobId,
        properties: BTreeMap<String, String>,
    ) -> Result<Image, WorkflowError> {
        let request = PublishRequest {
            instance: name.clone(),
            alias: ImageAlias::for_job(job),
            properties,
            compression: self.settings.compression,
            timeout: self.settings.timeouts.publish,
        };
        runner
            .run(Step::Publish, async {
                match self
                    .ports
                    .registry
                    .publish_image(&request, runner.cancel)
                    .await
                {
                    Ok(image) => Ok(image),
                    Err(crate::ports::RegistryError::Cancelled { .. }) => {
                        Err(runner.cancelled(Step::Publish))
                    }
                    Err(crate::ports::RegistryError::TimedOut { after, .. }) => {
                        Err(WorkflowError::TimedOut {
                            step: Step::Publish,
                            instance: Some(name.clone()),
                            after,
                            output_tail: String::new(),
                        })
                    }
                    Err(e) => Err(runner.failed(Step::Publish, e)),
                }
            })
            .await
    }

    /// Records the image on the app; on failure, deletes the image again so that no
    /// image is left published but unrecorded.
    async fn record(
        &self,
        runner: &StepRunner<'_>,
        app: &App,
        job: &JobId,
        image: &Image,
    ) -> Result<RecordOutcome, WorkflowError> {
        runner
            .run(Step::RecordImage, async {
                match self.ports.apps.record_container_image(&app.key, job).await {
                    Ok(replaced) => Ok(RecordOutcome::Recorded { replaced }),
                    Err(AppStoreError::Superseded { current, .. }) => {
                        runner.events.emit(Event::Warning {
                            message: format!(
                                "app {} already has the image of newer job {current}; image {job} was published but is not current",
                                app.key
                            ),
                        });
                        Ok(RecordOutcome::Superseded { current })
                    }
                    Err(error) => {
                        let record_error = runner.failed(Step::RecordImage, error);
                        match self.ports.registry.delete_image(&image.fingerprint).await {
                            Ok(()) => Err(record_error),
                            Err(_) => Err(WorkflowError::HalfPublished {
                                fingerprint: image.fingerprint.clone(),
                                record_error: Box::new(record_error),
                            }),
                        }
                    }
                }
            })
            .await
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

/// The properties that identify a published image.
fn image_properties(
    app: &App,
    job: &JobId,
    ami: Option<&AmiId>,
    os: Option<&OsIdentity>,
    source: Option<&Image>,
) -> BTreeMap<String, String> {
    let from_source = |key: &str| source.and_then(|image| image.properties.get(key).cloned());
    let mut properties = BTreeMap::from([
        (property::APP.to_owned(), app.key.name.clone()),
        (property::ENV.to_owned(), app.key.env.clone()),
        (property::ROLE.to_owned(), app.key.role.clone()),
        (
            property::COLOR.to_owned(),
            app.color.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        ),
        (property::JOB.to_owned(), job.to_string()),
        (
            property::DESCRIPTION.to_owned(),
            format!(
                "lxpack image of {} for job {job}{}",
                app.key,
                ami.map(|a| format!(" (twin of {a})")).unwrap_or_default()
            ),
        ),
    ]);
    if let Some(ami) = ami {
        properties.insert(property::AMI.to_owned(), ami.to_string());
    }
    let os_family = os
        .map(|o| o.family.clone())
        .or_else(|| from_source(property::OS));
    let release = os
        .map(|o| o.release.clone())
        .or_else(|| from_source(property::RELEASE));
    let architecture = os
        .map(|o| o.architecture.clone())
        .or_else(|| source.map(|image| image.architecture.clone()));
    for (key, value) in [
        (property::OS, os_family),
        (property::RELEASE, release),
        (property::ARCHITECTURE, architecture),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            properties.insert(key.to_owned(), value);
        }
    }
    properties
}

#[cfg(test)]
mod tests {
    use super::*;

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
