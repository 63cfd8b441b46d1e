//! The fault daemons of scripts/fault-daemons-up: found through the variables it
//! prints (scripts/test exports them), driven with their own client (`lxc`/`incus` with
//! `LXD_DIR`/`INCUS_DIR`), killed by the PID the script recorded and started again by
//! the script. And what a test leaves on one: a snapshot of its instances, profiles
//! and images before, compared after.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::turn::wait_for_turn;

/// The project of scripts/fault-daemons-up whose root disks are on the small loop-file
/// pool.
pub(crate) const SMALL_PROJECT: &str = "lxpack-small";

/// The projects a test may leave something in.
const PROJECTS: [&str; 2] = ["default", SMALL_PROJECT];

/// One fault daemon.
#[derive(Debug, Clone)]
pub(crate) struct FaultDaemon {
    /// `lxd` or `incus`.
    pub(crate) name: &'static str,
    /// `lxc` or `incus`.
    client: &'static str,
    /// Its state directory (`LXD_DIR`/`INCUS_DIR`).
    dir: PathBuf,
    /// Its unix socket.
    pub(crate) socket: String,
    /// Its HTTPS address, `https://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// scripts/fault-daemons-up's directory (PIDs, logs).
    fault_dir: PathBuf,
    /// The fault daemons are one test's at a time, machine-wide: held (an exclusive
    /// lock on `tests.lock` in the fault directory) until the test and every clone of
    /// this value are done.
    _turn: Arc<std::fs::File>,
}

/// The fault daemon `name` (`lxd` or `incus`); `None` when LXPACK_SKIP_REAL=1.
///
/// # Panics
/// When scripts/fault-daemons-up's variables are missing or the daemon does not
/// answer, with how to start it.
pub(crate) fn fault_daemon(name: &'static str) -> Option<FaultDaemon> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: fault test skipped on request");
        return None;
    }
    let upper = name.to_uppercase();
    let variable = |suffix: &str| {
        let key = format!("LXPACK_TEST_FAULT_{suffix}");
        std::env::var(&key).unwrap_or_else(|_| {
            panic!(
                "{key} is not set: the fault tests run on their own daemons; start them with \
                 `eval \"$(scripts/fault-daemons-up)\"` (scripts/test does), or set \
                 LXPACK_SKIP_REAL=1 to skip the real-daemon tests"
            )
        })
    };
    let fault_dir = PathBuf::from(variable("DIR"));
    let daemon = FaultDaemon {
        name,
        client: if name == "lxd" { "lxc" } else { "incus" },
        socket: variable(&format!("{upper}_SOCKET")),
        url: variable(&format!("{upper}_URL")),
        dir: fault_dir.join(name),
        _turn: Arc::new(wait_for_turn(&fault_dir)),
        fault_dir,
    };
    // A daemon an earlier test killed and failed to restart, or that another test run
    // on this machine stopped (scripts/fault-daemons-down) between two tests, is
    // started again here.
    daemon.restart_if_down();
    assert!(
        std::os::unix::net::UnixStream::connect(&daemon.socket).is_ok(),
        "the fault daemon {name} does not answer at {}; start it with `scripts/fault-daemons-up`",
        daemon.socket
    );
    Some(daemon)
}

