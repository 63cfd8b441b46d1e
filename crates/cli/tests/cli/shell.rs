//! `lxpack shell` in a container kept by `--keep-on-failure`, on each daemon, over its
//! unix socket and over HTTPS: the command's exit code, plain pipes without a terminal,
//! a pseudo-terminal driven through tmux (the window's size inside, and a resize seen);
//! the kept container in `jobs`, spared by `gc` until its expiry and removed after it;
//! and `lxpack metrics`, parsed, against `jobs --json`.
//!
//! Every instance these tests touch is one their own jobs made (named with the job id),
//! in a Cloud Deploy environment of their own.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::harness::{Env, ImageJanitor, Run, daemons, unique_env};

/// Every step limit as long as the config allows (365 days), under `lxpack:`.
const LONGEST_LIMITS: &str = "  timeouts:\n    launch: 31536000\n    ready: 31536000\n    hook: 31536000\n    features: 31536000\n    buildpack: 31536000\n    publish: 31536000\n";

/// A buildpack that says something, then fails.
const FAILING_BUILDPACK: &str = "#!/bin/sh\necho about to fail\nexit 3\n";

/// An environment on `socket` with the example app (under its own Cloud Deploy
/// environment) plus a module whose buildpack fails, and the app's image built.
fn failing_app(socket: &str, client: &str, janitor: &ImageJanitor) -> (Env, String) {
    let env = Env::new(Some(socket));
    let app_env = unique_env();
    env.import_example_as(&app_env);
    let file = env.dir.path().join("hello.yml");
    let mut app = std::fs::read_to_string(&file).unwrap();
    app.push_str(&format!(
        "  - name: broken\n    path: /srv/broken\n    build_pack: {}\n",
        base64::engine::general_purpose::STANDARD.encode(FAILING_BUILDPACK)
    ));
    std::fs::write(&file, app).unwrap();
    env.run(&["app", "import", file.to_str().unwrap()])
        .expect(0);
    env.build_image("hello", client, janitor);
    (env, app_env)
}

/// Deploys the failing module with `--keep-on-failure` (exit 7, the build failed) and
/// returns the job's id and its kept instance, read from `jobs --json`.
fn failed_deploy(env: &Env, daemon: &str) -> (String, String) {
    let checkout = env.checkout();
    env.run(&[
        "deploy",
        "hello",
        "--module",
        "broken",
        "--checkout",
        checkout.to_str().unwrap(),
        "--keep-on-failure",
    ])
    .expect(7)
    .says(&["kept instance and profile", "lxpack shell "]);
    let jobs = jobs_json(env);
    let job = jobs
        .iter()
        .find(|job| job["command"] == "deploy" && job["kept"].is_object())
        .unwrap_or_else(|| panic!("{daemon}: no kept deploy in {jobs:?}"));
    assert_eq!(job["status"], "failed", "{daemon}: {job}");
    assert_eq!(job["kept"]["expired"], false, "{daemon}: {job}");
    let instance = job["kept"]["instance"].as_str().unwrap().to_owned();
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(instance.ends_with(&id), "{daemon}: {instance}");
    (id, instance)
}

fn jobs_json(env: &Env) -> Vec<serde_json::Value> {
    let run = env.run(&["--json", "jobs"]).expect(0);
    let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    result["jobs"].as_array().unwrap().clone()
}

/// Removes a kept instance and its profile (this test's own) from the daemon.
struct KeptJanitor {
    client: &'static str,
    instances: std::cell::RefCell<Vec<String>>,
}

