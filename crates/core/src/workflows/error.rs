//! A workflow error says which step failed, on which instance, with which exit code
//! and the end of the output: Cloud Deploy's `Exception(False, step)` said none of it.

use std::time::Duration;

use crate::domain::JobId;
use crate::domain::{
    AmiId, AppKey, Fingerprint, InstanceName, MemberName, OsIdentity, PlacementTarget,
};
use crate::events::Step;
use crate::ports::{
    AmiCatalogError, AppStoreError, JobHistoryError, RegistryError, ResourceKind, RuntimeError,
};

/// The port error behind a failed step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// From the container runtime.
    #[error(transparent)]
    Runtime(RuntimeError),
    /// From the image registry.
    #[error(transparent)]
    Registry(RegistryError),
    /// From the AMI catalog.
    #[error(transparent)]
    Catalog(AmiCatalogError),
    /// From the app store.
    #[error(transparent)]
    Store(AppStoreError),
    /// From the job history.
    #[error(transparent)]
    History(JobHistoryError),
}

/// A resource that could not be removed after a job.
#[derive(Debug, thiserror::Error)]
#[error("could not remove {kind} {name}: {error}")]
pub struct CleanupFailure {
    /// Instance or profile.
    pub kind: ResourceKind,
    /// Its name.
    pub name: String,
    /// Why.
    pub error: PortError,
}