impl FaultDaemon {
    /// Runs its client with `args`.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        let variable = if self.name == "lxd" {
            "LXD_DIR"
        } else {
            "INCUS_DIR"
        };
        Command::new(self.client)
            .env(variable, &self.dir)
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs its client and expects success; returns stdout.
    #[track_caller]
    pub(crate) fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "{}: `{} {}` failed: {}",
            self.name,
            self.client,
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `GET path` through its client, as JSON.
    #[track_caller]
    pub(crate) fn query(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.cli_ok(&["query", path])).unwrap()
    }

    /// The names in a listing of URLs (`/1.0/instances/NAME?project=P`).
    fn names(&self, path: &str) -> BTreeSet<String> {
        self.query(path)
            .as_array()
            .unwrap()
            .iter()
            .map(|url| {
                let url = url.as_str().unwrap();
                let url = url.split('?').next().unwrap();
                url.rsplit('/').next().unwrap().to_owned()
            })
            .collect()
    }

    /// Its instances, profiles and images now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for project in PROJECTS {
            for name in self.names(&format!("/1.0/instances?project={project}")) {
                snapshot.instances.insert(format!("{project}/{name}"));
            }
            for name in self.names(&format!("/1.0/profiles?project={project}")) {
                snapshot.profiles.insert(format!("{project}/{name}"));
            }
        }
        snapshot.images = self.names("/1.0/images?project=default");
        snapshot
    }

    /// A config on its unix socket in `project`, with `timeout` seconds per API call.
    pub(crate) fn socket_config(&self, project: &str, timeout: u32) -> String {
        format!(
            "container:\n  timeout: {timeout}\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {}\n    project: {project}\n",
            self.socket
        )
    }

    /// A config over HTTPS at `url` (the daemon's own, or a proxy's on 127.0.0.1: its
    /// certificate names 127.0.0.1), with the test client certificate and the daemon's
    /// certificate pinned.
    pub(crate) fn https_config(&self, url: &str, timeout: u32) -> String {
        let state = std::env::var("LXPACK_STATE_DIR")
            .unwrap_or_else(|_| "/var/tmp/lxpack-daemons".to_owned());
        format!(
            "container:\n  timeout: {timeout}\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    url: {url}\n    client_cert: {state}/client.crt\n    client_key: {state}/client.key\n    server_cert: {}\n",
            self.dir.join("server.crt").display()
        )
    }

    /// The OS of the test image, as `--os` takes it.
    pub(crate) fn test_image_os(&self) -> String {
        let alias = self.query("/1.0/images/aliases/lxpack-test-busybox");
        let image = self.query(&format!(
            "/1.0/images/{}",
            alias["target"].as_str().unwrap()
        ));
        format!(
            "busybox/{}",
            image["properties"]["release"].as_str().unwrap()
        )
    }

    /// The PID scripts/fault-daemons-up recorded.
    fn pid(&self) -> u32 {
        let file = self.fault_dir.join(format!("{}.pid", self.name));
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .parse()
            .unwrap()
    }

    /// Kills the daemon with SIGKILL (its containers keep running, as they do when a
    /// daemon crashes) and waits until it is gone.
    pub(crate) fn kill(&self) {
        let pid = self.pid();
        assert!(
            self.is_ours(pid),
            "{}: pid {pid} is not the fault daemon on {}",
            self.name,
            self.dir.display()
        );
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "{}: kill -KILL {pid} failed", self.name);
        let deadline = Instant::now() + Duration::from_secs(30);
        while alive(pid) {
            assert!(
                Instant::now() < deadline,
                "{}: pid {pid} lives on",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the daemon again on its state directory (scripts/fault-daemons-up) when
    /// it is not running.
    pub(crate) fn restart_if_down(&self) {
        let pid_file = self.fault_dir.join(format!("{}.pid", self.name));
        if pid_file.exists() && self.is_ours(self.pid()) {
            return;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fault-daemons-up");
        let output = Command::new(script)
            .env("LXPACK_FAULT_DAEMONS", self.name)
            .env("LXPACK_FAULT_DIR", &self.fault_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: scripts/fault-daemons-up failed:\n{}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Whether `pid` runs and is this fault daemon (its state directory in its
    /// environment), not a process that got a stale PID.
    fn is_ours(&self, pid: u32) -> bool {
        let variable = if self.name == "lxd" {
            "LXD_DIR"
        } else {
            "INCUS_DIR"
        };
        let expected = format!("{variable}={}", self.dir.display());
        alive(pid)
            && std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|b| *b == 0)
                    .any(|entry| entry == expected.as_bytes())
            })
    }

    /// The used bytes of the small pool's file system.
    pub(crate) fn small_pool_used(&self) -> u64 {
        let stat = df_bytes(&self.small_pool_mount());
        stat.0 - stat.1
    }

    /// Where the small pool's file system is mounted.
    pub(crate) fn small_pool_mount(&self) -> PathBuf {
        self.fault_dir.join(format!("small-{}", self.name))
    }
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// (total, available) bytes of the file system at `path`, as `df` reads them.
fn df_bytes(path: &Path) -> (u64, u64) {
    let output = Command::new("df")
        .args(["-B1", "--output=size,avail"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

/// What a daemon holds: instances and profiles as `project/name`, image fingerprints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) instances: BTreeSet<String>,
    pub(crate) profiles: BTreeSet<String>,
    pub(crate) images: BTreeSet<String>,
}

impl Snapshot {
    /// What `self` has that `before` had not.
    pub(crate) fn new_since(&self, before: &Self) -> Self {
        Self {
            instances: self
                .instances
                .difference(&before.instances)
                .cloned()
                .collect(),
            profiles: self
                .profiles
                .difference(&before.profiles)
                .cloned()
                .collect(),
            images: self.images.difference(&before.images).cloned().collect(),
        }
    }

    /// Whether it holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.profiles.is_empty() && self.images.is_empty()
    }
}

/// Takes a snapshot at the start of a test; [`Leaks::assert_none`] checks that the test
/// left nothing else, and, whatever happens, the drop removes what it left so that one
/// failing test does not fail the next ones.
pub(crate) struct Leaks {
    daemon: FaultDaemon,
    before: Snapshot,
    /// Images the test published on purpose (job ids), deleted before the check.
    published: std::cell::RefCell<Vec<String>>,
}

/// How long a container released in the background may take to go.
pub(crate) const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Leaks {
    /// The snapshot before the test.
    pub(crate) fn watch(daemon: &FaultDaemon) -> Self {
        Self {
            daemon: daemon.clone(),
            before: daemon.snapshot(),
            published: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// An image the test made on purpose: deleted (by its alias) before the check.
    pub(crate) fn published(&self, job: &str) {
        self.published.borrow_mut().push(job.to_owned());
    }

    /// Deletes the images the test published, then asserts that the daemon holds
    /// nothing the test did not find there.
    #[track_caller]
    pub(crate) fn assert_none(&self) {
        for job in self.published.borrow_mut().drain(..) {
            let _ = self.daemon.cli(&["image", "delete", &job]);
        }
        // A deploy releases its container in the background (the default): the
        // container goes once the daemon's stop has ended, a moment after the job.
        let deadline = std::time::Instant::now() + RELEASE_WAIT;
        let left = loop {
            let left = self.daemon.snapshot().new_since(&self.before);
            if left.is_empty() || std::time::Instant::now() > deadline {
                break left;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        assert!(
            left.is_empty(),
            "{}: the test leaked {left:?}",
            self.daemon.name
        );
    }
}

impl Drop for Leaks {
    fn drop(&mut self) {
        self.daemon.restart_if_down();
        for job in self.published.borrow().iter() {
            let _ = self.daemon.cli(&["image", "delete", job]);
        }
        let left = self.daemon.snapshot().new_since(&self.before);
        for instance in &left.instances {
            let (project, name) = instance.split_once('/').unwrap();
            let _ = self
                .daemon
                .cli(&["delete", "--force", "--project", project, name]);
        }
        for profile in &left.profiles {
            let (project, name) = profile.split_once('/').unwrap();
            let _ = self
                .daemon
                .cli(&["profile", "delete", "--project", project, name]);
        }
        for image in &left.images {
            let _ = self.daemon.cli(&["image", "delete", image]);
        }
    }
}