impl KeptJanitor {
    fn new(client: &'static str) -> Self {
        Self {
            client,
            instances: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn add(&self, instance: &str) {
        self.instances.borrow_mut().push(instance.to_owned());
    }
}

impl Drop for KeptJanitor {
    fn drop(&mut self) {
        for instance in self.instances.borrow().iter() {
            let _ = Command::new(self.client)
                .args(["delete", "--force", instance])
                .output();
            let _ = Command::new(self.client)
                .args(["profile", "delete", instance])
                .output();
        }
    }
}

/// The config of `env`'s daemon reached over HTTPS on loopback, as scripts/daemons-up
/// sets it up (the state directory's trusted client certificate, the server's own
/// certificate pinned).
fn https_config(name: &str) -> String {
    let state =
        std::env::var("LXPACK_STATE_DIR").unwrap_or_else(|_| "/var/tmp/lxpack-daemons".into());
    let (port, dir) = match name {
        "lxd" => (18443, "/var/lib/lxd"),
        _ => (18444, "/var/lib/incus"),
    };
    format!(
        "container:\n  timeout: 30\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    url: https://127.0.0.1:{port}\n    client_cert: {state}/client.crt\n    client_key: {state}/client.key\n    server_cert: {dir}/server.crt\n"
    )
}

/// Runs `lxpack shell JOB -- ARGS` with `stdin` piped in.
fn shell_with_input(env: &Env, job: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut command = env.command();
    command
        .args(["shell", job, "--"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn shell_enters_a_container_kept_on_failure_and_gc_and_metrics_see_it_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let janitor = ImageJanitor::new(client);
        let kept = KeptJanitor::new(client);
        let (env, app_env) = failing_app(&socket, client, &janitor);
        let (job, instance) = failed_deploy(&env, name);
        kept.add(&instance);

        // The command's exit code is lxpack's.
        env.run(&["shell", &job, "--", "sh", "-c", "exit 7"])
            .expect(7);
        // Without a terminal: stdout and stderr apart, stdin until its end.
        let run = shell_with_input(
            &env,
            &job,
            &["sh", "-c", "echo out; echo err >&2; cat; exit 4"],
            b"piped in\n",
        )
        .expect(4);
        assert_eq!(run.stdout, "out\npiped in\n", "{name}");
        assert_eq!(run.stderr, "err\n", "{name}");
        // The build's own failure is in there to look at.
        env.run(&["shell", &job, "--", "test", "-x", "/tmp/lxpack-buildpack"])
            .expect(0);

        // Over HTTPS too.
        let unix = std::fs::read_to_string(&env.config).unwrap();
        env.write_config(&https_config(name));
        env.run(&["shell", &job, "--", "sh", "-c", "exit 9"])
            .expect(9);
        env.write_config(&unix);

        // Jobs that kept nothing, and jobs that do not exist, say so.
        let built = jobs_json(&env)
            .into_iter()
            .find(|j| j["command"] == "buildimage")
            .unwrap();
        env.run(&["shell", built["id"].as_str().unwrap()])
            .expect(4)
            .says(&["kept no container", "--keep-on-failure"]);
        env.run(&["shell", "6b0fd0000000000000000000"])
            .expect(4)
            .says(&["no job 6b0fd0000000000000000000"]);

        // `jobs` shows it kept, and gc spares it with the reason.
        let run = env.run(&["jobs"]).expect(0);
        assert!(
            run.stdout.contains("KEPT UNTIL (UTC)"),
            "{name}: {}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains(&format!("job {job} kept instance {instance} until ")),
            "{name}: {}",
            run.stdout
        );
        let run = env.run(&["gc", "--dry-run"]).expect(0);
        assert!(
            run.stdout.contains(&format!(
                "left instance {instance} alone: kept for inspection until"
            )),
            "{name}: {}",
            run.stdout
        );

        // A job kept with a 1 s expiry is removed by the next gc after it. The step
        // limits are as long as they go, so that this gc spares every job this store
        // does not know (other tests' and people's, on the shared daemon).
        env.write_config(&format!("{unix}{LONGEST_LIMITS}  keep:\n    expiry: 1\n"));
        let (short_job, short_instance) = {
            let before: Vec<String> = jobs_json(&env)
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_owned())
                .collect();
            let checkout = env.checkout();
            env.run(&[
                "deploy",
                "hello",
                "--module",
                "broken",
                "--checkout",
                checkout.to_str().unwrap(),
                "--keep-on-failure",
            ])
            .expect(7);
            let job = jobs_json(&env)
                .into_iter()
                .find(|j| !before.contains(&j["id"].as_str().unwrap().to_owned()))
                .unwrap();
            (
                job["id"].as_str().unwrap().to_owned(),
                job["kept"]["instance"].as_str().unwrap().to_owned(),
            )
        };
        kept.add(&short_instance);
        std::thread::sleep(Duration::from_millis(1500));
        let run = env.run(&["gc"]).expect(0);
        assert!(
            run.stdout
                .contains(&format!("removed instance {short_instance}"))
                && run
                    .stdout
                    .contains(&format!("removed profile {short_instance}")),
            "{name}: {}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains(&format!("left instance {instance} alone"))
        );
        for line in run.stdout.lines().filter(|l| l.starts_with("removed")) {
            assert!(
                line.ends_with(&short_instance),
                "{name}: removed another's: {line}"
            );
        }
        env.run(&["shell", &short_job])
            .expect(4)
            .says(&["no longer has it"]);
        env.write_config(&unix);

        // The metrics, written as node_exporter's textfile collector reads them.
        let file = env.dir.path().join("lxpack.prom");
        env.run(&["metrics", "--output", file.to_str().unwrap()])
            .expect(0);
        check_with_promtool(&file);
        let text = std::fs::read_to_string(&file).unwrap();
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let value = |metric: &str, labels: &[(&str, &str)]| -> f64 {
            let sample = scrape
                .samples
                .iter()
                .find(|s| {
                    s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
                })
                .unwrap_or_else(|| panic!("{name}: no {metric}{labels:?} in\n{text}"));
            match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{name}: {metric} is {other:?}"),
            }
        };
        let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
        for job in jobs_json(&env) {
            *counts
                .entry((
                    job["command"].as_str().unwrap().to_owned(),
                    job["status"].as_str().unwrap().to_owned(),
                ))
                .or_default() += 1.0;
        }
        assert_eq!(
            counts.get(&("deploy".to_owned(), "failed".to_owned())),
            Some(&2.0),
            "{name}: {counts:?}"
        );
        for ((command, status), count) in &counts {
            assert_eq!(
                value(
                    "lxpack_jobs_total",
                    &[("command", command), ("status", status)]
                ),
                *count,
                "{name}: {command} {status}"
            );
        }
        let app = format!("hello/{app_env}/web");
        assert_eq!(value("lxpack_images", &[("app", &app)]), 1.0, "{name}");
        assert!(
            value("lxpack_image_bytes", &[("app", &app)]) > 0.0,
            "{name}"
        );
        assert_eq!(value("lxpack_daemon_reachable", &[]), 1.0, "{name}");
        // This store's kept container (others' may be on the daemon too).
        assert!(
            value(
                "lxpack_kept_containers",
                &[("command", "deploy"), ("expired", "false")]
            ) >= 1.0,
            "{name}"
        );
        assert!(
            text.contains(
                "lxpack_step_duration_seconds_count{command=\"deploy\",step=\"buildpack\"} 2\n"
            ),
            "{name}: both deploys' buildpack steps are recorded:\n{text}"
        );
    }
}

/// promtool (Debian's `prometheus` package) checks the file as Prometheus reads it.
fn check_with_promtool(file: &std::path::Path) {
    let output = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool cannot run ({e}): install it with `apt-get install --no-install-recommends prometheus` (scripts/test does)"
            )
        });
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A tmux server of this test's own (its own socket name), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Self {
        let socket = format!("lxpack-test-{}", unique_env());
        let tmux = Self { socket };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-s", "t", "-x", &width.to_string()])
            .args(["-y", &height.to_string(), command])
            .status()
            .unwrap_or_else(|e| {
                panic!("tmux cannot run ({e}): install it with `apt-get install tmux` (scripts/test does)")
            });
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    fn keys(&self, keys: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "t", keys, "Enter"])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits (at most 30 s) until the screen shows `text`.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The process id of the pane's shell.
    fn pane_pid(&self) -> u32 {
        let output = self
            .command()
            .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap()
    }

    fn resize(&self, width: u16, height: u16) {
        let status = self
            .command()
            .args(["resize-window", "-t", "t", "-x", &width.to_string()])
            .args(["-y", &height.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

#[test]
fn a_terminal_session_sees_the_window_size_and_its_resize_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let janitor = ImageJanitor::new(client);
        let kept = KeptJanitor::new(client);
        let (env, _) = failing_app(&socket, client, &janitor);
        let (job, instance) = failed_deploy(&env, name);
        kept.add(&instance);

        // After lxpack, the pane says how it exited and how the terminal is left.
        let lxpack = format!(
            "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME={home} TERM=screen {bin} --config {config} --store {store} shell {job}; echo \"EXIT=$?\"; echo MODE $(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')END; sleep 600",
            home = env.dir.path().display(),
            bin = env!("CARGO_BIN_EXE_lxpack"),
            config = env.config.display(),
            store = env.dir.path().join("lxpack.db").display(),
        );
        let tmux = Tmux::start(&lxpack, 100, 30);
        tmux.wait_for("#");
        tmux.keys("stty size; echo SIZE-ONE");
        let screen = tmux.wait_for("30 100\nSIZE-ONE");
        assert!(!screen.contains("EXIT="), "{name}: {screen}");
        tmux.resize(120, 40);
        // The resize reaches the session between the two commands.
        std::thread::sleep(Duration::from_millis(500));
        tmux.keys("stty size; echo SIZE-TWO");
        tmux.wait_for("40 120\nSIZE-TWO");
        // Each answer is awaited before the session ends: LXD 5.0's interactive exec
        // can drop what a command printed just before it exited on a loaded host (its
        // pty mirror, fixed in LXD 5.14), so `echo …; exit` in one line is a race.
        tmux.keys("echo TERM-IS-$TERM");
        tmux.wait_for("TERM-IS-screen");
        tmux.keys("exit 5");
        tmux.wait_for("EXIT=5");
        let screen = tmux.wait_for("END");
        assert!(
            screen.contains("MODE icanon echo END"),
            "{name}: the terminal is restored:\n{screen}"
        );
        drop(tmux);

        // SIGTERM ends the session (the command is signalled) and restores the
        // terminal too.
        let tmux = Tmux::start(&lxpack, 100, 30);
        tmux.wait_for("#");
        let pane = tmux.pane_pid();
        let lxpack_pid = child_of(pane);
        let status = Command::new("kill")
            .args(["-TERM", &lxpack_pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let screen = tmux.wait_for("END");
        assert!(
            screen.contains("EXIT=130") && screen.contains("MODE icanon echo END"),
            "{name}: SIGTERM cancels (130) and the terminal is restored:\n{screen}"
        );
        drop(tmux);

        // The same terminal over HTTPS.
        env.write_config(&https_config(name));
        let tmux = Tmux::start(&lxpack, 90, 25);
        tmux.wait_for("#");
        tmux.keys("stty size; echo SIZE-HTTPS");
        tmux.wait_for("25 90\nSIZE-HTTPS");
        tmux.keys("exit 4");
        tmux.wait_for("EXIT=4");
    }
}

/// The one child of process `pid` (the pane's shell runs lxpack, `env` having exec'd).
fn child_of(pid: u32) -> u32 {
    let started = Instant::now();
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(child) = children.split_whitespace().next() {
            return child.parse().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "process {pid} has no child"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
