//! What the workflows are told by configuration. The CLI reads Cloud Deploy's
//! `config.yml` into this; integrators build it directly.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::text::text_enum;
use crate::domain::{
    AppKey, ClassName, DefaultBridge, GuestPath, Isolation, NetworkMode, NetworkPolicy,
    PlacementTarget, PolicyScope, Provisioner, RemoteServer, ResourceClass, ResourceLimits,
    RetentionPolicy, SecretPattern, SecretRule,
};
use crate::events::Step;
use crate::ports::Compression;

text_enum! {
    /// The provisioner log level (`provisioner_log_level`), in salt's vocabulary
    /// (`garbage` and `all` read as trace).
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub enum LogLevel as "log level" {
        /// Nothing.
        Quiet = "quiet",
        /// Critical only.
        Critical = "critical",
        /// Errors.
        Error = "error",
        /// Warnings.
        Warning = "warning",
        /// Information (Cloud Deploy's default).
        #[default]
        Info = "info",
        /// Debugging.
        Debug = "debug",
        /// Everything.
        Trace = "trace" | "garbage" | "all",
    }
}

impl LogLevel {
    /// The level as salt's `-l` takes it.
    #[must_use]
    pub fn salt_name(self) -> &'static str {
        self.as_str()
    }

    /// The `-v…` flag ansible takes for this level, if any.
    #[must_use]
    pub fn ansible_verbosity(self) -> Option<&'static str> {
        match self {
            Self::Quiet | Self::Critical | Self::Error | Self::Warning => None,
            Self::Info => Some("-v"),
            Self::Debug => Some("-vv"),
            Self::Trace => Some("-vvv"),
        }
    }
}

/// One configured provisioner (`features_provisioners.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerSettings {
    /// Salt or ansible.
    pub kind: Provisioner,
    /// The host directory holding the formulas (salt: `salt/` and `pillar/`; ansible:
    /// `roles/`). It is mounted read-only at `/srv/salt` or `/srv/ansible`.
    pub formulas: PathBuf,
    /// A shell command that installs the provisioner when bootstrap is on; a default
    /// per provisioner otherwise.
    pub bootstrap_command: Option<String>,
    /// A digest of the formulas' contents, for the features step's snapshot key:
    /// without one, the features step and every step after it are never taken from
    /// a snapshot (nothing else tells that the formulas did not change).
    pub formulas_digest: Option<String>,
}

/// Time limits of each kind of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Create and start an instance, including any image download.
    pub launch: Duration,
    /// From started to answering commands.
    pub ready: Duration,
    /// One lifecycle hook or bootstrap.
    pub hook: Duration,
    /// One provisioner's features.
    pub features: Duration,
    /// One buildpack.
    pub buildpack: Duration,
    /// Publishing an image.
    pub publish: Duration,
    /// A clean shutdown before publishing; `None` stops with force at once.
    pub graceful_stop: Option<Duration>,
    /// After a step's timeout or a cancellation, how long its command has between
    /// SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

impl Timeouts {
    /// The field of these limits that bounds `step`, by name (`launch`, `ready`,
    /// `hook`, `features`, `buildpack`, `publish`, `graceful_stop`); `None` for the
    /// steps that are plain API calls, bound by the client's own call deadline.
    #[must_use]
    pub fn limit_of(step: Step) -> Option<&'static str> {
        Some(match step {
            Step::Launch => "launch",
            Step::WaitReady => "ready",
            Step::Bootstrap(_)
            | Step::PreBuildImageHook
            | Step::PostBuildImageHook
            | Step::RemoveScripts
            | Step::DeliverSecrets
            | Step::RemoveSecrets => "hook",
            Step::Features(_) => "features",
            Step::Buildpack => "buildpack",
            Step::Publish => "publish",
            Step::Stop => "graceful_stop",
            Step::DescribeAmi
            | Step::ChooseSourceImage
            | Step::CreateProfile
            | Step::DeliverScripts
            | Step::RecordImage
            | Step::Retention
            | Step::ListImages
            | Step::Cleanup
            | Step::Shell
            | Step::ClaimStandby
            | Step::AttachProfile
            | Step::Pool
            | Step::RestoreCache
            | Step::SaveCache
            | Step::Caches
            | Step::Snapshot
            | Step::Network => return None,
        })
    }

    /// The most any job can last under these limits, with `provisioners` provisioners:
    /// every step ends by its own limit, and API calls and cleanup get a generous
    /// margin. A job recorded as running for longer than this has lost its process.
    #[must_use]
    pub fn longest_job(&self, provisioners: usize) -> Duration {
        let provisioners = u32::try_from(provisioners.max(1)).unwrap_or(u32::MAX);
        // Hooks: pre and post, plus one bootstrap per provisioner.
        let hooks = self.hook.saturating_mul(2 + provisioners);
        [
            self.launch,
            self.ready,
            hooks,
            self.features.saturating_mul(provisioners),
            self.buildpack,
            self.graceful_stop.unwrap_or_default(),
            self.publish,
            API_AND_CLEANUP_MARGIN,
        ]
        .into_iter()
        .fold(Duration::ZERO, Duration::saturating_add)
    }
}

