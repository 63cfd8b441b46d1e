use std::path::Path;

use lxpack_core::domain::{Isolation, Provisioner, RemoteProtocol};
use lxpack_core::ports::Compression;
use lxpack_core::workflows::LogLevel;

use super::*;

fn file() -> ConfigOrigin {
    ConfigOrigin::File("/etc/lxpack/config.yml".into())
}

#[test]
fn embedded_defaults_are_valid() {
    let config = Config::parse(EMBEDDED_DEFAULTS, ConfigOrigin::Defaults).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(config.containers_enabled);
    assert_eq!(config.settings.compression, Compression::Zstd);
    assert_eq!(
        config.settings.cleanup,
        lxpack_core::workflows::CleanupMode::Background
    );
    assert_eq!(config.settings.isolation, Isolation::Unprivileged);
    assert_eq!(config.settings.retention.keep_latest, 5);
    assert!(!config.settings.bootstrap_provisioners);
    assert_eq!(config.runtime.endpoint, RuntimeEndpoint::Discover);
    assert!(config.aws.is_none());
}

#[test]
fn cloud_deploy_keys_are_accepted_unchanged() {
    let text = "\
mongo_dbname: deploy
container:
  enabled: true
  endpoint: https://images.example.com:8443/
  timeout: 20
  debug: true
ami_retention: 3
features_provisioners:
  ansible:
    git_repo: git@x:ansible.git
    git_revision: master
    path: /srv/formulas/ansible
  salt:
    git_repo: git@x:salt.git
    path: /srv/formulas/salt
skip_provisioner_bootstrap: false
provisioner_log_level: debug
lxpack:
  endpoint_protocol: simplestreams
  timeouts: {buildpack: 60}
";
    let config = Config::parse(text, file()).unwrap();
    let s = &config.settings;
    assert!(s.keep_resources);
    assert_eq!(s.retention.keep_latest, 3);
    assert!(s.bootstrap_provisioners);
    assert_eq!(s.provisioner_log_level, LogLevel::Debug);
    let kinds: Vec<Provisioner> = s.provisioners.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [Provisioner::Ansible, Provisioner::Salt],
        "file order is kept"
    );
    let server = s.source_server.as_ref().unwrap();
    assert_eq!(server.url, "https://images.example.com:8443");
    assert_eq!(server.protocol, RemoteProtocol::Simplestreams);
    assert_eq!(config.runtime.request_timeout, Duration::from_secs(20));
    assert_eq!(s.timeouts.buildpack, Duration::from_secs(60));
    assert_eq!(
        config.warnings,
        ["/etc/lxpack/config.yml: unknown key mongo_dbname is ignored"]
    );
}

