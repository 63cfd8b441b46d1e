//! The storage pool full: the fault daemons' project `lxpack-small` keeps its root disks
//! on a 64 MiB ext4 file system in a loop file (scripts/fault-daemons-up).

use std::time::Duration;

use crate::daemon::{FaultDaemon, Leaks, SMALL_PROJECT, fault_daemon};
use crate::job::{STARTED, build_image, import, job_id, prepared, spawn_deploy, status_of};
use crate::on_both_daemons;

on_both_daemons!(the_buildpack_fills_the_pool);
on_both_daemons!(the_pool_is_full_before_the_job);

/// The buildpack writes until the pool is full: its write fails ("No space left on
/// device") and so does the buildpack, which is the build failing: exit 7, with the
/// buildpack's own words in the error. The container goes, and with it the space.
fn the_buildpack_fills_the_pool(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let baseline = daemon.small_pool_used();
    let env = prepared(
        &daemon,
        &leaks,
        &daemon.socket_config(SMALL_PROJECT, 30),
        "filler",
        "set -e\ndd if=/dev/zero of=/tmp/fill bs=1M\necho never here",
    );
    let job = job_id();
    let mut deploy = spawn_deploy(&env, "filler", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));
    let finished = deploy.finish(Duration::from_secs(120));
    eprintln!(
        "{name}: pool filled by the buildpack: exit {}\n{}",
        finished.run.code, finished.run.stderr
    );
    let error = finished.error();
    finished
        .run
        .expect(7)
        .says(&["step buildpack failed", &job, "No space left on device"]);
    assert_eq!(error["class"], "step", "{error}");
    assert_eq!(status_of(&env, &job), "failed");
    assert_space_back(&daemon, baseline);
    leaks.assert_none();
}

/// The pool is already full when the job starts (something else filled it): the
/// daemon cannot create the instance, which is the host failing, not the build: exit
/// 13 with the daemon's message. The job's profile goes; nothing is left.
fn the_pool_is_full_before_the_job(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let baseline = daemon.small_pool_used();
    let env = crate::harness::Env::new(None);
    env.write_config(&daemon.socket_config(SMALL_PROJECT, 30));
    import(&env, "crowded", "echo fine");
    build_image(&daemon, &leaks, &env, "crowded");

    let filler = daemon.small_pool_mount().join("filler");
    let filled = Filler::fill(&filler);
    let job = job_id();
    let finished = crate::job::spawn_deploy(&env, "crowded", &job).finish(Duration::from_secs(120));
    eprintln!(
        "{name}: pool full before the job: exit {}\n{}",
        finished.run.code, finished.run.stderr
    );
    let error = finished.error();
    // tar says the pool is full in one of two ways: ENOSPC on file after file (a
    // message lxpack shortens), or one short write when the last blocks run out.
    let stderr = finished.run.stderr.clone();
    assert!(
        (stderr.contains("No space left on device")
            && stderr.contains("more lines of the daemon's message"))
            || stderr.contains("Wrote only"),
        "{name}: the daemon's no-space message is passed on: {stderr}"
    );
    finished
        .run
        .expect(13)
        .says(&["step launch failed", &job, "hint:", "storage pool has room"]);
    assert_eq!(error["class"], "infrastructure", "{error}");
    assert_eq!(status_of(&env, &job), "failed");
    drop(filled);
    assert_space_back(&daemon, baseline);
    leaks.assert_none();
}

/// The pool's file system uses no more than it did before the test (give or take the
/// daemon's bookkeeping).
#[track_caller]
fn assert_space_back(daemon: &FaultDaemon, baseline: u64) {
    // The job's container is released in the background (the default): its space
    // comes back once the daemon's stop has deleted it.
    let deadline = std::time::Instant::now() + crate::daemon::RELEASE_WAIT;
    let mut used = daemon.small_pool_used();
    while used > baseline + 2 * 1024 * 1024 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        used = daemon.small_pool_used();
    }
    assert!(
        used <= baseline + 2 * 1024 * 1024,
        "{}: the pool holds {used} bytes after the job, {baseline} before",
        daemon.name
    );
}

/// A file that fills a file system, removed when dropped.
struct Filler(std::path::PathBuf);

impl Filler {
    fn fill(path: &std::path::Path) -> Self {
        // dd stops at ENOSPC and says so; that is the point.
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=1M"])
            .arg(format!("of={}", path.display()))
            .output()
            .unwrap();
        Self(path.to_owned())
    }
}

impl Drop for Filler {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
