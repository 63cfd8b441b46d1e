//! Workflows report progress as typed events rather than log lines, so that the CLI
//! can render a terminal, a JSON stream or a job log from one source, and tests can
//! assert on exactly what a user would see.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::domain::{
    AclName, GuestPath, InstanceName, JobId, MemberName, NetworkMode, NetworkName, OutputStream,
    PolicyScope, PoolId, ProfileName, Provisioner, ResourceClass,
};

/// A step of a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Ask the AMI catalog about the AMI.
    DescribeAmi,
    /// Pick the image the container starts from.
    ChooseSourceImage,
    /// Create the profile with the mounts.
    CreateProfile,
    /// Create and start the instance.
    Launch,
    /// Probe until the instance runs commands.
    WaitReady,
    /// Copy hook and buildpack scripts into the instance.
    DeliverScripts,
    /// Install a provisioner.
    Bootstrap(Provisioner),
    /// The `pre_buildimage` hook.
    PreBuildImageHook,
    /// Apply one provisioner's features.
    Features(Provisioner),
    /// The `post_buildimage` hook.
    PostBuildImageHook,
    /// Remove the delivered scripts before publishing.
    RemoveScripts,
    /// Stop the instance.
    Stop,
    /// Publish the image.
    Publish,
    /// Record the image on the app.
    RecordImage,
    /// Delete the app's images that retention lets go.
    Retention,
    /// List the apps and their images.
    ListImages,
    /// Run the module's buildpack.
    Buildpack,
    /// Delete the instance and the profile.
    Cleanup,
    /// Find a kept instance, or run a session in it (`lxpack shell`).
    Shell,
    /// Claim a waiting standby of the app's pool.
    ClaimStandby,
    /// Add the job's profile (its mounts) to a running standby.
    AttachProfile,
    /// List, start or retire the standbys of a pool.
    Pool,
    /// Give the job its own copy of each of its module's caches.
    RestoreCache,
    /// Make a successful job's copies the caches, or drop a failed job's.
    SaveCache,
    /// List or purge the caches.
    Caches,
    /// Snapshot buildimage's instance after a step.
    Snapshot,
    /// Mount the secrets' tmpfs and write their files (files delivery).
    DeliverSecrets,
    /// Unmount the secrets' tmpfs.
    RemoveSecrets,
    /// Make the daemon hold the job's egress network and its ACL.
    Network,
}

impl Step {
    /// A stable key for the step, for records and metrics: lower-case words joined by
    /// `_` (`describe_ami`, `features_salt`, `buildpack`).
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::DescribeAmi => "describe_ami".into(),
            Self::ChooseSourceImage => "choose_source_image".into(),
            Self::CreateProfile => "create_profile".into(),
            Self::Launch => "launch".into(),
            Self::WaitReady => "wait_ready".into(),
            Self::DeliverScripts => "deliver_scripts".into(),
            Self::Bootstrap(p) => format!("bootstrap_{p}"),
            Self::PreBuildImageHook => "pre_buildimage_hook".into(),
            Self::Features(p) => format!("features_{p}"),
            Self::PostBuildImageHook => "post_buildimage_hook".into(),
            Self::RemoveScripts => "remove_scripts".into(),
            Self::Stop => "stop".into(),
            Self::Publish => "publish".into(),
            Self::RecordImage => "record_image".into(),
            Self::Retention => "retention".into(),
            Self::ListImages => "list_images".into(),
            Self::Buildpack => "buildpack".into(),
            Self::Cleanup => "cleanup".into(),
            Self::Shell => "shell".into(),
            Self::ClaimStandby => "claim_standby".into(),
            Self::AttachProfile => "attach_profile".into(),
            Self::Pool => "pool".into(),
            Self::RestoreCache => "restore_cache".into(),
            Self::SaveCache => "save_cache".into(),
            Self::Caches => "caches".into(),
            Self::Snapshot => "snapshot".into(),
            Self::DeliverSecrets => "deliver_secrets".into(),
            Self::RemoveSecrets => "remove_secrets".into(),
            Self::Network => "network".into(),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DescribeAmi => f.write_str("describe AMI"),
            Self::ChooseSourceImage => f.write_str("choose source image"),
            Self::CreateProfile => f.write_str("create profile"),
            Self::Launch => f.write_str("launch"),
            Self::WaitReady => f.write_str("wait until ready"),
            Self::DeliverScripts => f.write_str("deliver scripts"),
            Self::Bootstrap(p) => write!(f, "bootstrap {p}"),
            Self::PreBuildImageHook => f.write_str("pre_buildimage hook"),
            Self::Features(p) => write!(f, "{p} features"),
            Self::PostBuildImageHook => f.write_str("post_buildimage hook"),
            Self::RemoveScripts => f.write_str("remove scripts"),
            Self::Stop => f.write_str("stop"),
            Self::Publish => f.write_str("publish"),
            Self::RecordImage => f.write_str("record image"),
            Self::Retention => f.write_str("retention"),
            Self::ListImages => f.write_str("list images"),
            Self::Buildpack => f.write_str("buildpack"),
            Self::Cleanup => f.write_str("cleanup"),
            Self::Shell => f.write_str("shell"),
            Self::ClaimStandby => f.write_str("claim standby"),
            Self::AttachProfile => f.write_str("attach profile"),
            Self::Pool => f.write_str("pool"),
            Self::RestoreCache => f.write_str("restore cache"),
            Self::SaveCache => f.write_str("save cache"),
            Self::Caches => f.write_str("caches"),
            Self::Snapshot => f.write_str("snapshot"),
            Self::DeliverSecrets => f.write_str("deliver secrets"),
            Self::RemoveSecrets => f.write_str("remove secrets"),
            Self::Network => f.write_str("network"),
        }
    }
}

