//! The lives of instances, with the retries a loaded host needs: a start that fails
//! inside LXC (`forkstart`) is tried again, or, for an ephemeral instance the daemon
//! removed, the instance is created anew; a delete refused while another operation
//! holds the instance ("busy") waits for it; a running instance is stopped before it
//! is deleted; a stop of a stopped instance succeeds. Shared by the runtime port and
//! the release; each failure is a [`CallError`] that the caller maps.

use std::time::Duration;

use lxpack_core::domain::{LaunchSpec, NetworkAttachment};
use tokio::time::Instant;

use crate::api::StateChange;
use crate::classify::Cause;
use crate::client::LxdClient;
use crate::errors::CallError;
use crate::network::wire::nic_devices;
use crate::wire;

/// How long a delete (with the stop it may need) may take.
pub(crate) const DELETE_LIMIT: Duration = Duration::from_secs(120);
/// How long a forced stop may take.
pub(crate) const FORCED_STOP_LIMIT: Duration = Duration::from_secs(60);
/// How much longer than its own timeout a clean stop may take.
const CLEAN_STOP_MARGIN: Duration = Duration::from_secs(60);
/// The pause before asking a busy daemon again to delete.
const DELETE_RETRY: Duration = Duration::from_secs(1);
/// The pause before starting again an instance the daemon is still stopping.
const START_RETRY: Duration = Duration::from_secs(2);
/// How often to look whether an ephemeral instance is gone.
const GONE_POLL: Duration = Duration::from_millis(250);
/// Starts after the first that fails in `forkstart`.
const MORE_STARTS: u32 = 2;
/// Creations of an ephemeral instance whose start fails in `forkstart`.
const CREATIONS: u32 = 3;

