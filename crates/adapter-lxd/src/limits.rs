//! Resource classes on LXD and Incus: the host's CPUs and memory (`GET /1.0/resources`)
//! and an instance's limit counters. Processes running and the memory peak come from
//! the daemon's state (`GET /1.0/instances/NAME/state`), and so does the root disk's
//! usage (`disk.root.usage`, on a pool that reports it: btrfs, zfs, lvm; not dir,
//! where it is missing); the kernel's out-of-memory
//! kills and refused forks only from the instance's cgroup, which this adapter reads
//! on the host when the daemon is on this host (a socket): never by running a command
//! in the instance, which a full process table would refuse. Both daemons name the
//! cgroup `lxc.payload.NAME` (`lxc.payload.PROJECT_NAME` in another project), under
//! each v1 controller or at the v2 root.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lxpack_core::domain::{InstanceName, LimitReadings};
use lxpack_core::ports::{HostResources, ResourceClasses, RuntimeError};
use serde::Deserialize;
use tracing::instrument;

use crate::client::LxdClient;
use crate::errors::runtime_error;
use crate::transport::{Method, Request};

/// Where the host mounts its cgroups.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// `GET /1.0/resources`, the parts read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Resources {
    cpu: Total,
    memory: Total,
}

/// A `total` figure.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Total {
    total: u64,
}

/// `GET /1.0/instances/NAME/state`, the parts read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct State {
    processes: i64,
    memory: MemoryState,
    disk: Option<DiskState>,
}

/// `disk` of an instance's state: its disk devices by name (`null` on some pools).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DiskState {
    root: Option<DeviceUsage>,
}

/// One disk device's figures.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeviceUsage {
    /// Bytes used; `-1` or missing when the pool cannot tell.
    usage: i64,
}

impl State {
    /// The root disk's usage, when the pool reports one.
    fn root_disk_used(&self) -> Option<u64> {
        let usage = self.disk.as_ref()?.root.as_ref()?.usage;
        u64::try_from(usage).ok().filter(|&n| n > 0)
    }
}

/// `memory` of an instance's state.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemoryState {
    usage_peak: u64,
}

