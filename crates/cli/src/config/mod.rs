//! The config file: Cloud Deploy's `config.yml` keys, accepted unchanged, plus
//! lxpack's own `lxpack:` section. Wrong values are errors that name the file, the
//! line and the key; unknown keys are warnings, so a shared Cloud Deploy config with
//! keys lxpack does not use still loads.

mod locate;
mod network;
mod raw;
mod resources;
mod secrets;
mod store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lxpack_core::domain::{
    AppKey, GuestPath, PlacementTarget, RemoteProtocol, RemoteServer, RetentionPolicy,
    check_host_path, parse_size,
};
use lxpack_core::workflows::{
    CacheSettings, KeepSettings, PoolSettings, PoolSize, ProvisionerSettings, Settings, Timeouts,
};

pub use locate::{ConfigChoice, locate};
use raw::RawConfig;
pub use resources::describe as describe_class;
pub use store::{PasswordSource, PostgresLocation, ServerAccess, StoreLocation};

/// Where the config came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A file.
    File(PathBuf),
    /// No file was found: the embedded defaults.
    Defaults,
}

impl std::fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Defaults => f.write_str("the embedded defaults"),
        }
    }
}

/// How to reach the container daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEndpoint {
    /// The local daemon's unix socket, found the way `lxc` and `incus` find it.
    Discover,
    /// A given unix socket.
    Socket(PathBuf),
    /// A remote daemon or cluster over HTTPS with a client certificate and a pinned
    /// server certificate.
    Https {
        /// `https://host:8443`.
        url: String,
        /// The client certificate (PEM).
        client_cert: PathBuf,
        /// The client key (PEM).
        client_key: PathBuf,
        /// The server's certificate (PEM), pinned.
        server_cert: PathBuf,
    },
}

/// The daemon connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Socket or URL.
    pub endpoint: RuntimeEndpoint,
    /// The LXD project.
    pub project: Option<String>,
    /// Where on a cluster new instances go: a member, or any of a group's.
    pub target: Option<PlacementTarget>,
    /// The deadline of each API call (Cloud Deploy's `container.timeout`).
    pub request_timeout: Duration,
}

/// The AMI catalog settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsConfig {
    /// An EC2 endpoint override (tests, VPC endpoints).
    pub endpoint_url: Option<String>,
    /// A named profile.
    pub profile: Option<String>,
    /// Cloud Deploy's cross-account mode: account id and role name.
    pub assume_role: Option<(String, String)>,
    /// The tag holding the OS family.
    pub os_family_tag: Option<String>,
    /// The tag holding the OS release.
    pub os_release_tag: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where it came from.
    pub origin: ConfigOrigin,
    /// `container.enabled`: lxpack refuses to run jobs when it is explicitly false.
    pub containers_enabled: bool,
    /// What the workflows are told.
    pub settings: Settings,
    /// How to reach the daemon.
    pub runtime: RuntimeConfig,
    /// The AMI catalog, when configured.
    pub aws: Option<AwsConfig>,
    /// The store the file names (`lxpack.store`), if it names one.
    pub store: Option<StoreLocation>,
    /// What a server store needs beside its URL (for a `--store` URL too).
    pub store_access: ServerAccess,
    /// Unknown keys and other things worth saying.
    pub warnings: Vec<String>,
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file named by `--config` or `LXPACK_CONFIG` does not exist.
    #[error("config file {path} (from {from}) does not exist")]
    Missing {
        /// The path.
        path: PathBuf,
        /// `--config` or `LXPACK_CONFIG`.
        from: &'static str,
    },
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, or a value has the wrong type or an unknown value.
    #[error("{origin}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        origin: ConfigOrigin,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message, which starts with the key's path.
        message: String,
    },
    /// A key has a value that is not valid here.
    #[error("{origin}: key {key}: {problem}")]
    Invalid {
        /// The file.
        origin: ConfigOrigin,
        /// The key's path, e.g. `features_provisioners.salt.path`.
        key: String,
        /// What is wrong, and the fix.
        problem: String,
    },
}

