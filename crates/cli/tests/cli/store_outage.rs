//! PostgreSQL stopped while a deploy's buildpack runs, and started again before it
//! ends (the second server of scripts/test, stopped and started with the project's
//! scripts): the job ends as its buildpack does, its end is recorded once the store is
//! back or the next `gc` reports it lost, and nothing of it stays on the daemon.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Env, ImageJanitor, daemons, gc_outcome, instances, test_image_os};
use crate::postgres_harness::{TestDatabase, fault_server};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}

/// Runs scripts/postgres-down or postgres-up on the fault server.
fn server_script(name: &str, scripts_env: &[(String, String)]) {
    let output = Command::new(script(name))
        .envs(scripts_env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn slow_app() -> String {
    use base64::Engine as _;
    let script = base64::engine::general_purpose::STANDARD
        .encode("#!/bin/sh\necho started\nsleep 12\necho done\n");
    format!(
        "name: outage\nenv: test\nrole: cli\nregion: eu-west-1\nmodules:\n  - name: slow\n    path: /srv/slow\n    build_pack: {script}\n"
    )
}

#[test]
fn a_store_stopped_mid_job_loses_neither_the_job_nor_what_it_made() {
    let Some(daemons) = daemons() else { return };
    let Some((server, scripts_env)) = fault_server() else {
        return;
    };
    for (name, client, socket) in daemons {
        let database = TestDatabase::create_on(server.clone());
        let env = Env::new(Some(&socket));
        env.write_config(&format!(
            "container:\n  timeout: 30\nlxpack:\n{}  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {socket}\n",
            database.config_lines()
        ));
        let janitor = ImageJanitor::new(client);
        let app = env.dir.path().join("outage.yml");
        std::fs::write(&app, slow_app()).unwrap();
        env.run_on_config_store(&["app", "import", app.to_str().unwrap()])
            .expect(0);
        let built = env
            .run_on_config_store(&[
                "--json",
                "buildimage",
                "outage",
                "--os",
                &test_image_os(client),
            ])
            .expect(0);
        let result: serde_json::Value =
            serde_json::from_str(built.stdout.lines().last().unwrap()).unwrap();
        janitor.add(result["job"].as_str().unwrap());

        let checkout = env.checkout();
        let mut child = env
            .command_on_config_store()
            .args([
                "--json",
                "deploy",
                "outage",
                "--module",
                "slow",
                "--checkout",
            ])
            .arg(&checkout)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut job = None;
        let mut started = false;
        let waited = Instant::now();
        while let Some(Ok(line)) = lines.next() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(id) = event["job"].as_str() {
                job.get_or_insert_with(|| id.to_owned());
            }
            if line.contains("\"output\"") && line.contains("started") {
                started = true;
                break;
            }
            assert!(
                waited.elapsed() < Duration::from_secs(120),
                "{name}: no start"
            );
        }
        if !started {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("{name}: the deploy ended before its buildpack started: {stderr}");
        }
        let job =
            job.unwrap_or_else(|| database.sql("SELECT id FROM jobs WHERE status = 'running'"));
        assert_eq!(job.len(), 24, "{name}: one running job, not {job:?}");

        // The store goes away while the buildpack runs, and comes back before it ends.
        server_script("postgres-down", &scripts_env);
        std::thread::sleep(Duration::from_secs(3));
        server_script("postgres-up", &scripts_env);

        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(
            status.code(),
            Some(0),
            "{name}: the buildpack succeeded, so the job did: {stderr}\n{}",
            rest.join("\n")
        );
        assert!(
            rest.iter().any(|line| line.contains("\"result\"")),
            "{name}: no result: {}",
            rest.join("\n")
        );
        // The default cleanup leaves the stop of the ephemeral instance to the daemon.
        let of_job = || -> Vec<String> {
            instances(client, "lxpack-deploy-outage")
                .into_iter()
                .filter(|instance| instance.contains(&job))
                .collect()
        };
        let stopping = Instant::now();
        while !of_job().is_empty() && stopping.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(500));
        }
        assert!(of_job().is_empty(), "{name}: the job's instance stayed");

        let recorded = database.sql(&format!("SELECT status FROM jobs WHERE id = '{job}'"));
        eprintln!("{name}: job {job} recorded {recorded:?} after the outage");
        if recorded == "running" {
            // Its end could not be recorded: its lease stops, and after 30 s of silence
            // the next gc reports it lost. A dry run: a gc on a shared store removes
            // whatever lxpack resource its store does not know, and the default project
            // of these daemons holds other tests' instances.
            std::thread::sleep(Duration::from_secs(32));
            let run = env
                .run_on_config_store(&["--json", "gc", "--dry-run"])
                .expect(0);
            let report: serde_json::Value =
                serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
            let (lost, _) = gc_outcome(&report);
            assert!(
                lost.contains(&job),
                "{name}: gc does not report job {job} lost: {report}"
            );
        } else {
            assert_eq!(recorded, "succeeded", "{name}");
        }
        assert!(
            instances(client, "lxpack-")
                .iter()
                .all(|i| !i.contains(&job)),
            "{name}: something of job {job} stayed"
        );
    }
}
