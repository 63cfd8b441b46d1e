//! The part both workflows share: a profile, an instance that uses it, and readiness;
//! or, for a deploy that claimed a standby, the profile added to the running instance.

use crate::domain::{
    App, DiskMount, ImageRef, Isolation, JobCommand, JobId, Labels, LaunchSpec, ProfileName,
    ProfileSpec, SnapshotSource,
};
use crate::events::{Event, Step};
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::cleanup::Created;
use crate::workflows::mechanics::readiness::wait_until_ready;
use crate::workflows::mechanics::step::StepRunner;

/// What to launch.
pub(crate) struct Launch<'a> {
    pub(crate) app: &'a App,
    pub(crate) command: JobCommand,
    pub(crate) job: &'a JobId,
    pub(crate) image: ImageRef,
    pub(crate) mounts: Vec<DiskMount>,
    pub(crate) ephemeral: bool,
    /// Start from this snapshot instead of the image (a resumed buildimage).
    pub(crate) from_snapshot: Option<SnapshotSource>,
}

impl Launch<'_> {
    /// The job's profile for the instance `name`: its mounts, its labels, named like
    /// the instance.
    pub(crate) fn profile_for(&self, name: &crate::domain::InstanceName) -> ProfileSpec {
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

impl Workflows {
    /// Creates the profile, launches the instance and waits until it answers,
    /// recording in `created` what may need cleaning up.
    pub(crate) async fn launch(
        &self,
        runner: &StepRunner<'_>,
        created: &mut Created,
        launch: Launch<'_>,
    ) -> Result<(), WorkflowError> {
        let runtime = self.ports.runtime.as_ref();
        let name = created.name.clone();
        let profile = self.create_profile(runner, created, &launch).await?;

        if self.settings.isolation == Isolation::Privileged {
            runner.events.emit(Event::Warning {
                message: format!(
                    "{name} runs privileged (isolation: privileged in the config): root in the container is root on the host"
                ),
            });
        }
        let spec = LaunchSpec {
            name: name.clone(),
            image: launch.image.clone(),
            profile: Some(profile.name.clone()),
            ephemeral: launch.ephemeral,
            isolation: self.settings.isolation,
            limits: self.settings.limits.clone(),
            labels: Some(launch.labels()),
            standby: None,
            map_owner: None,
            from_snapshot: launch.from_snapshot.clone(),
            timeout: self.settings.timeouts.launch,
        };
        let placement = runner
            .run(Step::Launch, async {
                created.instance = true;
                runtime
                    .launch_instance(&spec, runner.cancel)
                    .await
                    .map_err(|e| runner.failed(Step::Launch, e))
            })
            .await?;
        if let Some(member) = placement.member {
            runner.events.emit(Event::Placed {
                instance: name.clone(),
                member,
            });
        }
        wait_until_ready(runner, runtime, &name, self.settings.timeouts.ready).await
    }

    /// Adds the job's profile, created by the claim ([`Launch::profile_for`]), to the
    /// claimed standby `name` (running and ready): its mounts appear at once.
    pub(crate) async fn attach_claimed_profile(
        &self,
        runner: &StepRunner<'_>,
        name: &crate::domain::InstanceName,
    ) -> Result<(), WorkflowError> {
        let standbys = self.standby_port()?;
        runner
            .run(Step::AttachProfile, async {
                standbys
                    .attach_profile(name, &ProfileName::of(name))
                    .await
                    .map_err(|e| runner.failed(Step::AttachProfile, e))
            })
            .await
    }

    /// Creates the job's profile (its mounts, named like its instance), recording in
    /// `created` that it may exist.
    async fn create_profile(
        &self,
        runner: &StepRunner<'_>,
        created: &mut Created,
        launch: &Launch<'_>,
    ) -> Result<ProfileSpec, WorkflowError> {
        let profile = launch.profile_for(&created.name);
        let runtime = self.ports.runtime.as_ref();
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
}