/// The longest time limit the config takes, in seconds (365 days). Limits are used as
/// deadlines with margins added and sent to the daemon as seconds: an unbounded one
/// would overflow (`lxpack.timeouts.hook: 18446744073709551615` made the first hook
/// panic).
pub const MAX_LIMIT_SECONDS: u64 = 365 * 24 * 3600;

/// The default config: what a machine with LXD or Incus and no config file gets.
pub const EMBEDDED_DEFAULTS: &str = include_str!("defaults.yml");

impl Config {
    /// Reads the config chosen by `choice`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line and key.
    pub fn load(choice: &ConfigChoice) -> Result<Self, ConfigError> {
        match choice {
            ConfigChoice::Defaults => Self::parse(EMBEDDED_DEFAULTS, ConfigOrigin::Defaults),
            ConfigChoice::File { path, from } => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    if source.kind() == std::io::ErrorKind::NotFound
                        && let Some(from) = from
                    {
                        return ConfigError::Missing {
                            path: path.clone(),
                            from,
                        };
                    }
                    ConfigError::Read {
                        path: path.clone(),
                        source,
                    }
                })?;
                Self::parse(&text, ConfigOrigin::File(path.clone()))
            }
        }
    }

    /// Parses config text.
    ///
    /// # Errors
    /// [`ConfigError::Syntax`] with line and column for malformed YAML, wrong types
    /// and unknown values; [`ConfigError::Invalid`] naming the key otherwise.
    pub fn parse(text: &str, origin: ConfigOrigin) -> Result<Self, ConfigError> {
        let mut unknown = Vec::new();
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            let deserializer = serde_yaml_ng::Deserializer::from_str(text);
            serde_ignored::deserialize(deserializer, |path| unknown.push(path.to_string()))
                .map_err(|error: serde_yaml_ng::Error| {
                    let location = error.location();
                    ConfigError::Syntax {
                        origin: origin.clone(),
                        line: location.as_ref().map_or(0, serde_yaml_ng::Location::line),
                        column: location.as_ref().map_or(0, serde_yaml_ng::Location::column),
                        message: error.to_string(),
                    }
                })?
        };
        let warnings = unknown
            .into_iter()
            .map(|key| format!("{origin}: unknown key {key} is ignored"))
            .collect();
        build(raw, origin, warnings)
    }
}

fn build(
    raw: RawConfig,
    origin: ConfigOrigin,
    warnings: Vec<String>,
) -> Result<Config, ConfigError> {
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        origin: origin.clone(),
        key: key.to_owned(),
        problem,
    };
    let mut warnings = warnings;
    let provisioners = provisioner_settings(&raw, &origin, &invalid, &mut warnings)?;
    let source_server = source_server(&raw, &invalid)?;
    let timeouts = timeouts(&raw.lxpack.timeouts, &invalid)?;
    let settings = Settings {
        source_server,
        keep_resources: raw.container.debug.unwrap_or(false),
        keep: KeepSettings {
            on_failure: raw.lxpack.keep.on_failure.unwrap_or(false),
            expiry: positive_seconds(
                &invalid,
                "lxpack.keep.expiry",
                raw.lxpack.keep.expiry,
                KeepSettings::DEFAULT_EXPIRY,
            )?,
        },
        provisioners,
        bootstrap_provisioners: !raw.skip_provisioner_bootstrap.unwrap_or(true),
        provisioner_log_level: raw.provisioner_log_level.map(|l| l.0).unwrap_or_default(),
        retention: RetentionPolicy {
            keep_latest: raw
                .ami_retention
                .map_or(RetentionPolicy::default().keep_latest, |n| n as usize),
        },
        compression: raw.lxpack.compression.map(|c| c.0).unwrap_or_default(),
        isolation: raw.lxpack.isolation.map(|i| i.0).unwrap_or_default(),
        resources: resources::resource_settings(
            &raw.lxpack.resources,
            &raw.lxpack.limits,
            &origin,
            &invalid,
            &mut warnings,
        )?,
        timeouts,
        cleanup: raw.lxpack.cleanup.map(|c| c.0).unwrap_or_default(),
        placement: None,
        pool: pool_settings(&raw.lxpack.pool, &invalid)?,
        cache: cache_settings(&raw.lxpack.cache, &invalid)?,
        step_snapshots: raw.lxpack.buildimage.step_snapshots.unwrap_or(true),
        secrets: secrets::secret_settings(&raw.lxpack.secrets, &invalid)?,
        network: network::network_settings(&raw.lxpack.network, &invalid)?,
    };

    let runtime = runtime_config(&raw, &invalid)?;
    let settings = Settings {
        placement: runtime.target.clone(),
        ..settings
    };
    let aws = aws_config(&raw, &invalid)?;
    let store_access = store::server_access(
        &raw.lxpack.store_password,
        raw.lxpack.store_ca.as_deref(),
        &invalid,
    )?;
    let store = raw
        .lxpack
        .store
        .as_deref()
        .map(|text| store::store_location(text, &store_access, &invalid))
        .transpose()?;
    Ok(Config {
        origin,
        containers_enabled: raw.container.enabled.unwrap_or(true),
        settings,
        runtime,
        aws,
        store,
        store_access,
        warnings,
    })
}

