//! Publishing a build: the stopped instance becomes an image under the job id, with
//! the properties that identify it; the image is recorded on the app; retention runs,
//! and the step holders of the images it deleted go with them.

use std::collections::BTreeMap;

use crate::domain::{AmiId, App, Image, ImageAlias, InstanceName, JobId, OsIdentity, property};
use crate::events::{Event, Step};
use crate::ports::{AppStoreError, PublishRequest};
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::retention::RetentionReport;
use crate::workflows::mechanics::step::StepRunner;

use super::prepare::ImagePlan;
use super::{BuildImageRequest, RecordOutcome};

/// What publishing did.
pub(super) struct Published {
    pub(super) image: Image,
    pub(super) record: RecordOutcome,
    pub(super) retention: RetentionReport,
}

/// Publishes the instance, records the image and applies retention to the app.
pub(super) async fn publish(
    job: &JobContext<'_>,
    request: &BuildImageRequest,
    plan: &ImagePlan,
) -> Result<Published, WorkflowError> {
    let (workflows, runner) = (job.workflows, &job.runner);
    let properties = image_properties(
        &plan.app,
        &request.job,
        plan.ami.as_ref(),
        plan.os.as_ref(),
        plan.source_image.as_ref(),
    );
    let image = publish_image(workflows, runner, &plan.name, &request.job, properties).await?;
    let record = record(workflows, runner, &plan.app, &request.job, &image).await?;
    let retention = workflows
        .apply_retention(runner, &plan.app, Some(&request.job), false)
        .await;
    let deleted: Vec<JobId> = retention.deleted.iter().map(|d| d.job.clone()).collect();
    job.retire_step_holders(&plan.app, &deleted).await;
    Ok(Published {
        image,
        record,
        retention,
    })
}

/// Publishes the stopped instance `name` as the image of `job`; a cancellation or a
/// timeout is the workflow's own.
async fn publish_image(
    workflows: &Workflows,
    runner: &StepRunner<'_>,
    name: &InstanceName,
    job: &JobId,
    properties: BTreeMap<String, String>,
) -> Result<Image, WorkflowError> {
    let request = PublishRequest {
        instance: name.clone(),
        alias: ImageAlias::for_job(job),
        properties,
        compression: workflows.settings.compression,
        timeout: workflows.settings.timeouts.publish,
    };
    runner
        .run(Step::Publish, async {
            match workflows
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
    workflows: &Workflows,
    runner: &StepRunner<'_>,
    app: &App,
    job: &JobId,
    image: &Image,
) -> Result<RecordOutcome, WorkflowError> {
    runner
        .run(Step::RecordImage, async {
            match workflows.ports.apps.record_container_image(&app.key, job).await {
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
                    match workflows.ports.registry.delete_image(&image.fingerprint).await {
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
