//! The network attack suite, on both daemons: a build on the egress bridge tries the
//! host's own addresses (the bridge's gateway, the host's main address), a cloud
//! metadata address and a private address the test makes on a local interface, the
//! loopback, and another build on the same bridge: all refused; the private address
//! is reached once an `allow:` entry names it; the bridge's DNS answers. A build of
//! mode `none` has no interface but `lo`, whatever NIC its base profile gives.
//!
//! With `LXPACK_ATTACK_WITHOUT_ACL=1` the ACL is taken off the bridge before the
//! probes (by the daemon's client), and the suite must then fail: what refuses the
//! probes is the ACL; with `LXPACK_ATTACK_WITHOUT_ISOLATION=1` the bridge's ports are
//! no longer isolated before a build probes another, which must then fail.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use lxpack_core::domain::{
    AclName, EgressNetwork, EgressRule, NetworkAttachment, NetworkName, NetworkRefusal,
    egress_rules,
};
use lxpack_core::ports::{NetworkPolicies, RuntimeError};
use lxpack_lxd::{LxdClient, LxdOptions};

use super::local::{
    Build, Listener, LocalInterface, METADATA, assert_behind_bridge, assert_local, cli,
    interface_ipv4, private_address, reaches, remove_network, run, take_acl_off_if_asked,
    take_isolation_off_if_asked, with_cleanup,
};
use crate::helpers::{DAEMONS, daemons};

/// The host's main IPv4 address (outside loopback, link-local and the private ranges
/// the test makes), among what the daemon reports.
fn host_main_address(addresses: &[IpAddr]) -> Option<IpAddr> {
    addresses.iter().copied().find(|a| match a {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && v4.octets()[..2] != [10, 250],
        IpAddr::V6(_) => false,
    })
}

fn egress(bridge: &str, acl: &str, allow: &[EgressRule], host: &[IpAddr]) -> EgressNetwork {
    EgressNetwork {
        network: NetworkName::parse(bridge).unwrap(),
        owned: true,
        acl: AclName::parse(acl).unwrap(),
        description: "lxpack: attack tests".into(),
        rules: egress_rules(allow, host),
    }
}

/// One daemon's attack: its names, and the client.
struct Scene<'a> {
    daemon: &'a str,
    client: &'a LxdClient,
    bridge: String,
    acl: String,
    builds: [String; 2],
}

impl<'a> Scene<'a> {
    fn new(daemon: &'a str, client: &'a LxdClient) -> Self {
        let pid = std::process::id() % 100_000;
        Self {
            daemon,
            client,
            bridge: format!("lxpka{}{pid}", &daemon[..1]),
            acl: format!("lxpack-attack-{daemon}-{pid}"),
            builds: [
                format!("lxpack-attack-{daemon}-{pid}-a"),
                format!("lxpack-attack-{daemon}-{pid}-b"),
            ],
        }
    }

    async fn run(&self, private: IpAddr) {
        let daemon = self.daemon;
        for address in [METADATA.into(), private, IpAddr::V4(Ipv4Addr::LOCALHOST)] {
            assert_local(address);
        }
        let host = self.client.host_addresses().await.unwrap();
        let main = host_main_address(&host).expect("the host has an IPv4 address");
        assert_local(main);
        let network = egress(&self.bridge, &self.acl, &[], &host);
        self.client.ensure_egress(&network).await.unwrap();
        let gateway = interface_ipv4(&self.bridge);
        assert_local(gateway);
        take_acl_off_if_asked(daemon, &self.bridge);
        let targets = [
            ("the bridge's gateway", Listener::bind(gateway).await),
            ("the host's main address", Listener::bind(main).await),
            (
                "the metadata address",
                Listener::bind(METADATA.into()).await,
            ),
            ("a private address", Listener::bind(private).await),
            (
                "the loopback",
                Listener::bind(Ipv4Addr::LOCALHOST.into()).await,
            ),
        ];
        let attachment = NetworkAttachment::egress(&network);
        let a = Build::launch(self.client, &self.builds[0], attachment.clone()).await;
        let b = Build::launch(self.client, &self.builds[1], attachment).await;
        a.dhcp().await;
        let b_address = b.dhcp().await;
        for (what, listener) in &targets {
            assert!(
                !reaches(&a, listener).await,
                "{daemon}: a build reached {what} ({})",
                listener.address
            );
        }
        self.another_build(&a, &b, b_address).await;
        self.dns(&a, gateway).await;
        // An allow entry opens the private address's port, and nothing else.
        let port = targets[3].1.address.port();
        let allow = [EgressRule::parse_allow(&format!("{private} tcp:{port}")).unwrap()];
        let allowed = egress(&self.bridge, &self.acl, &allow, &host);
        self.client.ensure_egress(&allowed).await.unwrap();
        assert!(
            reaches(&a, &targets[3].1).await,
            "{daemon}: the private address named by allow: was not reached"
        );
        assert!(
            !reaches(&a, &targets[2].1).await,
            "{daemon}: allowing one address opened the metadata address"
        );
    }

