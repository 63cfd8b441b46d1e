//! The replies the adapter reads, as typed structs: only the fields it uses, each with
//! a default, so that a daemon that adds fields (or leaves one out) does not break a
//! call. Each is tested on the recorded replies of LXD 5.0 and Incus 6.0.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A field the daemon may send as `null` (the instances of an offline cluster member
/// come with null config, devices and profiles), read as its default.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `GET /1.0`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Server {
    /// The API extensions.
    pub(crate) api_extensions: Vec<String>,
    /// `trusted` or `untrusted`.
    pub(crate) auth: String,
    /// What the daemon runs on (only given to a trusted client).
    pub(crate) environment: Environment,
}

impl Server {
    /// Whether the daemon advertises the API extension `name`.
    pub(crate) fn has_extension(&self, name: &str) -> bool {
        self.api_extensions.iter().any(|e| e == name)
    }
}

/// `environment` of `GET /1.0`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Environment {
    /// `lxd` or `incus`.
    pub(crate) server: String,
    /// `5.0.2`, `6.0.4`.
    pub(crate) server_version: String,
    /// What the kernel can do, as the daemon found it.
    pub(crate) kernel_features: KernelFeatures,
    /// Whether the daemon is a member of a cluster.
    pub(crate) server_clustered: bool,
    /// The firewall driver the daemon filters its bridges with: `nftables` or
    /// `xtables`.
    pub(crate) firewall: String,
}

/// `environment.kernel_features` of `GET /1.0`: flags as the strings `"true"` and
/// `"false"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct KernelFeatures {
    /// Whether idmapped mounts work.
    pub(crate) idmapped_mounts: String,
}

/// An operation, as `/wait` (or an async reply's metadata) gives it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Operation {
    /// Its id.
    pub(crate) id: String,
    /// 103 running, 200 success, 400 failure, 401 cancelled.
    pub(crate) status_code: u16,
    /// Why it failed.
    pub(crate) err: String,
    /// Its own metadata ([`ExecStarted`], [`ExecEnded`], [`Published`]).
    pub(crate) metadata: Option<Value>,
    /// The cluster member it ran on; `none` on a daemon that is not clustered.
    pub(crate) location: String,
}

impl Operation {
    /// An operation that ended with success at once (a sync reply where an operation
    /// was expected).
    pub(crate) fn done(metadata: Value) -> Self {
        Self {
            status_code: 200,
            metadata: Some(metadata),
            ..Self::default()
        }
    }

    /// Its metadata, read as `T` (a missing field takes its default).
    pub(crate) fn metadata<T: serde::de::DeserializeOwned + Default>(&self) -> T {
        self.metadata
            .clone()
            .and_then(|m| serde_json::from_value(m).ok())
            .unwrap_or_default()
    }
}

/// The metadata of a started exec operation: the secrets of its websockets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct ExecStarted {
    /// `0`, `1`, `2` and `control`.
    pub(crate) fds: ExecFds,
}

/// The secrets of an exec's websockets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct ExecFds {
    /// stdin.
    #[serde(rename = "0")]
    pub(crate) stdin: String,
    /// stdout.
    #[serde(rename = "1")]
    pub(crate) stdout: String,
    /// stderr.
    #[serde(rename = "2")]
    pub(crate) stderr: String,
    /// The control socket (signals, window size).
    pub(crate) control: String,
}

/// The metadata of an ended exec operation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ExecEnded {
    /// The exit code.
    #[serde(rename = "return")]
    pub(crate) code: i64,
}

impl Default for ExecEnded {
    /// No exit code: -1.
    fn default() -> Self {
        Self { code: -1 }
    }
}

/// The metadata of an ended publish operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Published {
    /// The new image's fingerprint.
    pub(crate) fingerprint: String,
}