/// What a job's API calls, deliveries and cleanup may add to its steps' limits.
const API_AND_CLEANUP_MARGIN: Duration = Duration::from_secs(30 * 60);

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            launch: Duration::from_secs(300),
            ready: Duration::from_secs(60),
            hook: Duration::from_secs(1800),
            features: Duration::from_secs(3600),
            buildpack: Duration::from_secs(3600),
            publish: Duration::from_secs(1800),
            graceful_stop: None,
            kill_grace: crate::domain::ExecRequest::KILL_GRACE,
        }
    }
}

text_enum! {
    /// When a deploy's cleanup lets the job end.
    ///
    /// A deploy container is ephemeral: the daemon deletes it when it stops. Stopping is
    /// the daemon's slowest step (about 0.7 s for a forced stop here: the runtime tears the
    /// container down and runs its stop hooks), and most of a short deploy's time.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum CleanupMode as "cleanup mode" {
        /// Wait until the instance and its profile are gone: the job reports any
        /// cleanup failure, and nothing is left when it ends.
        Wait = "wait",
        /// Detach and delete the profile (so the checkout is no longer mounted), ask the
        /// daemon to stop the instance, and end the job once it has taken the request;
        /// the daemon stops and deletes the instance on its own (the default). The job
        /// records the release as pending; the next job or sweep confirms the instance
        /// went, or records on the job that its stop failed and deletes it. Deploys
        /// only: buildimage always waits.
        #[default]
        Background = "background",
    }
}

/// What a job leaves in place for inspection, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepSettings {
    /// Keep the instance and profile of every job that fails (not of one that is
    /// cancelled): `lxpack.keep.on_failure`, or `--keep-on-failure`.
    pub on_failure: bool,
    /// How long a kept instance is spared by the sweep after its job ended
    /// (`lxpack.keep.expiry`).
    pub expiry: Duration,
}

impl KeepSettings {
    /// The default expiry: 24 hours.
    pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);
}

impl Default for KeepSettings {
    fn default() -> Self {
        Self {
            on_failure: false,
            expiry: Self::DEFAULT_EXPIRY,
        }
    }
}

/// How many standbys an app's pool holds, and how long one may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Standbys to keep started; 0 turns the pool off.
    pub size: usize,
    /// A standby older than this is replaced (a long-running container drifts: its
    /// clock, its caches, its logs).
    pub max_age: Duration,
}

impl PoolSize {
    /// The default maximum age: 1 hour.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

    /// The most standbys one pool may hold: each is a running container.
    pub const MAX_SIZE: usize = 64;

    /// Reads a pool size, wherever it is set (`lxpack.pool.size`, an app's entry,
    /// `lxpack pool fill --size`): at most [`Self::MAX_SIZE`].
    ///
    /// # Errors
    /// What is wrong with it, for the caller to put after the key or flag that set it.
    pub fn parse_size(size: u64) -> Result<usize, String> {
        match usize::try_from(size) {
            Ok(size) if size <= Self::MAX_SIZE => Ok(size),
            _ => Err(format!(
                "{size} standbys is more than the {} a pool may hold",
                Self::MAX_SIZE
            )),
        }
    }
}

impl Default for PoolSize {
    fn default() -> Self {
        Self {
            size: 0,
            max_age: Self::DEFAULT_MAX_AGE,
        }
    }
}

/// The standby pools (`lxpack.pool`): a size for every app, and apps of their own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolSettings {
    /// What an app without its own entry gets (off unless configured).
    pub default: PoolSize,
    /// Apps with their own size or age.
    pub apps: BTreeMap<AppKey, PoolSize>,
}

impl PoolSettings {
    /// The pool of `app`.
    #[must_use]
    pub fn for_app(&self, app: &AppKey) -> PoolSize {
        self.apps.get(app).copied().unwrap_or(self.default)
    }
}

