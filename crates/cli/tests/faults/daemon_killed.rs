//! The daemon killed (SIGKILL) while the buildpack runs, then started again.

use std::time::{Duration, Instant};

use crate::daemon::{Leaks, fault_daemon};
use crate::job::{STARTED, gc, job_id, names, prepared, spawn_deploy, status_of};
use crate::on_both_daemons;

on_both_daemons!(daemon_killed_mid_buildpack);

/// lxpack ends at once with exit 5 (the daemon cannot be reached), naming the step and
/// the instance, and records the job failed; the container outlives the daemon (as it
/// does in a crash), and once the daemon runs again `lxpack gc` removes it and its
/// profile.
fn daemon_killed_mid_buildpack(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let env = prepared(
        &daemon,
        &leaks,
        &daemon.socket_config("default", 5),
        "killed",
        "exec sleep 300",
    );
    let job = job_id();
    let mut deploy = spawn_deploy(&env, "killed", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));

    daemon.kill();
    let killed = Instant::now();
    let finished = deploy.finish(Duration::from_secs(60));
    let took = killed.elapsed();
    eprintln!(
        "{name}: daemon killed: exit {} after {took:?}\n{}",
        finished.run.code, finished.run.stderr
    );
    let error = finished.error();
    let run = finished.run.expect(5).says(&["buildpack", &job]);
    assert_eq!(error["class"], "daemon", "{error}");
    assert!(
        took < Duration::from_secs(20),
        "{name}: lxpack took {took:?} to notice the daemon was gone"
    );
    assert!(
        run.stderr.contains("hint: start the daemon")
            && run.stderr.contains("then remove what the job left")
            && run.stderr.contains("`lxpack gc`"),
        "{name}: the hint says to start the daemon, then gc: {}",
        run.stderr
    );
    assert_eq!(status_of(&env, &job), "failed");

    daemon.restart_if_down();
    let swept = gc(&env, false);
    let removed = names(&swept, "removed");
    assert!(
        removed
            .iter()
            .any(|r| r.starts_with("instance ") && r.contains(&job))
            && removed
                .iter()
                .any(|r| r.starts_with("profile ") && r.contains(&job)),
        "{name}: gc after the restart removes the job's instance and profile: {swept}"
    );
    assert_eq!(status_of(&env, &job), "failed");
    leaks.assert_none();
}
