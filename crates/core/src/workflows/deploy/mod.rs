//! deploy: a module's buildpack, run in a fresh container from the app's image with the
//! checkout mounted at the module's path, as the checkout's owner, so the files it
//! writes belong to that owner on the host (Cloud Deploy chowned to 1001:1002).

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::domain::{
    AppKey, DiskMount, ExecRequest, ImageAlias, ImageRef, ImageSelector, InstanceName, JobCommand,
    JobId, MountSource, Owner,
};
use crate::events::{Event, EventSink, Step};
use crate::ports::RuntimeError;
use crate::workflows::Workflows;
use crate::workflows::error::{PortError, WorkflowError};
use crate::workflows::mechanics::cleanup::{Created, finish};
use crate::workflows::mechanics::job::{JobEvents, JobIdentity};
use crate::workflows::mechanics::launch::Launch;
use crate::workflows::mechanics::scripts::deliver;
use crate::workflows::mechanics::step::StepRunner;
use crate::workflows::settings::CleanupMode;

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
    /// `UnknownModule`; `NoContainerImage` when buildimage never ran for the app; any
    /// step's error; a [`WorkflowError::Cleanup`] that keeps the original error when
    /// cleanup fails too.
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
        let events = JobEvents::new(events);
        self.run_job(job, &events, self.deploy_job(request, &events, cancel))
            .await
    }

    async fn deploy_job(
        &self,
        request: &DeployRequest,
        events: &dyn EventSink,
        cancel: &CancellationToken,
    ) -> Result<DeployReport, WorkflowError> {
        let app = self.load_app(&request.app).await?;
        let Some(module) = app.module(&request.module) else {
            return Err(WorkflowError::UnknownModule {
                app: app.key.clone(),
                module: request.module.clone(),
                known: app
                    .modules
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let mut keep = self.keep_rule(request.keep, request.keep_on_failure);
        let Some(build_pack) = &module.build_pack else {
            let reason = "the module has no buildpack".to_owned();
            events.emit(Event::ModuleSkipped {
                module: module.name.clone(),
                reason: reason.clone(),
            });
            return Ok(DeployReport {
                job: request.job.clone(),
                module: module.name.clone(),
                outcome: DeployOutcome::Skipped { reason },
                kept_resources: false,
            });
        };
        let Some(image) = app.build_infos.container_image.clone() else {
            return Err(WorkflowError::NoContainerImage {
                app: app.key.clone(),
            });
        };

        let pool = self.settings.pool.for_app(&app.key);
        // A standby is ephemeral and discarded after one deploy: a job that may keep
        // its instance starts its own.
        let pooled = pool.size > 0 && !keep.may_keep();
        let key = if pooled {
            Some(
                self.pool_key(&app.key, &image, Some(request.checkout.owner))
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
        // Until a standby is claimed (or not), steps name no instance.
        let before = StepRunner {
            events,
            cancel,
            instance: None,
            kill_grace: self.settings.timeouts.kill_grace,
        };
        let mut created = Created::new(cold_name.clone());
        // A background release suits only an ephemeral instance, which cannot be kept.
        created.release_in_background =
            self.settings.cleanup == CleanupMode::Background && !keep.may_keep();
        let mut caches = Vec::new();
        let outcome = async {
            let checkout = DiskMount {
                device: "lxpack-checkout".to_owned(),
                source: MountSource::Host(request.checkout.path.clone()),
                target: module.path.clone(),
                read_only: false,
                owner: Some(request.checkout.owner),
            };
            let mut mounts = vec![checkout];
            mounts.extend(
                self.restore_caches(&before, &app.key, &module.name, &request.job, &mut caches)
                    .await?,
            );
            let launch = Launch {
                app: &app,
                command: JobCommand::Deploy,
                job: &request.job,
                image: ImageRef::Local(ImageSelector::Alias(ImageAlias::for_job(&image))),
                mounts,
                ephemeral: !keep.may_keep(),
                from_snapshot: None,
            };
            let claimed = match &key {
                Some(key) => self.claim_standby(&before, key, &launch).await?,
                None => None,
            };
            let name = claimed
                .as_ref()
                .map_or_else(|| cold_name.clone(), |claimed| claimed.name.clone());
            let runner = StepRunner {
                events,
                cancel,
                instance: Some(name.clone()),
                kill_grace: self.settings.timeouts.kill_grace,
            };
            if let Some(claimed) = &claimed {
                // The claimed standby is the job's instance, with the job's profile
                // (the claim's lock), to be discarded like a deploy's own.
                created.name = name.clone();
                created.profile = true;
                created.instance = true;
                if let Some(member) = &claimed.member {
                    events.emit(Event::Placed {
                        instance: name.clone(),
                        member: member.clone(),
                    });
                }
                self.attach_claimed_profile(&runner, &name).await?;
            } else {
                self.launch(&runner, &mut created, launch)
                    .await
                    .map_err(|error| match error {
                        WorkflowError::StepFailed {
                            step: Step::Launch,
                            source,
                            ..
                        } if matches!(
                            source.as_ref(),
                            PortError::Runtime(RuntimeError::ImageNotFound { .. })
                        ) =>
                        {
                            WorkflowError::ContainerImageMissing {
                                app: app.key.clone(),
                                job: image.clone(),
                            }
                        }
                        other => other,
                    })?;
            }
            self.hand_over_caches(&runner, &name, &caches, request.checkout.owner)
                .await?;
            let runtime = self.ports.runtime.as_ref();
            let script = deliver("buildpack", build_pack);
            runner
                .run(Step::DeliverScripts, async {
                    runtime
                        .push_file(&name, &script.file)
                        .await
                        .map_err(|e| runner.failed(Step::DeliverScripts, e))
                })
                .await?;
            let mut exec =
                ExecRequest::new(script.command.clone(), self.settings.timeouts.buildpack);
            exec.env = app.hook_environment();
            exec.cwd = Some(module.path.clone());
            exec.user = Some(request.checkout.owner);
            runner.exec(runtime, Step::Buildpack, &name, &exec).await?;
            self.measure_caches(&runner, &name, &mut caches).await;
            Ok(DeployReport {
                job: request.job.clone(),
                module: module.name.clone(),
                outcome: DeployOutcome::Built {
                    instance: name.clone(),
                    image,
                },
                kept_resources: keep.always,
            })
        }
        .await;
        keep.until = self.kept_until();
        // A kept instance keeps its copies mounted: they are neither saved nor dropped.
        let kept = created.instance && keep.keeps(&outcome);
        let ended = finish(self.ports.runtime.as_ref(), events, &created, keep, outcome).await;
        let ended = self.save_caches(events, &caches, kept, ended).await;
        if let Some(key) = key {
            self.request_refill(&key, events).await;
        }
        ended
    }
}
