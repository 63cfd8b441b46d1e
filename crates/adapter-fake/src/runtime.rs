//! `ContainerRuntime` and every capability port over the fake daemon: real state rules, every call recorded with
//! its arguments, and faults chosen by operation and occurrence.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lxpack_core::domain::{
    CacheMark, CacheVolume, ClusterMember, EgressNetwork, EgressState, ExecRequest, FileSpec,
    GuestPath, Image, InstanceName, Labels, LaunchSpec, LimitReadings, MemberName, Owner,
    ProfileName, ProfileSpec, SessionInput, SessionRequest, StandbyMark, StepKey, VolumeName,
};
use lxpack_core::ports::{
    CacheVolumes, ClusterMembers, ContainerRuntime, HostResources, InputSource, NetworkPolicies,
    OutputSink, Placement, Resource, ResourceClasses, RuntimeError, ServerInfo, Sessions, Standbys,
    StepSnapshots, VolumeSpec,
};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::daemon::{self, Daemon, FakeInstance, InstanceStatus, Shared};
use crate::exec::{ExecScript, Signal, Signalled};
use crate::faults::{FakeFailure, Fault, InjectedFault, Interruption, Limit, When, strike};
use crate::harness::Recorded;
use crate::registry::{FakeImageRegistry, RegistryCall};

/// A session without a time limit: a century.
const NO_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The operations of [`ContainerRuntime`], to pick calls for faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeOp {
    /// `server_info`.
    ServerInfo,
    /// `create_profile`.
    CreateProfile,
    /// `delete_profile`.
    DeleteProfile,
    /// `launch_instance`.
    LaunchInstance,
    /// `push_file`.
    PushFile,
    /// `exec`.
    Exec,
    /// `stop_instance`.
    StopInstance,
    /// `delete_instance`.
    DeleteInstance,
    /// `release_ephemeral`.
    ReleaseEphemeral,
    /// `list_resources`.
    ListResources,
    /// `cluster_members`.
    ClusterMembers,
    /// `exec_session`.
    ExecSession,
    /// `mark_kept`.
    MarkKept,
    /// `claim_standby`.
    ClaimStandby,
    /// `update_standby`.
    UpdateStandby,
    /// `attach_profile`.
    AttachProfile,
    /// `list_volumes`.
    ListVolumes,
    /// `create_volume`.
    CreateVolume,
    /// `mark_volume`.
    MarkVolume,
    /// `delete_volume`.
    DeleteVolume,
    /// `volume_usage`.
    VolumeUsage,
    /// `snapshot_instance`.
    SnapshotInstance,
    /// `keep_as_step_holder`.
    KeepAsStepHolder,
    /// `host_resources`.
    HostResources,
    /// `limit_counters`.
    LimitCounters,
    /// `host_addresses`.
    HostAddresses,
    /// `ensure_egress`.
    EnsureEgress,
    /// `egress_state`.
    EgressState,
}

/// One call received by a [`FakeRuntime`], with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// A test's call log: a few hundred bytes per call is nothing, and boxing would make
// every test's pattern on `spec` clumsier.
#[allow(clippy::large_enum_variant)]
pub enum RuntimeCall {
    /// `server_info`.
    ServerInfo,
    /// `create_profile`.
    CreateProfile {
        /// The profile asked for.
        profile: ProfileSpec,
    },
    /// `delete_profile`.
    DeleteProfile {
        /// The profile.
        name: ProfileName,
    },
    /// `launch_instance`.
    LaunchInstance {
        /// The instance asked for.
        spec: LaunchSpec,
    },
    /// `push_file`.
    PushFile {
        /// The instance.
        instance: InstanceName,
        /// The file.
        file: FileSpec,
    },
    /// `exec`.
    Exec {
        /// The instance.
        instance: InstanceName,
        /// The argv.
        command: Vec<String>,
        /// The extra environment.
        env: Vec<(String, String)>,
        /// The working directory.
        cwd: Option<GuestPath>,
        /// The user.
        user: Option<Owner>,
        /// The bytes for stdin.
        stdin: Option<Vec<u8>>,
        /// The limit.
        timeout: Duration,
        /// The grace between SIGTERM and SIGKILL.
        kill_grace: Duration,
    },
    /// `stop_instance`.
    StopInstance {
        /// The instance.
        instance: InstanceName,
        /// How long a clean shutdown may take; `None` forces it.
        graceful: Option<Duration>,
    },
    /// `delete_instance`.
    DeleteInstance {
        /// The instance.
        instance: InstanceName,
    },
    /// `release_ephemeral`.
    ReleaseEphemeral {
        /// The instance.
        instance: InstanceName,
        /// The profile detached and deleted.
        profile: ProfileName,
    },
    /// `list_resources`.
    ListResources,
    /// `cluster_members`.
    ClusterMembers,
    /// `exec_session`.
    ExecSession {
        /// The instance.
        instance: InstanceName,
        /// The session asked for.
        request: SessionRequest,
    },
    /// `mark_kept`.
    MarkKept {
        /// The instance.
        instance: InstanceName,
        /// Until when.
        until: SystemTime,
    },
    /// `claim_standby`.
    ClaimStandby {
        /// The standby.
        instance: InstanceName,
        /// The job's labels it was to get.
        labels: Labels,
    },
    /// `update_standby`.
    UpdateStandby {
        /// The standby.
        instance: InstanceName,
        /// Its new mark.
        mark: StandbyMark,
    },
    /// `attach_profile`.
    AttachProfile {
        /// The instance.
        instance: InstanceName,
        /// The profile added.
        profile: ProfileName,
    },
    /// `list_volumes`.
    ListVolumes,
    /// `create_volume`.
    CreateVolume {
        /// The volume asked for.
        spec: VolumeSpec,
    },
    /// `mark_volume`.
    MarkVolume {
        /// The volume.
        name: VolumeName,
        /// Its new mark.
        mark: CacheMark,
    },
    /// `delete_volume`.
    DeleteVolume {
        /// The volume.
        name: VolumeName,
    },
    /// `volume_usage`.
    VolumeUsage {
        /// The volume.
        name: VolumeName,
    },
    /// `snapshot_instance`.
    SnapshotInstance {
        /// The instance.
        instance: InstanceName,
        /// The snapshot's name.
        snapshot: String,
    },
    /// `keep_as_step_holder`.
    KeepAsStepHolder {
        /// The instance.
        instance: InstanceName,
        /// Its keys.
        keys: Vec<StepKey>,
    },
    /// `host_resources`.
    HostResources,
    /// `limit_counters`.
    LimitCounters {
        /// The instance.
        instance: InstanceName,
    },
    /// `host_addresses`.
    HostAddresses,
    /// `ensure_egress`.
    EnsureEgress {
        /// The network asked for.
        network: EgressNetwork,
    },
    /// `egress_state`.
    EgressState {
        /// The network asked about.
        network: EgressNetwork,
    },
}

