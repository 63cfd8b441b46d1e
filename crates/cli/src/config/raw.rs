//! The config file exactly as written: Cloud Deploy's keys unchanged, plus lxpack's
//! own `lxpack:` section. Every field is optional here; defaults and validation come
//! after, in [`super::Config`], where errors can name the key.

use std::path::PathBuf;

use indexmap::IndexMap;
use lxpack_core::domain::{Isolation, NetworkMode, Provisioner, RemoteProtocol};
use lxpack_core::ports::Compression;
use lxpack_core::workflows::{CleanupMode, LogLevel, SecretDelivery};
use serde::Deserialize;

/// Declares a config value read with one of the core's text tables during
/// deserialisation, so that a bad value is reported by the YAML parser with its line,
/// column and key, and with the words the core accepts.
macro_rules! parsed_string {
    ($name:ident, $target:ty) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(super) struct $name(pub(super) $target);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;

                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "one of {}", <$target>::SPELLINGS.join(", "))
                    }

                    // Failing here, inside the value, lets the parser name the key.
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        <$target>::parse(text).map($name).map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

parsed_string!(CompressionValue, Compression);
parsed_string!(LogLevelValue, LogLevel);
parsed_string!(IsolationValue, Isolation);
parsed_string!(CleanupValue, CleanupMode);
parsed_string!(ProtocolValue, RemoteProtocol);
parsed_string!(ProvisionerName, Provisioner);
parsed_string!(DeliveryValue, SecretDelivery);
parsed_string!(NetworkModeValue, NetworkMode);

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawConfig {
    pub(super) container: RawContainer,
    pub(super) ami_retention: Option<u32>,
    pub(super) features_provisioners: IndexMap<ProvisionerName, RawProvisioner>,
    pub(super) skip_provisioner_bootstrap: Option<bool>,
    pub(super) provisioner_log_level: Option<LogLevelValue>,
    pub(super) lxpack: RawLxpack,
}

/// Cloud Deploy's `container:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawContainer {
    pub(super) enabled: Option<bool>,
    pub(super) endpoint: Option<String>,
    pub(super) timeout: Option<u64>,
    pub(super) debug: Option<bool>,
}

/// One of Cloud Deploy's `features_provisioners`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawProvisioner {
    pub(super) git_repo: Option<String>,
    pub(super) git_revision: Option<String>,
    /// lxpack: the host directory holding the formulas.
    pub(super) path: Option<PathBuf>,
    /// lxpack: how to install the provisioner when bootstrap is on.
    pub(super) bootstrap_command: Option<String>,
}

/// lxpack's own section.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawLxpack {
    pub(super) runtime: RawRuntime,
    pub(super) endpoint_protocol: Option<ProtocolValue>,
    pub(super) isolation: Option<IsolationValue>,
    /// Deprecated: the default class's CPU and memory (`lxpack.resources`).
    pub(super) limits: RawLimits,
    /// The resource classes.
    pub(super) resources: RawResources,
    pub(super) compression: Option<CompressionValue>,
    /// When a deploy's cleanup lets the job end: `wait` (default) or `background`.
    pub(super) cleanup: Option<CleanupValue>,
    pub(super) timeouts: RawTimeouts,
    /// A SQLite file's path or a `postgres://` URL.
    pub(super) store: Option<String>,
    /// Where a PostgreSQL store's password is.
    pub(super) store_password: RawStorePassword,
    /// The CA of a PostgreSQL store's certificate.
    pub(super) store_ca: Option<PathBuf>,
    pub(super) aws: RawAws,
    /// What jobs keep for inspection, and for how long.
    pub(super) keep: RawKeep,
    /// The standby pools.
    pub(super) pool: RawPool,
    /// The deploys' dependency caches.
    pub(super) cache: RawCache,
    /// buildimage's own settings.
    pub(super) buildimage: RawBuildimage,
    /// The app env vars whose values are masked.
    pub(super) secrets: RawSecrets,
    /// What builds may reach over the network.
    pub(super) network: RawNetwork,
}

/// `lxpack.store_password`: an environment variable or a file, never the password.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawStorePassword {
    /// The environment variable that holds it.
    pub(super) env: Option<String>,
    /// The file that holds it.
    pub(super) file: Option<PathBuf>,
}

/// `lxpack.secrets`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawSecrets {
    /// Refused: names are per app (read so that the mistake is an error, not a
    /// warning that leaves the values unmasked).
    pub(super) names: Vec<String>,
    /// Patterns over env var keys (`*_TOKEN`) for every app.
    pub(super) patterns: Vec<String>,
    /// Apps with their own names and patterns, by `NAME/ENV/ROLE`.
    pub(super) apps: Option<std::collections::BTreeMap<String, RawAppSecrets>>,
    /// `env` (default) or `files`.
    pub(super) delivery: Option<DeliveryValue>,
}

/// One app's entry in `lxpack.secrets.apps`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAppSecrets {
    /// Env var keys that are secret; each must be among the app's env vars.
    pub(super) names: Vec<String>,
    /// Patterns over env var keys.
    pub(super) patterns: Vec<String>,
}

