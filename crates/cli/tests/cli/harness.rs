//! Running the binary in an isolated environment: its own HOME (so no operator config
//! is picked up), its own store, and a config that names the daemon's socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The test image scripts/daemons-up imports on both daemons.
pub(crate) const TEST_IMAGE: &str = "lxpack-test-busybox";

/// The example app of the quickstart.
pub(crate) fn example_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/hello.yml")
}

/// The example app's document under the Cloud Deploy environment `app_env`, with some
/// of its scripts replaced: each `(field, script)` gives the field's line
/// (`build_pack`, `pre_buildimage`…) the script, base64 as the document keeps it.
pub(crate) fn example_with(app_env: &str, scripts: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    std::fs::read_to_string(example_app())
        .unwrap()
        .replace("env: demo", &format!("env: {app_env}"))
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            match scripts
                .iter()
                .find(|(field, _)| trimmed.starts_with(&format!("{field}:")))
            {
                Some((field, script)) => format!(
                    "{indent}{field}: {}",
                    base64::engine::general_purpose::STANDARD.encode(script)
                ),
                None => line.to_owned(),
            }
        })
        .map(|line| line + "\n")
        .collect()
}

/// A config's text with the network its daemon can have on this host, unless it sets
/// `lxpack.network` itself. Every test daemon shares the host's one network namespace,
/// where a bridge name is one interface: the main LXD keeps lxpack's default bridge
/// (`lxpackbr0`), the main Incus gets its own (`own_bridge: lxpackbr1`), and the fault
/// daemons and the cluster members, which cannot each have a bridge of the same name
/// here (a cluster makes one per member), run their builds with `mode: none`.
pub(crate) fn with_network_of_its_daemon(text: &str) -> String {
    if text.contains("\n  network:") || !text.contains("lxpack:\n") {
        return text.to_owned();
    }
    let fault_dir = std::env::var("LXPACK_TEST_FAULT_DIR").ok();
    let shared_namespace = fault_dir.is_some_and(|dir| !dir.is_empty() && text.contains(&dir))
        || [
            "https://127.0.0.2",
            "https://127.0.0.3",
            "https://127.0.0.4",
            "https://127.0.1.",
        ]
        .iter()
        .any(|member| text.contains(member));
    let network = if shared_namespace {
        "  network:\n    mode: none\n"
    } else if text.contains("/var/lib/incus") || text.contains("127.0.0.1:18444") {
        "  network:\n    own_bridge: lxpackbr1\n"
    } else {
        return text.to_owned();
    };
    text.replacen("lxpack:\n", &format!("lxpack:\n{network}"), 1)
}

/// One isolated lxpack environment.
pub(crate) struct Env {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
}

impl Env {
    /// An environment whose config points at `socket` (or has no runtime section).
    pub(crate) fn new(socket: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        let mut text = String::from("container:\n  timeout: 30\nami_retention: 2\n");
        if let Some(socket) = socket {
            text.push_str(&format!("lxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {socket}\n"));
        }
        std::fs::write(&config, with_network_of_its_daemon(&text)).unwrap();
        Self { dir, config }
    }

    /// An environment on `socket` with the example app imported.
    pub(crate) fn with_example(socket: &str) -> Self {
        let env = Self::new(Some(socket));
        env.run(&["app", "import", example_app().to_str().unwrap()])
            .expect(0);
        env
    }

    /// Imports the example app under a Cloud Deploy environment of its own, so that the
    /// images of this test (and of its earlier, failed tries) are told from others'.
    pub(crate) fn import_example_as(&self, app_env: &str) {
        self.import_example_with(app_env, &[]);
    }

    /// [`Env::import_example_as`], with some of its scripts replaced: each
    /// `(field, script)` gives the field's line (`build_pack`, `pre_buildimage`…) the
    /// script, base64 as the document keeps it.
    pub(crate) fn import_example_with(&self, app_env: &str, scripts: &[(&str, &str)]) {
        let file = self.dir.path().join("hello.yml");
        std::fs::write(&file, example_with(app_env, scripts)).unwrap();
        self.run(&["app", "import", file.to_str().unwrap()])
            .expect(0);
    }

    /// Replaces the config file's text.
    pub(crate) fn write_config(&self, text: &str) {
        std::fs::write(&self.config, with_network_of_its_daemon(text)).unwrap();
    }

