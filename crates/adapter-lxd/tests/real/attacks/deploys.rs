//! The network attack suite as a user meets it, on both daemons: real deploy jobs
//! (`Workflows::deploy`) of an app whose buildpacks are shell scripts a user could
//! write, probing from inside the build, under settings made as a config makes them:
//! the default `egress`; the app's own entry, whose `allow:` names a private address
//! and port the test holds; its module `probe` back on plain `egress`; its module
//! `sealed` on `none`. Each probe prints `REACHED <addr>` or `REFUSED <addr>` and the
//! buildpack exits 0; the test reads the job's (masked) output events.
//!
//! From `probe`: the bridge's gateway, the metadata address, the private address, the
//! host's loopback (the build's 127.0.0.1 is its own) and another running deploy on
//! the same bridge (listening with `nc -l`) are refused. From `mirror` (the app's
//! policy) the private address is reached and the metadata address is not. `sealed`
//! has no interface but `lo`.
//!
//! The app has entries of its own so that its jobs run on bridges named by their
//! scope, which the test removes: the shared default bridge is never touched. The
//! test image has no DHCP client at boot, so the app's `pre_buildimage` hook installs
//! an init that takes an address from the bridge, as a distribution's image does.
//! With `LXPACK_ATTACK_WITHOUT_ACL=1` the ACL is taken off `probe`'s bridge once the
//! listening deploy has made it, and the suite must then fail; with
//! `LXPACK_ATTACK_WITHOUT_ISOLATION=1` the listening deploy's port of the bridge is
//! no longer isolated, and the probe of it must then fail.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use lxpack_core::domain::{
    App, AppKey, BuildInfos, EgressNetwork, EgressRule, Fingerprint, GuestPath, ImageAlias,
    ImageSelector, LifecycleHooks, Module, NetworkMode, NetworkPolicy, OutputStream, Owner,
    PolicyScope, Script,
};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::{ContainerRuntime, ImageRegistry, ResourceKind};
use lxpack_core::workflows::{
    BuildImageRequest, Checkout, DeployRequest, Settings, WorkflowError, Workflows,
};
use lxpack_fake::{FakeAppStore, RecordingEvents};
use lxpack_lxd::LxdClient;
use tokio_util::sync::CancellationToken;

use super::local::{
    Listener, LocalInterface, METADATA, assert_behind_bridge, assert_local, cli, interface_ipv4,
    private_address, remove_network, take_acl_off_if_asked, take_isolation_off_if_asked,
    with_cleanup,
};
use crate::helpers::daemons;

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// The app's `pre_buildimage` hook (as root): an init that takes an address by DHCP
/// when the instance has a NIC.
const DHCP_AT_BOOT: &[u8] = br#"cat > /etc/udhcpc.script <<'EOF'
#!/bin/sh
case "$1" in bound|renew)
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$router" ] && ip route add default via "$router";;
esac
EOF
chmod 755 /etc/udhcpc.script
cat > /sbin/init <<'EOF'
#!/bin/sh
if ip link show eth0 >/dev/null 2>&1; then
  udhcpc -i eth0 -n -q -t 10 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1 &
fi
exec /bin/sleep 2147483647
EOF
chmod 755 /sbin/init
echo the image takes an address by DHCP at boot
"#;

/// The buildpack of `probe` and `mirror`: once the build has its address, listens on
/// 8080 when the checkout holds `listen` (until `stop` appears, at most 40 s), else
/// probes each `ADDRESS PORT` line of the checkout's `probes` (2 s each).
const PROBE: &[u8] = br#"#!/bin/sh
i=0
until ip -4 -o addr show dev eth0 2>/dev/null | grep -q ' inet '; do
  i=$((i+1)); [ $i -gt 20 ] && { echo "NO ADDRESS"; exit 1; }
  sleep 1
done
address=$(ip -4 -o addr show dev eth0 | sed 's/.* inet \([0-9.]*\).*/\1/')
if [ -f listen ]; then
  nc -l -p 8080 </dev/null >/dev/null 2>&1 &
  listener=$!
  i=0
  until netstat -ltn | grep -q ':8080 '; do
    i=$((i+1)); [ $i -gt 10 ] && { echo "NOT LISTENING"; exit 1; }
    sleep 1
  done
  echo "LISTENING $address:8080"
  i=0
  while [ ! -f stop ] && [ $i -lt 40 ]; do sleep 1; i=$((i+1)); done
  if kill $listener 2>/dev/null; then echo "UNREACHED"; else echo "ACCEPTED"; fi
  exit 0
fi
echo "PROBING FROM $address"
while read -r ip port; do
  if timeout 5 nc -w 2 "$ip" "$port" </dev/null >/dev/null 2>&1; then
    echo "REACHED $ip:$port"
  else
    echo "REFUSED $ip:$port"
  fi
