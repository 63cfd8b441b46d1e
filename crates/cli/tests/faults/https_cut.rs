//! The HTTPS connection to the daemon cut while the buildpack runs: a loopback proxy
//! between lxpack and the daemon drops every connection and refuses new ones, as a
//! network that goes down does.

use std::time::{Duration, Instant};

use crate::daemon::{Leaks, fault_daemon};
use crate::job::{STARTED, gc, job_id, names, prepared, spawn_deploy, status_of};
use crate::on_both_daemons;
use crate::proxy::TcpProxy;

on_both_daemons!(https_cut_mid_exec);
on_both_daemons!(https_blip_mid_exec);

/// lxpack ends within the call deadline with exit 5 (the daemon cannot be reached),
/// naming the step and the instance, and records the job failed; the instance is left
/// (lxpack could not reach the daemon to remove it), and `lxpack gc` through the
/// daemon's real address removes it and its profile.
fn https_cut_mid_exec(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let upstream = daemon.url.trim_start_matches("https://").to_owned();
    let proxy = TcpProxy::start(&upstream);
    let env = prepared(
        &daemon,
        &leaks,
        &daemon.https_config(&format!("https://{}", proxy.address), 5),
        "cut",
        "exec sleep 300",
    );
    let job = job_id();
    let mut deploy = spawn_deploy(&env, "cut", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));

    let cut = Instant::now();
    proxy.cut();
    let finished = deploy.finish(Duration::from_secs(60));
    let took = cut.elapsed();
    eprintln!(
        "{name}: connection cut: exit {} after {took:?}\n{}",
        finished.run.code, finished.run.stderr
    );
    let error = finished.error();
    finished.run.expect(5).says(&["buildpack", &job, "hint:"]);
    assert_eq!(error["class"], "daemon", "{error}");
    assert!(
        took < Duration::from_secs(20),
        "{name}: lxpack took {took:?} to give up"
    );
    assert_eq!(status_of(&env, &job), "failed");

    env.write_config(&daemon.https_config(&daemon.url, 10));
    let swept = gc(&env, false);
    let removed = names(&swept, "removed");
    assert_eq!(
        removed.iter().filter(|r| r.contains(&job)).count(),
        2,
        "{name}: gc through the real address removes the instance and profile: {swept}"
    );
    leaks.assert_none();
}

/// Every connection dropped once while the buildpack runs, new ones accepted again (a
/// blip): the buildpack's output ends there and the daemon kills a command whose
/// websockets drop (it would report exit 137), so how it ended is unknown. That is the
/// connection failing, not the build: exit 5, never 7; lxpack still reaches the daemon
/// and removes the container itself, so nothing is left for gc.
fn https_blip_mid_exec(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let upstream = daemon.url.trim_start_matches("https://").to_owned();
    let proxy = TcpProxy::start(&upstream);
    let env = prepared(
        &daemon,
        &leaks,
        &daemon.https_config(&format!("https://{}", proxy.address), 5),
        "blip",
        "sleep 30\necho after the blip",
    );
    let job = job_id();
    let mut deploy = spawn_deploy(&env, "blip", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));
    let cut = Instant::now();
    proxy.drop_connections();
    let finished = deploy.finish(Duration::from_secs(60));
    let took = cut.elapsed();
    eprintln!(
        "{name}: connections dropped once: exit {} after {took:?}\n{}",
        finished.run.code, finished.run.stderr
    );
    let error = finished.error();
    finished
        .run
        .expect(5)
        .says(&["buildpack", &job, "the connection broke", "hint:"]);
    assert_eq!(error["class"], "daemon", "{error}");
    assert!(
        took < Duration::from_secs(20),
        "{name}: lxpack took {took:?} to give up"
    );
    assert_eq!(status_of(&env, &job), "failed");
    let swept = gc(&env, false);
    assert!(
        names(&swept, "removed").is_empty(),
        "{name}: lxpack removed its container itself: {swept}"
    );
    leaks.assert_none();
}