/// The dependency caches of deploys (`lxpack.cache`): which paths each module keeps
/// between its builds, and how much they may hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheSettings {
    /// The paths in the container each module keeps, by app and module.
    pub paths: BTreeMap<(AppKey, String), Vec<GuestPath>>,
    /// The most one cache may hold, in bytes (the daemon enforces it where its
    /// storage can: btrfs, zfs, lvm; a dir pool cannot).
    pub quota: Option<u64>,
    /// The most all caches together may hold, in bytes: past it, the least recently
    /// written caches are evicted.
    pub budget: Option<u64>,
}

impl CacheSettings {
    /// The paths `module` of `app` keeps (none when it has no caches).
    #[must_use]
    pub fn paths_of(&self, app: &AppKey, module: &str) -> &[GuestPath] {
        self.paths
            .get(&(app.clone(), module.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

text_enum! {
    /// How a job hands the app's secrets to the commands it runs
    /// (`lxpack.secrets.delivery`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum SecretDelivery as "secret delivery" {
        /// In the environment, as every env var (the default).
        #[default]
        Env = "env",
        /// As files on a tmpfs at `/run/lxpack/secrets/NAME`, readable by the build
        /// user only, mounted before the commands and unmounted after them; the
        /// environment carries `NAME_FILE`, the file's path, instead of the value.
        Files = "files",
    }
}

/// Which app env vars are secret (`lxpack.secrets`): patterns for every app, and names
/// or patterns of each app's own. A job masks their values out of all it shows or
/// keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretSettings {
    /// Patterns over env var keys that hold for every app.
    pub patterns: Vec<SecretPattern>,
    /// Each app's own names and patterns, added to [`Self::patterns`].
    pub apps: BTreeMap<AppKey, SecretRule>,
    /// Environment or files.
    pub delivery: SecretDelivery,
}

impl SecretSettings {
    /// The rule of `app`: its own names and patterns, then the ones for every app.
    #[must_use]
    pub fn rule_for(&self, app: &AppKey) -> SecretRule {
        let mut rule = self.apps.get(app).cloned().unwrap_or_default();
        rule.patterns.extend(self.patterns.iter().cloned());
        rule
    }

    /// How many names and patterns are configured, for every app together.
    #[must_use]
    pub fn configured(&self) -> usize {
        self.patterns.len()
            + self
                .apps
                .values()
                .map(|rule| rule.names.len() + rule.patterns.len())
                .sum::<usize>()
    }
}

/// The resource classes (`lxpack.resources`): named caps, the class every instance
/// gets unless its app or module names another, and those that do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSettings {
    /// The classes by name; always holds [`Self::default`].
    pub classes: BTreeMap<ClassName, ResourceLimits>,
    /// The class of every instance no app or module entry names another for
    /// (builds and standbys included).
    pub default: ClassName,
    /// The class of each app's instances (its deploys, builds and standbys).
    pub apps: BTreeMap<AppKey, ClassName>,
    /// The class of one module's deploys, over its app's.
    pub modules: BTreeMap<(AppKey, String), ClassName>,
}

impl Default for ResourceSettings {
    /// Only the built-in `default` class ([`ResourceClass::builtin_default`]).
    fn default() -> Self {
        let default = ResourceClass::builtin_default();
        Self {
            classes: BTreeMap::from([(default.name.clone(), default.limits)]),
            default: default.name,
            apps: BTreeMap::new(),
            modules: BTreeMap::new(),
        }
    }
}

impl ResourceSettings {
    /// The class of an instance of `app`, for `module`'s deploy or (with `None`) for
    /// the app's build and standbys: the module's entry, else the app's, else the
    /// default. A name with no class (settings not built by a config loader) falls
    /// back to the built-in default rather than to no caps.
    #[must_use]
    pub fn class_for(&self, app: &AppKey, module: Option<&str>) -> ResourceClass {
        let name = module
            .and_then(|module| self.modules.get(&(app.clone(), module.to_owned())))
            .or_else(|| self.apps.get(app))
            .unwrap_or(&self.default);
        match self.classes.get(name) {
            Some(limits) => ResourceClass {
                name: name.clone(),
                limits: limits.clone(),
            },
            None => ResourceClass::builtin_default(),
        }
    }