/// Why a workflow failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The job's start could not be recorded, so it did not run: a sweep could not
    /// have told that it is alive.
    #[error("cannot record the start of job {job}")]
    RecordJobStart {
        /// The job.
        job: JobId,
        /// The cause.
        #[source]
        source: Box<JobHistoryError>,
    },
    /// The app could not be loaded.
    #[error("cannot load app {app}")]
    LoadApp {
        /// The app.
        app: AppKey,
        /// The cause.
        #[source]
        source: Box<AppStoreError>,
    },
    /// The secrets configured for the app (`lxpack.secrets`) do not fit its env vars:
    /// refused before anything is created.
    #[error("lxpack.secrets does not fit app {app}")]
    Secrets {
        /// The app.
        app: AppKey,
        /// What does not fit, naming the env var key (never its value).
        #[source]
        source: crate::domain::SecretError,
    },
    /// The module is not one of the app's.
    #[error("app {app} has no module {module:?} (its modules: {known})")]
    UnknownModule {
        /// The app.
        app: AppKey,
        /// The module asked for.
        module: String,
        /// The app's modules, comma-separated.
        known: String,
    },
    /// The daemon maps a checkout owner when a standby starts (no idmapped mounts),
    /// so its pools are keyed by owner, and none was given or known.
    #[error(
        "app {app}'s standbys must map the checkout owner when they start (this daemon has no idmapped mounts), and no standby of the app says which owner"
    )]
    PoolOwnerNeeded {
        /// The app.
        app: AppKey,
    },
    /// The settings, or the command, need a capability the container runtime lacks.
    #[error(
        "{usage}: this container runtime does not offer {capability}",
        capability = usage.capability()
    )]
    MissingCapability {
        /// What needs it.
        usage: super::CapabilityUse,
    },
    /// The module keeps dependency caches, which are volumes on one cluster member,
    /// while the cluster may place the job's container on any member: refused before
    /// anything is created, since the container could not mount them.
    #[error(
        "module {module} of app {app} keeps dependency caches (lxpack.cache), which live on one cluster member, but {}: name one member in lxpack.runtime.target (the cluster's members: {}), or remove the module's paths from lxpack.cache",
        placement_words(target.as_deref()),
        names(members)
    )]
    CachesNeedOneMember {
        /// The app.
        app: AppKey,
        /// The module.
        module: String,
        /// The configured target: none, or a group (boxed: errors stay small).
        target: Option<Box<PlacementTarget>>,
        /// The cluster's members.
        members: Box<[MemberName]>,
    },
    /// A resource class asks for more than the host has: refused before any job.
    #[error("{key}: {problem}")]
    ClassPastHost {
        /// The config key of the cap, e.g. `lxpack.resources.classes.large.memory`.
        key: String,
        /// What the class asks and what the host has.
        problem: String,
    },
    /// A step was stopped by a cap of its resource class, as the instance's counters
    /// show; the step's own failure is the source.
    #[error("step {step} on {instance} was stopped by resource class {class}: {hit}")]
    LimitHit {
        /// The step.
        step: Step,
        /// The instance.
        instance: InstanceName,
        /// The class.
        class: crate::domain::ClassName,
        /// Which cap, and by how much.
        hit: Box<crate::domain::LimitHit>,
        /// The step's failure (its exit code or timeout, and its output's tail).
        #[source]
        failure: Box<WorkflowError>,
    },
    /// A fill asked for more standbys than a pool may hold.
    #[error("a pool of {size} standbys is more than the {max} a pool may hold")]
    PoolTooLarge {
        /// The size asked for.
        size: usize,
        /// The most a pool may hold.
        max: usize,
    },
    /// Deploy needs an image that buildimage makes.
    #[error("app {app} has no container image yet: buildimage has not run for it")]
    NoContainerImage {
        /// The app.
        app: AppKey,
    },
    /// The app records an image that the daemon's image store no longer has (deleted,
    /// or its alias deleted, by hand).
    #[error(
        "app {app} records image {job}, but the daemon has no image with that alias any more: the image, or its alias, was deleted"
    )]
    ContainerImageMissing {
        /// The app.
        app: AppKey,
        /// The job whose image it records (the alias).
        job: JobId,
    },
    /// Neither an explicit source image nor an OS identity to match one.
    #[error(
        "app {app} has no source container image and no OS was given: set build_infos.source_container_image or give the AMI's OS"
    )]
    NoSourceImage {
        /// The app.
        app: AppKey,
    },
    /// No local image matches the AMI's OS.
    #[error("no image matches {wanted}; candidates: {candidates}")]
    NoMatchingSourceImage {
        /// The OS looked for.
        wanted: OsIdentity,
        /// What the registry holds, described.
        candidates: String,
    },
    /// The AMI must be described but no catalog is configured.
    #[error("no AMI catalog is configured to describe {ami}: configure AWS, or give the AMI's OS")]
    NoAmiCatalog {
        /// The AMI.
        ami: AmiId,
    },
    /// Windows AMIs have no container twin.
    #[error("AMI {ami} runs Windows: containers cannot match it")]
    WindowsAmi {
        /// The AMI.
        ami: AmiId,
    },
    /// A feature needs a provisioner that is not configured.
    #[error(
        "feature {feature:?} uses provisioner {provisioner}, which is not configured: add it under features_provisioners"
    )]
    ProvisionerNotConfigured {
        /// The feature.
        feature: String,
        /// The provisioner.
        provisioner: crate::domain::Provisioner,
    },
    /// A port call failed during a step.
    #[error("step {step} failed{}", on(instance.as_ref()))]
    StepFailed {
        /// The step.
        step: Step,
        /// The instance, once there is one.
        instance: Option<InstanceName>,
        /// The cause.
        #[source]
        source: Box<PortError>,
    },
    /// A command exited non-zero.
    #[error(
        "step {step} failed on {instance}: exit code {exit_code}{}",
        tail(output_tail)
    )]
    CommandFailed {
        /// The step.
        step: Step,
        /// The instance.
        instance: InstanceName,
        /// The exit code.
        exit_code: i32,
        /// The last lines of output.
        output_tail: String,
    },
    /// A step ran out of time; its command was signalled.
    #[error("step {step} timed out after {after:?}{}{}", on(instance.as_ref()), tail(output_tail))]
    TimedOut {
        /// The step.
        step: Step,
        /// The instance.
        instance: Option<InstanceName>,
        /// The limit.
        after: Duration,
        /// The last lines of output.
        output_tail: String,
    },
    /// The job was cancelled; a running command was signalled.
    #[error("cancelled during step {step}{}", on(instance.as_ref()))]
    Cancelled {
        /// The step.
        step: Step,
        /// The instance.
        instance: Option<InstanceName>,
    },
    /// The instance never answered commands.
    #[error("instance {instance} was not ready after {after:?}: {last_problem}")]
    NotReady {
        /// The instance.
        instance: InstanceName,
        /// How long lxpack waited.
        after: Duration,
        /// The last probe's problem.
        last_problem: String,
    },
    /// The image was published but could not be recorded, and rolling it back failed
    /// too: it is still in the store.
    #[error(
        "image {fingerprint} was published but not recorded on the app, and could not be deleted"
    )]
    HalfPublished {
        /// The image left.
        fingerprint: Fingerprint,
        /// Why recording failed.
        #[source]
        record_error: Box<WorkflowError>,
    },
    /// `lxpack shell`: neither the history nor the daemon knows the job.
    #[error("no job {job} in the job history, and no instance on the daemon carries its label")]
    JobNotFound {
        /// The job asked for.
        job: JobId,
    },
    /// `lxpack shell`: the job is still running; what it made is removed or kept when
    /// it ends.
    #[error("job {job} is still running: its container is removed, or kept, when it ends")]
    JobStillRunning {
        /// The job.
        job: JobId,
    },
    /// `lxpack shell`: the job kept no container.
    #[error("job {job} ({status}) kept no container")]
    NothingKept {
        /// The job.
        job: JobId,
        /// How it ended.
        status: crate::domain::JobStatus,
    },
    /// `lxpack shell`: the job kept an instance that the daemon no longer has.
    #[error(
        "job {job} kept instance {instance}, but the daemon no longer has it: removed by a sweep after its expiry, or by hand"
    )]
    KeptInstanceGone {
        /// The job.
        job: JobId,
        /// The instance it kept.
        instance: InstanceName,
    },
    /// Cleanup failed, after the job succeeded or after it failed with `original`.
    #[error("{}", cleanup_message(original.as_deref(), failures))]
    Cleanup {
        /// The job's own error, if it failed.
        #[source]
        original: Option<Box<WorkflowError>>,
        /// What could not be removed.
        failures: Vec<CleanupFailure>,
    },
}

