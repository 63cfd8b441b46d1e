//! [`NetworkPolicies`] for [`LxdClient`]: the bridge and the network ACL of an egress
//! scope, made and kept in step through the daemon's own API (lxpack writes no
//! firewall rule itself), and the NIC devices a launch gets.
//!
//! - The ACL holds allow rules only; the bridge (or, on an operator's bridge, each
//!   build's NIC) rejects what they do not allow (`security.acls.default.*.action`).
//!   The daemons put DHCP, DNS and the ICMP the bridge needs before the ACL, in their
//!   own input and output chains, so builds get an address and a resolver and nothing
//!   else of the host.
//! - The ACL is created when absent (a concurrent creator's "already exists" is read
//!   back and compared), and replaced under its `ETag` only when its rules differ.
//! - lxpack's bridge is created when absent, on a subnet lxpack picks from what the
//!   host's interfaces hold ([`wire::choose_gateway`]); on a cluster it is first made
//!   pending on every member (`?target=`), then created once.
//! - `api` builds the requests, `reply` reads the replies, `wire` holds the bodies and
//!   checks: all pure and tested without a daemon.

mod api;
mod reply;
pub(crate) mod wire;

use std::net::IpAddr;

use async_trait::async_trait;
use lxpack_core::domain::{EgressNetwork, EgressState, NetworkRefusal};
use lxpack_core::ports::{NetworkPolicies, RuntimeError};
use tracing::instrument;

use self::reply::{Acl, Network, NetworkState};
use self::wire::{
    acl_create, acl_matches, acl_replace, acl_settings, addresses, bridge_create, bridge_on_member,
    check_support, choose_gateway, configured_range, holds_acl, is_owned, member_address,
};
use crate::classify::Cause;
use crate::client::LxdClient;
use crate::errors::{CallError, runtime_error};

/// How many times an ACL update that lost a compare-and-set is read and tried again.
const ACL_ATTEMPTS: u32 = 4;

fn acl_error(operation: &str, network: &EgressNetwork, error: CallError) -> RuntimeError {
    runtime_error(operation, "network ACL", network.acl.as_str(), error)
}

fn network_error(operation: &str, network: &EgressNetwork, error: CallError) -> RuntimeError {
    runtime_error(operation, "network", network.network.as_str(), error)
}

/// A network of lxpack's name that lxpack did not make: never changed.
fn not_ours(network: &EgressNetwork, found: &Network) -> RuntimeError {
    let managed = if found.managed {
        "a network of the daemon's that lxpack did not make"
    } else {
        "an interface of the host"
    };
    RuntimeError::NetworkRefused {
        reason: NetworkRefusal::NameTaken,
        detail: format!(
            "network {} exists as {managed} ({}), so lxpack cannot make its bridge under that name",
            network.network, found.kind
        ),
    }
}

impl LxdClient {
    /// The names of the NIC devices of the base profiles, read once per client.
    pub(crate) async fn base_nics(&self) -> Result<&[String], CallError> {
        self.inner_base_nics()
            .get_or_try_init(|| async {
                let mut nics = Vec::new();
                for name in &self.options().base_profiles {
                    let profile: crate::reply::Profile =
                        self.sync(self.api().profile(name)).await?;
                    nics.extend(
                        profile
                            .devices
                            .iter()
                            .filter(|(_, device)| {
                                device.get("type").map(String::as_str) == Some("nic")
                            })
                            .map(|(device, _)| device.clone()),
                    );
                }
                nics.sort();
                nics.dedup();
                Ok(nics)
            })
            .await
            .map(Vec::as_slice)
    }

    /// Every network the daemon sees, and the addresses (with prefixes) of the host's
    /// interfaces among them, on the member this client talks to.
    async fn host_interfaces(&self) -> Result<(Vec<Network>, Vec<(IpAddr, u8)>), CallError> {
        let networks: Vec<Network> = self.sync(self.api().networks()).await?;
        let mut found = Vec::new();
        for network in &networks {
            match self
                .sync::<NetworkState>(self.api().network_state(&network.name))
                .await
            {
                Ok(state) => found.extend(addresses(&state.addresses)),
                // An interface that went away since the list (a build's veth).
                Err(error) if error.is_gone() => {}
                Err(error) => return Err(error),
            }
        }
        Ok((networks, found))
    }