done < probes
"#;

/// The buildpack of `sealed`: the build's interfaces.
const LINKS: &[u8] = br#"#!/bin/sh
ip -o link | while read -r _ name _; do n=${name%%:*}; echo "LINK ${n%%@*}"; done
"#;

fn app(name: &str) -> App {
    let module = |module: &str, script: &[u8]| {
        Module::new(module, GuestPath::parse("/srv/app").unwrap())
            .with_build_pack(Script::new(script.to_vec()))
    };
    App::new(AppKey::new(name, "test", "attack"), "eu-west-1")
        .with_hooks(LifecycleHooks {
            pre_buildimage: Some(Script::new(DHCP_AT_BOOT.to_vec())),
            post_buildimage: None,
        })
        .with_module(module("probe", PROBE))
        .with_module(module("mirror", PROBE))
        .with_module(module("sealed", LINKS))
        .with_build_infos(BuildInfos {
            source_container_image: Some(ImageSelector::Alias(
                ImageAlias::parse("lxpack-test-busybox").unwrap(),
            )),
            ..BuildInfos::default()
        })
}

/// The app's policy: `egress` with `allow:` naming `mirror` (an internal mirror).
fn app_policy(mirror: SocketAddr) -> NetworkPolicy {
    let allow = format!("{} tcp:{}", mirror.ip(), mirror.port());
    NetworkPolicy {
        mode: NetworkMode::Egress,
        allow: vec![EgressRule::parse_allow(&allow).unwrap()],
    }
}

/// As a config makes them: `lxpack.network` left at `egress`; the app's entry opens
/// `mirror`; its module `probe` is plain `egress`, its module `sealed` is `none`.
fn settings(daemon: &str, app: &AppKey, mirror: SocketAddr) -> Settings {
    let mut settings = crate::helpers::settings_for(daemon);
    settings.timeouts.buildpack = Duration::from_secs(50);
    let network = &mut settings.network;
    network.apps.insert(app.clone(), app_policy(mirror));
    network
        .modules
        .insert((app.clone(), "probe".into()), NetworkPolicy::default());
    network.modules.insert(
        (app.clone(), "sealed".into()),
        NetworkPolicy {
            mode: NetworkMode::None,
            allow: Vec::new(),
        },
    );
    assert_eq!(network.default.mode, NetworkMode::Egress);
    settings
}

/// The listeners of the host the builds try, each checked to be local.
struct Targets {
    metadata: Listener,
    mirror: Listener,
    loopback: Listener,
}

impl Targets {
    async fn bind(private: IpAddr) -> Self {
        for address in [METADATA.into(), private, Ipv4Addr::LOCALHOST.into()] {
            assert_local(address);
        }
        Self {
            metadata: Listener::bind(METADATA.into()).await,
            mirror: Listener::bind(private).await,
            loopback: Listener::bind(Ipv4Addr::LOCALHOST.into()).await,
        }
    }
}

/// What the `probe` deploy beside a listening deploy saw.
struct Beside {
    gateway: Listener,
    neighbour: SocketAddr,
    outcome: Result<(), String>,
    out: String,
}

/// A job's buildpack stdout.
fn stdout(events: &RecordingEvents) -> String {
    String::from_utf8_lossy(&events.output(Step::Buildpack, OutputStream::Stdout)).into_owned()
}

/// The network a job announced: its mode and, for `egress`, its bridge.
fn announced(events: &RecordingEvents) -> Option<(NetworkMode, Option<String>)> {
    events.events().into_iter().find_map(|event| match event {
        Event::Network { mode, egress, .. } => {
            Some((mode, egress.map(|(bridge, _)| bridge.as_str().to_owned())))
        }
        _ => None,
    })
}

