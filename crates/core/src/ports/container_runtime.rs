//! The container daemon as every job needs it: profiles, instances, files and exec.
//!
//! What only some jobs need (standby pools, step snapshots, cache volumes, cluster
//! membership, attached sessions) is a capability port of its own beside this one
//! (`super::capabilities`), so a runtime states what it can do by the traits it
//! implements, and the wiring can refuse a config that needs what it cannot.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{BoxError, Unreachable};
use crate::domain::text::text_enum;
use crate::domain::{
    ExecRequest, FileSpec, InstanceName, Labels, LaunchSpec, MemberName, NetworkRefusal,
    OutputStream, ProfileName, ProfileSpec, StandbyMark, StepKey,
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
    /// ([`StepSnapshots::keep_as_step_holder`](super::StepSnapshots::keep_as_step_holder)): the keys of its step snapshots.
    pub steps: Vec<StepKey>,
}

/// Where the daemon put a new instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The cluster member that runs it; `None` on a daemon that is not clustered.
    pub member: Option<MemberName>,
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
    /// The daemon cannot give a build the network its policy asks for.
    #[error("{detail}")]
    NetworkRefused {
        /// Why, as the operator fixes it (the CLI's hint names the config keys).
        reason: NetworkRefusal,
        /// What the daemon lacks or holds, in words of its own.
        detail: String,
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

    /// Lists every instance and profile (in the adapter's project), each with the
    /// labels it carries, read with [`Labels::read`], an instance's keep mark
    /// ([`mark_kept`](Self::mark_kept)) and a standby's mark. Nothing is filtered here: the
    /// sweep decides what is lxpack's.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn list_resources(&self) -> Result<Vec<Resource>, RuntimeError>;
}