    /// Every address of the host's interfaces: the networks' names, then each one's
    /// state, asked all at once (a job asks this before every egress launch of a new
    /// process, so it must be quick).
    async fn interface_addresses(&self) -> Result<Vec<(IpAddr, u8)>, CallError> {
        let urls: Vec<String> = self.sync(self.api().network_names()).await?;
        let states = futures_util::future::join_all(urls.iter().map(|url| {
            let name = network_name_of(url);
            self.sync::<NetworkState>(self.api().network_state(name))
        }))
        .await;
        let mut found = Vec::new();
        for state in states {
            match state {
                Ok(state) => found.extend(addresses(&state.addresses)),
                // An interface that went away since the list (a build's veth).
                Err(error) if error.is_gone() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    async fn ensure_acl(&self, network: &EgressNetwork) -> Result<(), RuntimeError> {
        let name = network.acl.as_str();
        for _ in 0..ACL_ATTEMPTS {
            let (acl, etag) = match self.versioned::<Acl>(self.api().network_acl(name)).await {
                Ok(read) => read,
                Err(error) if error.is_gone() => {
                    let create = self.api().create_network_acl(&acl_create(network));
                    match self.ack(create).await {
                        Ok(()) => return Ok(()),
                        // Another process made it first: read it and compare.
                        Err(error) if error.is(Cause::AlreadyExists) => continue,
                        Err(error) => return Err(acl_error("create network ACL", network, error)),
                    }
                }
                Err(error) => return Err(acl_error("read network ACL", network, error)),
            };
            if acl_matches(&acl, network) {
                return Ok(());
            }
            let Some(etag) = etag else {
                return Err(RuntimeError::Rejected {
                    operation: format!("update network ACL {name}"),
                    message: "the daemon sent no ETag with the ACL, so it cannot be changed safely"
                        .into(),
                });
            };
            let replace = self
                .api()
                .replace_network_acl(name, &acl_replace(network), &etag);
            match self.ack(replace).await {
                Ok(()) => return Ok(()),
                Err(error) if error.is(Cause::VersionChanged) => {
                    tracing::debug!(
                        acl = name,
                        "the ACL changed under its update; reading it again"
                    );
                }
                Err(error) => return Err(acl_error("update network ACL", network, error)),
            }
        }
        Err(RuntimeError::Changed {
            name: format!("network ACL {name}"),
            reason: format!(
                "another process changed it {ACL_ATTEMPTS} times while lxpack updated it; \
                 two lxpack configs with different policies share this daemon?"
            ),
        })
    }

    /// lxpack's bridge as the daemon holds it; `None` when absent or still pending.
    async fn read_owned_bridge(
        &self,
        network: &EgressNetwork,
    ) -> Result<Option<Network>, RuntimeError> {
        match self
            .sync::<Network>(self.api().network(network.network.as_str()))
            .await
        {
            Ok(found) if found.status != "Pending" => Ok(Some(found)),
            Ok(_) => Ok(None),
            Err(error) if error.is_gone() => Ok(None),
            Err(error) => Err(network_error("read network", network, error)),
        }
    }

    /// lxpack's bridge, as read while the ACL was ensured: created when absent (the
    /// ACL it names exists by now); when present it must be lxpack's, and gets the
    /// ACL back if someone took it off.
    async fn ensure_owned_bridge(
        &self,
        network: &EgressNetwork,
        found: Option<Network>,
    ) -> Result<(), RuntimeError> {
        match found {
            Some(found) => self.adopt_bridge(network, &found).await,
            None => self.create_bridge(network).await,
        }
    }

    async fn adopt_bridge(
        &self,
        network: &EgressNetwork,
        found: &Network,
    ) -> Result<(), RuntimeError> {
        if !found.managed || !is_owned(found) {
            return Err(not_ours(network, found));
        }
        if holds_acl(found, network.acl.as_str()) {
            return Ok(());
        }
        tracing::warn!(network = %network.network, acl = %network.acl, "lxpack's bridge lost its ACL; putting it back");
        let patch = self.api().patch_network_config(
            network.network.as_str(),
            &acl_settings(network.acl.as_str()),
        );
        self.ack(patch)
            .await
            .map_err(|e| network_error("put the ACL on network", network, e))
    }

    async fn create_bridge(&self, network: &EgressNetwork) -> Result<(), RuntimeError> {
        let name = network.network.as_str();
        let (networks, mut taken) = self
            .host_interfaces()
            .await
            .map_err(|e| network_error("list networks", network, e))?;
        taken.extend(
            networks
                .iter()
                .filter_map(|n| configured_range(n.config.get("ipv4.address"))),
        );
        let gateway = choose_gateway(name, &taken).ok_or_else(|| RuntimeError::NetworkRefused {
            reason: NetworkRefusal::NoFreeSubnet,
            detail: format!("no free 10.x.x.0/24 subnet is left for lxpack's bridge {name}"),
        })?;
        let limit = self.options().request_timeout;
        let members = self
            .members()
            .await
            .map_err(|e| network_error("list cluster members", network, e))?;
        for member in &members {
            let pending = self
                .api()
                .create_network(&bridge_on_member(network), Some(&member.server_name));
            match self.operation(pending, limit).await {
                Ok(_) => {}
                Err(error) if error.is(Cause::AlreadyExists) => {}
                Err(error) => return Err(network_error("create network", network, error)),
            }
        }
        tracing::info!(network = name, %gateway, "creating lxpack's bridge");
        let create = self
            .api()
            .create_network(&bridge_create(network, &gateway), None);
        let Err(error) = self.operation(create, limit).await else {
            return Ok(());
        };
        // Another process may have made it first: if what is there now is lxpack's
        // bridge, all is well.
        match self.sync::<Network>(self.api().network(name)).await {
            Ok(found) if found.status != "Pending" && is_owned(&found) => {
                self.adopt_bridge(network, &found).await
            }
            _ => Err(network_error("create network", network, error)),
        }
    }

    /// An operator's bridge: it must exist as a managed bridge; it is never changed.
    async fn check_operator_bridge(&self, network: &EgressNetwork) -> Result<(), RuntimeError> {
        match self
            .sync::<Network>(self.api().network(network.network.as_str()))
            .await
        {
            Ok(found) if found.managed && found.kind == "bridge" => Ok(()),
            Ok(found) => Err(RuntimeError::NetworkRefused {
                reason: NetworkRefusal::NotAManagedBridge,
                detail: format!(
                    "network {} is not a bridge the daemon manages (it is {}{})",
                    network.network,
                    if found.managed {
                        "a managed "
                    } else {
                        "an unmanaged "
                    },
                    found.kind
                ),
            }),
            Err(error) if error.is_gone() => Err(RuntimeError::NotFound {
                what: "network",
                name: network.network.to_string(),
            }),
            Err(error) => Err(network_error("read network", network, error)),
        }
    }
}

#[async_trait]
impl NetworkPolicies for LxdClient {
    #[instrument(skip(self))]
    async fn host_addresses(&self) -> Result<Vec<IpAddr>, RuntimeError> {
        let fail = |e| runtime_error("read the host's addresses", "server", self.endpoint(), e);
        let (interfaces, members) = tokio::join!(self.interface_addresses(), self.members());
        let mut found: Vec<IpAddr> = interfaces
            .map_err(fail)?
            .into_iter()
            .map(|(address, _)| address)
            .collect();
        let members = members.map_err(fail)?;
        found.extend(members.iter().filter_map(|m| member_address(&m.url)));
        found.sort();
        found.dedup();
        Ok(found)
    }

    #[instrument(skip_all, fields(network = %network.network, acl = %network.acl))]
    async fn ensure_egress(&self, network: &EgressNetwork) -> Result<(), RuntimeError> {
        let server = self
            .server()
            .await
            .map_err(|e| runtime_error("read server info", "server", self.endpoint(), e))?;
        // An operator's bridge that does not exist is the first thing to fix, before
        // whether this daemon could filter it.
        if !network.owned {
            self.check_operator_bridge(network).await?;
        }
        check_support(server, network.owned)?;
        if !network.owned {
            return self.ensure_acl(network).await;
        }
        // The ACL and the bridge are read at once (every new process asks both before
        // its first egress launch); a bridge is created only once its ACL exists.
        let (acl, bridge) = tokio::join!(self.ensure_acl(network), self.read_owned_bridge(network));
        acl?;
        self.ensure_owned_bridge(network, bridge?).await
    }

    #[instrument(skip_all, fields(network = %network.network, acl = %network.acl))]
    async fn egress_state(&self, network: &EgressNetwork) -> Result<EgressState, RuntimeError> {
        let acl = match self
            .sync::<Acl>(self.api().network_acl(network.acl.as_str()))
            .await
        {
            Ok(acl) => acl,
            Err(error) if error.is_gone() => return Ok(EgressState::Missing),
            Err(error) => return Err(acl_error("read network ACL", network, error)),
        };
        let bridge = match self
            .sync::<Network>(self.api().network(network.network.as_str()))
            .await
        {
            Ok(bridge) => bridge,
            Err(error) if error.is_gone() => return Ok(EgressState::Missing),
            Err(error) => return Err(network_error("read network", network, error)),
        };
        let bridge_right =
            !network.owned || (is_owned(&bridge) && holds_acl(&bridge, network.acl.as_str()));
        Ok(if bridge_right && acl_matches(&acl, network) {
            EgressState::Matches
        } else {
            EgressState::Differs
        })
    }
}

/// The name in a network's URL (`/1.0/networks/NAME`, maybe with `?project=`).
fn network_name_of(url: &str) -> &str {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests;
