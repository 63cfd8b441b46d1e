//! Ending a deploy container without waiting for its stop, which is most of a short
//! deploy's time (a forced stop takes about 0.7 s of the daemon's own work: LXC tears
//! the container down and runs its stop hooks). The profile, and with it the checkout
//! mount, goes first, while the job still waits; then the daemon is asked to stop the
//! ephemeral instance, which it deletes when the stop ends. Anything else (an instance
//! that is not ephemeral, or not running) takes the waiting path.

use lxpack_core::domain::{InstanceName, ProfileName};
use lxpack_core::ports::RuntimeError;

use crate::api::StateChange;
use crate::classify::Cause;
use crate::client::LxdClient;
use crate::envelope::Reply;
use crate::errors::{CallError, runtime_error};
use crate::reply::Instance;

/// Which call of a release failed.
enum Failed {
    /// A call about the instance: what it did, and how it failed.
    Instance(String, CallError),
    /// Deleting the profile.
    Profile(CallError),
}

impl LxdClient {
    pub(crate) async fn release_in_background(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        match self.release(instance, profile).await {
            Ok(()) => Ok(()),
            Err(Failed::Instance(operation, error)) => Err(self
                .instance_error(&operation, instance.as_str(), error)
                .await),
            Err(Failed::Profile(error)) => Err(runtime_error(
                &format!("delete profile {profile}"),
                "profile",
                profile.as_str(),
                error,
            )),
        }
    }

    async fn release(&self, instance: &InstanceName, profile: &ProfileName) -> Result<(), Failed> {
        let name = instance.as_str();
        let map = |e| Failed::Instance(format!("release {instance}"), e);
        let current: Instance = self.sync(self.api().instance(name)).await.map_err(map)?;
        if !(current.is_running() && current.ephemeral) {
            self.delete(name)
                .await
                .map_err(|e| Failed::Instance(format!("delete {instance}"), e))?;
            return self
                .remove_profile(profile.as_str())
                .await
                .map_err(Failed::Profile);
        }
        let profiles: Vec<&str> = current
            .profiles
            .iter()
            .map(String::as_str)
            .filter(|p| *p != profile.as_str())
            .collect();
        // Detaching unmounts the profile's disks from the running instance.
        let detach = self.api().set_profiles(name, &profiles);
        self.operation(detach, self.options().request_timeout)
            .await
            .map_err(map)?;
        self.remove_profile(profile.as_str())
            .await
            .map_err(Failed::Profile)?;
        let stop = self.api().change_state(name, StateChange::FORCED_STOP);
        match self
            .call(stop, self.options().request_timeout)
            .await
            .map_err(map)?
        {
            Reply::Async { .. } | Reply::Sync(_) => Ok(()),
            // Gone or stopped already: an ephemeral instance is deleted when it stops.
            Reply::Error(error)
                if matches!(
                    error.cause(),
                    Cause::NotFound | Cause::PathMissing | Cause::NotRunning
                ) =>
            {
                Ok(())
            }
            Reply::Error(error) => Err(map(CallError::Daemon(error))),
        }
    }
}

#[cfg(test)]
mod tests;