    /// The default class.
    #[must_use]
    pub fn default_class(&self) -> ResourceClass {
        self.classes
            .get(&self.default)
            .map_or_else(ResourceClass::builtin_default, |limits| ResourceClass {
                name: self.default.clone(),
                limits: limits.clone(),
            })
    }
}

/// What builds may reach over the network (`lxpack.network`): a policy for every
/// job, apps and modules of their own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSettings {
    /// What a job whose app and module have no entry gets (`egress` unless set).
    pub default: NetworkPolicy,
    /// Apps with their own policy (`lxpack.network.apps.NAME/ENV/ROLE`).
    pub apps: BTreeMap<AppKey, NetworkPolicy>,
    /// Modules with their own policy (`…apps.NAME/ENV/ROLE.modules.MODULE`).
    pub modules: BTreeMap<(AppKey, String), NetworkPolicy>,
    /// The bridge the default scope's builds attach to: lxpack's own
    /// (`lxpack.network.own_bridge`, `lxpackbr0` unless set) or the operator's
    /// managed bridge (`lxpack.network.bridge`).
    pub bridge: DefaultBridge,
}

impl NetworkSettings {
    /// The policy a job of `app` runs under (of its `module` for a deploy; `None`
    /// for buildimage and standbys), and whose it is: a module's entry wins over its
    /// app's, an app's over the default; an entry that says what the level above
    /// says is that level's scope, so it shares that level's network and pool.
    #[must_use]
    pub fn policy_for(&self, app: &AppKey, module: Option<&str>) -> (PolicyScope, &NetworkPolicy) {
        let (scope, policy) = match self.apps.get(app) {
            Some(own) if *own != self.default => (PolicyScope::App(app.clone()), own),
            _ => (PolicyScope::Default, &self.default),
        };
        let own = module.and_then(|module| {
            let policy = self.modules.get(&(app.clone(), module.to_owned()))?;
            Some((module, policy))
        });
        match own {
            Some((module, own)) if own != policy => {
                (PolicyScope::Module(app.clone(), module.to_owned()), own)
            }
            _ => (scope, policy),
        }
    }

    /// Every policy in force, with its scope (the default first).
    #[must_use]
    pub fn scopes(&self) -> Vec<(PolicyScope, &NetworkPolicy)> {
        let mut scopes = vec![(PolicyScope::Default, &self.default)];
        for app in self.apps.keys() {
            scopes.push(self.policy_for(app, None));
        }
        for (app, module) in self.modules.keys() {
            scopes.push(self.policy_for(app, Some(module)));
        }
        scopes.sort_by(|a, b| a.0.cmp(&b.0));
        scopes.dedup_by(|a, b| a.0 == b.0);
        scopes
    }

    /// Whether any policy in force uses `mode`.
    #[must_use]
    pub fn uses(&self, mode: NetworkMode) -> bool {
        self.scopes().iter().any(|(_, policy)| policy.mode == mode)
    }
}

