//! Compare-and-set changes of an instance: a claim of a standby, a change of its mark,
//! a profile attached. Each is a read of the instance with its `ETag`, a check of what
//! it read, and a `PATCH` with `If-Match`, which the daemon refuses (412) if anything
//! changed the instance in between. So two deploys never claim the same standby,
//! whichever host they run on, and two profiles attached at once never lose one.

use lxpack_core::domain::{InstanceName, Labels, ProfileName, StandbyMark, unchanged_standby};
use lxpack_core::ports::RuntimeError;
use serde_json::{Map, Value};

use crate::classify::Cause;
use crate::client::LxdClient;
use crate::errors::CallError;
use crate::reply::Instance;
use crate::transport::Request;
use crate::wire::{labels_config, labels_of, standby_config, standby_of};

impl LxdClient {
    /// Reads `instance` with its `ETag`, for a compare-and-set that follows.
    async fn read_versioned(
        &self,
        operation: &str,
        instance: &InstanceName,
    ) -> Result<(Instance, String), RuntimeError> {
        let name = instance.as_str();
        match self.versioned(self.api().instance(name)).await {
            Ok((current, Some(etag))) => Ok((current, etag)),
            Ok((_, None)) => Err(RuntimeError::Rejected {
                operation: operation.to_owned(),
                message: format!(
                    "the daemon sent no ETag with the instance {name}, so it cannot be changed atomically"
                ),
            }),
            Err(error) => Err(self.instance_error(operation, name, error).await),
        }
    }

    /// Sends `request`, a change of an instance read as version `etag`, with
    /// `If-Match`.
    async fn write_if_match(&self, request: Request, etag: String) -> Result<(), CallError> {
        let request = request.header("If-Match", etag);
        self.operation(request, self.options().request_timeout)
            .await
            .map(drop)
    }

    /// Writes `config` into `instance` only if it is still the unclaimed standby
    /// `expected`, in one compare-and-set.
    pub(crate) async fn swap_standby(
        &self,
        operation: &str,
        instance: &InstanceName,
        expected: &StandbyMark,
        config: &Map<String, Value>,
    ) -> Result<(), RuntimeError> {
        let name = instance.as_str();
        let (current, etag) = self.read_versioned(operation, instance).await?;
        let mark = standby_of(&current.config);
        if !unchanged_standby(expected, mark.as_ref(), labels_of(&current.config).as_ref()) {
            return Err(standby_changed(instance));
        }
        let request = self.api().patch_instance_config(name, config);
        match self.write_if_match(request, etag).await {
            Ok(()) => Ok(()),
            Err(error) if lost_the_race(&error) => Err(standby_changed(instance)),
            Err(error) => Err(self.instance_error(operation, name, error).await),
        }
    }

    /// `claim_standby`: the job's labels, by compare-and-set.
    pub(crate) async fn claim(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        let operation = format!("claim standby {instance}");
        self.swap_standby(&operation, instance, expected, &labels_config(labels))
            .await
    }

    /// `update_standby`: the new mark, by compare-and-set. Its keys replace the old
    /// mark's; a label the new mark drops is emptied, which the daemon reads as unset.
    pub(crate) async fn remark(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        let operation = format!("mark standby {instance}");
        let mut config = standby_config(mark);
        for key in standby_config(expected).keys() {
            config
                .entry(key.clone())
                .or_insert_with(|| Value::String(String::new()));
        }
        self.swap_standby(&operation, instance, expected, &config)
            .await
    }

    /// `attach_profile`: the instance's profiles, with `profile` added last, by
    /// compare-and-set: a profile list changed since it was read (another profile
    /// attached at the same moment) is not overwritten, and the attach is `Changed`.
    pub(crate) async fn attach(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        let name = instance.as_str();
        let operation = format!("add profile {profile} to {instance}");
        let (current, etag) = self.read_versioned(&operation, instance).await?;
        let mut profiles: Vec<&str> = current.profiles.iter().map(String::as_str).collect();
        if profiles.contains(&profile.as_str()) {
            return Ok(());
        }
        profiles.push(profile.as_str());
        let request = self.api().set_profiles(name, &profiles);
        match self.write_if_match(request, etag).await {
            Ok(()) => Ok(()),
            Err(error) if lost_the_race(&error) => Err(RuntimeError::Changed {
                name: instance.to_string(),
                reason: format!(
                    "its profiles changed while {profile} was being added (another change of the instance came first); add it again"
                ),
            }),
            Err(CallError::Daemon(error)) if error.cause() == Cause::ProfileMissing => {
                Err(RuntimeError::NotFound {
                    what: "profile",
                    name: profile.to_string(),
                })
            }
            Err(error) => Err(self.instance_error(&operation, name, error).await),
        }
    }
}

/// Whether a compare-and-set lost to another change of the instance: its version
/// changed (412), or the daemon's instance lock held another change at that moment.
fn lost_the_race(error: &CallError) -> bool {
    matches!(error.cause(), Some(Cause::VersionChanged | Cause::Busy))
}

fn standby_changed(instance: &InstanceName) -> RuntimeError {
    RuntimeError::Changed {
        name: instance.to_string(),
        reason: "it is no longer the standby it was (another job claimed it, or its mark changed)"
            .into(),
    }
}

#[cfg(test)]
mod tests;