/// An instance (`GET /1.0/instances/NAME`, or one of `?recursion=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Instance {
    /// Its name.
    pub(crate) name: String,
    /// `Running`, `Stopped`, ...
    pub(crate) status: String,
    /// Deleted by the daemon when it stops.
    pub(crate) ephemeral: bool,
    /// Its profiles, in order (null for an instance on an offline cluster member).
    #[serde(deserialize_with = "null_as_default")]
    pub(crate) profiles: Vec<String>,
    /// Its own config (not the profiles'; null on an offline cluster member).
    #[serde(deserialize_with = "null_as_default")]
    pub(crate) config: BTreeMap<String, String>,
    /// The cluster member that holds it; `none` on a daemon that is not clustered.
    pub(crate) location: String,
}

/// A cluster member (one of `GET /1.0/cluster/members?recursion=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Member {
    /// Its name.
    pub(crate) server_name: String,
    /// Its API address.
    pub(crate) url: String,
    /// `Online`, `Offline`, `Evacuated`…
    pub(crate) status: String,
    /// The daemon's detail.
    pub(crate) message: String,
    /// Its cluster groups.
    pub(crate) groups: Vec<String>,
}

/// The member a `location` names: none for `none` or an empty one (a daemon that is
/// not clustered).
pub(crate) fn member_of(location: &str) -> Option<&str> {
    (!location.is_empty() && location != "none").then_some(location)
}

impl Instance {
    /// Whether it runs.
    pub(crate) fn is_running(&self) -> bool {
        self.status == "Running"
    }
}

/// A profile (`GET /1.0/profiles/NAME`, or one of `?recursion=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Profile {
    /// Its name.
    pub(crate) name: String,
    /// Its config.
    pub(crate) config: BTreeMap<String, String>,
    /// Its devices, each a map of settings.
    pub(crate) devices: BTreeMap<String, BTreeMap<String, String>>,
}

impl Profile {
    /// The storage pool of its root disk (the disk mounted at `/`), if it has one.
    pub(crate) fn root_disk_pool(&self) -> Option<&str> {
        self.devices
            .values()
            .find(|device| {
                device.get("type").map(String::as_str) == Some("disk")
                    && device.get("path").map(String::as_str) == Some("/")
            })
            .and_then(|device| device.get("pool"))
            .map(String::as_str)
    }
}

/// A custom storage volume (one of `GET .../volumes/custom?recursion=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Volume {
    /// Its name.
    pub(crate) name: String,
    /// Its config (lxpack's labels are `user.` keys).
    pub(crate) config: BTreeMap<String, String>,
    /// The URLs of the instances and profiles that use it.
    pub(crate) used_by: Vec<String>,
    /// The cluster member that holds it (`none` when not clustered).
    pub(crate) location: String,
}

/// `GET .../volumes/custom/NAME/state`: its usage, `null` where the driver cannot
/// tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct VolumeState {
    /// The bytes used.
    pub(crate) usage: Option<VolumeUsage>,
}

/// The usage part of [`VolumeState`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct VolumeUsage {
    /// Bytes used.
    pub(crate) used: u64,
}

/// An image (`GET /1.0/images/FINGERPRINT`, or one of `?recursion=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Image {
    /// Its fingerprint.
    pub(crate) fingerprint: String,
    /// Its aliases.
    pub(crate) aliases: Vec<AliasName>,
    /// Its properties.
    pub(crate) properties: BTreeMap<String, String>,
    /// `x86_64`, ...
    pub(crate) architecture: String,
    /// RFC 3339.
    pub(crate) created_at: String,
    /// In bytes.
    pub(crate) size: u64,
}

/// An alias, as an image lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct AliasName {
    /// The alias.
    pub(crate) name: String,
}

/// `GET /1.0/images/aliases/ALIAS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Alias {
    /// The alias.
    pub(crate) name: String,
    /// The fingerprint it points to.
    pub(crate) target: String,
}

