//! Preparing a deploy: what it deploys (the app, its module and buildpack), from which
//! image, and from which standby pool, if any. Nothing is created yet.

use crate::domain::{
    App, AppSecrets, InstanceName, JobCommand, JobId, Module, Script, StandbyPool,
};
use crate::events::Event;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;

use super::{DeployOutcome, DeployReport, DeployRequest};

/// What a deploy that runs a buildpack works from.
pub(super) struct DeployPlan {
    pub(super) app: App,
    /// The app's secrets.
    pub(super) secrets: AppSecrets,
    pub(super) module: Module,
    pub(super) build_pack: Script,
    /// The app's current image, named by the job that built it.
    pub(super) image: JobId,
    /// The pool the job claims a standby from; `None` launches its own instance.
    pub(super) pool: Option<StandbyPool>,
    /// The instance the job launches when it claims none.
    pub(super) cold_name: InstanceName,
}

/// What preparing found: a buildpack to run, or none.
pub(super) enum Prepared {
    Deploy(Box<DeployPlan>),
    /// The module has no buildpack: the job is done.
    Skipped(DeployReport),
}

/// Loads the app and its module, and settles the image and the pool.
pub(super) async fn prepare(
    job: &JobContext<'_>,
    request: &DeployRequest,
) -> Result<Prepared, WorkflowError> {
    let app = job.workflows.load_app(&request.app).await?;
    let secrets = job.workflows.app_secrets(&app)?;
    job.hold_secrets(&secrets.masker);
    let module = module_of(&app, &request.module)?.clone();
    let Some(build_pack) = module.build_pack.clone() else {
        let reason = "the module has no buildpack".to_owned();
        job.events().emit(Event::ModuleSkipped {
            module: module.name.clone(),
            reason: reason.clone(),
        });
        return Ok(Prepared::Skipped(DeployReport {
            job: request.job.clone(),
            module: module.name.clone(),
            outcome: DeployOutcome::Skipped { reason },
            kept_resources: false,
        }));
    };
    let Some(image) = app.build_infos.container_image.clone() else {
        return Err(WorkflowError::NoContainerImage {
            app: app.key.clone(),
        });
    };
    // Before a standby is claimed or anything is made.
    (job.workflows)
        .check_cache_placement(&app.key, &module.name)
        .await?;
    // A standby is ephemeral and discarded after one deploy: a job that may keep its
    // instance starts its own.
    let pooled = job.settings().pool.for_app(&app.key).size > 0 && !job.keep.may_keep();
    let pool = if pooled {
        let owner = Some(request.checkout.owner);
        Some(
            (job.workflows)
                .pool_key(&app.key, Some(&module.name), &image, owner)
                .await?,
        )
    } else {
        None
    };
    let cold_name = InstanceName::for_job(
        JobCommand::Deploy,
        &app.key,
        app.color,
        Some(&module.name),
        &request.job,
    );
    Ok(Prepared::Deploy(Box::new(DeployPlan {
        app,
        secrets,
        module,
        build_pack,
        image,
        pool,
        cold_name,
    })))
}

/// The module `name` of `app`, or an error listing those it has.
fn module_of<'a>(app: &'a App, name: &str) -> Result<&'a Module, WorkflowError> {
    app.module(name)
        .ok_or_else(|| WorkflowError::UnknownModule {
            app: app.key.clone(),
            module: name.to_owned(),
            known: app
                .modules
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