/// The counter `name` in a cgroup file of `name value` lines (`pids.events`,
/// `memory.events`, `memory.oom_control`).
fn counter(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// The cgroup directory name of `instance` in `project`.
fn payload(instance: &str, project: Option<&str>) -> String {
    match project {
        Some(project) if project != "default" => format!("lxc.payload.{project}_{instance}"),
        _ => format!("lxc.payload.{instance}"),
    }
}

/// The first of `files` that reads, and the counter `name` in it.
fn first_counter(files: &[PathBuf], name: &str) -> Option<u64> {
    files
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .and_then(|text| counter(&text, name))
}

/// Out-of-memory kills and refused forks from the cgroup of `payload` under `root`:
/// cgroup v1 (`memory/…/memory.oom_control`, `pids/…/pids.events`) or v2
/// (`…/memory.events`, `…/pids.events`).
fn cgroup_counters(root: &Path, payload: &str) -> (Option<u64>, Option<u64>) {
    let oom = first_counter(
        &[
            root.join("memory").join(payload).join("memory.oom_control"),
            root.join(payload).join("memory.events"),
        ],
        "oom_kill",
    );
    let refused = first_counter(
        &[
            root.join("pids").join(payload).join("pids.events"),
            root.join(payload).join("pids.events"),
        ],
        "max",
    );
    (oom, refused)
}

#[async_trait]
impl ResourceClasses for LxdClient {
    #[instrument(skip(self))]
    async fn host_resources(&self) -> Result<HostResources, RuntimeError> {
        let resources: Resources = self
            .sync(Request::new(Method::Get, "/1.0/resources".to_owned()))
            .await
            .map_err(|e| {
                runtime_error("read the host's resources", "server", self.endpoint(), e)
            })?;
        Ok(HostResources {
            cpus: (resources.cpu.total > 0).then_some(resources.cpu.total),
            memory: (resources.memory.total > 0).then_some(resources.memory.total),
        })
    }

    #[instrument(skip(self), fields(instance = %instance))]
    async fn limit_counters(&self, instance: &InstanceName) -> Result<LimitReadings, RuntimeError> {
        let name = instance.as_str();
        let state: State = self
            .sync(self.api().instance_state(name))
            .await
            .map_err(|e| runtime_error("read the state", "instance", name, e))?;
        let (oom_kills, process_refusals) = if self.shares_this_host() {
            let payload = payload(name, self.options().project.as_deref());
            cgroup_counters(Path::new(CGROUP_ROOT), &payload)
        } else {
            (None, None)
        };
        Ok(LimitReadings {
            oom_kills,
            memory_peak: (state.memory.usage_peak > 0).then_some(state.memory.usage_peak),
            process_refusals,
            processes: u64::try_from(state.processes).ok(),
            disk_used: state.root_disk_used(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_read_from_v1_and_v2_files() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        assert_eq!(counter(v1, "oom_kill"), Some(1));
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(counter(v2, "oom_kill"), Some(2));
        assert_eq!(counter("max 26\n", "max"), Some(26));
        assert_eq!(counter("max 26\n", "oom_kill"), None);
        assert_eq!(counter("max x\n", "max"), None);
    }

    #[test]
    fn cgroups_are_found_under_either_hierarchy() {
        let root = std::env::temp_dir().join(format!("lxpack-cgroups-{}", std::process::id()));
        let v1 = root.join("v1");
        std::fs::create_dir_all(v1.join("memory/lxc.payload.i")).unwrap();
        std::fs::create_dir_all(v1.join("pids/lxc.payload.i")).unwrap();
        std::fs::write(
            v1.join("memory/lxc.payload.i/memory.oom_control"),
            "oom_kill 3\n",
        )
        .unwrap();
        std::fs::write(v1.join("pids/lxc.payload.i/pids.events"), "max 7\n").unwrap();
        assert_eq!(cgroup_counters(&v1, "lxc.payload.i"), (Some(3), Some(7)));
        let v2 = root.join("v2");
        std::fs::create_dir_all(v2.join("lxc.payload.p_i")).unwrap();
        std::fs::write(
            v2.join("lxc.payload.p_i/memory.events"),
            "oom 1\noom_kill 1\n",
        )
        .unwrap();
        std::fs::write(v2.join("lxc.payload.p_i/pids.events"), "max 0\n").unwrap();
        assert_eq!(
            cgroup_counters(&v2, &payload("i", Some("p"))),
            (Some(1), Some(0))
        );
        assert_eq!(cgroup_counters(&root, "lxc.payload.gone"), (None, None));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn client(mock: &crate::mock::MockTransport) -> LxdClient {
        LxdClient::connect_with_mock(mock.clone(), crate::LxdOptions::default())
    }

    #[tokio::test]
    async fn the_host_s_figures_come_from_its_resources() {
        let mock = crate::mock::MockTransport::new();
        mock.reply_json(
            200,
            &serde_json::json!({"type": "sync", "metadata": {"cpu": {"total": 4, "sockets": []}, "memory": {"total": 8_589_934_592_u64, "used": 1}}}),
        );
        let host = client(&mock).host_resources().await.unwrap();
        assert_eq!((host.cpus, host.memory), (Some(4), Some(8 << 30)));
        assert_eq!(mock.lines(), ["GET /1.0/resources"]);
    }

    #[tokio::test]
    async fn without_cgroup_files_the_counters_are_the_daemon_s_state() {
        let mock = crate::mock::MockTransport::new();
        mock.reply_json(
            200,
            &serde_json::json!({"type": "sync", "metadata": {"processes": 62, "memory": {"usage": 458_752, "usage_peak": 67_108_864}, "status": "Running"}}),
        );
        let name = InstanceName::parse("lxpack-i").unwrap();
        let readings = client(&mock).limit_counters(&name).await.unwrap();
        assert_eq!(
            readings,
            LimitReadings {
                oom_kills: None,
                memory_peak: Some(64 << 20),
                process_refusals: None,
                processes: Some(62),
                disk_used: None,
            }
        );
        assert_eq!(mock.lines(), ["GET /1.0/instances/lxpack-i/state"]);
        mock.reply_json(
            404,
            &serde_json::json!({"type": "error", "error": "Instance not found", "error_code": 404}),
        );
        assert!(matches!(
            client(&mock).limit_counters(&name).await,
            Err(RuntimeError::NotFound { .. })
        ));
    }

    /// The state replies measured after `dd` filled a 64 MiB root disk on a btrfs
    /// pool (LXD 5.0, then Incus 6.0, which adds the size as `total`), and on a dir
    /// pool (`disk` empty), or with `null` and `-1` figures.
    #[tokio::test]
    async fn the_root_disk_s_usage_is_read_where_the_pool_reports_it() {
        let name = InstanceName::parse("lxpack-i").unwrap();
        for (disk, used) in [
            (
                serde_json::json!({"root": {"usage": 65_077_248}}),
                Some(65_077_248),
            ),
            (
                serde_json::json!({"root": {"total": 67_108_864, "usage": 65_044_480}}),
                Some(65_044_480),
            ),
            (serde_json::json!({}), None),
            (serde_json::json!(null), None),
            (serde_json::json!({"root": {"usage": -1}}), None),
        ] {
            let mock = crate::mock::MockTransport::new();
            mock.reply_json(
                200,
                &serde_json::json!({"type": "sync", "metadata": {"processes": 1, "memory": {"usage": 1, "usage_peak": 1}, "disk": disk, "status": "Running"}}),
            );
            let readings = client(&mock).limit_counters(&name).await.unwrap();
            assert_eq!(readings.disk_used, used, "{disk}");
        }
    }

    #[test]
    fn the_default_project_adds_no_prefix() {
        assert_eq!(payload("i", None), "lxc.payload.i");
        assert_eq!(payload("i", Some("default")), "lxc.payload.i");
        assert_eq!(payload("i", Some("ci")), "lxc.payload.ci_i");
    }
}
