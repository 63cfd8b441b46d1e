//! What `lxpack doctor` asks of a daemon beyond the ports: its storage pools, whether
//! the default profile has a root disk, and which of the API extensions this adapter
//! relies on are missing. These are facts about LXD/Incus, so they live here.

use lxpack_core::ports::{RuntimeError, ServerInfo};
use reqwest::Method;
use serde_json::Value;

use crate::LxdClient;
use crate::runtime::{parse_server_info, runtime_error};

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
}

impl LxdClient {
    /// Reads the server, its pools and the default profile.
    ///
    /// # Errors
    /// The port's [`RuntimeError`] when a call fails.
    pub async fn readiness(&self) -> Result<Readiness, RuntimeError> {
        let call = |path: &'static str| async move {
            self.sync(self.request(Method::GET, path))
                .await
                .map_err(|e| runtime_error("read server state", "server", self.endpoint(), e))
        };
        let server = parse_server_info(
            self.server()
                .await
                .map_err(|e| runtime_error("read server state", "server", self.endpoint(), e))?,
        );
        let extensions = server.extensions;
        let server = server.info;
        let pools = call("/1.0/storage-pools")
            .await?
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|url| url.rsplit('/').next())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let profile = call("/1.0/profiles/default").await?;
        let root_disk_pool = profile
            .get("devices")
            .and_then(Value::as_object)
            .and_then(|devices| {
                devices.values().find(|device| {
                    device.get("type").and_then(Value::as_str) == Some("disk")
                        && device.get("path").and_then(Value::as_str) == Some("/")
                })
            })
            .and_then(|device| device.get("pool").and_then(Value::as_str))
            .map(str::to_owned);
        let missing_extensions = REQUIRED_EXTENSIONS
            .iter()
            .filter(|(name, _)| !extensions.contains(*name))
            .copied()
            .collect();
        Ok(Readiness {
            server,
            pools,
            root_disk_pool,
            missing_extensions,
        })
    }
}