impl Recorded for RuntimeCall {
    type Op = RuntimeOp;

    fn op(&self) -> RuntimeOp {
        match self {
            Self::ServerInfo => RuntimeOp::ServerInfo,
            Self::CreateProfile { .. } => RuntimeOp::CreateProfile,
            Self::DeleteProfile { .. } => RuntimeOp::DeleteProfile,
            Self::LaunchInstance { .. } => RuntimeOp::LaunchInstance,
            Self::PushFile { .. } => RuntimeOp::PushFile,
            Self::Exec { .. } => RuntimeOp::Exec,
            Self::StopInstance { .. } => RuntimeOp::StopInstance,
            Self::DeleteInstance { .. } => RuntimeOp::DeleteInstance,
            Self::ReleaseEphemeral { .. } => RuntimeOp::ReleaseEphemeral,
            Self::ListResources => RuntimeOp::ListResources,
            Self::ClusterMembers => RuntimeOp::ClusterMembers,
            Self::ExecSession { .. } => RuntimeOp::ExecSession,
            Self::MarkKept { .. } => RuntimeOp::MarkKept,
            Self::ClaimStandby { .. } => RuntimeOp::ClaimStandby,
            Self::UpdateStandby { .. } => RuntimeOp::UpdateStandby,
            Self::AttachProfile { .. } => RuntimeOp::AttachProfile,
            Self::ListVolumes => RuntimeOp::ListVolumes,
            Self::CreateVolume { .. } => RuntimeOp::CreateVolume,
            Self::MarkVolume { .. } => RuntimeOp::MarkVolume,
            Self::DeleteVolume { .. } => RuntimeOp::DeleteVolume,
            Self::VolumeUsage { .. } => RuntimeOp::VolumeUsage,
            Self::SnapshotInstance { .. } => RuntimeOp::SnapshotInstance,
            Self::KeepAsStepHolder { .. } => RuntimeOp::KeepAsStepHolder,
            Self::HostResources => RuntimeOp::HostResources,
            Self::LimitCounters { .. } => RuntimeOp::LimitCounters,
            Self::HostAddresses => RuntimeOp::HostAddresses,
            Self::EnsureEgress { .. } => RuntimeOp::EnsureEgress,
            Self::EgressState { .. } => RuntimeOp::EgressState,
        }
    }
}

impl RuntimeCall {
    /// What the call does, as error messages name it.
    fn operation(&self) -> String {
        match self {
            Self::ServerInfo => "read server info".to_owned(),
            Self::CreateProfile { profile } => format!("create profile {}", profile.name),
            Self::DeleteProfile { name } => format!("delete profile {name}"),
            Self::LaunchInstance { spec } => format!("launch {}", spec.name),
            Self::PushFile { instance, file } => format!("push {} to {instance}", file.path),
            Self::Exec {
                instance, command, ..
            } => format!(
                "exec {} in {instance}",
                command.first().map_or("(nothing)", String::as_str)
            ),
            Self::StopInstance { instance, .. } => format!("stop {instance}"),
            Self::DeleteInstance { instance } => format!("delete {instance}"),
            Self::ReleaseEphemeral { instance, .. } => format!("release {instance}"),
            Self::ListResources => "list resources".to_owned(),
            Self::ClusterMembers => "list cluster members".to_owned(),
            Self::ExecSession { instance, request } => format!(
                "session {} in {instance}",
                request.command.first().map_or("(nothing)", String::as_str)
            ),
            Self::MarkKept { instance, .. } => format!("mark {instance} kept"),
            Self::ClaimStandby { instance, .. } => format!("claim standby {instance}"),
            Self::UpdateStandby { instance, .. } => format!("mark standby {instance}"),
            Self::AttachProfile { instance, profile } => {
                format!("add profile {profile} to {instance}")
            }
            Self::ListVolumes => "list volumes".to_owned(),
            Self::CreateVolume { spec } => format!("create volume {}", spec.name),
            Self::MarkVolume { name, .. } => format!("mark volume {name}"),
            Self::DeleteVolume { name } => format!("delete volume {name}"),
            Self::VolumeUsage { name } => format!("read the usage of volume {name}"),
            Self::SnapshotInstance { instance, snapshot } => {
                format!("snapshot {instance} as {snapshot}")
            }
            Self::KeepAsStepHolder { instance, .. } => {
                format!("keep {instance} as a step holder")
            }
            Self::HostResources => "read the host's resources".to_owned(),
            Self::LimitCounters { instance } => format!("read the limit counters of {instance}"),
            Self::HostAddresses => "list the host's addresses".to_owned(),
            Self::EnsureEgress { network } => format!("ensure network {}", network.network),
            Self::EgressState { network } => {
                format!("read the state of network {}", network.network)
            }
        }
    }

