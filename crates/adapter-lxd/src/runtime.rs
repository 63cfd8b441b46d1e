//! [`ContainerRuntime`] and its capability ports for [`LxdClient`]: each port call is a request from `api`, a
//! sequence from `lifecycle`, and one mapping of its failure from `errors`.

use std::time::Duration;

use async_trait::async_trait;
use lxpack_core::domain::{
    CacheMark, CacheVolume, ExecRequest, FileSpec, InstanceName, Labels, LaunchSpec, MountSource,
    ProfileName, ProfileSpec, SessionRequest, StandbyMark, StepKey, VolumeName,
};
use lxpack_core::domain::{ClusterMember, NetworkRefusal};
use lxpack_core::ports::{
    CacheVolumes, ClusterMembers, ContainerRuntime, InputSource, OutputSink, Placement, Resource,
    RuntimeError, ServerInfo, Sessions, Standbys, StepSnapshots, VolumeSpec,
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::classify::Cause;
use crate::client::{LxdClient, within};
use crate::errors::{CallError, runtime_error};
use crate::mapping::{parse_server_info, resources};
use crate::reply::{Instance, Profile};
use crate::subids;
use crate::wire::{self, Ownership};

/// How long a snapshot may take: on a dir pool it copies every file of the instance.
const SNAPSHOT_LIMIT: Duration = Duration::from_secs(30 * 60);

impl LxdClient {
    async fn info(&self) -> Result<ServerInfo, RuntimeError> {
        self.server()
            .await
            .map(parse_server_info)
            .map_err(|e| runtime_error("read server info", "server", self.endpoint(), e))
    }

    /// Maps a failed call of `operation` about `instance`, naming its cluster member
    /// when that member's absence explains the failure.
    pub(crate) async fn instance_error(
        &self,
        operation: &str,
        instance: &str,
        error: CallError,
    ) -> RuntimeError {
        runtime_error(
            operation,
            "instance",
            instance,
            self.blame_member(instance, error).await,
        )
    }

    async fn ownership(&self) -> Result<Ownership, RuntimeError> {
        Ok(if self.info().await?.can_shift_mounts {
            Ownership::Shift
        } else {
            Ownership::Idmap
        })
    }
}

/// Maps a failed launch: a missing image or profile is named as such (the job's own
/// profile, or else the base profiles).
fn launch_error(
    spec: &LaunchSpec,
    base_profiles: &[String],
    operation: &str,
    error: CallError,
) -> RuntimeError {
    match error.cause() {
        Some(Cause::ImageMissing) => RuntimeError::ImageNotFound {
            image: spec.image.to_string(),
        },
        Some(Cause::ProfileMissing) => RuntimeError::NotFound {
            what: "profile",
            name: spec
                .profile
                .as_ref()
                .map_or_else(|| base_profiles.join(", "), ToString::to_string),
        },
        Some(Cause::NicFilterFailed) => RuntimeError::NetworkRefused {
            reason: NetworkRefusal::NoBridgeConntrack,
            detail: format!(
                "the daemon could not put the network ACL on the NIC of {}: {}",
                spec.name,
                error_message(&error)
            ),
        },
        _ => runtime_error(operation, "instance", spec.name.as_str(), error),
    }
}

/// The first line of a daemon's refusal.
fn error_message(error: &CallError) -> String {
    match error {
        CallError::Daemon(error) => error.message.lines().next().unwrap_or_default().to_owned(),
        other => format!("{other:?}"),
    }
}

/// Maps a failed file push: a missing parent directory is the port's `Rejected`; a
/// missing instance names the instance.
fn push_error(operation: &str, instance: &InstanceName, error: CallError) -> RuntimeError {
    match error {
        CallError::Daemon(error) if error.cause() == Cause::PathMissing => RuntimeError::Rejected {
            operation: operation.to_owned(),
            message: format!("{} (does the parent directory exist?)", error.message),
        },
        other => runtime_error(operation, "instance", instance.as_str(), other),
    }
}

#[async_trait]
impl ContainerRuntime for LxdClient {
    #[instrument(skip(self))]
    async fn server_info(&self) -> Result<ServerInfo, RuntimeError> {
        self.info().await
    }

    #[instrument(skip_all, fields(profile = %profile.name))]
    async fn create_profile(&self, profile: &ProfileSpec) -> Result<(), RuntimeError> {
        let ownership = self.ownership().await?;
        if ownership == Ownership::Idmap
            && let Some(mount) = profile
                .mounts
                .iter()
                .find(|m| !m.read_only && m.owner.is_some_and(|o| o.uid == 0))
        {
            return Err(RuntimeError::Unsupported {
                what: format!(
                    "{} is owned by root, and this daemon has no idmapped mounts: the container's root cannot write to it without mapping the host's root into the container, which lxpack does not do",
                    mount.source
                ),
                hint: format!(
                    "give the checkout to an unprivileged build user (e.g. `chown -R 1000:1000 {}`, with `root:1000:1` in /etc/subuid and /etc/subgid), or use Incus, whose idmapped mounts keep root's ownership",
                    mount.source
                ),
            });
        }
        if ownership == Ownership::Idmap
            && self.shares_this_host()
            && let Some((mount, (what, id, file))) = profile
                .mounts
                .iter()
                .filter(|m| !m.read_only)
                .find_map(|m| {
                    m.owner
                        .and_then(|o| subids::unmappable(o.uid, o.gid))
                        .map(|found| (m, found))
                })
        {
            return Err(RuntimeError::Unsupported {
                what: format!(
                    "{} is owned by {what} {id}, which {file} does not let root map, and this daemon has no idmapped mounts: the container could not start",
                    mount.source
                ),
                hint: format!(
                    "add `root:{id}:1` to {file} (and the matching line to {other}), then restart the daemon; or give the checkout to an owner already mapped; or use Incus, whose idmapped mounts need no mapping",
                    other = if file == "/etc/subuid" {
                        "/etc/subgid"
                    } else {
                        "/etc/subuid"
                    }
                ),
            });
        }
        let pool = if profile
            .mounts
            .iter()
            .any(|m| matches!(m.source, MountSource::Volume(_)))
        {
            Some(self.cache_pool().await?)
        } else {
            None
        };
        let request = self
            .api()
            .create_profile(&wire::profile(profile, ownership, pool));
        self.ack(request).await.map_err(|e| {
            runtime_error(
                &format!("create profile {}", profile.name),
                "profile",
                profile.name.as_str(),
                e,
            )
        })
    }

    #[instrument(skip(self))]
    async fn delete_profile(&self, name: &ProfileName) -> Result<(), RuntimeError> {
        self.remove_profile(name.as_str()).await.map_err(|e| {
            runtime_error(
                &format!("delete profile {name}"),
                "profile",
                name.as_str(),
                e,
            )
        })
    }

    #[instrument(skip_all, fields(instance = %spec.name))]
    async fn launch_instance(
        &self,
        spec: &LaunchSpec,
        cancel: &CancellationToken,
    ) -> Result<Placement, RuntimeError> {
        let operation = format!("launch {}", spec.name);
        let name = spec.name.as_str();
        // A root disk size overrides the base profile's root device, in its pool.
        let root_pool = match spec.limits.root_size {
            Some(_) => Some(self.cache_pool().await?.to_owned()),
            None => None,
        };
        tokio::select! {
            result = within(spec.timeout, self.create_and_start(spec, root_pool.as_deref())) => match result {
                Ok(location) => Ok(Placement {
                    member: self.remember_placement(name, &location),
                }),
                Err(error) => {
                    let error = self.blame_member(name, error).await;
                    Err(launch_error(spec, &self.options().base_profiles, &operation, error))
                }
            },
            () = cancel.cancelled() => Err(RuntimeError::Cancelled { operation }),
        }
    }

    #[instrument(skip_all, fields(instance = %instance, path = %file.path))]
    async fn push_file(
        &self,
        instance: &InstanceName,
        file: &FileSpec,
    ) -> Result<(), RuntimeError> {
        let request = self.api().push_file(instance.as_str(), file);
        match self.ack(request).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = self.blame_member(instance.as_str(), error).await;
                Err(push_error(
                    &format!("push {} to {instance}", file.path),
                    instance,
                    error,
                ))
            }
        }
    }

    #[instrument(skip_all, fields(instance = %instance, command = ?request.command.first()))]
    async fn exec(
        &self,
        instance: &InstanceName,
        request: &ExecRequest,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError> {
        crate::exec::exec(self, instance, request, output, cancel).await
    }

    #[instrument(skip(self))]
    async fn mark_kept(
        &self,
        instance: &InstanceName,
        until: std::time::SystemTime,
    ) -> Result<(), RuntimeError> {
        let request = self
            .api()
            .patch_instance_config(instance.as_str(), &crate::wire::kept_config(until));
        self.operation(request, self.options().request_timeout)
            .await
            .map(drop)
            .map_err(|e| {
                runtime_error(
                    &format!("mark {instance} kept"),
                    "instance",
                    instance.as_str(),
                    e,
                )
            })
    }

    #[instrument(skip(self))]
    async fn stop_instance(
        &self,
        instance: &InstanceName,
        graceful: Option<Duration>,
    ) -> Result<(), RuntimeError> {
        match self.stop(instance.as_str(), graceful).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self
                .instance_error(&format!("stop {instance}"), instance.as_str(), error)
                .await),
        }
    }

    #[instrument(skip(self))]
    async fn delete_instance(&self, instance: &InstanceName) -> Result<(), RuntimeError> {
        match self.delete(instance.as_str()).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self
                .instance_error(&format!("delete {instance}"), instance.as_str(), error)
                .await),
        }
    }

    #[instrument(skip(self))]
    async fn release_ephemeral(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        self.release_in_background(instance, profile).await
    }

    #[instrument(skip(self))]
    async fn list_resources(&self) -> Result<Vec<Resource>, RuntimeError> {
        let map = |e| runtime_error("list resources", "server", self.endpoint(), e);
        let instances: Vec<Instance> = self.sync(self.api().instances()).await.map_err(map)?;
        let profiles: Vec<Profile> = self.sync(self.api().profiles()).await.map_err(map)?;
        Ok(resources(&instances, &profiles))
    }
}

