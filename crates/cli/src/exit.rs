//! Each class of failure has its own exit code, so scripts can react to "the daemon is
//! down" differently from "the buildpack failed". The table is documented in
//! docs/operator-guide.md; keep them in step.

use std::process::ExitCode;

use lxpack_core::domain::NetworkRefusal;
use lxpack_core::events::Step;
use lxpack_core::ports::{
    AmiCatalogError, AppStoreError, RegistryError, ResourceKind, RuntimeError,
};
use lxpack_core::workflows::{CapabilityUse, PortError, Timeouts, WorkflowError};

/// The classes of outcome, with their exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// 1: anything not classified below.
    Failure,
    /// 2: a bad command line (clap's own code).
    Usage,
    /// 3: the config file is missing or wrong.
    Config,
    /// 4: a bad input: app file, unknown app or module, missing checkout.
    Input,
    /// 5: the container daemon cannot be reached, or refuses access.
    Daemon,
    /// 6: no suitable image: no source image, no container image yet.
    Image,
    /// 7: a step failed: a hook, the features or the buildpack exited non-zero.
    Step,
    /// 8: a step ran out of time.
    Timeout,
    /// 9: the job's resources could not all be removed.
    Cleanup,
    /// 10: AWS: credentials, access, AMI not found.
    Aws,
    /// 11: the app store.
    Store,
    /// 12: `lxpack doctor` found a problem.
    Doctor,
    /// 13: the daemon refused or failed an operation it was asked for: an image server
    /// it cannot reach, a profile or instance it rejects, an instance that does not
    /// start or never answers. Infrastructure, never the build's fault (that is 7).
    Infrastructure,
    /// 14: a step was stopped by a cap of its resource class (out of memory, the
    /// process limit), as the instance's counters show: the build's fault, like 7,
    /// but one a bigger class may cure.
    ResourceLimit,
    /// 130: cancelled with Ctrl-C.
    Cancelled,
}

impl ExitClass {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Config => 3,
            Self::Input => 4,
            Self::Daemon => 5,
            Self::Image => 6,
            Self::Step => 7,
            Self::Timeout => 8,
            Self::Cleanup => 9,
            Self::Aws => 10,
            Self::Store => 11,
            Self::Doctor => 12,
            Self::Infrastructure => 13,
            Self::ResourceLimit => 14,
            Self::Cancelled => 130,
        }
    }

    /// A stable name for machines (`--json`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Usage => "usage",
            Self::Config => "config",
            Self::Input => "input",
            Self::Daemon => "daemon",
            Self::Image => "image",
            Self::Step => "step",
            Self::Timeout => "timeout",
            Self::Cleanup => "cleanup",
            Self::Aws => "aws",
            Self::Store => "store",
            Self::Doctor => "doctor",
            Self::Infrastructure => "infrastructure",
            Self::ResourceLimit => "resource_limit",
            Self::Cancelled => "cancelled",
        }
    }

    /// As an [`ExitCode`].
    #[must_use]
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }
}