    /// The kind and name of what the call names, if anything.
    fn subject(&self) -> Option<(&'static str, String)> {
        match self {
            Self::CreateProfile { profile } => Some(("profile", profile.name.to_string())),
            Self::DeleteProfile { name } => Some(("profile", name.to_string())),
            Self::LaunchInstance { spec } => Some(("instance", spec.name.to_string())),
            Self::PushFile { instance, .. }
            | Self::Exec { instance, .. }
            | Self::StopInstance { instance, .. }
            | Self::DeleteInstance { instance }
            | Self::ReleaseEphemeral { instance, .. }
            | Self::ExecSession { instance, .. }
            | Self::MarkKept { instance, .. }
            | Self::ClaimStandby { instance, .. }
            | Self::UpdateStandby { instance, .. }
            | Self::AttachProfile { instance, .. }
            | Self::SnapshotInstance { instance, .. }
            | Self::KeepAsStepHolder { instance, .. }
            | Self::LimitCounters { instance } => Some(("instance", instance.to_string())),
            Self::CreateVolume { spec } => Some(("volume", spec.name.to_string())),
            Self::MarkVolume { name, .. }
            | Self::DeleteVolume { name }
            | Self::VolumeUsage { name } => Some(("volume", name.to_string())),
            Self::EnsureEgress { network } | Self::EgressState { network } => {
                Some(("network", network.network.to_string()))
            }
            Self::ServerInfo
            | Self::ListResources
            | Self::ClusterMembers
            | Self::ListVolumes
            | Self::HostResources
            | Self::HostAddresses => None,
        }
    }

    fn timeout(&self) -> Duration {
        match self {
            Self::LaunchInstance { spec } => spec.timeout,
            Self::Exec { timeout, .. } => *timeout,
            Self::ExecSession { request, .. } => request.timeout.unwrap_or(NO_LIMIT),
            _ => Duration::ZERO,
        }
    }

    /// The error an injected failure of `kind` gives this call.
    fn injected(&self, kind: FakeFailure) -> RuntimeError {
        let operation = self.operation();
        match (kind, self.subject()) {
            (FakeFailure::Unreachable, _) => {
                RuntimeError::Unreachable(crate::faults::unreachable("fake daemon"))
            }
            (FakeFailure::NotFound, Some((what, name))) => RuntimeError::NotFound { what, name },
            (FakeFailure::Rejected, _) => RuntimeError::Rejected {
                operation,
                message: InjectedFault.to_string(),
            },
            (FakeFailure::TimedOut, _) => RuntimeError::TimedOut {
                operation,
                after: self.timeout(),
            },
            (FakeFailure::Cancelled, _) => RuntimeError::Cancelled { operation },
            _ => RuntimeError::Other {
                operation,
                source: Box::new(InjectedFault),
            },
        }
    }
}

/// A call to either side of the fake daemon, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // A test's call log, as RuntimeCall.
pub enum DaemonCall {
    /// A call to the runtime.
    Runtime(RuntimeCall),
    /// A call to the image registry.
    Registry(RegistryCall),
}

/// The outcome of exec's checks: the command scripted for this call, if any.
type ExecDecision = Result<Option<ExecScript>, RuntimeError>;

/// An in-memory [`ContainerRuntime`] that honours the port's contracts, records every
/// call and injects faults. Clones share the same daemon, as does
/// [`FakeRuntime::image_registry`].
///
/// Commands exit 0 with no output unless a fault, a scripted exec
/// ([`FakeRuntime::script_exec`]) or a handler ([`FakeRuntime::on_exec`]) says
/// otherwise, in that order of precedence.
#[derive(Clone)]
pub struct FakeRuntime {
    daemon: Shared,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let daemon = self.lock();
        f.debug_struct("FakeRuntime")
            .field("instances", &daemon.instances.keys().collect::<Vec<_>>())
            .field("profiles", &daemon.profiles.keys().collect::<Vec<_>>())
            .field("images", &daemon.images.len())
            .finish_non_exhaustive()
    }
}

impl FakeRuntime {
    /// A daemon with no profile (but `default`), instance or image.
    #[must_use]
    pub fn new() -> Self {
        Self {
            daemon: daemon::new_shared(),
        }
    }

