//! What the network tests share: addresses made on this machine and checked to be
//! local before any probe, listeners in the test process, builds on a network, probes
//! from them, and the cleanup of what a test made on the daemon. Kept apart from the
//! probes themselves so that a deploy-level variant (a buildpack script probing the
//! same addresses) can reuse it.
//!
//! Traffic goes only to addresses on this machine: every probe's address is checked
//! with `ip route get` first (local, or through the test's own bridge to a build of
//! the test), and every probe and loop is bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lxpack_core::domain::{
    ExecRequest, ImageAlias, ImageRef, ImageSelector, InstanceName, LaunchSpec, NetworkAttachment,
    OutputStream,
};
use lxpack_core::ports::{ContainerRuntime, OutputSink, RuntimeError};
use lxpack_lxd::LxdClient;
use tokio_util::sync::CancellationToken;

use crate::helpers::TEST_IMAGE;

/// The address a cloud's metadata service answers on.
pub(crate) const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// A private address of this test process (10.250.X.Y), to be held by a
/// [`LocalInterface`].
pub(crate) fn private_address() -> IpAddr {
    let pid = std::process::id();
    IpAddr::V4(Ipv4Addr::new(
        10,
        250,
        (pid >> 8 & 0xff) as u8,
        (pid & 0xfd) as u8 + 1,
    ))
}

/// Runs a host command and returns its stdout; panics with its stderr when it fails.
pub(crate) fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The command-line client of a daemon of the tests (`lxc` for `lxd`).
pub(crate) fn cli(daemon: &str) -> &'static str {
    if daemon == "lxd" { "lxc" } else { "incus" }
}

/// Panics unless the kernel routes `address` to this machine itself (`ip route get`
/// says `local`): checked before any probe of it.
pub(crate) fn assert_local(address: IpAddr) {
    let route = run("ip", &["route", "get", &address.to_string()]);
    assert!(
        route.trim_start().starts_with("local "),
        "{address} is not an address of this machine ({}); no probe is sent to it",
        route.trim()
    );
}

/// Panics unless traffic to `address` goes out through `bridge` (the test's own
/// bridge, where the test's builds are): checked before a probe of a build.
pub(crate) fn assert_behind_bridge(address: IpAddr, bridge: &str) {
    let route = run("ip", &["route", "get", &address.to_string()]);
    assert!(
        route.contains(&format!("dev {bridge} ")),
        "{address} is not behind the test's bridge {bridge} ({}); no probe is sent to it",
        route.trim()
    );
}

/// With `LXPACK_ATTACK_WITHOUT_ACL=1`, takes the ACL off `bridge` (by the daemon's
/// client) so that the probes that follow show what the ACL refuses: the attack
/// suites must then fail.
pub(crate) fn take_acl_off_if_asked(daemon: &str, bridge: &str) {
    if std::env::var("LXPACK_ATTACK_WITHOUT_ACL").as_deref() == Ok("1") {
        eprintln!("{daemon}: LXPACK_ATTACK_WITHOUT_ACL=1: taking the ACL off {bridge}");
        run(cli(daemon), &["network", "unset", bridge, "security.acls"]);
    }
}

/// With `LXPACK_ATTACK_WITHOUT_ISOLATION=1`, turns the port isolation off on every
/// port of `bridge` (the builds the test has on it so far), so that the probe of
/// another build that follows shows what the isolation refuses: the suites must then
/// fail. The ACL does not hold builds apart; the NIC's `security.port_isolation` does.
pub(crate) fn take_isolation_off_if_asked(daemon: &str, bridge: &str) {
    if std::env::var("LXPACK_ATTACK_WITHOUT_ISOLATION").as_deref() != Ok("1") {
        return;
    }
    let ports = run("ip", &["-o", "link", "show", "master", bridge]);
    for port in ports.lines().filter_map(|l| l.split(':').nth(1)) {
        let port = port.trim().split('@').next().unwrap_or_default();
        eprintln!("{daemon}: LXPACK_ATTACK_WITHOUT_ISOLATION=1: {port} of {bridge} not isolated");
        run("bridge", &["link", "set", "dev", port, "isolated", "off"]);
    }
}

/// The IPv4 address of a host interface (a bridge's gateway).
pub(crate) fn interface_ipv4(interface: &str) -> IpAddr {
    let shown = run("ip", &["-o", "-4", "addr", "show", "dev", interface]);
    shown
        .split_whitespace()
        .skip_while(|word| *word != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("{interface} has no IPv4 address: {shown}"))
}

/// A host interface the test makes to hold addresses (a dummy interface, or an empty
/// bridge where the kernel has no dummy driver); removed when dropped, whatever
/// happened.
pub(crate) struct LocalInterface {
    name: String,
}