/// An error as the CLI reports it: its class (exit code), the error with its chain of
/// causes, and a hint.
#[derive(Debug)]
pub struct CliError {
    /// What kind of failure.
    pub class: ExitClass,
    /// The error; `main` prints it and walks its causes.
    pub error: Box<dyn std::error::Error + Send + Sync>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CliError {
    /// A failure of `class`; a `String` or any error converts into `error`.
    pub fn new(
        class: ExitClass,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            class,
            error: error.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl From<WorkflowError> for CliError {
    fn from(error: WorkflowError) -> Self {
        let (class, hint) = classify_workflow(error.primary());
        let class = match (&error, class) {
            (WorkflowError::Cleanup { original: None, .. }, _) => ExitClass::Cleanup,
            (_, class) => class,
        };
        // What the job left, and how to remove it: after the primary error's hint
        // when there is one (a daemon that died mid-job must be started before its
        // leftovers can go).
        let leftovers = match &error {
            WorkflowError::Cleanup { failures, .. } if !failures.is_empty() => Some(
                failures
                    .iter()
                    .map(|f| remove_command(f.kind, &f.name))
                    .collect::<Vec<_>>()
                    .join("; ")
                    + " (with Incus: incus instead of lxc), or `lxpack gc`",
            ),
            _ => None,
        };
        let hint = match (hint, leftovers) {
            (Some(hint), Some(leftovers)) => Some(format!(
                "{hint}; then remove what the job left: {leftovers}"
            )),
            (hint, leftovers) => hint.or(leftovers),
        };
        Self {
            class,
            error: Box::new(error),
            hint,
        }
    }
}

/// The command that removes one resource by hand.
fn remove_command(kind: ResourceKind, name: &str) -> String {
    match kind {
        ResourceKind::Profile => format!("lxc profile delete {name}"),
        ResourceKind::Volume => format!("lxc storage volume delete POOL {name}"),
        _ => format!("lxc delete --force {name}"),
    }
}

/// How to remove a kept instance and its profile by hand.
#[must_use]
pub fn how_to_remove(instance: &str, profile: &str) -> String {
    format!(
        "{} && {} (with Incus: incus instead of lxc), or `lxpack gc`",
        remove_command(ResourceKind::Instance, instance),
        remove_command(ResourceKind::Profile, profile)
    )
}

fn classify_workflow(error: &WorkflowError) -> (ExitClass, Option<String>) {
    match error {
        WorkflowError::RecordJobStart { .. } => (
            ExitClass::Store,
            Some("the job did not start: check that the store (--store, lxpack.store) is writable and not corrupt".into()),
        ),
        WorkflowError::LoadApp { source, .. } => match source.as_ref() {
            AppStoreError::AppNotFound { .. } => (
                ExitClass::Input,
                Some("list the apps with `lxpack app list`, or import one with `lxpack app import FILE`".into()),
            ),
            _ => (ExitClass::Store, None),
        },
        WorkflowError::UnknownModule { .. } => (ExitClass::Input, None),
        WorkflowError::NoContainerImage { .. }
        | WorkflowError::ContainerImageMissing { .. }
        | WorkflowError::NoSourceImage { .. }
        | WorkflowError::NoMatchingSourceImage { .. } => (ExitClass::Image, image_hint(error)),
        WorkflowError::NoAmiCatalog { .. } => (
            ExitClass::Config,
            Some("configure lxpack.aws in the config, or pass --os FAMILY/RELEASE".into()),
        ),
        WorkflowError::CachesNeedOneMember { .. } => (
            ExitClass::Config,
            Some("set lxpack.runtime.target to one member (`lxc cluster list`, `incus cluster list` show them): its caches and its containers are then made there; or remove the module from lxpack.cache.apps".into()),
        ),
        WorkflowError::Secrets { app, .. } => (
            ExitClass::Config,
            Some(format!(
                "fix lxpack.secrets.apps.{app} (or lxpack.secrets.patterns) in the config, or the app's env_vars"
            )),
        ),
        WorkflowError::ProvisionerNotConfigured { provisioner, .. } => (
            ExitClass::Config,
            Some(format!(
                "set features_provisioners.{provisioner}.path in the config to the host directory holding its formulas (a checkout of its git_repo)"
            )),
        ),
        WorkflowError::StepFailed { step, source, .. } => classify_port(*step, source),
        WorkflowError::CommandFailed { .. } => (ExitClass::Step, None),
        WorkflowError::LimitHit { class, hit, .. } => (
            ExitClass::ResourceLimit,
            Some(format!(
                "raise {} of resource class {class} (lxpack.resources.classes.{class}.{}), or give the app or module a bigger class under lxpack.resources.apps",
                hit.field(),
                hit.field()
            )),
        ),
        WorkflowError::ClassPastHost { .. } => (
            ExitClass::Config,
            Some("lower the cap to what the host has (`lxc info --resources`, `incus info --resources` show it)".into()),
        ),
        WorkflowError::NotReady { .. } => (
            ExitClass::Infrastructure,
            Some("the instance started but never ran a command: check the image (it needs /bin/sh and `true`) and the daemon's log; raise lxpack.timeouts.ready on a slow host".into()),
        ),
        WorkflowError::TimedOut { step, .. } => (ExitClass::Timeout, Some(timeout_hint(*step))),
        WorkflowError::Cancelled { .. } => (ExitClass::Cancelled, None),
        WorkflowError::JobNotFound { .. }
        | WorkflowError::JobStillRunning { .. }
        | WorkflowError::NothingKept { .. }
        | WorkflowError::KeptInstanceGone { .. } => (ExitClass::Input, kept_job_hint(error)),
        WorkflowError::PoolOwnerNeeded { app } => (
            ExitClass::Usage,
            Some(format!(
                "say whose checkouts the standbys serve: `lxpack pool fill {app} --owner UID:GID` (the owner of the checkouts, `stat -c %u:%g DIR`), or `--checkout DIR`"
            )),
        ),
        WorkflowError::PoolTooLarge { max, .. } => (
            ExitClass::Config,
            Some(format!(
                "ask for {max} standbys or less (lxpack.pool.size and --size have the same limit)"
            )),
        ),
        WorkflowError::MissingCapability { usage } => (
            ExitClass::Config,
            Some(capability_hint(*usage)),
        ),
        WorkflowError::HalfPublished { fingerprint, .. } => (
            ExitClass::Store,
            Some(format!("delete the image by hand: lxc image delete {fingerprint}")),
        ),
        _ => (ExitClass::Failure, None),
    }
}

/// The hint of an error about the app's images.
fn image_hint(error: &WorkflowError) -> Option<String> {
    match error {
        WorkflowError::NoContainerImage { .. } => Some("run `lxpack buildimage APP` first; deploy starts from the image it records".into()),
        WorkflowError::ContainerImageMissing { app, .. } => Some(format!(
            "rebuild the app's image with `lxpack buildimage {}`; `lxpack images` shows the app's image as missing (or its alias as gone)",
            app.name
        )),
        WorkflowError::NoSourceImage { .. } => Some("pass --os FAMILY/RELEASE (e.g. debian/12), configure lxpack.aws, or set build_infos.source_container_image in the app".into()),
        WorkflowError::NoMatchingSourceImage { .. } => Some("import a base image whose os, release and architecture properties match (see `lxpack images`)".into()),
        _ => None,
    }
}

/// The hint of an error about a job's kept container (`lxpack shell`).
fn kept_job_hint(error: &WorkflowError) -> Option<String> {
    match error {
        WorkflowError::JobNotFound { .. } => Some("`lxpack jobs` lists the jobs; only a job run with --keep, --keep-on-failure or container.debug keeps its container".into()),
        WorkflowError::JobStillRunning { .. } => Some("wait until it ends (`lxpack jobs`); run it with --keep or --keep-on-failure to keep its container".into()),
        WorkflowError::NothingKept { .. } => Some("run the job again with --keep, or with --keep-on-failure (lxpack.keep.on_failure: true) to keep the containers of failed jobs".into()),
        WorkflowError::KeptInstanceGone { .. } => Some("run the job again with --keep-on-failure; raise lxpack.keep.expiry (seconds) to keep containers longer before `lxpack gc` removes them".into()),
        _ => None,
    }
}

/// The config key that turns on what needs a capability the runtime lacks, and the fix.
fn capability_hint(usage: CapabilityUse) -> String {
    let key = match usage {
        CapabilityUse::Pools => "lxpack.pool.size",
        CapabilityUse::Caches => "lxpack.cache",
        CapabilityUse::StepSnapshots => "lxpack.buildimage.step_snapshots",
        CapabilityUse::Shell => {
            return "connect lxpack to an LXD or Incus daemon (container.endpoint) to open a shell"
                .into();
        }
        CapabilityUse::Network => {
            return "set lxpack.network.mode (and each app's and module's) to none or open (unfiltered), or use a daemon with network ACLs (LXD 5.0, Incus 6.0)".into();
        }
        _ => return "use a container runtime that offers it".into(),
    };
    format!("turn off {key} in the config, or use a container runtime that offers it")
}

/// Which setting limits a step: its own under `lxpack.timeouts` (the config keys are
/// the core's limit names), or, for the steps that are plain API calls,
/// `container.timeout`.
fn timeout_hint(step: Step) -> String {
    match Timeouts::limit_of(step) {
        Some(key) => {
            format!("raise lxpack.timeouts.{key} (seconds) in the config if the step needs longer")
        }
        None => API_TIMEOUT_HINT.into(),
    }
}

/// What limits a plain API call.
const API_TIMEOUT_HINT: &str = "API calls are limited by container.timeout (seconds): raise it \
     for a slow daemon. A daemon that answers nothing at all may be blocked by another \
     client's silent connection (docs/operator-guide.md, troubleshooting, 5)";

fn classify_port(step: Step, error: &PortError) -> (ExitClass, Option<String>) {
    match error {
        PortError::Runtime(RuntimeError::Unreachable(unreachable))
        | PortError::Registry(RegistryError::Unreachable(unreachable)) => {
            (ExitClass::Daemon, Some(unreachable.hint.clone()))
        }
        PortError::Runtime(RuntimeError::ImageNotFound { .. })
        | PortError::Registry(RegistryError::NotFound { .. }) => (
            ExitClass::Image,
            Some("the daemon has no such image: `lxc image list` (`incus image list`) shows what it has; import the base image, or fix build_infos.source_container_image (`lxpack images` lists only the images lxpack published)".into()),
        ),
        PortError::Runtime(RuntimeError::TimedOut { .. })
        | PortError::Registry(RegistryError::CallTimedOut { .. }) => {
            (ExitClass::Timeout, Some(API_TIMEOUT_HINT.into()))
        }
        PortError::Runtime(RuntimeError::Unsupported { hint, .. }) => {
            (ExitClass::Input, Some(hint.clone()))
        }
        PortError::Runtime(RuntimeError::NetworkRefused { reason, .. }) => {
            (ExitClass::Input, Some(network_hint(*reason).into()))
        }
        PortError::Runtime(RuntimeError::NotFound { name, .. }) if step == Step::Shell => (
            ExitClass::Input,
            Some(format!(
                "the kept instance is not running (a build that failed at its stop or publish leaves it stopped): start it with `lxc start {name}` (`incus start {name}`), then run lxpack shell again"
            )),
        ),
        PortError::Catalog(error) => (ExitClass::Aws, aws_hint(error)),
        PortError::Store(_) | PortError::History(_) => (ExitClass::Store, None),
        _ => (ExitClass::Infrastructure, Some(refusal_hint(step))),
    }
}

/// How to get past what keeps a build from its network: the config keys that change it,
/// or what to change on the daemon's host.
fn network_hint(reason: NetworkRefusal) -> &'static str {
    match reason {
        NetworkRefusal::NameTaken => {
            "give lxpack's bridge another name (`lxpack.network.own_bridge`; another daemon on this host may own this one), or set `lxpack.network.bridge` to a managed bridge of yours for builds to use"
        }
        NetworkRefusal::NoFreeSubnet => "set `lxpack.network.bridge` to a managed bridge of yours",
        NetworkRefusal::NotAManagedBridge => {
            "name a managed bridge in `lxpack.network.bridge` (`incus network create` or `lxc network create`), or remove the key so that lxpack makes its own"
        }
        NetworkRefusal::NoBridgeAcls => {
            "upgrade to LXD 5.0 or Incus 6.0 or later, or set `lxpack.network.mode` to `none` or `open`"
        }
        NetworkRefusal::FirewallNotNftables => {
            "install nftables and restart the daemon (it picks nftables when the host's ruleset has no iptables rules), or set `lxpack.network.mode` to `none` or `open`"
        }
        NetworkRefusal::NoNicAcls => {
            "remove `lxpack.network.bridge` so that lxpack makes a bridge of its own, or use Incus 6.0 or later"
        }
        NetworkRefusal::NoBridgeConntrack => {
            "an ACL on a build's NIC (an operator's bridge in `lxpack.network.bridge`) needs the kernel's bridge conntrack: `modprobe nf_conntrack_bridge` on the daemon's host; or remove `lxpack.network.bridge` so that lxpack makes a bridge of its own, whose ACL needs no bridge conntrack"
        }
        _ => "see the daemon's message above; `lxpack doctor` shows the isolation this host gives",
    }
}

/// What to check when the daemon refused or failed the call of `step`.
fn refusal_hint(step: Step) -> String {
    match step {
        Step::Launch => "the daemon could not create or start the instance (its message is above): \
             check the image server (container.endpoint) and that the daemon can reach it, \
             that its storage pool has room (`lxc storage info POOL`, when it says no space is left on the device), \
             the daemon's log (a failed start is logged there), and `lxpack doctor`"
            .into(),
        Step::CreateProfile => "the daemon refused the profile that mounts the checkout (its message is above): \
             check the module's path and the checkout directory, and `lxpack doctor`"
            .into(),
        Step::Publish | Step::Retention | Step::ListImages => {
            "the daemon's image store refused the call (its message is above): check its storage pool (`lxpack doctor`)".into()
        }
        _ => "the daemon refused or failed the call (its message is above): this is the host, \
             not the build; check the daemon's log and run `lxpack doctor`"
            .into(),
    }
}

fn aws_hint(error: &AmiCatalogError) -> Option<String> {
    match error {
        AmiCatalogError::MissingCredentials { hint } => Some(hint.clone()),
        AmiCatalogError::UnknownOs { hint, .. } => Some(hint.clone()),
        AmiCatalogError::Unreachable(unreachable) => Some(unreachable.hint.clone()),
        AmiCatalogError::AccessDenied { .. } => Some(
            "the credentials need ec2:DescribeImages (and sts:AssumeRole in cross-account mode)"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use lxpack_core::domain::Provisioner;

    use super::*;

    #[test]
    fn a_refused_network_is_bad_input_with_a_hint_naming_the_key_that_fixes_it() {
        let cases = [
            (NetworkRefusal::NameTaken, "lxpack.network.own_bridge"),
            (NetworkRefusal::NoFreeSubnet, "lxpack.network.bridge"),
            (NetworkRefusal::NotAManagedBridge, "lxpack.network.bridge"),
            (NetworkRefusal::NoBridgeAcls, "lxpack.network.mode"),
            (NetworkRefusal::FirewallNotNftables, "nftables"),
            (NetworkRefusal::NoNicAcls, "lxpack.network.bridge"),
            (
                NetworkRefusal::NoBridgeConntrack,
                "modprobe nf_conntrack_bridge",
            ),
        ];
        for (reason, key) in cases {
            let error = CliError::from(WorkflowError::StepFailed {
                step: Step::Network,
                instance: None,
                source: Box::new(PortError::Runtime(RuntimeError::NetworkRefused {
                    reason,
                    detail: "the daemon's facts".into(),
                })),
            });
            assert_eq!(error.class, ExitClass::Input, "{reason:?}");
            let hint = error.hint.unwrap_or_default();
            assert!(hint.contains(key), "{reason:?}: {hint}");
        }
    }

    #[test]
    fn a_step_stopped_by_its_class_has_its_own_code_and_a_class_past_the_host_is_config() {
        let instance = lxpack_core::domain::InstanceName::parse("lxpack-x").unwrap();
        let hit = WorkflowError::LimitHit {
            step: Step::Buildpack,
            instance: instance.clone(),
            class: lxpack_core::domain::ClassName::parse("small").unwrap(),
            hit: Box::new(lxpack_core::domain::LimitHit::Processes {
                max: 64,
                refusals: Some(3),
                running: Some(64),
            }),
            failure: Box::new(WorkflowError::CommandFailed {
                step: Step::Buildpack,
                instance,
                exit_code: 2,
                output_tail: String::new(),
            }),
        };
        let error = CliError::from(hit);
        assert_eq!(
            (error.class, error.class.code()),
            (ExitClass::ResourceLimit, 14)
        );
        assert_eq!(error.class.name(), "resource_limit");
        assert!(
            error
                .hint
                .as_deref()
                .is_some_and(|hint| hint.contains("lxpack.resources.classes.small.processes")),
            "{:?}",
            error.hint
        );
        let past = WorkflowError::ClassPastHost {
            key: "lxpack.resources.classes.large.cpu".into(),
            problem: "too many".into(),
        };
        assert_eq!(CliError::from(past).class, ExitClass::Config);
    }

    #[test]
    fn the_build_failing_and_the_infrastructure_failing_are_different_classes() {
        let command = WorkflowError::CommandFailed {
            step: Step::Buildpack,
            instance: lxpack_core::domain::InstanceName::parse("lxpack-x").unwrap(),
            exit_code: 2,
            output_tail: String::new(),
        };
        assert_eq!(CliError::from(command).class, ExitClass::Step);
        let refused = |step, error| WorkflowError::StepFailed {
            step,
            instance: None,
            source: Box::new(PortError::Runtime(error)),
        };
        for (step, error) in [
            (
                Step::Launch,
                RuntimeError::Rejected {
                    operation: "launch".into(),
                    message: "Failed getting remote image info: connection refused".into(),
                },
            ),
            (
                Step::CreateProfile,
                RuntimeError::Rejected {
                    operation: "create profile".into(),
                    message: "Root disk entry may not have a \"source\" property set".into(),
                },
            ),
        ] {
            let error = CliError::from(refused(step, error));
            assert_eq!(error.class, ExitClass::Infrastructure);
            assert_eq!(error.class.code(), 13);
            assert!(error.hint.is_some_and(|hint| hint.contains("doctor")));
        }
        let unreachable = refused(
            Step::Launch,
            RuntimeError::Unreachable(lxpack_core::ports::Unreachable {
                endpoint: "/var/lib/lxd/unix.socket".into(),
                reason: "connection refused".into(),
                hint: "start the daemon".into(),
            }),
        );
        assert_eq!(CliError::from(unreachable).class, ExitClass::Daemon);
    }

    #[test]
    fn a_job_that_lost_its_daemon_says_how_to_remove_what_it_left() {
        let unreachable = WorkflowError::StepFailed {
            step: Step::Buildpack,
            instance: None,
            source: Box::new(PortError::Runtime(RuntimeError::Unreachable(
                lxpack_core::ports::Unreachable {
                    endpoint: "/var/lib/lxd/unix.socket".into(),
                    reason: "connection refused".into(),
                    hint: "start the daemon".into(),
                },
            ))),
        };
        let error = CliError::from(WorkflowError::Cleanup {
            original: Some(Box::new(unreachable)),
            failures: vec![lxpack_core::workflows::CleanupFailure {
                kind: ResourceKind::Instance,
                name: "lxpack-deploy-x".into(),
                error: PortError::Runtime(RuntimeError::Unreachable(
                    lxpack_core::ports::Unreachable {
                        endpoint: "/var/lib/lxd/unix.socket".into(),
                        reason: "connection refused".into(),
                        hint: "start the daemon".into(),
                    },
                )),
            }],
        });
        assert_eq!(error.class, ExitClass::Daemon);
        let hint = error.hint.unwrap();
        assert!(
            hint.starts_with("start the daemon; then remove what the job left: lxc delete --force lxpack-deploy-x")
                && hint.ends_with("or `lxpack gc`"),
            "{hint}"
        );
    }

    #[test]
    fn a_setting_the_runtime_cannot_serve_is_a_config_error_naming_its_key() {
        for (usage, key) in [
            (CapabilityUse::Pools, "lxpack.pool.size"),
            (CapabilityUse::Caches, "lxpack.cache"),
            (
                CapabilityUse::StepSnapshots,
                "lxpack.buildimage.step_snapshots",
            ),
            (CapabilityUse::Network, "lxpack.network.mode"),
        ] {
            let error = CliError::from(WorkflowError::MissingCapability { usage });
            assert_eq!(error.class, ExitClass::Config, "{usage}");
            let hint = error.hint.unwrap();
            assert!(hint.contains(key), "{hint}");
        }
    }

    #[test]
    fn a_job_without_a_container_to_enter_is_an_input_error_that_says_how_to_keep_one() {
        let job = lxpack_core::domain::JobId::generate(1_700_000_000, [1; 8]);
        let error = CliError::from(WorkflowError::NothingKept {
            job: job.clone(),
            status: lxpack_core::domain::JobStatus::Succeeded,
        });
        assert_eq!(error.class, ExitClass::Input);
        assert!(error.hint.unwrap().contains("--keep-on-failure"));
        let error = CliError::from(WorkflowError::KeptInstanceGone {
            job,
            instance: lxpack_core::domain::InstanceName::parse("lxpack-x").unwrap(),
        });
        assert_eq!(error.class, ExitClass::Input);
        assert!(error.hint.unwrap().contains("lxpack.keep.expiry"));
        let stopped = CliError::from(WorkflowError::StepFailed {
            step: Step::Shell,
            instance: None,
            source: Box::new(PortError::Runtime(RuntimeError::NotFound {
                what: "instance",
                name: "lxpack-x".into(),
            })),
        });
        assert_eq!(stopped.class, ExitClass::Input);
        assert!(stopped.hint.unwrap().contains("lxc start lxpack-x"));
    }

    #[test]
    fn secrets_that_do_not_fit_the_app_are_a_config_error_naming_the_key() {
        let error = CliError::from(WorkflowError::Secrets {
            app: lxpack_core::domain::AppKey::new("web", "prod", "front"),
            source: lxpack_core::domain::SecretError::UnknownName {
                name: "DB_PASSWORD".into(),
                known: "A".into(),
            },
        });
        assert_eq!(error.class.code(), 3);
        assert!(
            error
                .hint
                .unwrap()
                .contains("lxpack.secrets.apps.web/prod/front")
        );
    }

    #[test]
    fn caches_a_cluster_cannot_serve_are_a_config_error_not_infrastructure() {
        let error = CliError::from(WorkflowError::CachesNeedOneMember {
            app: lxpack_core::domain::AppKey::new("web", "prod", "front"),
            module: "api".into(),
            target: Some(Box::new(
                lxpack_core::domain::PlacementTarget::parse("@odd").unwrap(),
            )),
            members: vec![lxpack_core::domain::MemberName::parse("m1").unwrap()].into(),
        });
        assert_eq!(error.class, ExitClass::Config);
        assert_eq!(error.class.code(), 3);
        let message = error.error.to_string();
        assert!(
            message.contains("lxpack.runtime.target is @odd") && message.contains("lxpack.cache"),
            "{message}"
        );
        assert!(error.hint.unwrap().contains("lxpack.runtime.target"));
    }

    #[test]
    fn a_timeout_names_the_setting_that_limits_its_step() {
        assert!(timeout_hint(Step::Buildpack).contains("lxpack.timeouts.buildpack"));
        assert!(
            timeout_hint(Step::Features(Provisioner::Salt)).contains("lxpack.timeouts.features")
        );
        assert!(timeout_hint(Step::PreBuildImageHook).contains("lxpack.timeouts.hook"));
        assert!(timeout_hint(Step::Stop).contains("lxpack.timeouts.graceful_stop"));
        let api = timeout_hint(Step::CreateProfile);
        assert!(api.contains("container.timeout"), "{api}");
        assert!(timeout_hint(Step::Cleanup).contains("container.timeout"));
    }
}