    /// Another build on the same bridge, listening, is not reached.
    async fn another_build(&self, a: &Build<'_>, b: &Build<'_>, b_address: IpAddr) {
        let (code, out) = b
            .sh("nc -l -p 8080 </dev/null >/dev/null 2>&1 & sleep 1; netstat -ltn")
            .await;
        assert!(code == 0 && out.contains(":8080"), "{}: {out}", self.daemon);
        assert_behind_bridge(b_address, &self.bridge);
        take_isolation_off_if_asked(self.daemon, &self.bridge);
        assert!(
            !a.connects((b_address, 8080).into()).await,
            "{}: a build reached another build on its bridge",
            self.daemon
        );
    }

    /// The bridge's DNS answers (a name its dnsmasq holds, never forwarded).
    async fn dns(&self, a: &Build<'_>, gateway: IpAddr) {
        let (code, out) = a
            .sh(&format!(
                "timeout 10 nslookup _gateway.{} {gateway}",
                self.daemon
            ))
            .await;
        assert!(
            code == 0 && out.contains(&format!("Address: {gateway}")),
            "{}: the bridge's DNS did not answer: {out}",
            self.daemon
        );
    }

    async fn cleanup(&self) {
        for name in &self.builds {
            let _ = Command::new(cli(self.daemon))
                .args(["delete", "--force", name])
                .output();
        }
        remove_network(self.daemon, &self.bridge, &self.acl);
    }
}

async fn attack(daemon: &str, client: &LxdClient) {
    let scene = Scene::new(daemon, client);
    let private = private_address();
    let pid = std::process::id() % 100_000;
    let holder = LocalInterface::create(
        &format!("lxpkh{}{pid}", &daemon[..1]),
        &[METADATA.into(), private],
    );
    with_cleanup(scene.run(private), scene.cleanup()).await;
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_on_the_egress_bridge_reaches_nothing_of_the_host_nor_other_builds() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        attack(name, &client).await;
    }
}