/// `lxpack.network`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawNetwork {
    /// `none`, `egress` (default) or `open`.
    pub(super) mode: Option<NetworkModeValue>,
    /// What egress opens beyond the internet: `CIDR` or `CIDR PROTOCOL:PORTS`.
    pub(super) allow: Option<Vec<String>>,
    /// An operator's managed bridge instead of lxpack's own.
    pub(super) bridge: Option<String>,
    /// The name of lxpack's own bridge (`lxpackbr0` unless set).
    pub(super) own_bridge: Option<String>,
    /// Apps with their own policy, by `NAME/ENV/ROLE`.
    pub(super) apps: Option<std::collections::BTreeMap<String, RawAppNetwork>>,
}

/// One app's `lxpack.network.apps` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAppNetwork {
    /// The app's mode (the default's when unset).
    pub(super) mode: Option<NetworkModeValue>,
    /// The app's allow list (the default's when unset).
    pub(super) allow: Option<Vec<String>>,
    /// Modules with their own policy, by name.
    pub(super) modules: Option<std::collections::BTreeMap<String, RawModuleNetwork>>,
}

/// One module's entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawModuleNetwork {
    /// The module's mode (its app's when unset).
    pub(super) mode: Option<NetworkModeValue>,
    /// The module's allow list (its app's when unset).
    pub(super) allow: Option<Vec<String>>,
}

/// `lxpack.buildimage`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawBuildimage {
    /// Snapshot the build after each step, so a re-run resumes (default true).
    pub(super) step_snapshots: Option<bool>,
}

/// `lxpack.cache`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawCache {
    /// The most one cache may hold (`2GiB`, `500MB`, bytes).
    pub(super) quota: Option<String>,
    /// The most all caches may hold together.
    pub(super) budget: Option<String>,
    /// The paths each module keeps: `NAME/ENV/ROLE` to module to paths.
    pub(super) apps:
        Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<String>>>>,
}

/// `lxpack.pool`, and each app's entry in `lxpack.pool.apps`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawPool {
    /// Standbys per pool; 0 turns pools off.
    pub(super) size: Option<u64>,
    /// Seconds a standby may wait before it is replaced.
    pub(super) max_age: Option<u64>,
    /// Apps with their own size or age, by `NAME/ENV/ROLE`.
    pub(super) apps: Option<std::collections::BTreeMap<String, RawPoolSize>>,
}

/// One app's pool.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawPoolSize {
    /// Standbys; 0 turns the app's pool off.
    pub(super) size: Option<u64>,
    /// Seconds a standby may wait.
    pub(super) max_age: Option<u64>,
}

/// `lxpack.keep`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawKeep {
    /// Keep failed jobs' containers.
    pub(super) on_failure: Option<bool>,
    /// Seconds a kept container is spared by gc after its job ends.
    pub(super) expiry: Option<u64>,
}

/// How to reach the daemon.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawRuntime {
    pub(super) socket: Option<PathBuf>,
    pub(super) url: Option<String>,
    pub(super) client_cert: Option<PathBuf>,
    pub(super) client_key: Option<PathBuf>,
    pub(super) server_cert: Option<PathBuf>,
    pub(super) project: Option<String>,
    pub(super) target: Option<String>,
}

/// Resource caps.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawLimits {
    pub(super) cpu: Option<String>,
    pub(super) memory: Option<String>,
}

/// `lxpack.resources`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawResources {
    /// The class of every instance no app names another for.
    pub(super) default: Option<String>,
    /// The classes, by name.
    pub(super) classes: Option<std::collections::BTreeMap<String, RawClass>>,
    /// Apps with their own class, by `NAME/ENV/ROLE`.
    pub(super) apps: Option<std::collections::BTreeMap<String, RawAppClass>>,
}

/// One class's caps.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawClass {
    /// CPUs: a count or a set (`0-3`).
    pub(super) cpu: Option<String>,
    /// Memory: a size (`2GiB`) or a share of the host's (`50%`).
    pub(super) memory: Option<String>,
    /// The most processes at once.
    pub(super) processes: Option<u64>,
    /// The root disk's size.
    pub(super) disk: Option<String>,
}

/// An app's class: its name, or a name and the classes of some modules.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawAppClass {
    /// `web/prod/front: large`.
    Name(String),
    /// `web/prod/front: {class: medium, modules: {api: large}}`.
    Detailed {
        /// The app's class (the default when unset).
        #[serde(default)]
        class: Option<String>,
        /// Modules with their own class.
        #[serde(default)]
        modules: std::collections::BTreeMap<String, String>,
    },
}

/// Step time limits, in seconds.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawTimeouts {
    pub(super) launch: Option<u64>,
    pub(super) ready: Option<u64>,
    pub(super) hook: Option<u64>,
    pub(super) features: Option<u64>,
    pub(super) buildpack: Option<u64>,
    pub(super) publish: Option<u64>,
    pub(super) graceful_stop: Option<u64>,
    pub(super) kill_grace: Option<u64>,
}

/// The AMI catalog.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAws {
    pub(super) enabled: Option<bool>,
    pub(super) endpoint_url: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) assume_role: Option<RawAssumeRole>,
    pub(super) os_family_tag: Option<String>,
    pub(super) os_release_tag: Option<String>,
}

/// Cloud Deploy's cross-account mode.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAssumeRole {
    pub(super) account_id: Option<String>,
    pub(super) role_name: Option<String>,
}
