//! The container daemon as the workflows see it: profiles, instances, files and exec.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxError, Unreachable};
use crate::domain::text::text_enum;
use crate::domain::{
    CacheMark, CacheVolume, ClusterMember, ExecRequest, FileSpec, InstanceName, Labels, LaunchSpec,
    MemberName, OutputStream, ProfileName, ProfileSpec, SessionInput, SessionRequest, StandbyMark,
    StepKey, VolumeName,
};

/// What the daemon is and can do, as far as the workflows care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The product's name, for people (`LXD`, `Incus`, `fake`…).
    pub product: String,
    /// Its version.
    pub version: String,
    /// Whether a writable mount's files can keep their host owner through the kernel's
    /// idmapped mounts (otherwise the adapter maps the owner's ids into the container
    /// instead, which the host must allow).
    pub can_shift_mounts: bool,
}

/// Receives command output as it arrives.
///
/// Called from the adapter's reading task for every chunk, in order per stream. It
/// must not block for long: it is on the path between the daemon and the user.
pub trait OutputSink: Send + Sync {
    /// One chunk of output.
    fn output(&self, stream: OutputStream, bytes: &[u8]);
}

/// Gives a session its input as the caller's side produces it: bytes, window
/// resizes, and the end of input.
///
/// Called from the adapter's task that feeds the command; it waits until there is
/// something to send.
#[async_trait]
pub trait InputSource: Send + Sync {
    /// The next input. After [`SessionInput::End`] it is not called again.
    async fn next_input(&self) -> SessionInput;
}

text_enum! {
    /// What kind of resource a [`Resource`] is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum ResourceKind as "resource kind" {
        /// An instance.
        Instance = "instance",
        /// A profile.
        Profile = "profile",
        /// A storage volume (a cache).
        Volume = "volume",
    }
}

/// An instance or profile on the daemon, with lxpack's labels when it carries valid
/// ones. Whether it is lxpack's to remove is the sweep's decision, not the adapter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Instance or profile.
    pub kind: ResourceKind,
    /// Its name.
    pub name: String,
    /// Its labels, when all are present and valid ([`Labels::read`]).
    pub labels: Option<Labels>,
    /// For an instance kept for inspection ([`ContainerRuntime::mark_kept`]): until
    /// when it is kept.
    pub kept_until: Option<SystemTime>,
    /// The cluster member that holds an instance; `None` for a profile (cluster-wide)
    /// and on a daemon that is not clustered.
    pub member: Option<MemberName>,
    /// For an instance started as a standby: its mark, read with
    /// [`StandbyMark::read`] (it stays after a deploy claims it).
    pub standby: Option<StandbyMark>,
    /// For a buildimage instance kept as a step holder
    /// ([`ContainerRuntime::keep_as_step_holder`]): the keys of its step snapshots.
    pub steps: Vec<StepKey>,
}

/// Where the daemon put a new instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The cluster member that runs it; `None` on a daemon that is not clustered.
    pub member: Option<MemberName>,
}

/// A cache volume to create: empty, or a copy of another (copy-on-write where the
/// daemon's storage can).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Its name (the mark's [`CacheMark::volume`]).
    pub name: VolumeName,
    /// The volume to copy; `None` for an empty one.
    pub copy_of: Option<VolumeName>,
    /// Its mark.
    pub mark: CacheMark,
    /// The most it may hold, in bytes, where the daemon's storage can enforce it.
    pub quota: Option<u64>,
}