/// The provisioners whose formulas are on this host, in the file's order; one
/// without a `path` is a warning in `warnings` (a Cloud Deploy config names only the
/// formulas' git repository, which lxpack does not clone: the file still loads, and
/// its features are refused at buildimage until `path` is set).
fn provisioner_settings(
    raw: &RawConfig,
    origin: &ConfigOrigin,
    invalid: &dyn Fn(&str, String) -> ConfigError,
    warnings: &mut Vec<String>,
) -> Result<Vec<ProvisionerSettings>, ConfigError> {
    let mut provisioners = Vec::new();
    for (name, provisioner) in &raw.features_provisioners {
        let key = format!("features_provisioners.{}", name.0);
        let Some(formulas) = provisioner.path.clone() else {
            warnings.push(format!(
                "{origin}: {key} has no path, so buildimage cannot apply {} features: set {key}.path to a checkout of its formulas (lxpack does not clone git_repo)",
                name.0
            ));
            continue;
        };
        host_path(invalid, &format!("{key}.path"), &formulas)?;
        if !formulas.is_absolute() {
            return Err(invalid(
                &format!("{key}.path"),
                format!("{} must be an absolute path", formulas.display()),
            ));
        }
        provisioners.push(ProvisionerSettings {
            kind: name.0,
            formulas_digest: formulas_digest(&formulas),
            formulas,
            bootstrap_command: provisioner.bootstrap_command.clone(),
        });
    }
    Ok(provisioners)
}