fn syntax(text: &str) -> (usize, String) {
    match Config::parse(text, file()).unwrap_err() {
        ConfigError::Syntax { line, message, .. } => (line, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn wrong_values_name_the_line_and_the_key() {
    let (line, message) = syntax("container:\n  enabled: true\n  timeout: soon\n");
    assert_eq!(line, 3);
    assert!(message.contains("container.timeout"), "{message}");
    let (line, message) = syntax("lxpack:\n  compression: brotli\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("lxpack.compression") && message.contains("zstd"),
        "{message}"
    );
    let (line, message) = syntax("lxpack:\n  cleanup: later\n");
    assert_eq!(line, 2);
    assert!(
        message.contains("lxpack.cleanup") && message.contains("wait or background"),
        "{message}"
    );
    let (line, message) = syntax("features_provisioners:\n  chef:\n    path: /x\n");
    assert_eq!(line, 2);
    assert!(message.contains("salt or ansible"), "{message}");
    let (_, message) = syntax("container: [1, 2\n");
    assert!(!message.is_empty());
    let error = Config::parse("ami_retention: -1\n", file())
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("/etc/lxpack/config.yml:1:"), "{error}");
}

fn invalid(text: &str) -> (String, String) {
    match Config::parse(text, file()).unwrap_err() {
        ConfigError::Invalid { key, problem, .. } => (key, problem),
        other => panic!("expected an invalid key, got {other:?}"),
    }
}

#[test]
fn invalid_values_name_the_key_and_the_fix() {
    let cases = [
        (
            "features_provisioners:\n  salt:\n    path: relative\n",
            "features_provisioners.salt.path",
            "absolute",
        ),
        (
            "container:\n  endpoint: http://images\n",
            "container.endpoint",
            "https://",
        ),
        // Found by the config fuzz target: `https://` alone was taken, as "https:".
        (
            "container:\n  endpoint: 'https:// '\n",
            "container.endpoint",
            "names no host",
        ),
        (
            "lxpack:\n  runtime:\n    url: https:///1.0\n",
            "lxpack.runtime.url",
            "names no host",
        ),
        // Limits are deadlines with margins added: u64::MAX seconds overflowed them.
        (
            "lxpack:\n  timeouts:\n    hook: 18446744073709551615\n",
            "lxpack.timeouts.hook",
            "365 days",
        ),
        (
            "lxpack:\n  timeouts:\n    graceful_stop: 31536001\n",
            "lxpack.timeouts.graceful_stop",
            "365 days",
        ),
        (
            "container:\n  timeout: 31536001\n",
            "container.timeout",
            "365 days",
        ),
        (
            "container:\n  timeout: 0\n",
            "container.timeout",
            "positive",
        ),
        (
            "lxpack:\n  runtime:\n    url: https://h:8443\n",
            "lxpack.runtime.client_cert",
            "required",
        ),
        (
            "lxpack:\n  runtime:\n    url: http://h\n",
            "lxpack.runtime.url",
            "https://",
        ),
        (
            "lxpack:\n  runtime:\n    url: https://h\n    socket: /s\n",
            "lxpack.runtime",
            "either",
        ),
        (
            "lxpack:\n  timeouts:\n    launch: 0\n",
            "lxpack.timeouts.launch",
            "positive",
        ),
        (
            "lxpack:\n  aws:\n    assume_role: {account_id: '12', role_name: r}\n",
            "lxpack.aws.assume_role.account_id",
            "12-digit",
        ),
    ];
    for (text, key, needle) in cases {
        let (got, problem) = invalid(text);
        assert_eq!(got, key, "{text}");
        assert!(problem.contains(needle), "{problem}");
    }
}

#[test]
fn privileged_and_aws_are_explicit() {
    let text = "lxpack:\n  isolation: privileged\n  aws:\n    endpoint_url: http://127.0.0.1:5000\n    assume_role: {account_id: '123456789012', role_name: deploy}\n";
    let config = Config::parse(text, file()).unwrap();
    assert_eq!(config.settings.isolation, Isolation::Privileged);
    let aws = config.aws.unwrap();
    assert_eq!(
        aws.assume_role,
        Some(("123456789012".into(), "deploy".into()))
    );
    assert!(
        Config::parse(
            "lxpack:\n  aws:\n    enabled: false\n    profile: p\n",
            file()
        )
        .unwrap()
        .aws
        .is_none()
    );
}

#[test]
fn config_is_located_by_flag_then_env_then_xdg() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |key: &str| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let yes = |_: &Path| true;
    let no = |_: &Path| false;
    assert_eq!(
        locate(
            Some("/a.yml".into()),
            env(&[("LXPACK_CONFIG", "/b.yml")]),
            yes
        ),
        ConfigChoice::File {
            path: "/a.yml".into(),
            from: Some("--config")
        }
    );
    assert_eq!(
        locate(None, env(&[("LXPACK_CONFIG", "/b.yml")]), yes),
        ConfigChoice::File {
            path: "/b.yml".into(),
            from: Some("LXPACK_CONFIG")
        }
    );
    assert_eq!(
        locate(None, env(&[("XDG_CONFIG_HOME", "/x")]), yes),
        ConfigChoice::File {
            path: "/x/lxpack/config.yml".into(),
            from: None
        }
    );
    assert_eq!(
        locate(None, env(&[("HOME", "/root")]), yes),
        ConfigChoice::File {
            path: "/root/.config/lxpack/config.yml".into(),
            from: None
        }
    );
    assert_eq!(
        locate(None, env(&[("HOME", "/root")]), no),
        ConfigChoice::Defaults
    );
}

#[test]
fn a_named_file_must_exist() {
    let choice = ConfigChoice::File {
        path: "/nonexistent/lxpack.yml".into(),
        from: Some("LXPACK_CONFIG"),
    };
    let error = Config::load(&choice).unwrap_err().to_string();
    assert_eq!(
        error,
        "config file /nonexistent/lxpack.yml (from LXPACK_CONFIG) does not exist"
    );
}

#[test]
fn a_whole_cloud_deploy_config_loads() {
    let text = include_str!("cloud_deploy_sample.yml");
    let config = Config::parse(text, file()).unwrap();
    assert!(config.containers_enabled);
    assert_eq!(config.settings.retention.keep_latest, 5);
    assert_eq!(
        config
            .settings
            .source_server
            .as_ref()
            .map(|s| s.url.as_str()),
        Some("https://images.example.invalid:8443")
    );
    assert!(
        config.settings.provisioners.is_empty(),
        "no path: not usable"
    );
    let warnings = config.warnings.join("\n");
    for provisioner in ["salt", "ansible"] {
        assert!(
            warnings.contains(&format!("features_provisioners.{provisioner} has no path")),
            "{warnings}"
        );
    }
    assert!(warnings.contains("unknown key ses_settings"), "{warnings}");
    assert!(!warnings.contains("aws_secret_key"), "{warnings}");
}

#[test]
fn keeping_is_off_by_default_with_a_day_of_expiry_and_set_under_lxpack_keep() {
    let config = Config::parse(EMBEDDED_DEFAULTS, ConfigOrigin::Defaults).unwrap();
    assert!(!config.settings.keep.on_failure);
    assert_eq!(config.settings.keep.expiry, Duration::from_secs(24 * 3600));

    let text = "lxpack:\n  keep:\n    on_failure: true\n    expiry: 3600\n";
    let config = Config::parse(text, file()).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert!(config.settings.keep.on_failure);
    assert_eq!(config.settings.keep.expiry, Duration::from_secs(3600));

    let error = Config::parse("lxpack:\n  keep:\n    expiry: 0\n", file()).unwrap_err();
    assert!(error.to_string().contains("lxpack.keep.expiry"), "{error}");
}

/// The example config the Debian package installs
/// (/usr/share/doc/lxpack/examples/config.yml).
const EXAMPLE: &str = include_str!("example.yml");

/// The example with every setting left out (`#key: value`, at any depth) put back in.
fn example_with_every_setting() -> String {
    EXAMPLE
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let rest = &line[indent..];
            let Some(commented) = rest.strip_prefix('#') else {
                return line.to_owned();
            };
            let key = commented.trim_start();
            // Setting names, and the NAME/ENV/ROLE keys of lxpack.pool.apps.
            let name_end = key
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == '/'))
                .unwrap_or(key.len());
            let is_setting = name_end > 0
                && key[name_end..].starts_with(':')
                && key[name_end + 1..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace);
            if is_setting {
                format!("{}{commented}", &line[..indent])
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_config_as_written_is_the_embedded_defaults() {
    let example = Config::parse(EXAMPLE, file()).unwrap();
    assert!(example.warnings.is_empty(), "{:?}", example.warnings);
    let defaults = Config::parse(EMBEDDED_DEFAULTS, file()).unwrap();
    assert_eq!(example, defaults);
}

#[test]
fn the_example_config_documents_every_key_the_parser_accepts() {
    let text = example_with_every_setting();
    let mut unknown = Vec::new();
    let raw: raw::RawConfig =
        serde_ignored::deserialize(serde_yaml_ng::Deserializer::from_str(&text), |path| {
            unknown.push(path.to_string())
        })
        .unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert!(
        unknown.is_empty(),
        "keys the parser does not know: {unknown:?}"
    );
    // Every field of the raw config is an Option, a map or a struct of them: a key the
    // example leaves out shows as `None` (or an empty map) here.
    let seen = format!("{raw:#?}");
    assert!(
        !seen.contains("None") && !seen.contains("{}"),
        "the example does not document every key; unset after uncommenting:\n{seen}"
    );
    for provisioner in Provisioner::SPELLINGS {
        assert!(
            raw.features_provisioners
                .keys()
                .any(|name| name.0.as_str() == *provisioner),
            "the example has no features_provisioners.{provisioner}"
        );
    }
}

#[test]
fn pools_are_read_per_app_and_bad_values_name_their_key() {
    let config = Config::parse(
        "lxpack:\n  pool:\n    size: 2\n    apps:\n      web/prod/front: {size: 8, max_age: 60}\n      api/prod/back: {max_age: 30}\n",
        file(),
    )
    .unwrap();
    let pool = &config.settings.pool;
    assert_eq!(pool.default.size, 2);
    let web = pool.for_app(&lxpack_core::domain::AppKey::new("web", "prod", "front"));
    assert_eq!((web.size, web.max_age.as_secs()), (8, 60));
    let api = pool.for_app(&lxpack_core::domain::AppKey::new("api", "prod", "back"));
    assert_eq!(
        (api.size, api.max_age.as_secs()),
        (2, 30),
        "size falls back"
    );
    let other = pool.for_app(&lxpack_core::domain::AppKey::new("x", "y", "z"));
    assert_eq!(other, pool.default);
    for (text, key) in [
        ("lxpack:\n  pool:\n    size: 65\n", "lxpack.pool.size"),
        ("lxpack:\n  pool:\n    max_age: 0\n", "lxpack.pool.max_age"),
        (
            "lxpack:\n  pool:\n    apps:\n      web: {size: 1}\n",
            "lxpack.pool.apps.web",
        ),
        (
            "lxpack:\n  pool:\n    apps:\n      web//x: {size: 1}\n",
            "lxpack.pool.apps.web//x",
        ),
        (
            "lxpack:\n  pool:\n    apps:\n      a/b/c: {size: 100}\n",
            "lxpack.pool.apps.a/b/c.size",
        ),
    ] {
        let error = Config::parse(text, file()).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}

#[test]
fn a_control_character_in_any_path_is_refused_naming_the_key_and_the_fix() {
    // YAML's double-quoted "\n", "\t" and "\0" are the characters themselves.
    let cases = [
        (
            "lxpack:\n  cache:\n    apps:\n      web/prod/front:\n        api: [\"/var/cache/a\\nb\"]\n",
            "lxpack.cache.apps.web/prod/front.api",
        ),
        (
            "lxpack:\n  cache:\n    apps:\n      web/prod/front:\n        api: [\"/var/cache/a\\tb\"]\n",
            "lxpack.cache.apps.web/prod/front.api",
        ),
        (
            "lxpack:\n  cache:\n    apps:\n      web/prod/front:\n        api: [\"/var/cache/a\\0b\"]\n",
            "lxpack.cache.apps.web/prod/front.api",
        ),
        (
            "lxpack:\n  store: \"/var/lib/lxpack\\n.db\"\n",
            "lxpack.store",
        ),
        (
            "features_provisioners:\n  salt:\n    path: \"/srv/salt\\n\"\n",
            "features_provisioners.salt.path",
        ),
        (
            "lxpack:\n  runtime:\n    socket: \"/run/lxd\\r.socket\"\n",
            "lxpack.runtime.socket",
        ),
        (
            "lxpack:\n  runtime:\n    url: https://lxd:8443\n    client_cert: \"/c\\e.crt\"\n    client_key: /k\n    server_cert: /s\n",
            "lxpack.runtime.client_cert",
        ),
        (
            "lxpack:\n  runtime:\n    url: https://lxd:8443\n    client_cert: /c\n    client_key: \"/k\\n\"\n    server_cert: /s\n",
            "lxpack.runtime.client_key",
        ),
        (
            "lxpack:\n  runtime:\n    url: https://lxd:8443\n    client_cert: /c\n    client_key: /k\n    server_cert: \"/s\\t\"\n",
            "lxpack.runtime.server_cert",
        ),
    ];
    for (text, expected_key) in cases {
        let (key, problem) = invalid(text);
        assert_eq!(key, expected_key, "{text}");
        assert!(
            problem.contains("control character") && problem.contains("write the path without it"),
            "{text}: {problem}"
        );
    }
}

#[test]
fn secrets_are_read_per_app_and_for_every_app() {
    let config = Config::parse(
        "lxpack:\n  secrets:\n    patterns: ['*_TOKEN']\n    apps:\n      web/prod/front:\n        names: [DB_PASSWORD]\n        patterns: ['KEY_*']\n",
        file(),
    )
    .unwrap();
    let secrets = &config.settings.secrets;
    assert_eq!(secrets.configured(), 3);
    let web = secrets.rule_for(&lxpack_core::domain::AppKey::new("web", "prod", "front"));
    assert_eq!(web.names, ["DB_PASSWORD"]);
    assert!(web.covers("KEY_A") && web.covers("API_TOKEN") && !web.covers("PLAIN"));
    assert_eq!(
        secrets.delivery,
        lxpack_core::workflows::SecretDelivery::Env
    );
    let none = Config::parse("", file()).unwrap();
    assert_eq!(none.settings.secrets.configured(), 0);
    let files = Config::parse("lxpack:\n  secrets:\n    delivery: files\n", file()).unwrap();
    assert_eq!(
        files.settings.secrets.delivery,
        lxpack_core::workflows::SecretDelivery::Files
    );
    let error = Config::parse("lxpack:\n  secrets:\n    delivery: disk\n", file()).unwrap_err();
    assert!(
        error.to_string().contains("lxpack.secrets.delivery"),
        "{error}"
    );
}

#[test]
fn without_a_resources_key_every_instance_gets_the_default_class() {
    use lxpack_core::domain::{AppKey, DEFAULT_PROCESSES};
    let config = Config::parse("", file()).unwrap();
    let class = config
        .settings
        .resources
        .class_for(&AppKey::new("web", "prod", "front"), Some("api"));
    assert_eq!(class.name.as_str(), "default");
    assert_eq!(class.limits.processes, Some(DEFAULT_PROCESSES));
    assert_eq!((class.limits.cpu, class.limits.memory), (None, None));
}

#[test]
fn classes_are_chosen_by_module_then_app_then_default() {
    use lxpack_core::domain::AppKey;
    let config = Config::parse(
        "lxpack:\n  resources:\n    default: small\n    classes:\n      small: {cpu: \"1\", memory: 1GiB, processes: 100, disk: 2GiB}\n      large: {cpu: 0-3, memory: 50%}\n    apps:\n      web/prod/front: large\n      api/prod/back: {modules: {worker: large}}\n",
        file(),
    )
    .unwrap();
    let resources = &config.settings.resources;
    let web = AppKey::new("web", "prod", "front");
    let api = AppKey::new("api", "prod", "back");
    let of = |app: &AppKey, module: Option<&str>| resources.class_for(app, module).name.to_string();
    assert_eq!(of(&web, Some("x")), "large");
    assert_eq!(of(&web, None), "large");
    assert_eq!(of(&api, Some("worker")), "large");
    assert_eq!(of(&api, Some("web")), "small");
    assert_eq!(of(&api, None), "small");
    let small = resources.class_for(&api, None).limits;
    assert_eq!(small.processes, Some(100));
    assert_eq!(small.root_size, Some(2 << 30));
    // A class that leaves processes out still caps them.
    let large = resources.class_for(&web, None).limits;
    assert_eq!(
        large.processes,
        Some(lxpack_core::domain::DEFAULT_PROCESSES)
    );
    assert_eq!(large.memory.as_deref(), Some("50%"));
}

#[test]
fn the_deprecated_limits_fill_in_the_default_class_with_a_warning() {
    let config = Config::parse("lxpack:\n  limits: {cpu: \"2\", memory: 2GiB}\n", file()).unwrap();
    let default = config.settings.resources.default_class();
    assert_eq!(default.limits.cpu.as_deref(), Some("2"));
    assert_eq!(default.limits.memory.as_deref(), Some("2GiB"));
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("lxpack.limits is deprecated")),
        "{:?}",
        config.warnings
    );
}

