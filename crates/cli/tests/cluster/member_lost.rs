//! A member lost mid-job: its daemon killed (as a crash or a power cut would stop it;
//! a daemon asked to stop waits for its running operations first), or frozen. The job fails within the call
//! deadline as "daemon unreachable" and names the member; gc skips the member while
//! the cluster cannot reach it, and removes what the job left once it is back.

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::clusters::{Cluster, build, clusters};
use crate::harness::{Env, example_app, unique_env};

/// The exit code of the "daemon unreachable" class.
const DAEMON_UNREACHABLE: i32 = 5;

/// Imports the example app with a module `wait` whose buildpack sleeps for minutes.
fn import_slow_app(env: &Env) {
    let buildpack = base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\nsleep 600\n");
    let app = std::fs::read_to_string(example_app())
        .unwrap()
        .replace("env: demo", &format!("env: {}", unique_env()))
        .replace(
            "modules:\n",
            &format!(
                "modules:\n  - name: wait\n    path: /srv/wait\n    build_pack: {buildpack}\n"
            ),
        );
    let file = env.dir.path().join("slow.yml");
    std::fs::write(&file, app).unwrap();
    env.run(&["app", "import", file.to_str().unwrap()])
        .expect(0);
}

/// Starts a deploy of `wait` on m2, and returns it once its buildpack runs there.
#[expect(
    clippy::zombie_processes,
    reason = "the deploy is returned to the caller, which waits for it (`finish`)"
)]
fn deploy_on_m2(env: &Env, cluster: &Cluster) -> std::process::Child {
    let checkout = env.checkout();
    let mut child = env
        .command()
        .args(["deploy", "hello", "--module", "wait", "--checkout"])
        .arg(&checkout)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let output = cluster.cli(1, &["list", "--format", "csv", "-c", "nsL"]);
        let listing = String::from_utf8_lossy(&output.stdout).into_owned();
        if listing
            .lines()
            .any(|l| l.starts_with("lxpack-deploy-hello-wait") && l.ends_with(",RUNNING,m2"))
        {
            // The buildpack starts right after the instance answers.
            std::thread::sleep(Duration::from_secs(3));
            return child;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{}: the deploy did not start on m2: {listing}\n{}",
                cluster.kind,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits for the deploy to end (at most 120 s) and returns its code, stderr, and the
/// seconds since `since`.
fn finish(child: std::process::Child, since: Instant) -> (i32, String, f64) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        since.elapsed().as_secs_f64(),
    )
}

/// The instances the last deploy of `env` left (their names end with its job id).
fn leftovers(cluster: &Cluster, env: &Env) -> Vec<(String, String)> {
    let run = env.run(&["--json", "jobs"]).expect(0);
    let listed: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    let job = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["command"] == "deploy")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cluster.instances(&job)
}

/// Deploys the slow module on m2 of `cluster`, sends m2's daemon `signal` once the
/// buildpack runs, then `after` (if any) once the deploy ended, and checks that the
/// deploy failed as "daemon unreachable", naming m2, within 60 s. Returns the
/// environment and the app's image, for the test's own checks and cleanup.
fn lose_m2_mid_deploy(
    cluster: &Cluster,
    signal: &str,
    after: Option<&str>,
    what: &str,
) -> (Env, String) {
    let kind = cluster.kind;
    let env = Env::new(None);
    cluster.point(&env, 1, Some("m2"));
    import_slow_app(&env);
    let (_, image) = build(&env, cluster);

    let deploy = deploy_on_m2(&env, cluster);
    let lost = Instant::now();
    cluster.signal(2, signal);
    let (code, stderr, seconds) = finish(deploy, lost);
    if let Some(after) = after {
        cluster.signal(2, after);
    }
    eprintln!("{kind}: the deploy ended {seconds:.1} s after m2's daemon {what}");
    assert_eq!(code, DAEMON_UNREACHABLE, "{kind}: {stderr}");
    assert!(stderr.contains("cluster member m2"), "{kind}: {stderr}");
    assert!(seconds < 60.0, "{kind}: {seconds:.1} s: {stderr}");
    (env, image)
}

#[test]
fn a_stopped_member_fails_the_job_as_unreachable_and_gc_waits_for_it() {
    let Some((_turn, clusters)) = clusters() else {
        return;
    };
    for cluster in &clusters {
        let kind = cluster.kind;
        let (env, image) = lose_m2_mid_deploy(cluster, "KILL", None, "was killed");

        // gc, once the cluster reports m2 offline: skips it, names it, exits 0.
        cluster.wait_status(2, "Offline");
        let gc = env.run(&["gc"]).expect(0);
        assert!(
            gc.stdout.contains("skipped cluster member m2"),
            "{kind}: {}",
            gc.stdout
        );
        assert!(
            gc.stdout.contains("its cluster member cannot be reached"),
            "{kind}: {}",
            gc.stdout
        );
        assert_eq!(
            leftovers(cluster, &env).len(),
            1,
            "{kind}: {:?}",
            leftovers(cluster, &env)
        );

        // m2 back: gc removes what the job left there.
        cluster.up();
        cluster.wait_status(2, "Online");
        let gc = env.run(&["gc"]).expect(0);
        assert!(gc.stdout.contains("on member m2"), "{kind}: {}", gc.stdout);
        assert!(
            leftovers(cluster, &env).is_empty(),
            "{kind}: {:?}",
            leftovers(cluster, &env)
        );
        cluster.cli(1, &["image", "delete", &image]);
    }
}

#[test]
fn a_frozen_member_fails_the_job_as_unreachable_within_the_call_deadline() {
    let Some((_turn, clusters)) = clusters() else {
        return;
    };
    for cluster in &clusters {
        let kind = cluster.kind;
        let (env, image) = lose_m2_mid_deploy(cluster, "STOP", Some("CONT"), "froze");

        // Thawed, m2 answers again: gc removes what the failed job left.
        cluster.up();
        let gc = env.run(&["gc"]).expect(0);
        assert!(
            leftovers(cluster, &env).is_empty(),
            "{kind}: {}\n{:?}",
            gc.stdout,
            leftovers(cluster, &env)
        );
        cluster.cli(1, &["image", "delete", &image]);
    }
}