/// Errors of [`ContainerRuntime`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The daemon could not be reached.
    #[error("{0}")]
    Unreachable(Unreachable),
    /// The named instance or profile does not exist.
    #[error("{what} {name} does not exist")]
    NotFound {
        /// `instance` or `profile`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The named instance or profile exists already.
    #[error("{what} {name} already exists")]
    AlreadyExists {
        /// `instance` or `profile`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A profile or a volume is still used by an instance.
    #[error("{what} {name} is still used by an instance")]
    InUse {
        /// `profile` or `volume`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The image to launch from was not found.
    #[error("image {image} was not found")]
    ImageNotFound {
        /// The image reference, as text.
        image: String,
    },
    /// The operation did not finish in time; a running command was signalled.
    #[error("{operation} timed out after {after:?}")]
    TimedOut {
        /// What was running.
        operation: String,
        /// The limit.
        after: Duration,
    },
    /// The operation was cancelled; a running command was signalled.
    #[error("{operation} was cancelled")]
    Cancelled {
        /// What was running.
        operation: String,
    },
    /// The daemon refused the request, with its own message.
    #[error("{operation} failed: {message}")]
    Rejected {
        /// What lxpack was doing.
        operation: String,
        /// The daemon's message.
        message: String,
    },
    /// The instance is no longer what the caller read: another job claimed or retired
    /// the standby first.
    #[error("{name} changed since it was read: {reason}")]
    Changed {
        /// The instance.
        name: String,
        /// What changed.
        reason: String,
    },
    /// The daemon cannot do what the job needs, for a reason the operator can fix.
    #[error("{what}")]
    Unsupported {
        /// What cannot be done, and why.
        what: String,
        /// How to fix it.
        hint: String,
    },
    /// Anything else.
    #[error("{operation} failed")]
    Other {
        /// What lxpack was doing.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

/// The container daemon: LXD, Incus, or a fake.
///
/// Every call has a deadline of its own inside the adapter (config `timeout`); the
/// long ones (launch, exec) also take an explicit limit and a cancellation token.
#[async_trait]
pub trait ContainerRuntime: Send + Sync {
    /// What the daemon is and can do.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn server_info(&self) -> Result<ServerInfo, RuntimeError>;

    /// Creates a profile with the given disk mounts and labels. A writable mount with
    /// an `owner` is mapped so that files created through it belong to that owner on
    /// the host.
    ///
    /// # Errors
    /// `AlreadyExists` when a profile of that name exists (it is left untouched);
    /// `Rejected` when the daemon refuses a mount.
    async fn create_profile(&self, profile: &ProfileSpec) -> Result<(), RuntimeError>;

    /// Deletes a profile.
    ///
    /// # Errors
    /// `NotFound` when it does not exist; `InUse` while an instance uses it.
    async fn delete_profile(&self, name: &ProfileName) -> Result<(), RuntimeError>;

    /// Creates the instance, with its own profile after the daemon's base profile and
    /// its labels, and starts it; says where it runs. When this fails after the
    /// instance was created, the instance may exist: the caller deletes it as usual.
    ///
    /// # Errors
    /// `AlreadyExists` when an instance of that name exists; `ImageNotFound` when the
    /// image cannot be found or pulled; `TimedOut` after `spec.timeout`; `Cancelled`
    /// when `cancel` fires; `NotFound` when a listed profile does not exist;
    /// `Unreachable` when the cluster member it was placed on cannot be reached.
    async fn launch_instance(
        &self,
        spec: &LaunchSpec,
        cancel: &CancellationToken,
    ) -> Result<Placement, RuntimeError>;

    /// Writes a file into a running instance, replacing any file at that path.
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist; `Rejected` when the parent
    /// directory does not exist.
    async fn push_file(&self, instance: &InstanceName, file: &FileSpec)
    -> Result<(), RuntimeError>;

    /// Runs a command, streaming its output to `output` as it arrives, and returns its
    /// exit code (non-zero codes are not errors). Nothing holds the whole output.
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist or is not running; `TimedOut` after
    /// `request.timeout` and `Cancelled` when `cancel` fires: in both cases the command
    /// was sent SIGTERM, then SIGKILL after a grace period, before the call returns.
    async fn exec(
        &self,
        instance: &InstanceName,
        request: &ExecRequest,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError>;

    /// Runs a command attached to the caller's input and output (a person's shell):
    /// input from `input` as it comes, window resizes passed on when
    /// `request.terminal` asks for a pseudo-terminal, output to `output` as it
    /// arrives. Returns the command's exit code (non-zero codes are not errors).
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist or is not running; `TimedOut` after
    /// `request.timeout` and `Cancelled` when `cancel` fires: in both cases the command
    /// was sent SIGTERM, then SIGKILL after `request.kill_grace`, before the call
    /// returns. `Unsupported` from a runtime that cannot attach to a command (the
    /// default).
    async fn exec_session(
        &self,
        instance: &InstanceName,
        request: &SessionRequest,
        input: &dyn InputSource,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError> {
        let _ = (request, input, output, cancel);
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot attach a session to {instance}"),
            hint: "use a runtime that implements exec_session".into(),
        })
    }

    /// Marks an instance as kept for inspection until `until`, where
    /// [`list_resources`](Self::list_resources) reads it back (`kept_until`), so a sweep
    /// from any host that shares the daemon spares it until then.
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist.
    async fn mark_kept(
        &self,
        instance: &InstanceName,
        until: SystemTime,
    ) -> Result<(), RuntimeError>;

    /// Stops an instance: it is asked to shut down cleanly for at most `graceful`, then
    /// forced; with `graceful = None` it is forced at once. Stopping a stopped instance
    /// succeeds.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    async fn stop_instance(
        &self,
        instance: &InstanceName,
        graceful: Option<Duration>,
    ) -> Result<(), RuntimeError>;

    /// Deletes an instance, forcing it to stop first if it runs.
    ///
    /// # Errors
    /// `NotFound` when it does not exist.
    async fn delete_instance(&self, instance: &InstanceName) -> Result<(), RuntimeError>;

    /// Ends a running ephemeral `instance` without waiting for it to stop: detaches
    /// `profile` from it and deletes that profile (so nothing it mounted stays
    /// mounted), then asks the daemon to stop the instance, which deletes it as
    /// ephemeral instances are. Returns once the daemon has taken the stop; the
    /// instance may still exist for a moment after.
    ///
    /// The default waits instead: [`delete_instance`](Self::delete_instance), then
    /// [`delete_profile`](Self::delete_profile). An implementation may also fall back
    /// to that for an instance that is not ephemeral or not running.
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist; otherwise as `delete_instance` and
    /// `delete_profile`.
    async fn release_ephemeral(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        self.delete_instance(instance).await?;
        self.delete_profile(profile).await
    }

    /// Claims a standby for a job, in one atomic step: `instance` gets the job's
    /// `labels`, only if it is still the unclaimed standby it was read as
    /// ([`unchanged_standby`](crate::domain::unchanged_standby) of `expected`). A
    /// claimed standby is the job's instance: it keeps its name and its mark.
    ///
    /// # Errors
    /// `Changed` when another job claimed it or its mark changed first; `NotFound`
    /// when it is gone; `Unsupported` from a runtime without standbys (the default).
    async fn claim_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        let _ = (expected, labels);
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot claim the standby {instance}"),
            hint: "use a runtime that implements claim_standby, or set lxpack.pool.size to 0"
                .into(),
        })
    }

    /// Replaces a standby's mark with `mark` (ready, or retiring), in one atomic
    /// step, only if it is still the unclaimed standby it was read as
    /// ([`unchanged_standby`](crate::domain::unchanged_standby) of `expected`).
    ///
    /// # Errors
    /// `Changed` when a job claimed it or its mark changed first; `NotFound` when it
    /// is gone; `Unsupported` from a runtime without standbys (the default).
    async fn update_standby(
        &self,
        instance: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        let _ = (expected, mark);
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot mark the standby {instance}"),
            hint: "use a runtime that implements update_standby".into(),
        })
    }

    /// Adds `profile` to the running `instance`'s profiles: its disks appear in the
    /// instance at once, their owners mapped as
    /// [`create_profile`](Self::create_profile) says.
    ///
    /// # Errors
    /// `NotFound` when the instance or the profile does not exist; `Rejected` when the
    /// daemon cannot add a device to a running instance; `Unsupported` from a runtime
    /// that cannot (the default).
    async fn attach_profile(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot add {profile} to the running {instance}"),
            hint: "use a runtime that implements attach_profile, or set lxpack.pool.size to 0"
                .into(),
        })
    }

    /// Lists every instance and profile (in the adapter's project), each with the
    /// labels it carries, read with [`Labels::read`], an instance's keep mark
    /// ([`mark_kept`](Self::mark_kept)) and a standby's mark. Nothing is filtered here: the
    /// sweep decides what is lxpack's.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn list_resources(&self) -> Result<Vec<Resource>, RuntimeError>;

    /// Snapshots the running `instance` (its files, not its memory) as `snapshot`;
    /// an instance can later be launched from it
    /// ([`LaunchSpec::from_snapshot`](crate::domain::LaunchSpec::from_snapshot)).
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist; `AlreadyExists` when it has a
    /// snapshot of that name; `Unsupported` from a runtime without snapshots (the
    /// default).
    async fn snapshot_instance(
        &self,
        instance: &InstanceName,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot snapshot {instance} as {snapshot}"),
            hint: "use a runtime that implements snapshot_instance, or set lxpack.buildimage.step_snapshots to false".into(),
        })
    }

    /// Keeps the stopped `instance` as a step holder: leaves it only the daemon's base
    /// profiles (so its own can then be deleted) and labels it with the keys of the
    /// step snapshots it holds ([`Resource::steps`]).
    ///
    /// # Errors
    /// `NotFound` when the instance does not exist; `Unsupported` from a runtime
    /// without snapshots (the default).
    async fn keep_as_step_holder(
        &self,
        instance: &InstanceName,
        keys: &[StepKey],
    ) -> Result<(), RuntimeError> {
        let _ = keys;
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot keep {instance} as a step holder"),
            hint: "use a runtime that implements keep_as_step_holder, or set lxpack.buildimage.step_snapshots to false".into(),
        })
    }

    /// Lists the storage volumes where the runtime keeps caches, each with its cache
    /// mark when it carries a valid one ([`CacheMark::read`]). Nothing is filtered:
    /// the workflows decide what is lxpack's. Empty from a runtime without volumes
    /// (the default).
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn list_volumes(&self) -> Result<Vec<CacheVolume>, RuntimeError> {
        Ok(Vec::new())
    }

    /// Creates a cache volume, empty or as a copy of `spec.copy_of`, with its mark and
    /// quota; mounted through a [`MountSource::Volume`](crate::domain::MountSource)
    /// disk.
    ///
    /// # Errors
    /// `AlreadyExists` when a volume of that name exists; `NotFound` when the volume
    /// to copy is gone; `Unsupported` from a runtime without volumes (the default).
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unsupported {
            what: format!(
                "this container runtime cannot create the cache volume {}",
                spec.name
            ),
            hint:
                "use a runtime that implements create_volume, or declare no caches (lxpack.cache)"
                    .into(),
        })
    }

    /// Replaces a cache volume's mark (a copy made current).
    ///
    /// # Errors
    /// `NotFound` when it is gone; `Unsupported` from a runtime without volumes (the
    /// default).
    async fn mark_volume(&self, name: &VolumeName, mark: &CacheMark) -> Result<(), RuntimeError> {
        let _ = mark;
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot mark the cache volume {name}"),
            hint: "use a runtime that implements mark_volume".into(),
        })
    }

    /// Deletes a cache volume.
    ///
    /// # Errors
    /// `NotFound` when it is gone; `InUse` while an instance (or a profile) mounts
    /// it; `Unsupported` from a runtime without volumes (the default).
    async fn delete_volume(&self, name: &VolumeName) -> Result<(), RuntimeError> {
        Err(RuntimeError::Unsupported {
            what: format!("this container runtime cannot delete the cache volume {name}"),
            hint: "use a runtime that implements delete_volume".into(),
        })
    }

    /// The bytes a volume holds, when the daemon's storage can tell (btrfs, zfs, lvm:
    /// yes; a dir pool: `None`, the default).
    ///
    /// # Errors
    /// `NotFound` when it is gone.
    async fn volume_usage(&self, name: &VolumeName) -> Result<Option<u64>, RuntimeError> {
        let _ = name;
        Ok(None)
    }

    /// The members of the daemon's cluster, with their state; empty when the daemon
    /// is not clustered (the default).
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, RuntimeError> {
        Ok(Vec::new())
    }
}