    pub(crate) fn over(daemon: Shared) -> Self {
        Self { daemon }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Daemon> {
        daemon::lock(&self.daemon)
    }

    /// The image registry of the same daemon.
    #[must_use]
    pub fn image_registry(&self) -> FakeImageRegistry {
        FakeImageRegistry::over(self.daemon.clone())
    }

    // --- seeding -----------------------------------------------------------------

    /// Sets what `host_resources` answers (default: 8 CPUs, 16 GiB).
    pub fn set_host_resources(&self, host: HostResources) {
        self.lock().host = host;
    }

    /// Sets what `server_info` answers (default: kind `Other("fake")`, shift works).
    pub fn set_server_info(&self, info: ServerInfo) {
        self.lock().info = info;
    }

    /// Adds an image to the local store (see [`FakeImageRegistry::add_image`]).
    pub fn add_image(&self, image: Image) {
        self.lock().add_image(image);
    }

    /// Offers `image` on the remote server at `server_url`, for launches from
    /// `ImageRef::Remote` with that URL. Launching from it copies it into the local
    /// store without aliases, as a real daemon caches pulled images.
    pub fn add_remote_image(&self, server_url: &str, image: Image) {
        self.lock()
            .remote_images
            .push((server_url.to_owned(), image));
    }

    /// Adds a profile without checks or recording, replacing one of the same name.
    pub fn add_profile(&self, profile: ProfileSpec) {
        self.lock()
            .profiles
            .insert(profile.name.as_str().to_owned(), profile);
    }

    /// Adds an instance without checks or recording, replacing one of the same name
    /// (e.g. a leftover of a crashed run). Its source is the image `spec.image`
    /// names, when it exists.
    pub fn add_instance(&self, spec: &LaunchSpec, status: InstanceStatus) {
        self.lock().seed_instance(spec, status);
    }

    /// Makes the daemon a cluster of `members`: new instances go to the first online
    /// one, and calls about an instance on a member that is not reachable (see
    /// [`ClusterMember::is_reachable`]) fail `Unreachable`, naming it.
    pub fn set_cluster(&self, members: Vec<ClusterMember>) {
        self.lock().members = members;
    }

    /// Changes the status (and message) of cluster member `name`, as its daemon
    /// stopping or coming back would.
    pub fn set_member_status(&self, name: &MemberName, status: &str, message: &str) {
        if let Some(member) = self.lock().members.iter_mut().find(|m| &m.name == name) {
            status.clone_into(&mut member.status);
            message.clone_into(&mut member.message);
        }
    }

    /// When `leave` is true, a launch that fails by an injected fault (or hangs)
    /// first creates the instance, stopped, as a real daemon whose start failed would
    /// leave it. By default a failed launch leaves nothing.
    pub fn leave_instance_on_failed_launch(&self, leave: bool) {
        self.lock().leave_failed_launches = leave;
    }

    /// Makes the stops that `release_ephemeral` asks for fail: the profile is
    /// detached and deleted, the call succeeds (the daemon took the stop), and the
    /// instance stays, running, as after a stop that failed later.
    pub fn fail_released_stops(&self, fail: bool) {
        self.lock().failing_stops = fail;
    }

    // --- inspection --------------------------------------------------------------

    /// One instance.
    #[must_use]
    pub fn instance(&self, name: &InstanceName) -> Option<FakeInstance> {
        self.lock().instances.get(name.as_str()).cloned()
    }

    /// Every instance, by name.
    #[must_use]
    pub fn instances(&self) -> Vec<FakeInstance> {
        self.lock().instances.values().cloned().collect()
    }

    /// Every bridge, by name.
    #[must_use]
    pub fn networks(&self) -> Vec<crate::FakeNetwork> {
        self.lock().networks.values().cloned().collect()
    }

    /// Every network ACL, by name.
    #[must_use]
    pub fn acls(&self) -> Vec<crate::FakeAcl> {
        self.lock().acls.values().cloned().collect()
    }

    /// Adds a bridge of the operator's (`lxpack.network.bridge`), without checks or
    /// recording.
    pub fn add_operator_network(&self, name: &str) {
        self.lock().networks.insert(
            name.to_owned(),
            crate::FakeNetwork {
                name: name.to_owned(),
                lxpack: false,
                acl: None,
                description: "the operator's".to_owned(),
            },
        );
    }

    /// Removes a bridge and its ACL, as an operator cleaning up by hand would;
    /// false when there was no such bridge.
    pub fn remove_network(&self, name: &str) -> bool {
        let mut daemon = self.lock();
        match daemon.networks.remove(name) {
            Some(removed) => {
                if let Some(acl) = removed.acl {
                    daemon.acls.remove(&acl);
                }
                true
            }
            None => false,
        }
    }

    /// Sets what `host_addresses` answers (default 203.0.113.7 and 127.0.0.1).
    pub fn set_host_addresses(&self, addresses: Vec<std::net::IpAddr>) {
        self.lock().host_addresses = addresses;
    }

    /// Every storage volume (cache), by name.
    #[must_use]
    pub fn volumes(&self) -> Vec<crate::FakeVolume> {
        self.lock().volumes.values().cloned().collect()
    }

    /// Writes a file into a volume, as a command in an instance that mounts it
    /// would; false when the volume does not exist.
    pub fn write_volume(&self, volume: &VolumeName, path: &str, bytes: &[u8]) -> bool {
        match self.lock().volumes.get_mut(volume.as_str()) {
            Some(found) => {
                found.files.insert(path.to_owned(), bytes.to_vec());
                true
            }
            None => false,
        }
    }

    /// The volume `instance` mounts at `path` through its profiles, if any.
    #[must_use]
    pub fn volume_mounted_at(
        &self,
        instance: &InstanceName,
        path: &GuestPath,
    ) -> Option<VolumeName> {
        let daemon = self.lock();
        let found = daemon.instances.get(instance.as_str())?;
        found.profiles.iter().find_map(|profile| {
            daemon
                .profiles
                .get(profile)?
                .mounts
                .iter()
                .find_map(|mount| match &mount.source {
                    lxpack_core::domain::MountSource::Volume(name) if &mount.target == path => {
                        Some(name.clone())
                    }
                    _ => None,
                })
        })
    }

    /// Makes the storage tell volumes' usage, or not (as a dir pool).
    pub fn set_volume_usage_known(&self, known: bool) {
        self.lock().volume_usage_known = known;
    }

    /// Creates a volume as another client would (a cache left by an earlier run),
    /// bypassing faults and the call log.
    pub fn seed_volume(&self, spec: &VolumeSpec) {
        let _ = self.lock().create_volume(spec);
    }

    /// One profile.
    #[must_use]
    pub fn profile(&self, name: &str) -> Option<ProfileSpec> {
        self.lock().profiles.get(name).cloned()
    }

    /// Every profile but `default`, by name.
    #[must_use]
    pub fn profiles(&self) -> Vec<ProfileSpec> {
        self.lock().profiles.values().cloned().collect()
    }

    /// A file pushed into an instance that still exists.
    #[must_use]
    pub fn file(&self, instance: &InstanceName, path: &GuestPath) -> Option<FileSpec> {
        self.lock()
            .instances
            .get(instance.as_str())
            .and_then(|found| found.files.get(path).cloned())
    }

    /// The commands interrupted by a timeout or a cancellation, in order.
    #[must_use]
    pub fn signals(&self) -> Vec<Signalled> {
        self.lock().signals.clone()
    }

    /// The runtime calls, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<RuntimeCall> {
        self.lock().runtime.calls()
    }

