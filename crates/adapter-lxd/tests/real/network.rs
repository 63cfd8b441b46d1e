//! The network policies port on both daemons: what `ensure_egress` writes, seen in the
//! daemon's own lifecycle events (`monitor --type=lifecycle`): the first creates the
//! ACL and the bridge, a second writes nothing, changed rules update the ACL in place,
//! and two processes ensuring at once create the ACL once.

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lxpack_core::domain::{
    AclName, EgressNetwork, EgressRule, EgressState, NetworkName, egress_rules,
};
use lxpack_core::ports::NetworkPolicies;
use lxpack_lxd::{LxdClient, LxdOptions};

use crate::attacks::local::{cli, remove_network, with_cleanup};
use crate::helpers::{DAEMONS, daemons};

/// The daemon's lifecycle events while it runs, kept in a file.
struct Monitor {
    child: Child,
    path: std::path::PathBuf,
}

impl Monitor {
    /// Starts `monitor` on `daemon` (stopped after two minutes at most) and gives it
    /// a moment to subscribe.
    async fn start(daemon: &str, tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "lxpack-monitor-{daemon}-{tag}-{}.json",
            std::process::id()
        ));
        let out = std::fs::File::create(&path).unwrap();
        let child = Command::new("timeout")
            .args([
                "120",
                cli(daemon),
                "monitor",
                "--type=lifecycle",
                "--format=json",
            ])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        Self { child, path }
    }

    /// Stops it (after a moment for the last events) and returns the events whose
    /// source is one of `sources`, as `action source`.
    async fn events(mut self, sources: &[String]) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let _ = std::fs::remove_file(&self.path);
        text.lines()
            .filter(|line| line.trim_start().starts_with('{'))
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|event| {
                let action = event["metadata"]["action"].as_str()?.to_owned();
                let source = event["metadata"]["source"].as_str()?.to_owned();
                let source = source.split('?').next().unwrap_or_default().to_owned();
                sources
                    .contains(&source)
                    .then(|| format!("{action} {source}"))
            })
            .collect()
    }
}

fn network(bridge: &str, acl: &str, allow: &[EgressRule], host: &[IpAddr]) -> EgressNetwork {
    EgressNetwork {
        network: NetworkName::parse(bridge).unwrap(),
        owned: true,
        acl: AclName::parse(acl).unwrap(),
        description: "lxpack: network tests".into(),
        rules: egress_rules(allow, host),
    }
}

fn names(daemon: &str, test: &str) -> (String, String, Vec<String>) {
    let pid = std::process::id() % 100_000;
    let bridge = format!("lxpk{test}{}{pid}", &daemon[..1]);
    let acl = format!("lxpack-nettest-{test}-{daemon}-{pid}");
    let sources = vec![
        format!("/1.0/networks/{bridge}"),
        format!("/1.0/network-acls/{acl}"),
    ];
    (bridge, acl, sources)
}

async fn ensure_in_place(daemon: &str, client: &LxdClient) {
    let (bridge, acl, sources) = names(daemon, "e");
    let check = async {
        let host = client.host_addresses().await.unwrap();
        let first = network(&bridge, &acl, &[], &host);
        assert_eq!(
            client.egress_state(&first).await.unwrap(),
            EgressState::Missing
        );
        let monitor = Monitor::start(daemon, "e1").await;
        client.ensure_egress(&first).await.unwrap();
        let created = monitor.events(&sources).await;
        assert_eq!(
            created,
            [
                format!("network-acl-created {}", sources[1]),
                format!("network-created {}", sources[0]),
            ],
            "{daemon}"
        );
        assert_eq!(
            client.egress_state(&first).await.unwrap(),
            EgressState::Matches
        );
        // Again: nothing is written.
        let monitor = Monitor::start(daemon, "e2").await;
        client.ensure_egress(&first).await.unwrap();
        assert_eq!(
            monitor.events(&sources).await,
            Vec::<String>::new(),
            "{daemon}"
        );
        // Changed rules: the ACL is updated in place, the bridge left alone.
        let allow = [EgressRule::parse_allow("10.250.0.9 tcp:3128").unwrap()];
        let changed = network(&bridge, &acl, &allow, &host);
        assert_eq!(
            client.egress_state(&changed).await.unwrap(),
            EgressState::Differs
        );
        let monitor = Monitor::start(daemon, "e3").await;
        client.ensure_egress(&changed).await.unwrap();
        assert_eq!(
            monitor.events(&sources).await,
            [format!("network-acl-updated {}", sources[1])],
            "{daemon}"
        );
        assert_eq!(
            client.egress_state(&changed).await.unwrap(),
            EgressState::Matches
        );
        // The ACL taken off the bridge is put back by the next ensure.
        let output = Command::new(cli(daemon))
            .args(["network", "unset", &bridge, "security.acls"])
            .output()
            .unwrap();
        assert!(output.status.success());
        assert_eq!(
            client.egress_state(&changed).await.unwrap(),
            EgressState::Differs
        );
        client.ensure_egress(&changed).await.unwrap();
        assert_eq!(
            client.egress_state(&changed).await.unwrap(),
            EgressState::Matches
        );
    };
    with_cleanup(check, async { remove_network(daemon, &bridge, &acl) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ensure_writes_nothing_and_changed_rules_update_the_acl_in_place() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        ensure_in_place(name, &client).await;
    }
}

async fn ensure_at_once(daemon: &str, client: &LxdClient) {
    let (bridge, acl, sources) = names(daemon, "c");
    // A second client of its own: another process, as far as the daemon can tell.
    let (_, variable, default) = DAEMONS.iter().find(|(d, ..)| *d == daemon).unwrap();
    let socket = std::env::var(variable).unwrap_or_else(|_| (*default).to_owned());
    let other =
        LxdClient::connect_unix(std::path::Path::new(&socket), LxdOptions::default()).unwrap();
    let check = async {
        let host = client.host_addresses().await.unwrap();
        let wanted = network(&bridge, &acl, &[], &host);
        let monitor = Monitor::start(daemon, "c").await;
        let (one, two) = tokio::join!(client.ensure_egress(&wanted), other.ensure_egress(&wanted));
        one.unwrap();
        two.unwrap();
        let events = monitor.events(&sources).await;
        let count = |action: &str| events.iter().filter(|e| e.starts_with(action)).count();
        assert_eq!(count("network-acl-created"), 1, "{daemon}: {events:?}");
        assert_eq!(count("network-created"), 1, "{daemon}: {events:?}");
        assert_eq!(count("network-acl-updated"), 0, "{daemon}: {events:?}");
        assert_eq!(
            client.egress_state(&wanted).await.unwrap(),
            EgressState::Matches
        );
    };
    with_cleanup(check, async { remove_network(daemon, &bridge, &acl) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ensures_at_once_create_the_acl_and_the_bridge_once() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        ensure_at_once(name, &client).await;
    }
}