/// The remote image server of `container.endpoint`; `None` for the local store.
fn source_server(
    raw: &RawConfig,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Option<RemoteServer>, ConfigError> {
    match raw.container.endpoint.as_deref().map(str::trim) {
        None | Some("" | "localhost") => Ok(None),
        Some(url) if url.starts_with("https://") => Ok(Some(RemoteServer {
            url: with_host(url).ok_or_else(|| {
                invalid(
                    "container.endpoint",
                    format!("{url:?} names no host: write https://HOST[:PORT]"),
                )
            })?,
            protocol: raw
                .lxpack
                .endpoint_protocol
                .map_or(RemoteProtocol::Lxd, |p| p.0),
        })),
        Some(other) => Err(invalid(
            "container.endpoint",
            format!(
                "{other:?} is not an https:// URL; use localhost (or leave it out) for the local image store"
            ),
        )),
    }
}

/// The step time limits of `lxpack.timeouts`.
fn timeouts(
    t: &raw::RawTimeouts,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Timeouts, ConfigError> {
    let positive = |key: &str, value: Option<u64>, default: Duration| {
        positive_seconds(invalid, key, value, default)
    };
    let defaults = Timeouts::default();
    Ok(Timeouts {
        launch: positive("lxpack.timeouts.launch", t.launch, defaults.launch)?,
        ready: positive("lxpack.timeouts.ready", t.ready, defaults.ready)?,
        hook: positive("lxpack.timeouts.hook", t.hook, defaults.hook)?,
        features: positive("lxpack.timeouts.features", t.features, defaults.features)?,
        buildpack: positive("lxpack.timeouts.buildpack", t.buildpack, defaults.buildpack)?,
        publish: positive("lxpack.timeouts.publish", t.publish, defaults.publish)?,
        graceful_stop: t
            .graceful_stop
            .filter(|s| *s > 0)
            .map(|s| positive("lxpack.timeouts.graceful_stop", Some(s), Duration::ZERO))
            .transpose()?,
        kill_grace: positive(
            "lxpack.timeouts.kill_grace",
            t.kill_grace,
            lxpack_core::domain::ExecRequest::KILL_GRACE,
        )?,
    })
}

/// Refuses the path at `key` when the host cannot have it ([`check_host_path`]: a
/// control character), naming the key.
fn host_path(
    invalid: &dyn Fn(&str, String) -> ConfigError,
    key: &str,
    path: &Path,
) -> Result<(), ConfigError> {
    check_host_path(path).map_err(|error| invalid(key, error.to_string()))
}

/// A number of seconds at `key`: `default` when unset; positive and at most
/// [`MAX_LIMIT_SECONDS`] when set.
fn positive_seconds(
    invalid: &dyn Fn(&str, String) -> ConfigError,
    key: &str,
    value: Option<u64>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(0) => Err(invalid(
            key,
            "must be a positive number of seconds".to_owned(),
        )),
        Some(seconds) if seconds > MAX_LIMIT_SECONDS => Err(invalid(key, too_long(seconds))),
        Some(seconds) => Ok(Duration::from_secs(seconds)),
    }
}

/// The most bytes of formulas hashed for buildimage's step snapshots; past it the
/// features step is never taken from a snapshot.
const MAX_FORMULAS_BYTES: u64 = 64 << 20;

/// A digest of every file under `dir` (its path below `dir` and its contents, in
/// path order), for buildimage's step snapshots: `None` when it cannot be read or
/// holds more than [`MAX_FORMULAS_BYTES`].
fn formulas_digest(dir: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&entry.path(), files)?;
            } else {
                files.push(entry.path());
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files).ok()?;
    files.sort();
    let mut hasher = Sha256::new();
    let mut total = 0_u64;
    for file in files {
        let contents = std::fs::read(&file).ok()?;
        total = total.saturating_add(u64::try_from(contents.len()).unwrap_or(u64::MAX));
        if total > MAX_FORMULAS_BYTES {
            return None;
        }
        let relative = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        hasher.update(relative.len().to_be_bytes());
        hasher.update(relative.as_bytes());
        hasher.update(contents.len().to_be_bytes());
        hasher.update(&contents);
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn pool_settings(
    raw: &raw::RawPool,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<PoolSettings, ConfigError> {
    let size = |key: &str, value: Option<u64>, default: usize| match value {
        None => Ok(default),
        Some(n) => PoolSize::parse_size(n).map_err(|problem| invalid(key, problem)),
    };
    let age = |key: &str, value: Option<u64>, default: Duration| {
        positive_seconds(invalid, key, value, default)
    };
    let default = PoolSize {
        size: size("lxpack.pool.size", raw.size, 0)?,
        max_age: age(
            "lxpack.pool.max_age",
            raw.max_age,
            PoolSize::DEFAULT_MAX_AGE,
        )?,
    };
    let mut apps = std::collections::BTreeMap::new();
    for (name, entry) in raw.apps.iter().flatten() {
        let key = format!("lxpack.pool.apps.{name}");
        let app = app_key_at(&key, name, invalid)?;
        let pool = PoolSize {
            size: size(&format!("{key}.size"), entry.size, default.size)?,
            max_age: age(&format!("{key}.max_age"), entry.max_age, default.max_age)?,
        };
        apps.insert(app, pool);
    }
    Ok(PoolSettings { default, apps })
}

/// The app a per-app entry at `key` names, as `NAME/ENV/ROLE`.
fn app_key_at(
    key: &str,
    name: &str,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<AppKey, ConfigError> {
    let parts: Vec<&str> = name.split('/').collect();
    let [app, env, role] = parts.as_slice() else {
        return Err(invalid(
            key,
            "an app is named NAME/ENV/ROLE here (e.g. web/prod/front)".to_owned(),
        ));
    };
    if [app, env, role].iter().any(|part| part.is_empty()) {
        return Err(invalid(
            key,
            "an app is named NAME/ENV/ROLE here, none of them empty".to_owned(),
        ));
    }
    Ok(AppKey::new(*app, *env, *role))
}

/// The most paths one module may keep: each is a volume copied on every deploy.
const MAX_CACHE_PATHS: usize = 16;

fn cache_settings(
    raw: &raw::RawCache,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<CacheSettings, ConfigError> {
    let bytes = |key: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|text| byte_size(text).map_err(|reason| invalid(key, reason)))
            .transpose()
    };
    let mut paths = std::collections::BTreeMap::new();
    for (name, modules) in raw.apps.iter().flatten() {
        let key = format!("lxpack.cache.apps.{name}");
        let app = app_key_at(&key, name, invalid)?;
        for (module, list) in modules {
            let key = format!("{key}.{module}");
            if list.len() > MAX_CACHE_PATHS {
                return Err(invalid(
                    &key,
                    format!(
                        "{} paths is more than the {MAX_CACHE_PATHS} a module may keep",
                        list.len()
                    ),
                ));
            }
            let mut parsed: Vec<GuestPath> = Vec::with_capacity(list.len());
            for text in list {
                let path = GuestPath::parse(text).map_err(|e| invalid(&key, e.to_string()))?;
                if path.as_str() == "/" {
                    return Err(invalid(
                        &key,
                        "/ cannot be a cache: name the directory the buildpack fills (e.g. /root/.cache/pip)".to_owned(),
                    ));
                }
                if let Some(other) = parsed.iter().find(|p| nested(p, &path) || nested(&path, p)) {
                    return Err(invalid(
                        &key,
                        format!("{path} and {other} overlap: a cache may not hold another"),
                    ));
                }
                parsed.push(path);
            }
            paths.insert((app.clone(), module.clone()), parsed);
        }
    }
    Ok(CacheSettings {
        paths,
        quota: bytes("lxpack.cache.quota", &raw.quota)?,
        budget: bytes("lxpack.cache.budget", &raw.budget)?,
    })
}

/// Whether `inner` is `outer` or inside it.
fn nested(outer: &GuestPath, inner: &GuestPath) -> bool {
    inner == outer
        || inner
            .as_str()
            .strip_prefix(outer.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A size in bytes: a number, or a number with a unit (`kB`, `MB`, `GB`, `TB` in
/// powers of 1000; `KiB`, `MiB`, `GiB`, `TiB` in powers of 1024), at least 1 MiB.
fn byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let value = parse_size(text)?;
    if value < 1 << 20 {
        return Err(format!("{text:?} is less than 1 MiB"));
    }
    Ok(value)
}

fn runtime_config(
    raw: &RawConfig,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<RuntimeConfig, ConfigError> {
    let r = &raw.lxpack.runtime;
    for (key, path) in [
        ("lxpack.runtime.socket", &r.socket),
        ("lxpack.runtime.client_cert", &r.client_cert),
        ("lxpack.runtime.client_key", &r.client_key),
        ("lxpack.runtime.server_cert", &r.server_cert),
    ] {
        if let Some(path) = path {
            host_path(invalid, key, path)?;
        }
    }
    let endpoint = match (&r.socket, &r.url) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "lxpack.runtime",
                "set either socket or url, not both".to_owned(),
            ));
        }
        (Some(socket), None) => RuntimeEndpoint::Socket(socket.clone()),
        (None, None) => RuntimeEndpoint::Discover,
        (None, Some(url)) => https_endpoint(url, r, invalid)?,
    };
    let request_timeout = match raw.container.timeout {
        Some(0) => {
            return Err(invalid(
                "container.timeout",
                "must be a positive number of seconds".to_owned(),
            ));
        }
        Some(seconds) if seconds > MAX_LIMIT_SECONDS => {
            return Err(invalid("container.timeout", too_long(seconds)));
        }
        Some(seconds) => Duration::from_secs(seconds),
        None => Duration::from_secs(10),
    };
    let target = match &r.target {
        None => None,
        Some(text) => Some(
            PlacementTarget::parse(text)
                .map_err(|error| invalid("lxpack.runtime.target", error.to_string()))?,
        ),
    };
    Ok(RuntimeConfig {
        endpoint,
        project: r.project.clone(),
        target,
        request_timeout,
    })
}

/// The endpoint of `lxpack.runtime.url`, with the certificates it needs.
fn https_endpoint(
    url: &str,
    r: &raw::RawRuntime,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<RuntimeEndpoint, ConfigError> {
    if !url.starts_with("https://") {
        return Err(invalid(
            "lxpack.runtime.url",
            format!("{url:?} must start with https:// (remote daemons are reached over TLS only)"),
        ));
    }
    let Some(url) = with_host(url) else {
        return Err(invalid(
            "lxpack.runtime.url",
            format!("{url:?} names no host: write https://HOST[:PORT]"),
        ));
    };
    let need = |key: &str, value: &Option<PathBuf>| {
        value.clone().ok_or_else(|| {
            invalid(
                &format!("lxpack.runtime.{key}"),
                format!("is required with lxpack.runtime.url: {}", match key {
                    "client_cert" => "the client certificate (PEM) the server trusts",
                    "client_key" => "the client certificate's private key (PEM)",
                    _ => "the server's certificate (PEM), which lxpack pins; there is no insecure mode",
                }),
            )
        })
    };
    Ok(RuntimeEndpoint::Https {
        url,
        client_cert: need("client_cert", &r.client_cert)?,
        client_key: need("client_key", &r.client_key)?,
        server_cert: need("server_cert", &r.server_cert)?,
    })
}

/// What is wrong with a time limit above [`MAX_LIMIT_SECONDS`].
fn too_long(seconds: u64) -> String {
    format!("{seconds} seconds is more than the longest limit, {MAX_LIMIT_SECONDS} (365 days)")
}

/// `url`, which starts with `https://`, without its trailing `/`s; `None` when it
/// names no host (`https://`, `https:///x`).
fn with_host(url: &str) -> Option<String> {
    let url = url.trim_end_matches('/');
    let authority = url
        .strip_prefix("https://")?
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    (!authority.is_empty()).then(|| url.to_owned())
}

fn aws_config(
    raw: &RawConfig,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Option<AwsConfig>, ConfigError> {
    let a = &raw.lxpack.aws;
    let any_set = a.endpoint_url.is_some() || a.profile.is_some() || a.assume_role.is_some();
    if !a.enabled.unwrap_or(any_set) {
        return Ok(None);
    }
    let assume_role = match &a.assume_role {
        None => None,
        Some(role) => match (&role.account_id, &role.role_name) {
            (Some(account), Some(name))
                if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some((account.clone(), name.clone()))
            }
            (Some(account), Some(_)) => {
                return Err(invalid(
                    "lxpack.aws.assume_role.account_id",
                    format!("{account:?} is not a 12-digit AWS account id"),
                ));
            }
            _ => {
                return Err(invalid(
                    "lxpack.aws.assume_role",
                    "needs both account_id and role_name".to_owned(),
                ));
            }
        },
    };
    Ok(Some(AwsConfig {
        endpoint_url: a.endpoint_url.clone(),
        profile: a.profile.clone(),
        assume_role,
        os_family_tag: a.os_family_tag.clone(),
        os_release_tag: a.os_release_tag.clone(),
    }))
}

#[cfg(test)]
mod tests;
