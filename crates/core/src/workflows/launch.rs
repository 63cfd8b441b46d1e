//! The part both workflows share: a profile, an instance that uses it, and readiness.

use super::Workflows;
use super::cleanup::Created;
use super::error::WorkflowError;
use super::readiness::wait_until_ready;
use super::step::StepRunner;
use crate::domain::{
    App, DiskMount, ImageRef, Isolation, JobCommand, JobId, Labels, LaunchSpec, ProfileName,
    ProfileSpec,
};
use crate::events::{Event, Step};

/// What to launch.
pub(crate) struct Launch<'a> {
    pub(crate) app: &'a App,
    pub(crate) command: JobCommand,
    pub(crate) job: &'a JobId,
    pub(crate) image: ImageRef,
    pub(crate) mounts: Vec<DiskMount>,
    pub(crate) ephemeral: bool,
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
        let labels = Labels {
            job: launch.job.clone(),
            command: launch.command,
            app: launch.app.key.clone(),
        };
        let profile = ProfileSpec {
            name: ProfileName::of(&name),
            description: format!(
                "lxpack {} of {} (job {})",
                launch.command, launch.app.key, launch.job
            ),
            mounts: launch.mounts,
            labels: Some(labels.clone()),
        };
        runner
            .run(Step::CreateProfile, async {
                created.profile = true;
                runtime
                    .create_profile(&profile)
                    .await
                    .map_err(|e| runner.failed(Step::CreateProfile, e))
            })
            .await?;

        if self.settings.isolation == Isolation::Privileged {
            runner.events.emit(Event::Warning {
                message: format!(
                    "{name} runs privileged (isolation: privileged in the config): root in the container is root on the host"
                ),
            });
        }
        let spec = LaunchSpec {
            name: name.clone(),
            image: launch.image,
            profile: Some(profile.name.clone()),
            ephemeral: launch.ephemeral,
            isolation: self.settings.isolation,
            limits: self.settings.limits.clone(),
            labels: Some(labels),
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
}
