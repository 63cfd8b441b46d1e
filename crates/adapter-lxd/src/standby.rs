//! Standbys on the daemon: a claim or a change of mark is a read of the instance with
//! its `ETag`, the core's check of what it read, and a `PATCH` with `If-Match`, which
//! the daemon refuses (412) if anything changed the instance in between. So two
//! deploys never claim the same standby, whichever host they run on.

use lxpack_core::domain::{InstanceName, Labels, ProfileName, StandbyMark, unchanged_standby};
use lxpack_core::ports::RuntimeError;
use serde_json::{Map, Value};

use crate::classify::Cause;
use crate::client::LxdClient;
use crate::errors::{CallError, runtime_error};
use crate::reply::Instance;
use crate::wire::{labels_config, labels_of, standby_config, standby_of};

impl LxdClient {
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
        let fail = |error| runtime_error(operation, "instance", name, error);
        let (current, etag): (Instance, Option<String>) =
            match self.versioned(self.api().instance(name)).await {
                Ok(read) => read,
                Err(error) => return Err(fail(self.blame_member(name, error).await)),
            };
        let mark = standby_of(&current.config);
        if !unchanged_standby(expected, mark.as_ref(), labels_of(&current.config).as_ref()) {
            return Err(changed(instance));
        }
        let Some(etag) = etag else {
            return Err(RuntimeError::Rejected {
                operation: operation.to_owned(),
                message:
                    "the daemon sent no ETag with the instance, so it cannot be changed atomically"
                        .into(),
            });
        };
        let request = self
            .api()
            .patch_instance_config(name, config)
            .header("If-Match", etag);
        match self
            .operation(request, self.options().request_timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Daemon(error))
                if matches!(error.cause(), Cause::VersionChanged | Cause::Busy) =>
            {
                Err(changed(instance))
            }
            Err(error) => Err(fail(self.blame_member(name, error).await)),
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

    /// `attach_profile`: the instance's profiles, with `profile` added last.
    pub(crate) async fn attach(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        let name = instance.as_str();
        let operation = format!("add profile {profile} to {instance}");
        let attached = async {
            let current: Instance = self.sync(self.api().instance(name)).await?;
            let mut profiles: Vec<&str> = current.profiles.iter().map(String::as_str).collect();
            if !profiles.contains(&profile.as_str()) {
                profiles.push(profile.as_str());
            }
            self.operation(
                self.api().set_profiles(name, &profiles),
                self.options().request_timeout,
            )
            .await
            .map(drop)
        }
        .await;
        match attached {
            Ok(()) => Ok(()),
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

fn changed(instance: &InstanceName) -> RuntimeError {
    RuntimeError::Changed {
        name: instance.to_string(),
        reason: "it is no longer the standby it was (another job claimed it, or its mark changed)"
            .into(),
    }
}
