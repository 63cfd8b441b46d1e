//! buildimage's provisioning as a list of steps, each with the inputs its snapshot key
//! hashes ([`crate::domain::step_keys`]): so one plan says what runs, in which order,
//! and what a re-run may skip. Snapshots are an optimisation: a snapshot that cannot
//! be taken is a warning and the build goes on without the later ones; a build that
//! resumes runs exactly the steps a cold build would have run after that point.

use crate::domain::{
    App, AppSecrets, ExecRequest, Feature, FileSpec, InstanceName, JobCommand, JobId, Provisioner,
    ResourceClass, ResumePoint, SnapshotSource, StepInputs, StepKey, resume_point, step_keys,
};
use crate::events::{Event, Step};
use crate::ports::{Resource, ResourceKind};
use crate::workflows::capabilities::refused;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::provisioning::{bootstrap_command, feature_run};
use crate::workflows::mechanics::scripts::deliver;
use crate::workflows::{SecretDelivery, Workflows};

/// One step of the provisioning: what runs, and what its key hashes (`None` when its
/// inputs cannot be known: features whose formulas have no digest).
pub(crate) struct PlannedStep {
    pub(crate) step: Step,
    pub(crate) request: ExecRequest,
    pub(crate) inputs: Option<StepInputs>,
}

/// The provisioning of one build: the files delivered first, then the steps.
pub(crate) struct BuildPlan {
    pub(crate) files: Vec<FileSpec>,
    pub(crate) steps: Vec<PlannedStep>,
}

impl BuildPlan {
    /// The key after each step whose inputs, and those of every step before it, are
    /// known.
    pub(crate) fn keys(&self, base_fingerprint: &str) -> Vec<StepKey> {
        let known: Vec<StepInputs> = self
            .steps
            .iter()
            .map_while(|planned| planned.inputs.clone())
            .collect();
        step_keys(base_fingerprint, &known)
    }
}

/// A step holder of the app, as listed.
pub(crate) struct Holder {
    pub(crate) name: InstanceName,
    pub(crate) job: JobId,
    pub(crate) keys: Vec<StepKey>,
}

/// The inputs of a step that runs `request`, with the contents of `file` (what it
/// runs, or reads). A secret counts by its name, not its value: nothing derived from
/// a secret's value is kept on the step's snapshot (so a changed secret alone does
/// not make the steps run again: `--no-cache` does).
fn inputs(
    step: Step,
    request: &ExecRequest,
    file: Option<&FileSpec>,
    secrets: &AppSecrets,
) -> StepInputs {
    let mut inputs = StepInputs::new(&step.key()).with(request.command.join("\0"));
    if let Some(file) = file {
        inputs = inputs
            .with(file.path.as_str())
            .with(&file.contents)
            .with(format!("{:o}", file.mode));
    }
    for (key, value) in &request.env {
        inputs = inputs.with(key);
        if !secrets.names.contains(key) {
            inputs = inputs.with(value);
        }
    }
    inputs
}

