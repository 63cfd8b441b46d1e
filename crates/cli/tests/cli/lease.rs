//! A deploy renews its lease in the real SQLite store while it runs; killed, and seen
//! from a host that cannot probe its process, it is found lost by `lxpack gc` 30 s
//! after its last renewal, not before, and its container and profile go.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use lxpack_core::domain::{JobId, JobRecord, JobStatus};
use lxpack_core::ports::JobHistory as _;

use crate::harness::{Env, ImageJanitor, daemons, gc_outcome};

fn leased_app(name: &str) -> String {
    use base64::Engine as _;
    let script = base64::engine::general_purpose::STANDARD
        .encode("#!/bin/sh\necho started\nexec sleep 300\n");
    format!(
        "name: {name}\nenv: test\nrole: cli\nregion: eu-west-1\nmodules:\n  - name: slow\n    path: /srv/slow\n    build_pack: {script}\n"
    )
}

/// `lxpack --json gc` (with `--dry-run` when asked): (lost jobs, removed names).
fn gc(env: &Env, dry_run: bool) -> (Vec<String>, Vec<String>) {
    let mut args = vec!["--json", "gc"];
    if dry_run {
        args.push("--dry-run");
    }
    let run = env.run(&args).expect(0);
    let value: serde_json::Value = serde_json::from_str(run.stdout.lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    gc_outcome(&value)
}

#[test]
fn a_deploy_killed_on_another_host_is_lost_thirty_seconds_after_its_last_renewal() {
    let Some(daemons) = daemons() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        let janitor = ImageJanitor::new(client);
        let app = env.dir.path().join("leased.yml");
        std::fs::write(&app, leased_app("leased")).unwrap();
        env.run(&["app", "import", app.to_str().unwrap()]).expect(0);
        env.build_image("leased", client, &janitor);
        let checkout = env.checkout();
        let mut child = env
            .command()
            .args(["--json", "deploy", "leased", "--module", "slow"])
            .arg("--checkout")
            .arg(&checkout)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let waited = Instant::now();
        let mut job = None;
        while let Some(Ok(line)) = lines.next() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(id) = event["job"].as_str() {
                job.get_or_insert_with(|| id.to_owned());
            }
            if line.contains("\"output\"") && line.contains("started") {
                break;
            }
            assert!(
                waited.elapsed() < Duration::from_secs(120),
                "{name}: no start"
            );
        }
        let store = lxpack_sqlite::SqliteAppStore::open(&env.dir.path().join("lxpack.db")).unwrap();
        let job = match job {
            Some(id) => JobId::parse(&id).unwrap(),
            None => {
                let running = runtime.block_on(store.running_jobs()).unwrap();
                running
                    .first()
                    .expect("the deploy is recorded running")
                    .id
                    .clone()
            }
        };
        let record = || -> JobRecord { runtime.block_on(store.get_job(&job)).unwrap().unwrap() };

        // The job renews its lease every 10 s while it runs.
        std::thread::sleep(Duration::from_secs(12));
        let running = record();
        assert_eq!(running.status, JobStatus::Running, "{name}");
        let renewed = running.renewed_at.expect("a lease");
        assert!(
            renewed >= running.started_at + Duration::from_secs(9),
            "{name}: renewed at {renewed:?}, started at {:?}",
            running.started_at
        );

        // SIGKILL: nothing records its end; from now on its lease is silent.
        child.kill().unwrap();
        child.wait().unwrap();
        // Seen from a host that cannot probe the process (another build host).
        let mut elsewhere = record();
        let runner = elsewhere.runner.as_mut().expect("a runner");
        runner.host = "build-elsewhere#0000".into();
        runtime.block_on(store.record_job(&elsewhere)).unwrap();
        let renewed = elsewhere.renewed_at.unwrap();

        let (lost, removed) = gc(&env, true);
        assert!(
            SystemTime::now() < renewed + Duration::from_secs(30),
            "{name}: too slow to check the lease before it expired"
        );
        assert!(
            lost.is_empty(),
            "{name}: lost before 30 s of silence: {lost:?}"
        );
        assert!(
            !removed.iter().any(|r| r.contains(job.as_str())),
            "{name}: {removed:?}"
        );

        let expired = renewed + Duration::from_secs(31);
        if let Ok(wait) = expired.duration_since(SystemTime::now()) {
            std::thread::sleep(wait);
        }
        let (lost, removed) = gc(&env, false);
        assert_eq!(lost, [job.to_string()], "{name}");
        assert_eq!(
            removed.iter().filter(|r| r.contains(job.as_str())).count(),
            2,
            "{name}: its container and profile go: {removed:?}"
        );
        assert_eq!(record().status, JobStatus::Lost, "{name}");
        env.run(&["app", "remove", "leased"]).expect(0);
    }
}