impl LocalInterface {
    /// Makes `name` (at most 15 characters) holding each of `addresses` as a host
    /// address (`/32`), up.
    pub(crate) fn create(name: &str, addresses: &[IpAddr]) -> Self {
        let _ = Command::new("ip").args(["link", "del", name]).output();
        let dummy = Command::new("ip")
            .args(["link", "add", name, "type", "dummy"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !dummy {
            run("ip", &["link", "add", name, "type", "bridge"]);
        }
        let interface = Self {
            name: name.to_owned(),
        };
        for address in addresses {
            run(
                "ip",
                &["addr", "add", &format!("{address}/32"), "dev", name],
            );
        }
        run("ip", &["link", "set", name, "up"]);
        interface
    }
}

impl Drop for LocalInterface {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .output();
    }
}

/// A TCP listener in the test process that counts the connections it accepts.
pub(crate) struct Listener {
    /// Where it listens.
    pub(crate) address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Listens on `ip`, on a port the kernel picks.
    pub(crate) async fn bind(ip: IpAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .unwrap_or_else(|e| panic!("listen on {ip}: {e}"));
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        // At most 100 connections; the task ends with the listener anyway.
        let task = tokio::spawn(async move {
            for _ in 0..100 {
                if listener.accept().await.is_err() {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            address,
            accepted,
            task,
        }
    }

    /// How many connections it accepted.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Collects a command's output.
#[derive(Default)]
struct Collect(Mutex<Vec<u8>>);

impl OutputSink for Collect {
    fn output(&self, _stream: OutputStream, bytes: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(bytes);
    }
}

/// A build container of a test, on a network.
pub(crate) struct Build<'a> {
    client: &'a LxdClient,
    /// Its name.
    pub(crate) name: InstanceName,
}

impl<'a> Build<'a> {
    /// Launches a busybox container named `name` with `network`.
    pub(crate) async fn launch(
        client: &'a LxdClient,
        name: &str,
        network: NetworkAttachment,
    ) -> Self {
        Self::try_launch(client, name, network)
            .await
            .unwrap_or_else(|e| panic!("launch {name}: {e}"))
    }

    /// Launches a busybox container named `name` with `network`, or says why not.
    pub(crate) async fn try_launch(
        client: &'a LxdClient,
        name: &str,
        network: NetworkAttachment,
    ) -> Result<Self, RuntimeError> {
        let name = InstanceName::parse(name).unwrap();
        let spec = LaunchSpec {
            name: name.clone(),
            image: ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
            profile: None,
            ephemeral: false,
            isolation: Default::default(),
            limits: Default::default(),
            network,
            labels: None,
            standby: None,
            map_owner: None,
            from_snapshot: None,
            timeout: Duration::from_secs(120),
        };
        client
            .launch_instance(&spec, &CancellationToken::new())
            .await?;
        Ok(Self { client, name })
    }

    /// Runs `script` with `sh -c`, for at most 30 seconds: its exit code and output.
    pub(crate) async fn sh(&self, script: &str) -> (i32, String) {
        let sink = Collect::default();
        let request = ExecRequest::new(["sh", "-c", script], Duration::from_secs(30));
        let code = self
            .client
            .exec(&self.name, &request, &sink, &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("exec in {}: {e}", self.name));
        let output = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
        (code, output)
    }

    /// Gets an IPv4 address on `eth0` by DHCP from the bridge (busybox `udhcpc`, at
    /// most 5 tries a second apart) and returns it.
    pub(crate) async fn dhcp(&self) -> IpAddr {
        let script = r#"cat > /tmp/dhcp.sh <<'EOF'
#!/bin/sh
case "$1" in bound|renew)
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$router" ] && ip route add default via "$router";;
esac
EOF
chmod +x /tmp/dhcp.sh
udhcpc -i eth0 -n -q -t 5 -T 1 -s /tmp/dhcp.sh >/dev/null 2>&1
ip -o -4 addr show dev eth0"#;
        let (code, output) = self.sh(script).await;
        assert_eq!(code, 0, "dhcp in {}: {output}", self.name);
        output
            .split_whitespace()
            .skip_while(|word| *word != "inet")
            .nth(1)
            .and_then(|cidr| cidr.split('/').next())
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("no address by DHCP in {}: {output}", self.name))
    }

    /// Whether a TCP connection to `target` opens within 3 seconds (`nc`, itself
    /// stopped after 5).
    pub(crate) async fn connects(&self, target: SocketAddr) -> bool {
        let script = format!(
            "timeout 5 nc -w 3 {} {} </dev/null",
            target.ip(),
            target.port()
        );
        self.sh(&script).await.0 == 0
    }
}

/// Whether a probe from `build` reaches `listener`: `nc` connected and the listener
/// counted the connection.
pub(crate) async fn reaches(build: &Build<'_>, listener: &Listener) -> bool {
    let before = listener.accepted();
    let connected = build.connects(listener.address).await;
    // The listener's task counts it a moment later.
    for _ in 0..20 {
        if listener.accepted() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    connected && listener.accepted() > before
}

/// Removes a bridge and an ACL a test made on `daemon` (by the daemon's own client,
/// as the port has no delete), ignoring what is already gone. A bridge still in use
/// (a deploy's instance the daemon is deleting in the background) is tried again,
/// for at most 30 seconds.
pub(crate) fn remove_network(daemon: &str, network: &str, acl: &str) {
    let succeeds = |args: &[&str]| {
        Command::new(cli(daemon))
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for _ in 0..60 {
        if succeeds(&["network", "delete", network]) || !succeeds(&["network", "show", network]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = Command::new(cli(daemon))
        .args(["network", "acl", "delete", acl])
        .output();
}

/// Runs `check`, then `cleanup` whatever happened, then reports the check's panic.
pub(crate) async fn with_cleanup<F, C>(check: F, cleanup: C)
where
    F: std::future::Future<Output = ()>,
    C: std::future::Future<Output = ()>,
{
    use futures_util::FutureExt as _;
    let result = std::panic::AssertUnwindSafe(check).catch_unwind().await;
    cleanup.await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
