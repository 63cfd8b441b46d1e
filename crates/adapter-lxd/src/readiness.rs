//! What `lxpack doctor` asks of a daemon beyond the ports: its storage pools, whether
//! the default profile has a root disk, and which of the API extensions this adapter
//! relies on are missing. These are facts about LXD/Incus, so they live here.

use lxpack_core::domain::ClusterMember;
use lxpack_core::ports::{RuntimeError, ServerInfo};

use crate::LxdClient;
use crate::errors::runtime_error;
use crate::mapping::parse_server_info;
use crate::reply::{Profile, names};

/// The API extensions this adapter needs, with what each is for.
pub const REQUIRED_EXTENSIONS: &[(&str, &str)] = &[
    ("instances", "the /1.0/instances API"),
    (
        "container_exec_user_group_cwd",
        "running hooks and buildpacks as the checkout's owner, in its directory",
    ),
    (
        "image_create_aliases",
        "publishing an image under the job id",
    ),
    (
        "image_compression_algorithm",
        "choosing the publish compression",
    ),
];

/// The daemon's fitness to run lxpack's jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// `GET /1.0`.
    pub server: ServerInfo,
    /// The storage pools' names.
    pub pools: Vec<String>,
    /// The pool of the default profile's root disk, if it has one.
    pub root_disk_pool: Option<String>,
    /// Required extensions the daemon lacks, with what each is for.
    pub missing_extensions: Vec<(&'static str, &'static str)>,
    /// The cluster's members with their state; empty when the daemon is not
    /// clustered.
    pub members: Vec<ClusterMember>,
}

impl LxdClient {
    /// Reads the server, its pools and the default profile.
    ///
    /// # Errors
    /// The port's [`RuntimeError`] when a call fails.
    pub async fn readiness(&self) -> Result<Readiness, RuntimeError> {
        let map = |e| runtime_error("read server state", "server", self.endpoint(), e);
        let server = self.server().await.map_err(map)?;
        let pools: Vec<String> = self.sync(self.api().storage_pools()).await.map_err(map)?;
        let profile: Profile = self
            .sync(self.api().profile("default"))
            .await
            .map_err(map)?;
        let members = self
            .members()
            .await
            .map_err(map)?
            .into_iter()
            .filter_map(crate::cluster::cluster_member)
            .collect();
        let missing_extensions = REQUIRED_EXTENSIONS
            .iter()
            .filter(|(name, _)| !server.has_extension(name))
            .copied()
            .collect();
        let (server, pools, root_disk_pool) = (
            parse_server_info(server),
            names(&pools),
            profile.root_disk_pool().map(str::to_owned),
        );
        Ok(Readiness {
            server,
            pools,
            root_disk_pool,
            missing_extensions,
            members,
        })
    }
}

#[cfg(test)]
mod tests;
