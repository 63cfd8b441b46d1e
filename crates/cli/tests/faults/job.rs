//! Jobs for the faults: an app whose buildpack is a given script, a store with its
//! image built, and `lxpack` running in the background with its JSON lines read as
//! they come, so a test can strike while the buildpack runs.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::daemon::{FaultDaemon, Leaks};
use crate::harness::{Env, Run};

/// The marker a buildpack prints once it runs.
pub(crate) const STARTED: &str = "buildpack started";

/// An app `name` with one module `work` whose buildpack is `script` (after a line that
/// prints [`STARTED`]).
pub(crate) fn app(name: &str, script: &str) -> String {
    let script = base64::engine::general_purpose::STANDARD
        .encode(format!("#!/bin/sh\necho {STARTED}\n{script}\n"));
    format!(
        "name: {name}\nenv: fault\nrole: test\nregion: eu-west-1\nmodules:\n  - name: work\n    path: /srv/work\n    build_pack: {script}\n"
    )
}

/// A store of its own on `daemon` with `config`, the app `name` imported and its image
/// built (recorded in `leaks` as published on purpose).
pub(crate) fn prepared(
    daemon: &FaultDaemon,
    leaks: &Leaks,
    config: &str,
    name: &str,
    script: &str,
) -> Env {
    let env = Env::new(None);
    env.write_config(config);
    import(&env, name, script);
    build_image(daemon, leaks, &env, name);
    env
}

/// Imports the app `name`.
pub(crate) fn import(env: &Env, name: &str, script: &str) {
    let file = env.dir.path().join(format!("{name}.yml"));
    std::fs::write(&file, app(name, script)).unwrap();
    env.run(&["app", "import", file.to_str().unwrap()])
        .expect(0);
}

/// Builds the app's image; returns the job id.
pub(crate) fn build_image(daemon: &FaultDaemon, leaks: &Leaks, env: &Env, name: &str) -> String {
    let run = env.run(&[
        "--json",
        "buildimage",
        name,
        "--os",
        &daemon.test_image_os(),
    ]);
    let run = run.expect(0);
    let result: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    let job = result["job"].as_str().unwrap().to_owned();
    leaks.published(&job);
    job
}

/// A job id of now, as `--job` takes it: 8 hex digits of Unix seconds, then 16 of
/// this process and the clock.
pub(crate) fn job_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let seq = u64::from(std::process::id()) << 32 | u64::from(now.subsec_nanos());
    format!("{:08x}{seq:016x}", now.as_secs())
}

/// `lxpack --json deploy APP --module work --checkout C --job JOB` in the background.
pub(crate) fn spawn_deploy(env: &Env, app: &str, job: &str) -> Background {
    let checkout = env.checkout_at(job);
    Background::spawn(
        env,
        &[
            "--json",
            "deploy",
            app,
            "--module",
            "work",
            "--checkout",
            checkout.to_str().unwrap(),
            "--job",
            job,
        ],
    )
}

/// `lxpack` running in the background.
pub(crate) struct Background {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Background {
    /// Starts `lxpack ARGS` in `env`.
    pub(crate) fn spawn(env: &Env, args: &[&str]) -> Self {
        let mut child = env
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Its PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (at most `limit`) for an output line of the job containing `text`.
    #[track_caller]
    pub(crate) fn wait_for_output(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains("\"output\"") && line.contains(text);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no output {text:?} within {limit:?}; so far: {:#?}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().unwrap();
                    panic!(
                        "lxpack ended ({status}) before printing {text:?}: {:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// Kills it with SIGKILL, as the OOM killer or `kill -9` would.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }

    /// Waits (at most `limit`) for it to end; its exit code, every stdout line and
    /// stderr.
    #[track_caller]
    pub(crate) fn finish(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("lxpack did not end within {limit:?}: {:#?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let started = Instant::now();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
            if started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        let stderr = self.stderr.join().unwrap();
        Finished {
            run: Run {
                code: status.code().unwrap_or(-1),
                stdout: self.seen.join("\n"),
                stderr,
            },
        }
    }
}

/// A background run that ended.
pub(crate) struct Finished {
    /// Its exit code and output.
    pub(crate) run: Run,
}

impl Finished {
    /// The final `error` object of its JSON lines.
    #[track_caller]
    pub(crate) fn error(&self) -> serde_json::Value {
        let last = self.run.stdout.lines().last().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| {
            panic!(
                "the last line is not JSON: {last:?}\nstderr:\n{}",
                self.run.stderr
            )
        });
        assert_eq!(value["event"], "error", "{value}");
        value
    }
}

/// `lxpack --json jobs` of `env`, as (id, status, error) triples.
pub(crate) fn jobs(env: &Env) -> Vec<(String, String, String)> {
    let run = env.run(&["--json", "jobs"]).expect(0);
    let value: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    value["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            (
                job["id"].as_str().unwrap().to_owned(),
                job["status"].as_str().unwrap().to_owned(),
                job["error"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The status of job `id` in `env`'s store.
#[track_caller]
pub(crate) fn status_of(env: &Env, id: &str) -> String {
    jobs(env)
        .into_iter()
        .find(|(job, _, _)| job == id)
        .unwrap_or_else(|| panic!("job {id} is not in the store"))
        .1
}

/// `lxpack --json gc` (or with `--dry-run`), expecting exit 0.
#[track_caller]
pub(crate) fn gc(env: &Env, dry_run: bool) -> serde_json::Value {
    let mut args = vec!["--json", "gc"];
    if dry_run {
        args.push("--dry-run");
    }
    let run = env.run(&args).expect(0);
    serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap()
}

/// The names in one list of a gc result (`removed`, `spared`, `foreign`).
pub(crate) fn names(gc: &serde_json::Value, list: &str) -> Vec<String> {
    gc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A checkout directory per job, so that concurrent deploys do not share one.
trait CheckoutAt {
    fn checkout_at(&self, job: &str) -> PathBuf;
}

impl CheckoutAt for Env {
    fn checkout_at(&self, job: &str) -> PathBuf {
        let checkout = self.checkout();
        let target = self.dir.path().join(format!("checkout-{job}"));
        std::fs::rename(&checkout, &target).unwrap();
        target
    }
}