impl Workflows {
    /// The steps buildimage runs for `app`: bootstraps (when on), `pre_buildimage`,
    /// each provisioner's features, `post_buildimage`.
    pub(crate) fn build_plan(
        &self,
        app: &App,
        secrets: &AppSecrets,
        features: &[(Provisioner, Vec<&Feature>)],
    ) -> BuildPlan {
        let hooks = &app.lifecycle_hooks;
        let env = if self.settings.secrets.delivery == SecretDelivery::Files {
            secrets.file_environment(app.hook_environment())
        } else {
            app.hook_environment()
        };
        let timeouts = self.settings.timeouts;
        let mut files = Vec::new();
        let mut steps = Vec::new();
        if self.settings.bootstrap_provisioners {
            for (kind, _) in features {
                if let Some(settings) = self.provisioner(*kind) {
                    let mut request = ExecRequest::new(bootstrap_command(settings), timeouts.hook);
                    request.env.clone_from(&env);
                    let step = Step::Bootstrap(*kind);
                    steps.push(PlannedStep {
                        step,
                        inputs: Some(inputs(step, &request, None, secrets)),
                        request,
                    });
                }
            }
        }
        let mut script = |name, step, script: &crate::domain::Script| {
            let delivered = deliver(name, script);
            let mut request = ExecRequest::new(delivered.command.clone(), timeouts.hook);
            request.env.clone_from(&env);
            let planned = PlannedStep {
                step,
                inputs: Some(inputs(step, &request, Some(&delivered.file), secrets)),
                request,
            };
            files.push(delivered.file);
            planned
        };
        let pre = hooks
            .pre_buildimage
            .as_ref()
            .map(|s| script("pre_buildimage", Step::PreBuildImageHook, s));
        let post = hooks
            .post_buildimage
            .as_ref()
            .map(|s| script("post_buildimage", Step::PostBuildImageHook, s));
        steps.extend(pre);
        for (kind, list) in features {
            let run = feature_run(*kind, list, self.settings.provisioner_log_level);
            let mut request = ExecRequest::new(run.command.clone(), timeouts.features);
            request.env = env.iter().cloned().chain(run.env.iter().cloned()).collect();
            let step = Step::Features(*kind);
            // The formulas are a host directory: only their digest says they did not
            // change.
            let digest = self
                .provisioner(*kind)
                .and_then(|settings| settings.formulas_digest.clone());
            let inputs = digest
                .map(|digest| inputs(step, &request, run.file.as_ref(), secrets).with(digest));
            if let Some(file) = run.file {
                files.push(file);
            }
            steps.push(PlannedStep {
                step,
                request,
                inputs,
            });
        }
        steps.extend(post);
        BuildPlan { files, steps }
    }
}

/// The app's step holders, oldest job first.
fn step_holders(app: &App, resources: &[Resource]) -> Vec<Holder> {
    let mut holders: Vec<Holder> = resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Instance && !r.steps.is_empty())
        .filter_map(|r| {
            let labels = r.labels.as_ref()?;
            if labels.app != app.key || labels.command != JobCommand::BuildImage {
                return None;
            }
            Some(Holder {
                name: InstanceName::parse(&r.name).ok()?,
                job: labels.job.clone(),
                keys: r.steps.clone(),
            })
        })
        .collect();
    holders.sort_by(|a, b| a.job.cmp(&b.job));
    holders
}

