//! The part both jobs share: a profile, an instance that uses it, and readiness; or,
//! for a deploy that claimed a standby, the profile added to the running instance.

use crate::domain::{
    App, DiskMount, ImageRef, InstanceName, Isolation, JobCommand, JobId, Labels, LaunchSpec,
    NetworkAttachment, ProfileName, ProfileSpec, ResourceClass, SnapshotSource,
};
use crate::events::{Event, Step};
use crate::ports::{ContainerRuntime, Placement};
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::cleanup::Created;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::network::network_missing;
use crate::workflows::mechanics::readiness::wait_until_ready;
use crate::workflows::mechanics::standbys::Claimed;
use crate::workflows::mechanics::step::StepRunner;
use crate::workflows::settings::CleanupMode;

/// What to launch.
pub(crate) struct Launch<'a> {
    pub(crate) app: &'a App,
    /// The module a deploy builds (its network policy may be its own).
    pub(crate) module: Option<&'a str>,
    pub(crate) command: JobCommand,
    pub(crate) job: &'a JobId,
    pub(crate) image: ImageRef,
    pub(crate) mounts: Vec<DiskMount>,
    pub(crate) ephemeral: bool,
    /// Start from this snapshot instead of the image (a resumed buildimage).
    pub(crate) from_snapshot: Option<SnapshotSource>,
    /// The resource class the instance runs under.
    pub(crate) class: ResourceClass,
}

impl Launch<'_> {
    /// The job's profile for the instance `name`: its mounts, its labels, named like
    /// the instance.
    pub(crate) fn profile_for(&self, name: &InstanceName) -> ProfileSpec {
        ProfileSpec {
            name: ProfileName::of(name),
            description: format!(
                "lxpack {} of {} (job {})",
                self.command, self.app.key, self.job
            ),
            mounts: self.mounts.clone(),
            labels: Some(self.labels()),
            standby: None,
        }
    }

    /// The labels of what the job creates.
    pub(crate) fn labels(&self) -> Labels {
        Labels {
            job: self.job.clone(),
            command: self.command,
            app: self.app.key.clone(),
        }
    }
}

impl JobContext<'_> {
    /// Creates the profile, launches the instance `name` and waits until it answers.
    /// The instance is the job's from now on: its steps name it, and what may need
    /// cleaning up is recorded (an ephemeral instance may be released in the
    /// background, when the settings say so).
    pub(crate) async fn launch(
        &mut self,
        name: InstanceName,
        launch: Launch<'_>,
    ) -> Result<(), WorkflowError> {
        let workflows = self.workflows;
        let settings = &workflows.settings;
        let runtime = workflows.ports.runtime.as_ref();
        let runner = &mut self.runner;
        runner.instance = Some(name.clone());
        let runner = &*runner;
        let app = &launch.app.key;
        let network = workflows
            .job_network(app, launch.module, runner, false)
            .await?;
        network.announce(runner.events);
        runner.events.emit(Event::ResourceClass {
            class: launch.class.clone(),
        });
        let created = self.created.insert(Created::new(name.clone()));
        created.release_in_background =
            launch.ephemeral && settings.cleanup == CleanupMode::Background;
        let profile = create_profile(runtime, runner, created, &launch).await?;
        if settings.isolation == Isolation::Privileged {
            runner.events.emit(Event::Warning {
                message: format!(
                    "{name} runs privileged (isolation: privileged in the config): root in the container is root on the host"
                ),
            });
        }
        let mut spec = LaunchSpec {
            name: name.clone(),
            image: launch.image.clone(),
            profile: Some(profile.name.clone()),
            ephemeral: launch.ephemeral,
            isolation: settings.isolation,
            limits: launch.class.limits.clone(),
            network: network.attachment,
            labels: Some(launch.labels()),
            standby: None,
            map_owner: None,
            from_snapshot: launch.from_snapshot.clone(),
            timeout: settings.timeouts.launch,
        };
        let mut placement = launch_instance(runtime, runner, created, &spec).await;
        // The egress network went since this process made it: make it again, once.
        if let Err(error) = &placement
            && network_missing(error)
            && matches!(spec.network, NetworkAttachment::Egress { .. })
        {
            let network = workflows
                .job_network(app, launch.module, runner, true)
                .await?;
            spec.network = network.attachment;
            placement = launch_instance(runtime, runner, created, &spec).await;
        }
        if let Some(member) = placement?.member {
            runner.events.emit(Event::Placed {
                instance: name.clone(),
                member,
            });
        }
        wait_until_ready(runner, runtime, &name, settings.timeouts.ready).await
    }

    /// Makes the claimed standby the job's instance: its steps name it, and it goes
    /// with the job's profile (the claim's lock) like a launched instance (released in
    /// the background when the settings say so: a standby is ephemeral). Then adds that
    /// profile ([`Launch::profile_for`]) to the running standby: its mounts appear at
    /// once.
    pub(crate) async fn take_claimed(
        &mut self,
        claimed: Claimed,
    ) -> Result<InstanceName, WorkflowError> {
        let name = claimed.name;
        self.runner.instance = Some(name.clone());
        let background =
            self.workflows.settings.cleanup == CleanupMode::Background && !self.keep.may_keep();
        let created = self.creates(name.clone());
        created.profile = true;
        created.instance = true;
        created.release_in_background = background;
        if let Some(member) = claimed.member {
            self.events().emit(Event::Placed {
                instance: name.clone(),
                member,
            });
        }
        let standbys = self.workflows.standby_port()?;
        let runner = &self.runner;
        runner
            .run(Step::AttachProfile, async {
                standbys
                    .attach_profile(&name, &ProfileName::of(&name))
                    .await
                    .map_err(|e| runner.failed(Step::AttachProfile, e))
            })
            .await?;
        Ok(name)
    }
}

/// Launches the instance of `spec` (step `launch`), recording in `created` that it
/// may exist.
async fn launch_instance(
    runtime: &dyn ContainerRuntime,
    runner: &StepRunner<'_>,
    created: &mut Created,
    spec: &LaunchSpec,
) -> Result<Placement, WorkflowError> {
    runner
        .run(Step::Launch, async {
            created.instance = true;
            runtime
                .launch_instance(spec, runner.cancel)
                .await
                .map_err(|e| runner.failed(Step::Launch, e))
        })
        .await
}

/// Creates the job's profile (its mounts, named like its instance), recording in
/// `created` that it may exist.
async fn create_profile(
    runtime: &dyn ContainerRuntime,
    runner: &StepRunner<'_>,
    created: &mut Created,
    launch: &Launch<'_>,
) -> Result<ProfileSpec, WorkflowError> {
    let profile = launch.profile_for(&created.name);
    runner
        .run(Step::CreateProfile, async {
            created.profile = true;
            runtime
                .create_profile(&profile)
                .await
                .map_err(|e| runner.failed(Step::CreateProfile, e))
        })
        .await?;
    Ok(profile)
}