    /// Each runtime call as (operation, occurrence), in order: rerun the test with
    /// `inject(op, When::Nth(occurrence), …)` to fail exactly that call.
    #[must_use]
    pub fn call_points(&self) -> Vec<(RuntimeOp, u32)> {
        self.lock().runtime.call_points()
    }

    /// The calls to the runtime and to the registry, interleaved as received.
    #[must_use]
    pub fn daemon_calls(&self) -> Vec<DaemonCall> {
        let daemon = self.lock();
        let mut calls: Vec<(u64, DaemonCall)> = daemon
            .runtime
            .sequenced()
            .map(|(sequence, call)| (*sequence, DaemonCall::Runtime(call.clone())))
            .chain(
                daemon
                    .registry
                    .sequenced()
                    .map(|(sequence, call)| (*sequence, DaemonCall::Registry(call.clone()))),
            )
            .collect();
        calls.sort_by_key(|(sequence, _)| *sequence);
        calls.into_iter().map(|(_, call)| call).collect()
    }

    /// Forgets the recorded runtime calls; occurrences count from 1 again.
    pub fn clear_calls(&self) {
        self.lock().runtime.clear_calls();
    }

    // --- faults and scripts ------------------------------------------------------

    /// Makes the calls of `op` chosen by `when` fail or hang; the call has no effect
    /// (see [`FakeRuntime::leave_instance_on_failed_launch`] for launch). A
    /// [`FakeFailure`] becomes:
    /// - `Unreachable`: `RuntimeError::Unreachable`;
    /// - `NotFound`: `NotFound` naming the call's instance or profile (`Other` for
    ///   `server_info` and `list_resources`);
    /// - `Rejected`, `TimedOut` (with the call's limit), `Cancelled`, `Other`: the
    ///   variant of that name.
    ///
    /// A hang of exec signals the command (see [`FakeRuntime::signals`]).
    pub fn inject(&self, op: RuntimeOp, when: When, fault: Fault<RuntimeError>) {
        self.lock().runtime.inject(op, when, fault);
    }

    /// Makes the exec calls chosen by `when` (counted among exec calls) run `script`,
    /// after the usual checks.
    pub fn script_exec(&self, when: When, script: ExecScript) {
        self.lock()
            .exec_scripts
            .inject(RuntimeOp::Exec, when, script);
    }

    /// Makes the sessions chosen by `when` (counted among `exec_session` calls) run
    /// `script`, after the usual checks; otherwise the exec handlers decide, as for
    /// exec.
    pub fn script_session(&self, when: When, script: ExecScript) {
        self.lock()
            .exec_scripts
            .inject(RuntimeOp::ExecSession, when, script);
    }

    /// Everything sessions received from their input source, in order: bytes, resizes
    /// and ends.
    #[must_use]
    pub fn session_inputs(&self) -> Vec<SessionInput> {
        self.lock().session_inputs.clone()
    }