impl JobContext<'_> {
    /// Where a build keyed by `keys` resumes, if anywhere: a listing failure is a
    /// warning, and the build starts cold.
    pub(crate) async fn find_resume(
        &self,
        app: &App,
        keys: &[StepKey],
    ) -> Option<(usize, SnapshotSource, JobId)> {
        let runner = &self.runner;
        if keys.is_empty() {
            return None;
        }
        let resources = match self.workflows.ports.runtime.list_resources().await {
            Ok(resources) => resources,
            Err(error) => {
                runner.events.emit(Event::Warning {
                    message: format!(
                        "could not look for step snapshots ({error}): building from the first step"
                    ),
                });
                return None;
            }
        };
        let holders = step_holders(app, &resources);
        let ResumePoint { done, holder, key } = resume_point(keys, &holders, |h| &h.keys)?;
        Some((
            done,
            SnapshotSource {
                instance: holder.name.clone(),
                snapshot: key.snapshot_name(),
            },
            holder.job.clone(),
        ))
    }

    /// Runs the plan's steps from `done` on, snapshotting after each step that has a
    /// key (when `snapshot`); returns the keys of the snapshots taken.
    pub(crate) async fn run_steps(
        &self,
        name: &InstanceName,
        plan: &BuildPlan,
        keys: &[StepKey],
        done: usize,
        snapshot: bool,
        class: &ResourceClass,
    ) -> Result<Vec<StepKey>, WorkflowError> {
        let runner = &self.runner;
        let runtime = self.workflows.ports.runtime.as_ref();
        if !plan.files.is_empty() {
            runner
                .run(Step::DeliverScripts, async {
                    for file in &plan.files {
                        runtime
                            .push_file(name, file)
                            .await
                            .map_err(|e| runner.failed(Step::DeliverScripts, e))?;
                    }
                    Ok(())
                })
                .await?;
        }
        let mut taken = Vec::new();
        let snapshots = self.workflows.snapshot_port().ok();
        let mut snapshotting = snapshot;
        // A resumed build snapshots its starting point too, so its own holder can
        // serve the next build once the older holder has gone with its image.
        let resumed = done.checked_sub(1).map(|last| (last, None));
        let ran = plan
            .steps
            .iter()
            .enumerate()
            .skip(done)
            .map(|(index, planned)| (index, Some(planned)));
        for (index, planned) in resumed.into_iter().chain(ran) {
            if let Some(planned) = planned {
                self.exec_in_class(planned.step, name, &planned.request, class)
                    .await?;
            }
            let Some((key, snapshots)) = keys.get(index).zip(snapshots.filter(|_| snapshotting))
            else {
                continue;
            };
            let result = runner
                .run(Step::Snapshot, async {
                    snapshots
                        .snapshot_instance(name, &key.snapshot_name())
                        .await
                        .map_err(|e| runner.failed(Step::Snapshot, e))
                })
                .await;
            match result {
                Ok(()) => taken.push(key.clone()),
                Err(error) if error.is_cancelled() => return Err(error),
                Err(error) => {
                    snapshotting = false;
                    runner.events.emit(Event::Warning {
                        message: format!(
                            "no more step snapshots after {}: {error} (the build goes on; a re-run starts earlier)",
                            plan.steps.get(index).map_or(Step::Snapshot, |p| p.step)
                        ),
                    });
                }
            }
        }
        if !plan.files.is_empty() {
            let mut command = vec!["rm".to_owned(), "-f".to_owned()];
            command.extend(plan.files.iter().map(|f| f.path.to_string()));
            let request = ExecRequest::new(command, self.workflows.settings.timeouts.hook);
            runner
                .exec(runtime, Step::RemoveScripts, name, &request)
                .await?;
        }
        Ok(taken)
    }

    /// Keeps the build instance as the holder of `taken`; false (with a warning) when
    /// it cannot be kept, and cleanup removes it as usual.
    pub(crate) async fn keep_step_holder(&self, name: &InstanceName, taken: &[StepKey]) -> bool {
        let runner = &self.runner;
        if taken.is_empty() {
            return false;
        }
        let kept = match self.workflows.snapshot_port() {
            Ok(snapshots) => snapshots.keep_as_step_holder(name, taken).await,
            Err(missing) => Err(refused(format!("keep {name} as a step holder"), &missing)),
        };
        match kept {
            Ok(()) => true,
            Err(error) => {
                runner.events.emit(Event::Warning {
                    message: format!(
                        "could not keep {name} with its step snapshots ({error}): the next build starts from the first step"
                    ),
                });
                false
            }
        }
    }

    /// Deletes the app's step holders whose image retention deleted; a failure is a
    /// warning (`gc` removes them later).
    pub(crate) async fn retire_step_holders(&self, app: &App, deleted: &[JobId]) {
        let runner = &self.runner;
        if deleted.is_empty() {
            return;
        }
        let runtime = self.workflows.ports.runtime.as_ref();
        let resources = match runtime.list_resources().await {
            Ok(resources) => resources,
            Err(error) => {
                runner.events.emit(Event::Warning {
                    message: format!(
                        "could not list the step snapshots of {}'s deleted images ({error}); `lxpack gc` removes them",
                        app.key
                    ),
                });
                return;
            }
        };
        for holder in step_holders(app, &resources) {
            if !deleted.contains(&holder.job) {
                continue;
            }
            if let Err(error) = runtime.delete_instance(&holder.name).await {
                runner.events.emit(Event::Warning {
                    message: format!(
                        "could not delete the step snapshots of job {} ({}): {error}; `lxpack gc` removes them",
                        holder.job, holder.name
                    ),
                });
            }
        }
    }
}