/// Waits (at most 60 s) for the listening deploy to print where it listens.
async fn listening(events: &RecordingEvents) -> Result<SocketAddr, String> {
    for _ in 0..120 {
        let out = stdout(events);
        if let Some(address) = out.lines().find_map(|l| l.strip_prefix("LISTENING ")) {
            return address.parse().map_err(|e| format!("{address}: {e}"));
        }
        if out.contains("NO ADDRESS") || out.contains("NOT LISTENING") {
            return Err(format!("the listening deploy failed: {out}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "the listening deploy did not listen within 60 s: {}",
        stdout(events)
    ))
}

/// Asserts that the buildpack printed `REACHED target` (or `REFUSED target`) and
/// that `listener` counted a connection (or none).
async fn assert_probe(
    daemon: &str,
    module: &str,
    out: &str,
    (what, listener): (&str, &Listener),
    reached: bool,
) {
    let line = format!(
        "{} {}",
        if reached { "REACHED" } else { "REFUSED" },
        listener.address
    );
    assert!(
        out.lines().any(|l| l == line),
        "{daemon}: the deploy of module {module} did not print `{line}` for {what}; its buildpack printed:\n{out}"
    );
    // The listener's task counts a connection a moment later.
    for _ in 0..20 {
        if (listener.accepted() > 0) == reached {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        listener.accepted() > 0,
        reached,
        "{daemon}: {what} ({}) counted {} connections",
        listener.address,
        listener.accepted()
    );
}

/// One daemon's attack: the app, its workflows and what cleanup removes.
struct Scene<'a> {
    daemon: &'a str,
    client: &'a LxdClient,
    app: App,
    workflows: Workflows,
    dir: PathBuf,
    image: Mutex<Option<Fingerprint>>,
}

impl<'a> Scene<'a> {
    fn new(daemon: &'a str, client: &'a LxdClient, mirror: SocketAddr) -> Self {
        let pid = std::process::id();
        let app = app(&format!("attack-{daemon}-{pid}"));
        let store = FakeAppStore::new();
        store.insert_app(app.clone());
        let workflows =
            crate::helpers::workflows_on(client, &store, settings(daemon, &app.key, mirror));
        let dir = std::env::temp_dir().join(format!("lxpack-attack-deploys-{daemon}-{pid}"));
        Self {
            daemon,
            client,
            app,
            workflows,
            dir,
            image: Mutex::new(None),
        }
    }

    /// A checkout of its own for one deploy, holding `files`, owned by its owner.
    fn checkout(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        std::os::unix::fs::chown(&dir, Some(OWNER.uid), Some(OWNER.gid)).unwrap();
        dir
    }

    async fn deploy(
        &self,
        module: &str,
        checkout: &Path,
        events: &RecordingEvents,
    ) -> Result<(), String> {
        let request = DeployRequest::new(
            self.app.key.clone(),
            module,
            self.workflows.new_job_id(),
            Checkout {
                path: checkout.to_owned(),
                owner: OWNER,
            },
        );
        // Boxed: two deploys joined in the test's own future outgrow its thread's stack
        // in a debug build.
        Box::pin(
            self.workflows
                .deploy(&request, events, &CancellationToken::new()),
        )
        .await
        .map(|_| ())
        .map_err(|e: WorkflowError| format!("{e}"))
    }

    async fn run(&self, targets: &Targets) {
        let daemon = self.daemon;
        let events = RecordingEvents::new();
        let request = BuildImageRequest::new(self.app.key.clone(), self.workflows.new_job_id());
        let report = self
            .workflows
            .build_image(&request, &events, &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("{daemon}: buildimage failed: {e}"));
        *self.image.lock().unwrap() = Some(report.image.fingerprint.clone());
        self.probe_beside_a_listener(targets).await;
        self.mirror(targets).await;
        self.sealed().await;
    }

    /// A deploy of `probe` listens; another deploy of `probe` on the same bridge
    /// probes it and the host's addresses: all refused.
    async fn probe_beside_a_listener(&self, targets: &Targets) {
        let daemon = self.daemon;
        let listening = self.checkout("listener", &[("listen", "")]);
        let events = RecordingEvents::new();
        let prober = async {
            let beside = self.beside(&events, targets).await;
            std::fs::write(listening.join("stop"), "").unwrap();
            beside
        };
        let (listened, beside) = tokio::join!(self.deploy("probe", &listening, &events), prober);
        let beside = beside.unwrap_or_else(|e| panic!("{daemon}: {e}"));
        let out = &beside.out;
        eprintln!("{daemon}: module probe printed:\n{out}");
        beside
            .outcome
            .unwrap_or_else(|e| panic!("{daemon}: the probing deploy failed: {e}\n{out}"));
        for target in [
            ("the bridge's gateway", &beside.gateway),
            ("the metadata address", &targets.metadata),
            ("the private address", &targets.mirror),
            ("the host's loopback", &targets.loopback),
        ] {
            assert_probe(daemon, "probe", out, target, false).await;
        }
        let neighbour = format!("REFUSED {}", beside.neighbour);
        assert!(
            out.lines().any(|l| l == neighbour),
            "{daemon}: the deploy of probe did not print `{neighbour}` for another deploy on its bridge:\n{out}"
        );
        let listened_out = stdout(&events);
        listened.unwrap_or_else(|e| panic!("{daemon}: the listening deploy failed: {e}"));
        assert!(
            listened_out.lines().any(|l| l == "UNREACHED"),
            "{daemon}: the listening deploy was reached: {listened_out}"
        );
    }

    /// Once the listening deploy listens: its bridge's gateway (a listener of the
    /// test) and its address are probed by a second deploy of `probe`.
    async fn beside(
        &self,
        listener: &RecordingEvents,
        targets: &Targets,
    ) -> Result<Beside, String> {
        let neighbour = listening(listener).await?;
        let Some((NetworkMode::Egress, Some(bridge))) = announced(listener) else {
            return Err(format!(
                "the listening deploy announced {:?}",
                announced(listener)
            ));
        };
        let gateway = interface_ipv4(&bridge);
        assert_local(gateway);
        assert_behind_bridge(neighbour.ip(), &bridge);
        take_acl_off_if_asked(self.daemon, &bridge);
        take_isolation_off_if_asked(self.daemon, &bridge);
        let gateway = Listener::bind(gateway).await;
        let probes: String = [
            gateway.address,
            targets.metadata.address,
            targets.mirror.address,
            targets.loopback.address,
            neighbour,
        ]
        .iter()
        .map(|a| format!("{} {}\n", a.ip(), a.port()))
        .collect();
        let dir = self.checkout("prober", &[("probes", &probes)]);
        let events = RecordingEvents::new();
        let outcome = self.deploy("probe", &dir, &events).await;
        Ok(Beside {
            gateway,
            neighbour,
            outcome,
            out: stdout(&events),
        })
    }

    /// `mirror`, under the app's policy, reaches the private address its `allow:`
    /// names, and still not the metadata address.
    async fn mirror(&self, targets: &Targets) {
        let daemon = self.daemon;
        let probes = [targets.mirror.address, targets.metadata.address]
            .iter()
            .map(|a| format!("{} {}\n", a.ip(), a.port()))
            .collect::<String>();
        let dir = self.checkout("mirror", &[("probes", &probes)]);
        let events = RecordingEvents::new();
        let outcome = self.deploy("mirror", &dir, &events).await;
        let out = stdout(&events);
        eprintln!("{daemon}: module mirror printed:\n{out}");
        outcome.unwrap_or_else(|e| panic!("{daemon}: the mirror deploy failed: {e}\n{out}"));
        assert_probe(
            daemon,
            "mirror",
            &out,
            ("the allowed private address", &targets.mirror),
            true,
        )
        .await;
        assert_probe(
            daemon,
            "mirror",
            &out,
            ("the metadata address", &targets.metadata),
            false,
        )
        .await;
    }

    /// `sealed` (mode `none`) has no interface but `lo`.
    async fn sealed(&self) {
        let daemon = self.daemon;
        let dir = self.checkout("sealed", &[]);
        let events = RecordingEvents::new();
        let outcome = self.deploy("sealed", &dir, &events).await;
        let out = stdout(&events);
        eprintln!("{daemon}: module sealed printed:\n{out}");
        outcome.unwrap_or_else(|e| panic!("{daemon}: the sealed deploy failed: {e}\n{out}"));
        assert_eq!(
            announced(&events),
            Some((NetworkMode::None, None)),
            "{daemon}"
        );
        let links: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("LINK "))
            .collect();
        assert_eq!(
            links,
            ["lo"],
            "{daemon}: the sealed build's interfaces:\n{out}"
        );
    }

    /// What the jobs left after a failure, the image, the scopes' bridges and ACLs,
    /// and the checkouts.
    async fn cleanup(&self) {
        let ours = |r: &lxpack_core::ports::Resource| {
            r.labels.as_ref().is_some_and(|l| l.app == self.app.key)
        };
        let left = self.client.list_resources().await.unwrap_or_default();
        for kind in [ResourceKind::Instance, ResourceKind::Profile] {
            for resource in left.iter().filter(|r| r.kind == kind && ours(r)) {
                let args: &[&str] = match kind {
                    ResourceKind::Instance => &["delete", "--force", &resource.name],
                    _ => &["profile", "delete", &resource.name],
                };
                let _ = Command::new(cli(self.daemon)).args(args).output();
            }
        }
        let image = self.image.lock().unwrap().take();
        if let Some(fingerprint) = image {
            let _ = self.client.delete_image(&fingerprint).await;
        }
        let key = &self.app.key;
        for scope in [
            PolicyScope::App(key.clone()),
            PolicyScope::Module(key.clone(), "probe".into()),
        ] {
            let bridge = crate::helpers::settings_for(self.daemon).network.bridge;
            let planned = EgressNetwork::plan(&scope, &NetworkPolicy::default(), &bridge, &[]);
            remove_network(self.daemon, planned.network.as_str(), planned.acl.as_str());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn attack(daemon: &str, client: &LxdClient) {
    let private = private_address();
    let pid = std::process::id() % 100_000;
    let holder = LocalInterface::create(
        &format!("lxpkd{}{pid}", &daemon[..1]),
        &[METADATA.into(), private],
    );
    let targets = Targets::bind(private).await;
    let scene = Scene::new(daemon, client, targets.mirror.address);
    with_cleanup(scene.run(&targets), scene.cleanup()).await;
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_buildpacks_reach_only_what_their_network_policy_allows() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        attack(name, &client).await;
    }
}