    /// Adds a handler that decides what commands do: the handler added last is asked
    /// first, and `None` passes to the next one. Handlers run without the fake's
    /// lock, so they may inspect the fake (e.g. [`FakeRuntime::file`]).
    pub fn on_exec(
        &self,
        handler: impl Fn(&InstanceName, &ExecRequest) -> Option<ExecScript> + Send + Sync + 'static,
    ) {
        self.lock().exec_handlers.push(std::sync::Arc::new(handler));
    }

    /// Makes every command whose argv starts with `prefix` run `script`.
    pub fn on_command(&self, prefix: &[&str], script: ExecScript) {
        let prefix: Vec<String> = prefix.iter().map(|part| (*part).to_owned()).collect();
        self.on_exec(move |_, request| {
            request.command.starts_with(&prefix).then(|| script.clone())
        });
    }

    /// Removes every injected fault and scripted exec (handlers stay).
    pub fn clear_faults(&self) {
        let mut daemon = self.lock();
        daemon.runtime.clear_faults();
        daemon.exec_scripts.clear();
    }

    /// Removes every exec handler.
    pub fn clear_exec_handlers(&self) {
        self.lock().exec_handlers.clear();
    }

    // --- plumbing ----------------------------------------------------------------

    /// Records `call`, then runs `body` under the same lock unless a fault was
    /// injected for it.
    fn enter<T>(
        &self,
        call: &RuntimeCall,
        body: impl FnOnce(&mut Daemon, u32) -> T,
    ) -> Result<T, Fault<RuntimeError>> {
        let mut daemon = self.lock();
        let sequence = daemon.next_sequence();
        let (occurrence, fault) = daemon.runtime.enter(sequence, call.clone());
        match fault {
            Some(fault) => Err(fault),
            None => Ok(body(&mut daemon, occurrence)),
        }
    }

    async fn strike(&self, fault: Fault<RuntimeError>, call: &RuntimeCall) -> RuntimeError {
        strike(fault, None, |kind| call.injected(kind)).await
    }

    /// Runs a command script and records the signals of an interrupted one.
    async fn run(
        &self,
        instance: &InstanceName,
        request: &ExecRequest,
        script: &ExecScript,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
        call: &RuntimeCall,
    ) -> Result<i32, RuntimeError> {
        if let Some(hits) = script.counters()
            && let Some(fake) = self.lock().instances.get_mut(instance.as_str())
        {
            fake.counters = hits;
        }
        let limit = Limit::starting_now(request.timeout, cancel);
        match script.play(output, limit).await {
            Ok(code) => Ok(code),
            Err(cause) => {
                self.lock().signals.push(Signalled {
                    instance: instance.clone(),
                    command: request.command.clone(),
                    cause,
                    signals: vec![Signal::Term, Signal::Kill],
                });
                Err(call.injected(match cause {
                    Interruption::TimedOut => FakeFailure::TimedOut,
                    Interruption::Cancelled => FakeFailure::Cancelled,
                }))
            }
        }
    }
}

/// The input reader never ends by itself (it pends after the input's end).
fn unreachable_end() -> Result<i32, RuntimeError> {
    Err(RuntimeError::Other {
        operation: "read session input".to_owned(),
        source: "the input reader ended".into(),
    })
}