#[async_trait]
impl Sessions for LxdClient {
    #[instrument(skip_all, fields(instance = %instance, command = ?request.command.first()))]
    async fn exec_session(
        &self,
        instance: &InstanceName,
        request: &SessionRequest,
        input: &dyn InputSource,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError> {
        crate::exec::session(self, instance, request, input, output, cancel).await
    }
}

#[async_trait]
impl Standbys for LxdClient {
    #[instrument(skip_all, fields(instance = %instance))]
    async fn claim_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        self.claim(instance, expected, labels).await
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn update_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        self.remark(instance, expected, mark).await
    }

    #[instrument(skip(self))]
    async fn attach_profile(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        self.attach(instance, profile).await
    }
}

#[async_trait]
impl StepSnapshots for LxdClient {
    #[instrument(skip(self))]
    async fn snapshot_instance(
        &self,
        instance: &InstanceName,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        let operation = format!("snapshot {instance} as {snapshot}");
        self.operation(
            self.api().snapshot(instance.as_str(), snapshot),
            SNAPSHOT_LIMIT,
        )
        .await
        .map(drop)
        .map_err(|e| runtime_error(&operation, "instance", instance.as_str(), e))
    }

    #[instrument(skip(self))]
    async fn keep_as_step_holder(
        &self,
        instance: &InstanceName,
        keys: &[StepKey],
    ) -> Result<(), RuntimeError> {
        let body = wire::step_holder(&self.options().base_profiles, keys);
        self.ack(self.api().patch_instance(instance.as_str(), &body))
            .await
            .map_err(|e| {
                runtime_error(
                    &format!("keep {instance} as a step holder"),
                    "instance",
                    instance.as_str(),
                    e,
                )
            })
    }
}