/// The last segment of each URL of a list (`GET /1.0/storage-pools`).
pub(crate) fn names(urls: &[String]) -> Vec<String> {
    urls.iter()
        .filter_map(|url| url.rsplit('/').next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Daemon, metadata_of};

    fn read<T: serde::de::DeserializeOwned>(daemon: Daemon, scenario: &str, index: usize) -> T {
        serde_json::from_value(metadata_of(daemon, scenario, index))
            .unwrap_or_else(|e| panic!("{daemon:?} {scenario}: {e}"))
    }

    #[test]
    fn server_replies_of_both_daemons() {
        let lxd: Server = read(Daemon::Lxd, "server", 0);
        assert_eq!(lxd.auth, "trusted");
        assert_eq!(lxd.environment.server, "lxd");
        assert_eq!(lxd.environment.server_version, "5.0.2");
        assert!(lxd.has_extension("container_exec_user_group_cwd"));
        assert!(!lxd.has_extension("instance_create_start"));
        let incus: Server = read(Daemon::Incus, "server", 0);
        assert_eq!(incus.environment.server, "incus");
        assert!(incus.has_extension("instance_create_start"));
        for daemon in Daemon::BOTH {
            let untrusted: Server = read(daemon, "server-untrusted", 0);
            assert_eq!(untrusted.auth, "untrusted", "{daemon:?}");
            assert_eq!(untrusted.environment, Environment::default(), "{daemon:?}");
        }
    }

    #[test]
    fn operations_and_their_metadata() {
        for daemon in Daemon::BOTH {
            let started: Operation = read(daemon, "exec", 0);
            assert_eq!(started.status_code, 103);
            let fds: ExecStarted = started.metadata();
            assert_eq!(fds.fds.stdin.len(), 64, "{daemon:?}");
            assert_ne!(fds.fds.control, fds.fds.stdout);
            let ended: Operation = read(daemon, "exec-finished", 1);
            assert_eq!(ended.status_code, 200);
            assert_eq!(ended.metadata::<ExecEnded>().code, 3, "{daemon:?}");
            let published: Operation = read(daemon, "publish", 1);
            assert_eq!(published.metadata::<Published>().fingerprint.len(), 64);
            // An operation without metadata has none of these.
            let stopped: Operation = read(daemon, "stop", 1);
            assert_eq!(stopped.metadata::<ExecEnded>().code, -1);
        }
        let failed: Operation = read(Daemon::Lxd, "start-forkstart", 1);
        assert_eq!(failed.status_code, 400);
        assert!(failed.err.contains("forkstart"), "{failed:?}");
    }

    #[test]
    fn instances_profiles_and_pools() {
        for daemon in Daemon::BOTH {
            let instance: Instance = read(daemon, "get-instance", 0);
            assert!(instance.is_running() && instance.ephemeral, "{daemon:?}");
            assert_eq!(instance.profiles, ["default", "lxpack-fixture-p"]);
            assert_eq!(instance.config["user.lxpack.job"], "lxpack-fixture-job");
            let all: Vec<Instance> = read(daemon, "instances", 0);
            assert!(
                all.iter().any(|i| i.name == "lxpack-fixture-l"),
                "{daemon:?}"
            );
            let profiles: Vec<Profile> = read(daemon, "profiles", 0);
            assert!(profiles.iter().any(|p| p.name == "lxpack-fixture-p"));
            let default: Profile = read(daemon, "profile-default", 0);
            assert_eq!(default.root_disk_pool(), Some("default"), "{daemon:?}");
            let pools: Vec<String> = read(daemon, "storage-pools", 0);
            assert_eq!(names(&pools), ["default"]);
        }
    }

    #[test]
    fn images_and_aliases() {
        for daemon in Daemon::BOTH {
            let image: Image = read(daemon, "image", 0);
            assert_eq!(image.fingerprint.len(), 64);
            assert_eq!(image.aliases[0].name, "lxpack-fixture-image");
            assert_eq!(image.properties["os"], "busybox");
            assert!(image.size > 0 && image.created_at.starts_with("20"));
            let alias: Alias = read(daemon, "alias", 0);
            assert_eq!(alias.target, image.fingerprint, "{daemon:?}");
            let all: Vec<Image> = read(daemon, "images", 0);
            assert!(all.iter().any(|i| i.fingerprint == image.fingerprint));
        }
    }
}