    /// Runs `lxpack --config C --store S ARGS`.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut command = self.command();
        command.args(args);
        Run::from(command.output().unwrap())
    }

    /// Runs `lxpack deploy APP --module MODULE --checkout CHECKOUT`.
    pub(crate) fn deploy(&self, app: &str, module: &str, checkout: &Path) -> Run {
        self.run(&[
            "deploy",
            app,
            "--module",
            module,
            "--checkout",
            checkout.to_str().unwrap(),
        ])
    }

    /// Runs `lxpack --json buildimage APP --os <the test image's os>` on the daemon
    /// `client` talks to, expects success, and has `janitor` delete the image at the
    /// end; returns the job id.
    pub(crate) fn build_image(&self, app: &str, client: &str, janitor: &ImageJanitor) -> String {
        let run = self
            .run(&["--json", "buildimage", app, "--os", &test_image_os(client)])
            .expect(0);
        let result: serde_json::Value =
            serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
        let job = result["job"].as_str().unwrap().to_owned();
        janitor.add(&job);
        job
    }

    /// Deploys the example's `site` module into a fresh checkout and checks that it
    /// built; returns the checkout.
    pub(crate) fn deploy_example_site(&self, daemon: &str) -> PathBuf {
        let checkout = self.checkout();
        let run = self.deploy("hello", "site", &checkout).expect(0);
        assert!(
            run.stdout.contains("module site built"),
            "{daemon}: {}",
            run.stdout
        );
        assert!(
            checkout.join("dist/index.html").exists(),
            "{daemon}: no dist/index.html"
        );
        checkout
    }

    /// The command, ready for arguments, on this environment's SQLite store.
    pub(crate) fn command(&self) -> Command {
        let mut command = self.command_on_config_store();
        command
            .arg("--store")
            .arg(self.dir.path().join("lxpack.db"));
        command
    }

    /// The command without `--store`: on the store the config names (`lxpack.store`),
    /// else the SQLite file under this environment's HOME.
    pub(crate) fn command_on_config_store(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lxpack"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .arg("--config")
            .arg(&self.config);
        command
    }

    /// Runs `lxpack --config C ARGS` on the store the config names.
    pub(crate) fn run_on_config_store(&self, args: &[&str]) -> Run {
        let mut command = self.command_on_config_store();
        command.args(args);
        Run::from(command.output().unwrap())
    }

    /// A copy of the example checkout, owned by uid/gid 1000 (which scripts/daemons-up
    /// allows LXD to map).
    pub(crate) fn checkout(&self) -> PathBuf {
        self.checkout_named("checkout")
    }

    /// A copy of the example checkout like [`Env::checkout`], in a directory of its
    /// own name (for deploys that run at once).
    pub(crate) fn checkout_named(&self, name: &str) -> PathBuf {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/checkout");
        let target = self.dir.path().join(name);
        copy_dir(&source, &target);
        chown_tree(&target, 1000, 1000);
        target
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// A Cloud Deploy environment name no other test run uses.
/// What `client LIST_ARGS --format json` lists (instances, volumes) that carries
/// `app`'s label.
pub(crate) fn app_items(client: &str, list_args: &[&str], app: &str) -> Vec<serde_json::Value> {
    let output = Command::new(client)
        .args(list_args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{client} {list_args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|item| item["config"]["user.lxpack.app"] == app)
        .cloned()
        .collect()
}

pub(crate) fn unique_env() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t{:x}{:x}", std::process::id(), nanos)
}

/// Deletes the images of the jobs it is given when dropped, so that a failing test
/// leaves no image behind.
pub(crate) struct ImageJanitor {
    client: &'static str,
    jobs: std::cell::RefCell<Vec<String>>,
}

impl ImageJanitor {
    /// A janitor for images on the daemon `client` talks to.
    pub(crate) fn new(client: &'static str) -> Self {
        Self {
            client,
            jobs: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Deletes `job`'s image at the end.
    pub(crate) fn add(&self, job: &str) {
        self.jobs.borrow_mut().push(job.to_owned());
    }
}

impl Drop for ImageJanitor {
    fn drop(&mut self) {
        for job in self.jobs.borrow().iter() {
            let _ = Command::new(self.client)
                .args(["image", "delete", job])
                .output();
        }
    }
}

/// A finished run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub(crate) fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code {} instead of {code}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stderr mentions each of `needles`.
    #[track_caller]
    pub(crate) fn says(self, needles: &[&str]) -> Self {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr lacks {needle:?}:\n{}",
                self.stderr
            );
        }
        self
    }
}

/// The daemons: name, client command and socket; `None` when LXPACK_SKIP_REAL=1.
///
/// # Panics
/// When a daemon does not answer, with how to start it.
pub(crate) fn daemons() -> Option<Vec<(&'static str, &'static str, String)>> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: real-daemon test skipped on request");
        return None;
    }
    let list = [
        (
            "lxd",
            "lxc",
            "LXPACK_TEST_LXD_SOCKET",
            "/var/lib/lxd/unix.socket",
        ),
        (
            "incus",
            "incus",
            "LXPACK_TEST_INCUS_SOCKET",
            "/var/lib/incus/unix.socket",
        ),
    ];
    Some(
        list.iter()
            .map(|(name, client, variable, default)| {
                let socket = std::env::var(variable).unwrap_or_else(|_| (*default).to_owned());
                assert!(
                    std::os::unix::net::UnixStream::connect(&socket).is_ok(),
                    "cannot reach {name} at {socket}; start it with `scripts/daemons-up` (or set {variable}), or set LXPACK_SKIP_REAL=1 to skip the real-daemon tests"
                );
                (*name, *client, socket)
            })
            .collect(),
    )
}

/// The OS of the test image, as `--os` takes it: `busybox/<release>`.
pub(crate) fn test_image_os(client: &str) -> String {
    let query = |path: &str| {
        let output = Command::new(client).args(["query", path]).output().unwrap();
        assert!(output.status.success(), "{client} query {path} failed");
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let alias = query(&format!("/1.0/images/aliases/{TEST_IMAGE}"));
    let fingerprint = alias["target"].as_str().unwrap().to_owned();
    let image = query(&format!("/1.0/images/{fingerprint}"));
    format!(
        "busybox/{}",
        image["properties"]["release"].as_str().unwrap()
    )
}

/// Names of the instances whose names start with `prefix`, on a daemon.
pub(crate) fn instances(client: &str, prefix: &str) -> Vec<String> {
    let output = Command::new(client)
        .args(["list", "--format", "csv", "-c", "n"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// What `lxpack --json gc` reported in its result `value`: (lost jobs, removed names).
pub(crate) fn gc_outcome(value: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let strings = |list: &str, field: Option<&str>| -> Vec<String> {
        value[list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} in {value}"))
            .iter()
            .map(|item| match field {
                Some(field) => item[field].as_str().unwrap().to_owned(),
                None => item.as_str().unwrap().to_owned(),
            })
            .collect()
    };
    (strings("lost_jobs", None), strings("removed", Some("name")))
}
