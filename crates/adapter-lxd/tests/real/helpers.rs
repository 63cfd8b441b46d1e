//! Connecting to the test daemons, or saying how to start them.

use std::path::PathBuf;

use lxpack_lxd::{LxdClient, LxdOptions};

/// The test image scripts/daemons-up imports on both daemons.
pub(crate) const TEST_IMAGE: &str = "lxpack-test-busybox";

/// The daemons, in the order tests visit them: name, socket variable, default socket.
pub(crate) const DAEMONS: [(&str, &str, &str); 2] = [
    ("lxd", "LXPACK_TEST_LXD_SOCKET", "/var/lib/lxd/unix.socket"),
    (
        "incus",
        "LXPACK_TEST_INCUS_SOCKET",
        "/var/lib/incus/unix.socket",
    ),
];

/// The clients of both daemons, or `None` when LXPACK_SKIP_REAL=1 asks to skip.
///
/// # Panics
/// When a daemon cannot be reached, with how to start it.
pub(crate) fn daemons() -> Option<Vec<(&'static str, LxdClient)>> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: real-daemon test skipped on request");
        return None;
    }
    Some(
        DAEMONS
            .iter()
            .map(|(name, variable, default)| {
                let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| (*default).to_owned()));
                let client = LxdClient::connect_unix(&path, LxdOptions::default()).unwrap_or_else(|error| {
                    panic!(
                        "cannot reach {name} at {} ({error}); start it with `scripts/daemons-up` (or set {variable}), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests",
                        path.display()
                    )
                });
                (*name, client)
            })
            .collect(),
    )
}

/// The btrfs storage pool scripts/daemons-up makes on each daemon (a 2 GiB loop file),
/// and the project whose default profile puts root disks there: the pool that
/// enforces a root disk's size, which the default dir pool does not.
pub(crate) const BTRFS_PROJECT: &str = "lxpack-test-btrfs";

/// The clients of both daemons on [`BTRFS_PROJECT`], or `None` when LXPACK_SKIP_REAL=1
/// asks to skip.
///
/// # Panics
/// When a daemon cannot be reached, or lacks the project or its btrfs pool, with how
/// to make them.
pub(crate) async fn btrfs_daemons() -> Option<Vec<(&'static str, LxdClient)>> {
    daemons()?;
    let mut clients = Vec::new();
    for (name, variable, default) in DAEMONS {
        let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_owned()));
        let options = LxdOptions {
            project: Some(BTRFS_PROJECT.to_owned()),
            ..LxdOptions::default()
        };
        let client = LxdClient::connect_unix(&path, options).unwrap_or_else(|error| {
            panic!(
                "cannot reach {name} at {} ({error}); start it with `scripts/daemons-up`",
                path.display()
            )
        });
        let fix = "run `scripts/daemons-up` (it makes the btrfs pool and project), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests";
        let readiness = client.readiness().await.unwrap_or_else(|error| {
            panic!("{name}: cannot read project {BTRFS_PROJECT} ({error}); {fix}")
        });
        assert!(
            readiness.pools.iter().any(|pool| pool == BTRFS_PROJECT)
                && readiness.root_disk_pool.as_deref() == Some(BTRFS_PROJECT),
            "{name}: no btrfs pool {BTRFS_PROJECT} under the root disk of project {BTRFS_PROJECT} ({readiness:?}); {fix}"
        );
        clients.push((name, client));
    }
    Some(clients)
}

/// A daemon's HTTPS endpoint as scripts/daemons-up sets it up: name, URL variable,
/// default URL, default server certificate.
pub(crate) const REMOTE_DAEMONS: [(&str, &str, &str, &str); 2] = [
    (
        "lxd",
        "LXPACK_TEST_LXD_URL",
        "https://127.0.0.1:18443",
        "/var/lib/lxd/server.crt",
    ),
    (
        "incus",
        "LXPACK_TEST_INCUS_URL",
        "https://127.0.0.1:18444",
        "/var/lib/incus/server.crt",
    ),
];

/// Where scripts/daemons-up keeps the test client certificates.
pub(crate) fn state_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("LXPACK_STATE_DIR").unwrap_or_else(|_| "/var/tmp/lxpack-daemons".into()),
    )
}

/// A daemon's URL and pinned server certificate.
pub(crate) fn remote_endpoint(name: &str) -> (String, PathBuf) {
    let (_, variable, url, certificate) = REMOTE_DAEMONS
        .iter()
        .find(|(daemon, ..)| *daemon == name)
        .unwrap();
    (
        std::env::var(variable).unwrap_or_else(|_| (*url).to_owned()),
        PathBuf::from(certificate),
    )
}

