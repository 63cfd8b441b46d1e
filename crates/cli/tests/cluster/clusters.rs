//! The test clusters as scripts/cluster-up leaves them, and an lxpack environment
//! on one of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::harness::Env;
use crate::turn::wait_for_turn;

/// One test cluster: `incus` or `lxd`, its members' URLs (m1 first), its certificate.
pub(crate) struct Cluster {
    pub(crate) kind: &'static str,
    pub(crate) urls: Vec<String>,
    pub(crate) cert: PathBuf,
    pub(crate) dir: PathBuf,
}

/// Holds the clusters' test lock: no other cluster test, and no cluster-down, runs.
pub(crate) struct Turn(#[allow(dead_code)] std::fs::File);

/// Both clusters, LXD first, and the lock; `None` when LXPACK_SKIP_REAL=1.
///
/// # Panics
/// When the variables of scripts/cluster-up are missing or a member does not answer.
pub(crate) fn clusters() -> Option<(Turn, Vec<Cluster>)> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: cluster test skipped on request");
        return None;
    }
    let hint = "start the test clusters with `eval \"$(scripts/cluster-up)\"` (scripts/test does), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests";
    let var =
        |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {hint}"));
    let dir = PathBuf::from(var("LXPACK_TEST_CLUSTER_DIR"));
    let turn = Turn(wait_for_turn(&dir));
    let clusters = [("lxd", "LXD"), ("incus", "INCUS")]
        .into_iter()
        .map(|(kind, upper)| {
            let cluster = Cluster {
                kind,
                urls: var(&format!("LXPACK_TEST_CLUSTER_{upper}_URLS"))
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                cert: PathBuf::from(var(&format!("LXPACK_TEST_CLUSTER_{upper}_CERT"))),
                dir: dir.join(kind),
            };
            assert_eq!(cluster.urls.len(), 3, "{kind}: {:?}", cluster.urls);
            // A member an earlier, failed test left stopped or frozen comes back.
            cluster.up();
            cluster
        })
        .collect();
    Some((turn, clusters))
}

impl Cluster {
    /// The client (`incus` or `lxc`) on member `m`'s socket.
    pub(crate) fn cli(&self, member: usize, args: &[&str]) -> Output {
        let (client, variable, conf) = match self.kind {
            "lxd" => ("lxc", "LXD_DIR", "LXD_CONF"),
            _ => ("incus", "INCUS_DIR", "INCUS_CONF"),
        };
        Command::new(client)
            .env(variable, self.dir.join(format!("m{member}")))
            .env(conf, self.dir.join("conf"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts (again) every member that does not run, thaws a frozen one: what
    /// scripts/cluster-up does for this cluster.
    pub(crate) fn up(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster-up");
        let output = Command::new(script)
            .env("LXPACK_CLUSTERS", self.kind)
            .env("LXPACK_CLUSTER_LOCK_HELD", "1")
            .env("LXPACK_CLUSTER_DIR", self.dir.parent().unwrap().as_os_str())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "scripts/cluster-up {}: {}",
            self.kind,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The PID of member `m`'s daemon.
    pub(crate) fn pid(&self, member: usize) -> i32 {
        std::fs::read_to_string(self.dir.join(format!("m{member}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Sends `signal` (TERM, STOP, CONT) to member `m`'s daemon.
    pub(crate) fn signal(&self, member: usize, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid(member).to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} m{member}");
    }

    /// Waits (at most 90 s) until member `m1` reports member `m` as `status`.
    pub(crate) fn wait_status(&self, member: usize, status: &str) {
        let started = Instant::now();
        loop {
            let output = self.cli(1, &["query", &format!("/1.0/cluster/members/m{member}")]);
            let now: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
            if now["status"] == status {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "m{member} is not {status} after 90 s: {now}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The names and locations of the cluster's instances whose names contain `part`.
    pub(crate) fn instances(&self, part: &str) -> Vec<(String, String)> {
        let output = self.cli(1, &["list", "--format", "csv", "-c", "nL"]);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.contains(part))
            .filter_map(|line| {
                line.split_once(',')
                    .map(|(n, l)| (n.to_owned(), l.to_owned()))
            })
            .collect()
    }

    /// An lxpack environment talking to member `via` (1-based) over HTTPS, with
    /// `target` (a member or `@group`) when given, and the example app imported under
    /// an environment name of its own.
    pub(crate) fn env(&self, via: usize, target: Option<&str>) -> Env {
        let env = Env::new(None);
        self.point(&env, via, target);
        env.import_example_as(&crate::harness::unique_env());
        env
    }

    /// Points `env`'s config at member `via`, with `target`.
    pub(crate) fn point(&self, env: &Env, via: usize, target: Option<&str>) {
        let state = PathBuf::from(
            std::env::var("LXPACK_STATE_DIR").unwrap_or_else(|_| "/var/tmp/lxpack-daemons".into()),
        );
        let mut text = format!(
            "container:\n  timeout: 10\nami_retention: 1\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    url: {}\n    client_cert: {}\n    client_key: {}\n    server_cert: {}\n",
            self.urls[via - 1],
            state.join("client.crt").display(),
            state.join("client.key").display(),
            self.cert.display()
        );
        if let Some(target) = target {
            text.push_str(&format!("    target: \"{target}\"\n"));
        }
        env.write_config(&text);
    }

    /// The OS of the test image on this cluster, as `--os` takes it.
    pub(crate) fn test_image_os(&self) -> String {
        let query = |path: &str| -> serde_json::Value {
            serde_json::from_slice(&self.cli(1, &["query", path]).stdout).unwrap()
        };
        let alias = query("/1.0/images/aliases/lxpack-test-busybox");
        let image = query(&format!(
            "/1.0/images/{}",
            alias["target"].as_str().unwrap()
        ));
        format!(
            "busybox/{}",
            image["properties"]["release"].as_str().unwrap()
        )
    }

    /// Whether member `m` holds the image file of `fingerprint`.
    pub(crate) fn has_image_file(&self, member: usize, fingerprint: &str) -> bool {
        self.dir
            .join(format!("m{member}/images/{fingerprint}"))
            .exists()
    }
}

/// Runs `lxpack --json buildimage hello` on `cluster`, expects success, and returns
/// the job id and the image's fingerprint.
pub(crate) fn build(env: &Env, cluster: &Cluster) -> (String, String) {
    let run = env
        .run(&[
            "--json",
            "buildimage",
            "hello",
            "--os",
            &cluster.test_image_os(),
        ])
        .expect(0);
    let result: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    (
        result["job"].as_str().unwrap().to_owned(),
        result["image"]["fingerprint"].as_str().unwrap().to_owned(),
    )
}

/// The job record `id` from `lxpack --json jobs`.
pub(crate) fn job(env: &Env, id: &str) -> serde_json::Value {
    let run = env.run(&["--json", "jobs"]).expect(0);
    let result: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    result["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["id"] == id)
        .unwrap_or_else(|| panic!("no job {id} in {result}"))
        .clone()
}