#[async_trait]
impl CacheVolumes for LxdClient {
    #[instrument(skip(self))]
    async fn list_volumes(&self) -> Result<Vec<CacheVolume>, RuntimeError> {
        self.volumes().await
    }

    #[instrument(skip_all, fields(volume = %spec.name))]
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), RuntimeError> {
        self.new_volume(spec).await
    }

    #[instrument(skip_all, fields(volume = %name))]
    async fn mark_volume(&self, name: &VolumeName, mark: &CacheMark) -> Result<(), RuntimeError> {
        self.remark_volume(name, mark).await
    }

    #[instrument(skip(self))]
    async fn delete_volume(&self, name: &VolumeName) -> Result<(), RuntimeError> {
        self.remove_volume(name).await
    }

    #[instrument(skip(self))]
    async fn volume_usage(&self, name: &VolumeName) -> Result<Option<u64>, RuntimeError> {
        self.usage(name).await
    }
}

#[async_trait]
impl ClusterMembers for LxdClient {
    #[instrument(skip(self))]
    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, RuntimeError> {
        let members = self
            .members()
            .await
            .map_err(|e| runtime_error("list cluster members", "server", self.endpoint(), e))?;
        Ok(members
            .into_iter()
            .filter_map(crate::cluster::cluster_member)
            .collect())
    }
}

#[cfg(test)]
mod tests;
