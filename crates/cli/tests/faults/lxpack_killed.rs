//! lxpack itself killed (SIGKILL) mid-job, then `lxpack gc`.

use std::time::Duration;

use crate::daemon::{Leaks, fault_daemon};
use crate::job::{STARTED, gc, job_id, names, prepared, spawn_deploy, status_of};
use crate::on_both_daemons;

on_both_daemons!(lxpack_killed_mid_buildpack);

/// The job stays `running` in the store (nothing could record its end), and the
/// container runs on; `lxpack gc` on the same host sees the job's process is gone,
/// records the job `lost` at once and removes its instance and profile.
fn lxpack_killed_mid_buildpack(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let env = prepared(
        &daemon,
        &leaks,
        &daemon.socket_config("default", 10),
        "orphan",
        "exec sleep 300",
    );
    let job = job_id();
    let mut deploy = spawn_deploy(&env, "orphan", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));
    let pid = deploy.pid();
    deploy.kill();
    assert_eq!(
        status_of(&env, &job),
        "running",
        "{name}: killed, lxpack could not record the end"
    );
    let left = daemon.snapshot();
    assert!(
        left.instances.iter().any(|i| i.contains(&job)),
        "{name}: the container outlives lxpack: {left:?}"
    );

    // A dry run says what it would do and changes nothing.
    let dry = gc(&env, true);
    assert_eq!(dry["lost_jobs"][0], job.as_str(), "{name}: {dry}");
    assert_eq!(status_of(&env, &job), "running");

    let text = env.run(&["gc", "--dry-run"]).expect(0);
    let said = format!("{}{}", text.stdout, text.stderr);
    assert!(
        said.contains(&job)
            && said.contains(&format!("({pid} on "))
            && said.contains("its process is gone")
            && !said.contains("longer than any job can last"),
        "{name}: gc names the job and its dead process: {}\n{}",
        text.stdout,
        text.stderr
    );

    let swept = gc(&env, false);
    assert_eq!(swept["lost_jobs"][0], job.as_str(), "{name}: {swept}");
    let removed = names(&swept, "removed");
    assert_eq!(
        removed.iter().filter(|r| r.contains(&job)).count(),
        2,
        "{name}: the lost job's instance and profile go: {swept}"
    );
    assert_eq!(status_of(&env, &job), "lost");
    leaks.assert_none();
}