#[async_trait]
impl ContainerRuntime for FakeRuntime {
    #[instrument(skip_all)]
    async fn server_info(&self) -> Result<ServerInfo, RuntimeError> {
        let call = RuntimeCall::ServerInfo;
        match self.enter(&call, |daemon, _| daemon.info.clone()) {
            Ok(info) => Ok(info),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(profile = %profile.name))]
    async fn create_profile(&self, profile: &ProfileSpec) -> Result<(), RuntimeError> {
        let call = RuntimeCall::CreateProfile {
            profile: profile.clone(),
        };
        match self.enter(&call, |daemon, _| daemon.create_profile(profile)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(profile = %name))]
    async fn delete_profile(&self, name: &ProfileName) -> Result<(), RuntimeError> {
        let call = RuntimeCall::DeleteProfile { name: name.clone() };
        match self.enter(&call, |daemon, _| daemon.delete_profile(name)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %spec.name))]
    async fn launch_instance(
        &self,
        spec: &LaunchSpec,
        cancel: &CancellationToken,
    ) -> Result<Placement, RuntimeError> {
        let call = RuntimeCall::LaunchInstance { spec: spec.clone() };
        let limit = Limit::starting_now(spec.timeout, cancel);
        let entered = self.enter(&call, |daemon, _| {
            if cancel.is_cancelled() {
                return Err(call.injected(FakeFailure::Cancelled));
            }
            daemon.create_instance(spec, InstanceStatus::Running)?;
            Ok(Placement {
                member: daemon
                    .instances
                    .get(spec.name.as_str())
                    .and_then(|instance| instance.member.clone()),
            })
        });
        match entered {
            Ok(result) => result,
            Err(fault) => {
                {
                    let mut daemon = self.lock();
                    if daemon.leave_failed_launches {
                        // Whatever stops the create stops the leftover too: nothing to report.
                        let _created = daemon.create_instance(spec, InstanceStatus::Stopped);
                    }
                }
                Err(strike(fault, Some(limit), |kind| call.injected(kind)).await)
            }
        }
    }

    #[instrument(skip_all, fields(instance = %instance, path = %file.path))]
    async fn push_file(
        &self,
        instance: &InstanceName,
        file: &FileSpec,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::PushFile {
            instance: instance.clone(),
            file: file.clone(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.check_member(instance.as_str())?;
            daemon.push_file(instance, file)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
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
        let call = RuntimeCall::Exec {
            instance: instance.clone(),
            command: request.command.clone(),
            env: request.env.clone(),
            cwd: request.cwd.clone(),
            user: request.user,
            stdin: request.stdin.clone(),
            timeout: request.timeout,
            kill_grace: request.kill_grace,
        };
        let entered = self.enter(&call, |daemon, occurrence| -> ExecDecision {
            daemon.check_member(instance.as_str())?;
            daemon.check_exec(instance, &request.command)?;
            Ok(daemon.exec_scripts.lookup(RuntimeOp::Exec, occurrence))
        });
        let script = match entered {
            Err(Fault::Hang) => ExecScript::hanging(),
            Err(fault) => return Err(self.strike(fault, &call).await),
            Ok(Err(error)) => return Err(error),
            Ok(Ok(Some(script))) => script,
            Ok(Ok(None)) => {
                let handlers = self.lock().exec_handlers.clone();
                handlers
                    .iter()
                    .rev()
                    .find_map(|handler| handler(instance, request))
                    .unwrap_or_default()
            }
        };
        if cancel.is_cancelled() {
            // The command never started: there is nothing to signal.
            return Err(call.injected(FakeFailure::Cancelled));
        }
        self.run(instance, request, &script, output, cancel, &call)
            .await
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn mark_kept(
        &self,
        instance: &InstanceName,
        until: SystemTime,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::MarkKept {
            instance: instance.clone(),
            until,
        };
        match self.enter(&call, |daemon, _| daemon.mark_kept(instance, until)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn stop_instance(
        &self,
        instance: &InstanceName,
        graceful: Option<Duration>,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::StopInstance {
            instance: instance.clone(),
            graceful,
        };
        match self.enter(&call, |daemon, _| {
            daemon.check_member(instance.as_str())?;
            daemon.stop_instance(instance)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn delete_instance(&self, instance: &InstanceName) -> Result<(), RuntimeError> {
        let call = RuntimeCall::DeleteInstance {
            instance: instance.clone(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.check_member(instance.as_str())?;
            daemon.delete_instance(instance)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    /// The fake daemon stops at once, so the instance and the profile are gone when
    /// this returns, as after `delete_instance` and `delete_profile` (unless told to
    /// fail the stop: [`FakeRuntime::fail_released_stops`]).
    #[instrument(skip_all, fields(instance = %instance))]
    async fn release_ephemeral(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::ReleaseEphemeral {
            instance: instance.clone(),
            profile: profile.clone(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.check_member(instance.as_str())?;
            if daemon.failing_stops {
                if let Some(found) = daemon.instances.get_mut(instance.as_str()) {
                    found.profiles.retain(|p| p != profile.as_str());
                }
                return daemon.delete_profile(profile);
            }
            daemon.delete_instance(instance)?;
            daemon.delete_profile(profile)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all)]
    async fn list_resources(&self) -> Result<Vec<Resource>, RuntimeError> {
        let call = RuntimeCall::ListResources;
        match self.enter(&call, |daemon, _| daemon.resources()) {
            Ok(resources) => Ok(resources),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}

#[async_trait]
impl Sessions for FakeRuntime {
    #[instrument(skip_all, fields(instance = %instance))]
    async fn exec_session(
        &self,
        instance: &InstanceName,
        request: &SessionRequest,
        input: &dyn InputSource,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError> {
        let call = RuntimeCall::ExecSession {
            instance: instance.clone(),
            request: request.clone(),
        };
        // As an exec, for the handlers that decide what commands do.
        let mut as_exec = ExecRequest::new(request.command.clone(), call.timeout());
        as_exec.env = request.env.clone();
        as_exec.cwd = request.cwd.clone();
        as_exec.user = request.user;
        as_exec.kill_grace = request.kill_grace;
        let entered = self.enter(&call, |daemon, occurrence| -> ExecDecision {
            daemon.check_exec(instance, &request.command)?;
            Ok(daemon
                .exec_scripts
                .lookup(RuntimeOp::ExecSession, occurrence))
        });
        let script = match entered {
            Err(Fault::Hang) => ExecScript::hanging(),
            Err(fault) => return Err(self.strike(fault, &call).await),
            Ok(Err(error)) => return Err(error),
            Ok(Ok(Some(script))) => script,
            Ok(Ok(None)) => {
                let handlers = self.lock().exec_handlers.clone();
                handlers
                    .iter()
                    .rev()
                    .find_map(|handler| handler(instance, &as_exec))
                    .unwrap_or_default()
            }
        };
        if cancel.is_cancelled() {
            return Err(call.injected(FakeFailure::Cancelled));
        }
        // The input is read while the command runs, and recorded, until it ends or the
        // command does.
        let read_input = async {
            loop {
                let next = input.next_input().await;
                let end = next == SessionInput::End;
                self.lock().session_inputs.push(next);
                if end {
                    return std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            biased;
            ended = self.run(instance, &as_exec, &script, output, cancel, &call) => ended,
            () = read_input => unreachable_end(),
        }
    }
}

#[async_trait]
impl Standbys for FakeRuntime {
    #[instrument(skip_all, fields(instance = %instance))]
    async fn claim_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::ClaimStandby {
            instance: instance.clone(),
            labels: labels.clone(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.claim_standby(instance, expected, labels)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn update_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::UpdateStandby {
            instance: instance.clone(),
            mark: mark.clone(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.update_standby(instance, expected, mark)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn attach_profile(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::AttachProfile {
            instance: instance.clone(),
            profile: profile.clone(),
        };
        match self.enter(&call, |daemon, _| daemon.attach_profile(instance, profile)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}

#[async_trait]
impl StepSnapshots for FakeRuntime {
    #[instrument(skip_all, fields(instance = %instance))]
    async fn snapshot_instance(
        &self,
        instance: &InstanceName,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::SnapshotInstance {
            instance: instance.clone(),
            snapshot: snapshot.to_owned(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.snapshot_instance(instance, snapshot)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn keep_as_step_holder(
        &self,
        instance: &InstanceName,
        keys: &[StepKey],
    ) -> Result<(), RuntimeError> {
        let call = RuntimeCall::KeepAsStepHolder {
            instance: instance.clone(),
            keys: keys.to_vec(),
        };
        match self.enter(&call, |daemon, _| {
            daemon.keep_as_step_holder(instance, keys)
        }) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}

#[async_trait]
impl CacheVolumes for FakeRuntime {
    #[instrument(skip_all)]
    async fn list_volumes(&self) -> Result<Vec<CacheVolume>, RuntimeError> {
        let call = RuntimeCall::ListVolumes;
        match self.enter(&call, |daemon, _| daemon.cache_volumes()) {
            Ok(volumes) => Ok(volumes),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(volume = %spec.name))]
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), RuntimeError> {
        let call = RuntimeCall::CreateVolume { spec: spec.clone() };
        match self.enter(&call, |daemon, _| daemon.create_volume(spec)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(volume = %name))]
    async fn mark_volume(&self, name: &VolumeName, mark: &CacheMark) -> Result<(), RuntimeError> {
        let call = RuntimeCall::MarkVolume {
            name: name.clone(),
            mark: mark.clone(),
        };
        match self.enter(&call, |daemon, _| daemon.mark_volume(name, mark)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(volume = %name))]
    async fn delete_volume(&self, name: &VolumeName) -> Result<(), RuntimeError> {
        let call = RuntimeCall::DeleteVolume { name: name.clone() };
        match self.enter(&call, |daemon, _| daemon.delete_volume(name)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(volume = %name))]
    async fn volume_usage(&self, name: &VolumeName) -> Result<Option<u64>, RuntimeError> {
        let call = RuntimeCall::VolumeUsage { name: name.clone() };
        match self.enter(&call, |daemon, _| daemon.volume_usage(name)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}

#[async_trait]
impl ClusterMembers for FakeRuntime {
    #[instrument(skip_all)]
    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, RuntimeError> {
        let call = RuntimeCall::ClusterMembers;
        match self.enter(&call, |daemon, _| daemon.members.clone()) {
            Ok(members) => Ok(members),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}

#[async_trait]
impl ResourceClasses for FakeRuntime {
    #[instrument(skip_all)]
    async fn host_resources(&self) -> Result<HostResources, RuntimeError> {
        let call = RuntimeCall::HostResources;
        match self.enter(&call, |daemon, _| daemon.host) {
            Ok(host) => Ok(host),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(instance = %instance))]
    async fn limit_counters(&self, instance: &InstanceName) -> Result<LimitReadings, RuntimeError> {
        let call = RuntimeCall::LimitCounters {
            instance: instance.clone(),
        };
        let entered = self.enter(&call, |daemon, _| {
            daemon
                .instances
                .get(instance.as_str())
                .map(|fake| fake.counters)
                .ok_or_else(|| RuntimeError::NotFound {
                    what: "instance",
                    name: instance.to_string(),
                })
        });
        match entered {
            Ok(readings) => readings,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}

#[cfg(test)]
mod tests;

#[async_trait]
impl NetworkPolicies for FakeRuntime {
    #[instrument(skip_all)]
    async fn host_addresses(&self) -> Result<Vec<std::net::IpAddr>, RuntimeError> {
        let call = RuntimeCall::HostAddresses;
        match self.enter(&call, |daemon, _| daemon.host_addresses()) {
            Ok(addresses) => Ok(addresses),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(network = %network.network))]
    async fn ensure_egress(&self, network: &EgressNetwork) -> Result<(), RuntimeError> {
        let call = RuntimeCall::EnsureEgress {
            network: network.clone(),
        };
        match self.enter(&call, |daemon, _| daemon.ensure_egress(network)) {
            Ok(result) => result,
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }

    #[instrument(skip_all, fields(network = %network.network))]
    async fn egress_state(&self, network: &EgressNetwork) -> Result<EgressState, RuntimeError> {
        let call = RuntimeCall::EgressState {
            network: network.clone(),
        };
        match self.enter(&call, |daemon, _| daemon.egress_state(network)) {
            Ok(state) => Ok(state),
            Err(fault) => Err(self.strike(fault, &call).await),
        }
    }
}