async fn loopback_only(daemon: &str) {
    let pid = std::process::id() % 100_000;
    // A base profile whose NIC needs no network (a veth pair): mode `none` masks it.
    let profile = format!("lxpack-attack-nic-{daemon}-{pid}");
    let names = [
        format!("lxpack-attack-{daemon}-{pid}-none"),
        format!("lxpack-attack-{daemon}-{pid}-dflt"),
    ];
    let check = async {
        run(cli(daemon), &["profile", "create", &profile]);
        run(
            cli(daemon),
            &[
                "profile",
                "device",
                "add",
                &profile,
                "eth0",
                "nic",
                "nictype=p2p",
            ],
        );
        let (_, variable, default) = DAEMONS.iter().find(|(d, ..)| *d == daemon).unwrap();
        let socket = std::env::var(variable).unwrap_or_else(|_| (*default).to_owned());
        let client = LxdClient::connect_unix(
            std::path::Path::new(&socket),
            LxdOptions {
                base_profiles: vec!["default".into(), profile.clone()],
                ..LxdOptions::default()
            },
        )
        .unwrap();
        let none = Build::launch(&client, &names[0], NetworkAttachment::Loopback).await;
        let (_, links) = none.sh("ip -o link").await;
        let interfaces: Vec<&str> = links
            .lines()
            .filter_map(|line| line.split(':').nth(1))
            .map(|name| name.trim().split('@').next().unwrap_or_default())
            .collect();
        assert_eq!(interfaces, ["lo"], "{daemon}: {links}");
        // The same profile without masking gives the NIC: the check can fail.
        let open = Build::launch(&client, &names[1], NetworkAttachment::DaemonDefault).await;
        let (_, links) = open.sh("ip -o link").await;
        assert!(links.contains("eth0"), "{daemon}: {links}");
    };
    let cleanup = async {
        for name in &names {
            let _ = Command::new(cli(daemon))
                .args(["delete", "--force", name])
                .output();
        }
        let _ = Command::new(cli(daemon))
            .args(["profile", "delete", &profile])
            .output();
    };
    with_cleanup(check, cleanup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_of_mode_none_has_only_the_loopback() {
    let Some(daemons) = daemons() else { return };
    for (name, _) in daemons {
        loopback_only(name).await;
    }
}

/// A managed bridge as an operator makes one, on 10.251.X.0/24.
fn make_operator_bridge(daemon: &str, bridge: &str, pid: u32) {
    let address = format!("ipv4.address=10.251.{}.1/24", pid % 250);
    run(
        cli(daemon),
        &[
            "network",
            "create",
            bridge,
            &address,
            "ipv4.nat=true",
            "ipv6.address=none",
        ],
    );
}

/// An operator's bridge: lxpack only reads it, and the ACL goes on each build's NIC
/// (Incus); LXD 5.0 cannot put an ACL on a NIC and is refused before anything is made.
async fn operator_bridge(daemon: &str, client: &LxdClient) {
    let pid = std::process::id() % 100_000;
    let bridge = format!("lxpko{}{pid}", &daemon[..1]);
    let acl = format!("lxpack-attack-op-{daemon}-{pid}");
    let build = format!("lxpack-attack-{daemon}-{pid}-op");
    let metadata_holder =
        LocalInterface::create(&format!("lxpkm{}{pid}", &daemon[..1]), &[METADATA.into()]);
    let check = async {
        assert_local(METADATA.into());
        make_operator_bridge(daemon, &bridge, pid);
        let host = client.host_addresses().await.unwrap();
        let network = EgressNetwork {
            owned: false,
            ..egress(&bridge, &acl, &[], &host)
        };
        let ensured = client.ensure_egress(&network).await;
        if daemon == "lxd" {
            let error = ensured.unwrap_err().to_string();
            assert!(error.contains("network_bridge_acl_devices"), "{error}");
            return;
        }
        ensured.unwrap();
        // The operator's bridge is left as it was.
        let shown = run(cli(daemon), &["network", "get", &bridge, "security.acls"]);
        assert_eq!(
            shown.trim(),
            "",
            "{daemon}: lxpack changed the operator's bridge"
        );
        let gateway = interface_ipv4(&bridge);
        assert_local(gateway);
        let targets = [
            ("the bridge's gateway", Listener::bind(gateway).await),
            (
                "the metadata address",
                Listener::bind(METADATA.into()).await,
            ),
        ];
        let attachment = NetworkAttachment::egress(&network);
        if !std::path::Path::new("/sys/module/nf_conntrack_bridge").exists() {
            // Incus writes a NIC's ACL in the bridge family, whose `ct state` needs
            // the bridge conntrack: without it the build must not start unfiltered.
            let Err(error) = Build::try_launch(client, &build, attachment).await else {
                panic!("{daemon}: a build started on a NIC ACL the kernel cannot enforce");
            };
            assert!(
                matches!(
                    &error,
                    RuntimeError::NetworkRefused {
                        reason: NetworkRefusal::NoBridgeConntrack,
                        ..
                    }
                ),
                "{daemon}: {error:?}"
            );
            return;
        }
        let a = Build::launch(client, &build, attachment).await;
        a.dhcp().await;
        for (what, listener) in &targets {
            assert!(
                !reaches(&a, listener).await,
                "{daemon}: a build on the operator's bridge reached {what} ({})",
                listener.address
            );
        }
    };
    let cleanup = async {
        let _ = Command::new(cli(daemon))
            .args(["delete", "--force", &build])
            .output();
        remove_network(daemon, &bridge, &acl);
    };
    with_cleanup(check, cleanup).await;
    drop(metadata_holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_on_an_operator_s_bridge_is_filtered_by_the_acl_on_its_nic() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        operator_bridge(name, &client).await;
    }
}