/// Everything configuration decides for the workflows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// The remote server explicit source images are pulled from
    /// (`container.endpoint`); the local store when `None`.
    pub source_server: Option<RemoteServer>,
    /// Keep instances and profiles after the job (`container.debug`).
    pub keep_resources: bool,
    /// Keeping on failure, and the expiry of whatever is kept.
    pub keep: KeepSettings,
    /// The provisioners, in the order their features are applied.
    pub provisioners: Vec<ProvisionerSettings>,
    /// Install the provisioners before applying features: the opposite of Cloud
    /// Deploy's `skip_provisioner_bootstrap`, which defaults to true (so this to false).
    pub bootstrap_provisioners: bool,
    /// `provisioner_log_level`.
    pub provisioner_log_level: LogLevel,
    /// `ami_retention`.
    pub retention: RetentionPolicy,
    /// Publish compression.
    pub compression: Compression,
    /// Privileged or not.
    pub isolation: Isolation,
    /// The resource classes of instances.
    pub resources: ResourceSettings,
    /// Step time limits.
    pub timeouts: Timeouts,
    /// When a deploy's cleanup lets the job end.
    pub cleanup: CleanupMode,
    /// Where the runtime places instances on a cluster (the runtime applies it; the
    /// standby pools are keyed by it).
    pub placement: Option<PlacementTarget>,
    /// The standby pools.
    pub pool: PoolSettings,
    /// The deploys' dependency caches.
    pub cache: CacheSettings,
    /// Snapshot buildimage's instance after each step, so that a re-run starts after
    /// the steps that did not change (`lxpack.buildimage.step_snapshots`; off unless
    /// set).
    pub step_snapshots: bool,
    /// The app env vars whose values are masked.
    pub secrets: SecretSettings,
    /// What builds may reach over the network.
    pub network: NetworkSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: NetworkMode) -> NetworkPolicy {
        NetworkPolicy {
            mode,
            allow: Vec::new(),
        }
    }

    #[test]
    fn a_module_wins_over_its_app_and_an_app_over_the_default() {
        let (web, api) = (AppKey::new("web", "prod", "front"), "api".to_owned());
        let other = AppKey::new("db", "prod", "back");
        let mut network = NetworkSettings::default();
        assert_eq!(
            network.policy_for(&web, Some(&api)),
            (PolicyScope::Default, &NetworkPolicy::default())
        );
        network.apps.insert(web.clone(), policy(NetworkMode::Open));
        network
            .modules
            .insert((web.clone(), api.clone()), policy(NetworkMode::None));
        assert_eq!(
            network.policy_for(&web, None),
            (PolicyScope::App(web.clone()), &policy(NetworkMode::Open))
        );
        assert_eq!(
            network.policy_for(&web, Some("worker")),
            (PolicyScope::App(web.clone()), &policy(NetworkMode::Open))
        );
        assert_eq!(
            network.policy_for(&web, Some(&api)),
            (
                PolicyScope::Module(web.clone(), api.clone()),
                &policy(NetworkMode::None)
            )
        );
        assert_eq!(
            network.policy_for(&other, Some(&api)).0,
            PolicyScope::Default
        );
        assert!(network.uses(NetworkMode::None) && network.uses(NetworkMode::Egress));
    }

    #[test]
    fn an_entry_equal_to_the_level_above_has_no_scope_of_its_own() {
        let web = AppKey::new("web", "prod", "front");
        let mut network = NetworkSettings::default();
        network.apps.insert(web.clone(), NetworkPolicy::default());
        network
            .modules
            .insert((web.clone(), "api".into()), NetworkPolicy::default());
        assert_eq!(
            network.policy_for(&web, Some("api")).0,
            PolicyScope::Default
        );
        assert_eq!(network.scopes().len(), 1);
        assert!(!network.uses(NetworkMode::Open));
    }

    #[test]
    fn an_apps_secret_rule_adds_the_global_patterns() {
        let pattern = |text| SecretPattern::parse(text).unwrap();
        let web = AppKey::new("web", "prod", "front");
        let settings = SecretSettings {
            patterns: vec![pattern("*_TOKEN")],
            apps: BTreeMap::from([(
                web.clone(),
                SecretRule {
                    names: vec!["DB_PASSWORD".into()],
                    patterns: vec![pattern("KEY_*")],
                },
            )]),
            delivery: SecretDelivery::Env,
        };
        let rule = settings.rule_for(&web);
        assert_eq!(rule.names, ["DB_PASSWORD"]);
        assert_eq!(rule.patterns, [pattern("KEY_*"), pattern("*_TOKEN")]);
        let other = settings.rule_for(&AppKey::new("api", "prod", "front"));
        assert!(other.names.is_empty() && other.patterns == [pattern("*_TOKEN")]);
        assert_eq!(settings.configured(), 3);
    }

    #[test]
    fn a_pool_holds_at_most_its_maximum() {
        assert_eq!(PoolSize::parse_size(0), Ok(0));
        assert_eq!(PoolSize::parse_size(64), Ok(64));
        assert_eq!(
            PoolSize::parse_size(65),
            Err("65 standbys is more than the 64 a pool may hold".to_owned())
        );
        assert!(PoolSize::parse_size(u64::MAX).is_err());
    }

    #[test]
    fn each_step_names_the_limit_that_bounds_it() {
        assert_eq!(Timeouts::limit_of(Step::Buildpack), Some("buildpack"));
        assert_eq!(
            Timeouts::limit_of(Step::Features(Provisioner::Salt)),
            Some("features")
        );
        assert_eq!(Timeouts::limit_of(Step::RemoveScripts), Some("hook"));
        assert_eq!(Timeouts::limit_of(Step::Stop), Some("graceful_stop"));
        assert_eq!(Timeouts::limit_of(Step::CreateProfile), None);
        assert_eq!(Timeouts::limit_of(Step::Cleanup), None);
    }

    #[test]
    fn the_longest_job_adds_every_limit_and_a_margin() {
        let timeouts = Timeouts::default();
        // launch 300 + ready 60 + 3 hooks x 1800 + features 3600 + buildpack 3600
        // + publish 1800 + margin 1800.
        assert_eq!(timeouts.longest_job(1), Duration::from_secs(16_560));
        assert_eq!(timeouts.longest_job(0), timeouts.longest_job(1));
        // A second provisioner adds its bootstrap hook and its features.
        assert_eq!(
            timeouts.longest_job(2) - timeouts.longest_job(1),
            Duration::from_secs(1800 + 3600)
        );
        let with_stop = Timeouts {
            graceful_stop: Some(Duration::from_secs(30)),
            ..timeouts
        };
        assert_eq!(
            with_stop.longest_job(1) - timeouts.longest_job(1),
            Duration::from_secs(30)
        );
    }
}