#[test]
fn bad_secrets_are_refused_naming_the_key() {
    for (text, key, problem) in [
        (
            "lxpack:\n  secrets:\n    patterns: ['A-B']\n",
            "lxpack.secrets.patterns",
            "invalid secret pattern",
        ),
        (
            "lxpack:\n  secrets:\n    names: [DB_PASSWORD]\n",
            "lxpack.secrets.names",
            "names are per app",
        ),
        (
            "lxpack:\n  secrets:\n    apps:\n      web/prod/front:\n        names: ['1X']\n",
            "lxpack.secrets.apps.web/prod/front.names",
            "invalid environment variable name",
        ),
        (
            "lxpack:\n  secrets:\n    apps:\n      web/prod/front:\n        patterns: ['']\n",
            "lxpack.secrets.apps.web/prod/front.patterns",
            "invalid secret pattern",
        ),
        (
            "lxpack:\n  secrets:\n    apps:\n      web:\n        names: [A]\n",
            "lxpack.secrets.apps.web",
            "NAME/ENV/ROLE",
        ),
    ] {
        let (found_key, found_problem) = invalid(text);
        assert_eq!(found_key, key, "{text}");
        assert!(found_problem.contains(problem), "{text}: {found_problem}");
    }
}

#[test]
fn bad_classes_are_refused_naming_the_key() {
    for (text, key) in [
        (
            "lxpack:\n  resources:\n    default: huge\n",
            "lxpack.resources.default",
        ),
        (
            "lxpack:\n  resources:\n    apps:\n      a/b/c: huge\n",
            "lxpack.resources.apps.a/b/c",
        ),
        (
            "lxpack:\n  resources:\n    apps:\n      a/b/c: {class: huge}\n",
            "lxpack.resources.apps.a/b/c.class",
        ),
        (
            "lxpack:\n  resources:\n    apps:\n      a/b/c: {modules: {m: huge}}\n",
            "lxpack.resources.apps.a/b/c.modules.m",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      s: {processes: 0}\n",
            "lxpack.resources.classes.s.processes",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      s: {cpu: \"0\"}\n",
            "lxpack.resources.classes.s.cpu",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      s: {cpu: lots}\n",
            "lxpack.resources.classes.s.cpu",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      s: {memory: 0%}\n",
            "lxpack.resources.classes.s.memory",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      s: {memory: \"0\"}\n",
            "lxpack.resources.classes.s.memory",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      s: {disk: 0GiB}\n",
            "lxpack.resources.classes.s.disk",
        ),
        (
            "lxpack:\n  resources:\n    classes:\n      Big: {}\n",
            "lxpack.resources.classes.Big",
        ),
        ("lxpack:\n  limits: {memory: 0%}\n", "lxpack.limits.memory"),
    ] {
        let (key_seen, problem) = invalid(text);
        assert_eq!(key_seen, key, "{text}: {problem}");
    }
}

#[test]
fn the_network_is_egress_unless_set_and_entries_take_their_levels_policy() {
    use lxpack_core::domain::{AppKey, NetworkMode, PolicyScope};
    let bare = Config::parse("lxpack:\n  isolation: unprivileged\n", file()).unwrap();
    assert_eq!(bare.settings.network.default.mode, NetworkMode::Egress);
    assert!(bare.settings.network.default.allow.is_empty());
    let config = Config::parse(
        "lxpack:\n  network:\n    allow: [\"10.9.0.0/24\"]\n    bridge: br-builds\n    apps:\n      web/prod/front:\n        allow: [\"10.9.0.5 tcp:5432\"]\n        modules:\n          api: {mode: none}\n          worker: {}\n      db/prod/back: {mode: open}\n",
        file(),
    )
    .unwrap();
    let network = &config.settings.network;
    assert_eq!(
        network.bridge,
        lxpack_core::domain::DefaultBridge::Operator(
            lxpack_core::domain::NetworkName::parse("br-builds").unwrap()
        )
    );
    let own = Config::parse("lxpack:\n  network:\n    own_bridge: lxpackbr1\n", file()).unwrap();
    assert_eq!(own.settings.network.bridge.name().as_str(), "lxpackbr1");
    let (key, problem) =
        invalid("lxpack:\n  network:\n    bridge: br0\n    own_bridge: lxpackbr1\n");
    assert_eq!(key, "lxpack.network.own_bridge");
    assert!(problem.contains("remove one of the two"), "{problem}");
    let web = AppKey::new("web", "prod", "front");
    let (scope, policy) = network.policy_for(&web, Some("worker"));
    assert_eq!(scope, PolicyScope::App(web.clone()));
    assert_eq!(policy.mode, NetworkMode::Egress);
    assert_eq!(policy.allow[0].to_string(), "10.9.0.5/32 tcp:5432");
    let (scope, policy) = network.policy_for(&web, Some("api"));
    assert!(matches!(scope, PolicyScope::Module(..)));
    assert_eq!(policy.mode, NetworkMode::None);
    assert!(policy.allow.is_empty(), "allow is egress's only");
    let db = network
        .policy_for(&AppKey::new("db", "prod", "back"), None)
        .1;
    assert_eq!(db.mode, NetworkMode::Open);
    let other = network.policy_for(&AppKey::new("x", "y", "z"), None).1;
    assert_eq!(other.allow[0].to_string(), "10.9.0.0/24");
}

#[test]
fn bad_network_values_are_refused_naming_their_key() {
    let (line, message) = syntax("lxpack:\n  network:\n    mode: closed\n");
    assert_eq!(line, 3);
    assert!(
        message.contains("lxpack.network.mode") && message.contains("none, egress or open"),
        "{message}"
    );
    for (text, key, says) in [
        (
            "lxpack:\n  network:\n    allow: [\"10.9.0.500/24\"]\n",
            "lxpack.network.allow[0]",
            "not an IPv4",
        ),
        (
            "lxpack:\n  network:\n    allow: [\"10.0.0.0/8\", \"10.1.2.3/8\"]\n",
            "lxpack.network.allow[1]",
            "host bits",
        ),
        (
            "lxpack:\n  network:\n    allow: [\"10.9.0.5 tcp:0\"]\n",
            "lxpack.network.allow[0]",
            "1 to 65535",
        ),
        (
            "lxpack:\n  network:\n    bridge: br_builds\n",
            "lxpack.network.bridge",
            "letters, digits and dashes",
        ),
        (
            "lxpack:\n  network:\n    mode: open\n    allow: [\"10.9.0.0/24\"]\n",
            "lxpack.network.allow",
            "mode egress only",
        ),
        (
            "lxpack:\n  network:\n    apps:\n      web: {mode: none}\n",
            "lxpack.network.apps.web",
            "NAME/ENV/ROLE",
        ),
        (
            "lxpack:\n  network:\n    apps:\n      a/b/c:\n        modules:\n          api: {mode: none, allow: [\"10.9.0.0/24\"]}\n",
            "lxpack.network.apps.a/b/c.modules.api.allow",
            "mode egress only",
        ),
    ] {
        let (found, problem) = invalid(text);
        assert_eq!(found, key, "{text}");
        assert!(problem.contains(says), "{text}: {problem}");
    }
}