/// An HTTPS client of `name` presenting the certificate pair `identity` (`client` is
/// trusted by daemons-up, `untrusted` is not), pinning `server_cert`.
pub(crate) fn https_client(name: &str, identity: &str, server_cert: &std::path::Path) -> LxdClient {
    let (url, _) = remote_endpoint(name);
    let dir = state_dir();
    let (cert, key) = (
        dir.join(format!("{identity}.crt")),
        dir.join(format!("{identity}.key")),
    );
    LxdClient::connect_https(&url, &cert, &key, server_cert, LxdOptions::default()).unwrap_or_else(
        |error| {
            panic!(
                "cannot use the HTTPS endpoint of {name} at {url} ({error}); run `scripts/daemons-up`, which makes {} and trusts it, or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests",
                cert.display()
            )
        },
    )
}

/// The settings a test's jobs on `daemon` start from: the defaults, with the bridge
/// that daemon can have on this host. The test daemons share the host's one network
/// namespace, where a bridge name is one interface: LXD keeps lxpack's default
/// (`lxpackbr0`), Incus gets its own (`lxpackbr1`), as an operator running both
/// would set `lxpack.network.own_bridge`.
pub(crate) fn settings_for(daemon: &str) -> lxpack_core::workflows::Settings {
    let mut settings = lxpack_core::workflows::Settings::default();
    if daemon == "incus"
        && let Ok(name) = lxpack_core::domain::NetworkName::parse("lxpackbr1")
    {
        settings.network.bridge = lxpack_core::domain::DefaultBridge::Own(name);
    }
    settings
}

/// The workflows of a real-daemon test: `client` as the runtime, every capability and
/// the image registry, `store` (a fake) as the apps and the job history, no AMI
/// catalog, and `settings`.
pub(crate) fn workflows_on(
    client: &LxdClient,
    store: &lxpack_fake::FakeAppStore,
    settings: lxpack_core::workflows::Settings,
) -> lxpack_core::workflows::Workflows {
    lxpack_core::workflows::Workflows::new(
        lxpack_core::workflows::Ports {
            runtime: std::sync::Arc::new(client.clone()),
            registry: std::sync::Arc::new(client.clone()),
            amis: None,
            apps: std::sync::Arc::new(store.clone()),
            jobs: std::sync::Arc::new(store.clone()),
            capabilities: lxpack_core::ports::RuntimeCapabilities::all_of(client),
        },
        settings,
    )
}

/// An app of `key` built from the busybox test image, with one module per
/// `(name, buildpack)`, each at `/srv/app`.
pub(crate) fn buildpack_app(
    key: lxpack_core::domain::AppKey,
    modules: &[(&str, &[u8])],
) -> lxpack_core::domain::App {
    use lxpack_core::domain::{
        App, BuildInfos, GuestPath, ImageAlias, ImageSelector, Module, Script,
    };
    modules.iter().fold(
        App::new(key, "eu-west-1").with_build_infos(BuildInfos {
            source_container_image: Some(ImageSelector::Alias(
                ImageAlias::parse(TEST_IMAGE).unwrap(),
            )),
            ..BuildInfos::default()
        }),
        |app, (name, buildpack)| {
            app.with_module(
                Module::new(*name, GuestPath::parse("/srv/app").unwrap())
                    .with_build_pack(Script::new(buildpack.to_vec())),
            )
        },
    )
}

/// [`settings_for`] `daemon`, with a buildpack limit of `buildpack` and the class
/// `class` (`limits`) for each of `modules` of `app`.
pub(crate) fn class_settings(
    daemon: &str,
    app: &lxpack_core::domain::AppKey,
    modules: &[&str],
    class: &str,
    limits: lxpack_core::domain::ResourceLimits,
    buildpack: std::time::Duration,
) -> lxpack_core::workflows::Settings {
    let mut settings = settings_for(daemon);
    settings.timeouts.buildpack = buildpack;
    // The attacks must fail without their class: shown with this variable (every
    // attack a class stops is bounded in itself, so the host survives it uncapped).
    let limits = if std::env::var("LXPACK_ATTACK_WITHOUT_CLASS").as_deref() == Ok("1") {
        eprintln!("{daemon}: LXPACK_ATTACK_WITHOUT_CLASS=1: class {class} caps nothing");
        lxpack_core::domain::ResourceLimits::default()
    } else {
        limits
    };
    let class = lxpack_core::domain::ClassName::parse(class).unwrap();
    settings.resources.classes.insert(class.clone(), limits);
    for module in modules {
        settings
            .resources
            .modules
            .insert((app.clone(), (*module).to_owned()), class.clone());
    }
    settings
}
