//! Ending a deploy container without waiting for its stop, which is most of a short
//! deploy's time (a forced stop takes about 0.7 s of the daemon's own work: LXC tears
//! the container down and runs its stop hooks). The profile, and with it the checkout
//! mount, goes first, while the job still waits; then the daemon is asked to stop the
//! ephemeral instance, which it deletes when the stop ends. Anything else (an instance
//! that is not ephemeral, or not running) takes the waiting path.

use lxpack_core::domain::{InstanceName, ProfileName};
use lxpack_core::ports::{ContainerRuntime as _, RuntimeError};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{CallError, LxdClient};
use crate::envelope::Reply;
use crate::runtime::runtime_error;

impl LxdClient {
    pub(crate) async fn release_in_background(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        let operation = format!("release {instance}");
        let map = |e| runtime_error(&operation, "instance", instance.as_str(), e);
        let path = format!("/1.0/instances/{instance}");
        let current = self
            .sync(self.request(Method::GET, &path))
            .await
            .map_err(map)?;
        let running = current.get("status").and_then(Value::as_str) == Some("Running");
        let ephemeral = current.get("ephemeral").and_then(Value::as_bool) == Some(true);
        if !(running && ephemeral) {
            self.delete_instance(instance).await?;
            return self.delete_profile(profile).await;
        }
        let profiles: Vec<&str> = current
            .get("profiles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| *name != profile.as_str())
            .collect();
        // Detaching unmounts the profile's disks from the running instance.
        let detach = self
            .request(Method::PATCH, &path)
            .json(&json!({ "profiles": profiles }));
        self.operation(detach, self.options().request_timeout)
            .await
            .map_err(map)?;
        self.delete_profile(profile).await?;
        let stop = self
            .request(Method::PUT, &format!("{path}/state"))
            .json(&json!({ "action": "stop", "force": true }));
        match self.send(stop).await.map_err(map)? {
            Reply::Async { .. } | Reply::Sync(_) => Ok(()),
            // Gone or stopped already: an ephemeral instance is deleted when it stops.
            Reply::Error { code: 404, .. } => Ok(()),
            Reply::Error { message, .. }
                if message.to_ascii_lowercase().contains("not running") =>
            {
                Ok(())
            }
            Reply::Error { code, message } => Err(map(CallError::Daemon { code, message })),
        }
    }
}