impl WorkflowError {
    /// The job's own error: for a cleanup failure, the error it followed (if any).
    #[must_use]
    pub fn primary(&self) -> &Self {
        match self {
            Self::Cleanup {
                original: Some(original),
                ..
            } => original.primary(),
            other => other,
        }
    }

    /// True when the job was cancelled.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self.primary(), Self::Cancelled { .. })
    }
}

fn on(instance: Option<&InstanceName>) -> String {
    instance.map(|i| format!(" on {i}")).unwrap_or_default()
}

/// `m1, m2, m3`.
fn names(members: &[MemberName]) -> String {
    members
        .iter()
        .map(MemberName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the cluster places a container under `target` (none, or a group).
fn placement_words(target: Option<&PlacementTarget>) -> String {
    match target {
        None => "lxpack.runtime.target is not set, so the cluster places the job's container on any member".to_owned(),
        Some(target) => format!(
            "lxpack.runtime.target is {target}, so the cluster places the job's container on any member of the group"
        ),
    }
}

fn tail(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("; last output:\n{output}")
    }
}

fn cleanup_message(original: Option<&WorkflowError>, failures: &[CleanupFailure]) -> String {
    let what: Vec<String> = failures.iter().map(ToString::to_string).collect();
    let when = if original.is_some() {
        "the job failed, and cleanup failed too"
    } else {
        "the job succeeded, but cleanup failed"
    };
    format!("{when}: {}", what.join("; "))
}