impl LxdClient {
    /// Creates the instance and starts it: in the create request when the daemon has
    /// `instance_create_start` (Incus), with a state change after it otherwise (LXD
    /// 5.0). A start that fails in `forkstart` (the start hook stalls on a loaded host,
    /// seen on LXD 5.0 and Incus 6.0) is tried again; an ephemeral instance is deleted
    /// by the daemon when its start fails, so it is created anew once it is gone.
    /// Returns the instance's location (its cluster member; `none` when the daemon is
    /// not clustered).
    pub(crate) async fn create_and_start(
        &self,
        spec: &LaunchSpec,
        root_pool: Option<&str>,
    ) -> Result<String, CallError> {
        let server = self.server().await?;
        let start_in_create = server.has_extension("instance_create_start");
        let ownership = if crate::mapping::parse_server_info(server).can_shift_mounts {
            wire::Ownership::Shift
        } else {
            wire::Ownership::Idmap
        };
        // The base profiles are read only when the launch masks their NICs.
        let devices = match &spec.network {
            NetworkAttachment::DaemonDefault => serde_json::Map::new(),
            attachment => nic_devices(attachment, self.base_nics().await?),
        };
        let create = self.api().create_instance(&wire::instance(
            spec,
            &self.options().base_profiles,
            start_in_create,
            ownership,
            devices,
            root_pool,
        ));
        let name = spec.name.as_str();
        let mut creations = 0;
        loop {
            creations += 1;
            let (location, started) = match self.operation(create.clone(), spec.timeout).await {
                Ok(created) if start_in_create => (created.location, Ok(())),
                Ok(created) => {
                    // Known before the start, so that a start failing for want of its
                    // member names it.
                    self.remember_placement(name, &created.location);
                    let started = self
                        .change_state(name, StateChange::START, spec.timeout)
                        .await;
                    (created.location, started)
                }
                Err(error) if start_in_create && error.is(Cause::FailedStart) => {
                    (String::new(), Err(error))
                }
                Err(error) => return Err(error),
            };
            match started {
                Ok(()) => return Ok(location),
                Err(error) if error.is(Cause::FailedStart) && spec.ephemeral => {
                    if creations >= CREATIONS {
                        return Err(error);
                    }
                    tracing::warn!(instance = %name, "start failed in forkstart; creating the ephemeral instance again");
                    self.wait_until_gone(name, spec.timeout).await?;
                }
                Err(error) if error.is(Cause::FailedStart) => {
                    tracing::warn!(instance = %name, "start failed in forkstart; trying again");
                    self.restart_after_failed_start(name, spec.timeout).await?;
                    return Ok(location);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Starts an instance whose start just failed in `forkstart`: the daemon first
    /// finishes its own stop of the half-started instance ("busy running a stop
    /// operation"), so wait for that, then try again; at most [`MORE_STARTS`] more
    /// starts that fail in `forkstart`.
    async fn restart_after_failed_start(
        &self,
        name: &str,
        limit: Duration,
    ) -> Result<(), CallError> {
        let deadline = Instant::now() + limit;
        let mut starts = 0;
        loop {
            match self.change_state(name, StateChange::START, limit).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is(Cause::Busy) && Instant::now() < deadline => {
                    tokio::time::sleep(START_RETRY).await;
                }
                Err(error) if error.is(Cause::FailedStart) && starts < MORE_STARTS => starts += 1,
                Err(error) => return Err(error),
            }
        }
    }

    /// Waits until the daemon has removed the instance (an ephemeral instance after a
    /// failed start), at most `limit`.
    async fn wait_until_gone(&self, name: &str, limit: Duration) -> Result<(), CallError> {
        let deadline = Instant::now() + limit;
        loop {
            match self.ack(self.api().instance(name)).await {
                Err(error) if error.is_gone() => return Ok(()),
                Err(error @ (CallError::Transport(_) | CallError::Deadline(_))) => {
                    return Err(error);
                }
                _ if Instant::now() >= deadline => return Err(CallError::Deadline(limit)),
                _ => tokio::time::sleep(GONE_POLL).await,
            }
        }
    }

    /// Changes the state of an instance and waits (at most `limit`). A stop of a
    /// stopped instance succeeds; a change the daemon reports as timed out (a forced
    /// stop, on a loaded host) is tried once more.
    pub(crate) async fn change_state(
        &self,
        name: &str,
        change: StateChange,
        limit: Duration,
    ) -> Result<(), CallError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .operation(self.api().change_state(name, change), limit)
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if change.is_stop() && error.is(Cause::AlreadyStopped) => return Ok(()),
                Err(error) if attempts < 2 && error.is(Cause::StopTimedOut) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Stops an instance: cleanly for at most `graceful`, then forced; forced at once
    /// without `graceful`.
    pub(crate) async fn stop(
        &self,
        name: &str,
        graceful: Option<Duration>,
    ) -> Result<(), CallError> {
        let Some(limit) = graceful else {
            return self
                .change_state(name, StateChange::FORCED_STOP, FORCED_STOP_LIMIT)
                .await;
        };
        let clean = self
            .api()
            .change_state(name, StateChange::clean_stop(limit.as_secs()));
        match self.operation(clean, limit + CLEAN_STOP_MARGIN).await {
            Ok(_) => Ok(()),
            Err(error) if error.is(Cause::AlreadyStopped) => Ok(()),
            // The instance did not shut down in time (busybox's init ignores the
            // daemon's signal, for one): force it.
            Err(CallError::Daemon(error)) => {
                tracing::debug!(instance = %name, message = %error.message, "clean stop failed; forcing it");
                self.change_state(name, StateChange::FORCED_STOP, FORCED_STOP_LIMIT)
                    .await
            }
            Err(error) => Err(error),
        }
    }

    /// Deletes an instance, stopping it first (forced) when it runs. On a loaded host
    /// a stop can outlive its own timeout; the daemon then refuses other operations on
    /// the instance ("busy running a stop operation") until it ends, so the delete is
    /// asked again, for at most [`DELETE_LIMIT`], rather than the instance left behind.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), CallError> {
        let deadline = Instant::now() + DELETE_LIMIT;
        loop {
            match self.delete_once(name).await {
                Err(CallError::Daemon(error))
                    if error.cause() == Cause::Busy && Instant::now() < deadline =>
                {
                    tracing::debug!(instance = %name, message = %error.message, "instance busy; deleting again shortly");
                    tokio::time::sleep(DELETE_RETRY).await;
                }
                result => return result,
            }
        }
    }

    /// One delete; an ephemeral instance is gone once stopped. A delete that waited
    /// on the daemon's instance lock for another delete of the same instance, which
    /// succeeded ("A matching non-reusable operation has now succeeded"), finds the
    /// instance deleted: that is its own success.
    async fn delete_once(&self, name: &str) -> Result<(), CallError> {
        let delete = || self.api().delete_instance(name);
        match self.operation(delete(), DELETE_LIMIT).await {
            Ok(_) => Ok(()),
            Err(error) if error.is(Cause::VersionChanged) => {
                tracing::debug!(instance = %name, ?error, "another delete of the instance ended first");
                Ok(())
            }
            Err(error) if error.is(Cause::Running) => {
                match self
                    .change_state(name, StateChange::FORCED_STOP, DELETE_LIMIT)
                    .await
                {
                    Ok(()) => {}
                    Err(error) if error.is_gone() => return Ok(()),
                    Err(error) => return Err(error),
                }
                match self.operation(delete(), DELETE_LIMIT).await {
                    Err(error) if !error.is_gone() && !error.is(Cause::VersionChanged) => {
                        Err(error)
                    }
                    _ => Ok(()),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Deletes a profile.
    pub(crate) async fn remove_profile(&self, name: &str) -> Result<(), CallError> {
        self.ack(self.api().delete_profile(name)).await
    }
}

#[cfg(test)]
mod tests;
