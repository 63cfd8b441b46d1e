//! Several lxpack processes on one daemon at once: two deploys and `gc` sharing a store
//! (one build host), and a `gc` from a second store (another build host sharing the
//! daemon) while the first host's job runs.

use std::time::Duration;

use crate::daemon::{Leaks, fault_daemon};
use crate::harness::Env;
use crate::job::{Background, STARTED, gc, job_id, names, prepared, spawn_deploy, status_of};
use crate::on_both_daemons;

on_both_daemons!(two_deploys_and_gc_at_once);
on_both_daemons!(gc_from_another_store_spares_a_running_job);

/// Two deploys and a `gc` start together, and another `gc` runs while both buildpacks
/// run: the sweeps spare both jobs' resources (their jobs are recorded running before
/// anything is made), both deploys succeed, and nothing is left.
fn two_deploys_and_gc_at_once(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let env = prepared(
        &daemon,
        &leaks,
        &daemon.socket_config("default", 30),
        "pair",
        "sleep 6\necho done",
    );
    let (first, second) = (job_id(), job_id());
    let mut one = spawn_deploy(&env, "pair", &first);
    let mut two = spawn_deploy(&env, "pair", &second);
    let sweep = Background::spawn(&env, &["--json", "gc"]);
    let early = sweep.finish(Duration::from_secs(60)).run.expect(0);
    let early: serde_json::Value =
        serde_json::from_str(early.stdout.lines().last().unwrap()).unwrap();
    for job in [&first, &second] {
        assert!(
            !names(&early, "removed")
                .iter()
                .any(|r| r.contains(job.as_str())),
            "{name}: gc at the start removed a live job's resource: {early}"
        );
    }

    one.wait_for_output(STARTED, Duration::from_secs(90));
    two.wait_for_output(STARTED, Duration::from_secs(90));
    let during = gc(&env, false);
    let spared = &during["spared"];
    for job in [&first, &second] {
        let theirs: Vec<_> = spared
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["job"] == job.as_str())
            .collect();
        assert_eq!(
            theirs.len(),
            2,
            "{name}: instance and profile spared: {during}"
        );
        assert!(
            theirs.iter().all(|s| s["reason"] == "running"),
            "{name}: {during}"
        );
        assert!(
            !names(&during, "removed")
                .iter()
                .any(|r| r.contains(job.as_str())),
            "{name}: {during}"
        );
    }

    for (deploy, job) in [(one, &first), (two, &second)] {
        let finished = deploy.finish(Duration::from_secs(120));
        finished.run.expect(0);
        assert_eq!(status_of(&env, job), "succeeded");
    }
    let after = gc(&env, false);
    assert!(
        names(&after, "removed").is_empty(),
        "{name}: nothing left for gc: {after}"
    );
    leaks.assert_none();
}

/// Host A runs a deploy with its store; host B, with a store of its own, runs `gc` on
/// the same daemon: B does not know A's job, which is younger than the longest a job
/// can last, so B spares it (reason `unknown_job`) and says why; A's deploy succeeds.
fn gc_from_another_store_spares_a_running_job(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let config = daemon.socket_config("default", 30);
    let host_a = prepared(&daemon, &leaks, &config, "hosta", "sleep 6\necho done");
    let host_b = Env::new(None);
    host_b.write_config(&config);

    let job = job_id();
    let mut deploy = spawn_deploy(&host_a, "hosta", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));

    let swept = gc(&host_b, false);
    let theirs: Vec<_> = swept["spared"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["job"] == job.as_str())
        .collect();
    assert_eq!(
        theirs.len(),
        2,
        "{name}: B spares A's instance and profile: {swept}"
    );
    assert!(
        theirs.iter().all(|s| s["reason"] == "unknown_job"),
        "{name}: {swept}"
    );
    assert!(
        !names(&swept, "removed").iter().any(|r| r.contains(&job)),
        "{name}: {swept}"
    );
    let text = host_b.run(&["gc", "--dry-run"]).expect(0);
    assert!(
        text.stdout.contains("not in this store")
            && text.stdout.contains("another host")
            && text.stdout.contains(&job),
        "{name}: {}",
        text.stdout
    );

    deploy.finish(Duration::from_secs(120)).run.expect(0);
    assert_eq!(status_of(&host_a, &job), "succeeded");
    assert!(
        host_b
            .run(&["--json", "jobs"])
            .expect(0)
            .stdout
            .contains("\"jobs\":[]"),
        "{name}: B's store knows nothing of A's job"
    );
    leaks.assert_none();
}