/// Something a workflow reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A step began.
    StepStarted {
        /// The step.
        step: Step,
    },
    /// A step ended.
    StepFinished {
        /// The step.
        step: Step,
        /// How long it took.
        duration: Duration,
        /// Whether it succeeded.
        succeeded: bool,
    },
    /// Output of a command run by a step, as it arrived.
    Output {
        /// The step.
        step: Step,
        /// stdout or stderr.
        stream: OutputStream,
        /// The bytes, not necessarily whole lines.
        bytes: Vec<u8>,
    },
    /// Something the user should know that does not stop the job.
    Warning {
        /// The message.
        message: String,
    },
    /// A module was not built.
    ModuleSkipped {
        /// The module.
        module: String,
        /// Why.
        reason: String,
    },
    /// The job's instance was released without waiting for its stop (`cleanup:
    /// background`): its profile is gone, and the daemon deletes it once stopped. The
    /// next job or sweep confirms it went.
    Released {
        /// The instance.
        instance: InstanceName,
    },
    /// The job runs in a standby of the app's pool, started ahead of time.
    StandbyClaimed {
        /// The standby, now the job's instance.
        instance: InstanceName,
        /// Its pool.
        pool: PoolId,
        /// How long it had waited.
        waited: Duration,
    },
    /// The app has a pool, but the job starts a container of its own.
    ColdStart {
        /// Why no standby served it.
        reason: String,
    },
    /// The cluster placed the job's instance on a member.
    Placed {
        /// The instance.
        instance: InstanceName,
        /// The member that runs it.
        member: MemberName,
    },
    /// The job got its own copy of a cache: of the generation `from` left, or an
    /// empty one when the cache had none.
    CacheRestored {
        /// The path in the container.
        path: GuestPath,
        /// The job whose generation it copies; `None` for a new, empty cache.
        from: Option<JobId>,
    },
    /// The job's copy became the cache (or was dropped, and why).
    CacheSaved {
        /// The path in the container.
        path: GuestPath,
        /// True when the copy is the cache now.
        saved: bool,
        /// What happened, for people (what it replaced, or why it was dropped).
        detail: String,
    },
    /// buildimage starts from an earlier build's snapshot: these steps, unchanged
    /// since, do not run again.
    StepsFromSnapshot {
        /// The steps taken from the snapshot, in order.
        steps: Vec<Step>,
        /// The build whose snapshot it is.
        job: JobId,
    },
    /// How the job's instance is connected: its policy's mode, whose policy it is,
    /// and for `egress` the bridge and ACL.
    Network {
        /// The mode.
        mode: NetworkMode,
        /// Whose policy it is.
        scope: PolicyScope,
        /// The bridge and ACL (mode `egress` only).
        egress: Option<(NetworkName, AclName)>,
    },
    /// The resource class the job's instance runs under (its caps).
    ResourceClass {
        /// The class.
        class: ResourceClass,
    },
    /// Resources were left in place on request (keep, debug, or keep-on-failure after
    /// a failure); a sweep spares them until `until`, then removes them.
    ResourcesKept {
        /// The instance left.
        instance: InstanceName,
        /// The profile left.
        profile: ProfileName,
        /// When they expire.
        until: SystemTime,
    },
}

/// Receives a workflow's events. It must not block for long.
pub trait EventSink: Send + Sync {
    /// One event.
    fn emit(&self, event: Event);
}

/// A sink that drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardEvents;

impl EventSink for DiscardEvents {
    fn emit(&self, _event: Event) {}
}
