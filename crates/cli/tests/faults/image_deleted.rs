//! An image deleted under a job: the app's image (its alias is the buildimage job's
//! id) or the base image of a buildimage, deleted by someone else (an operator,
//! another host's retention) at an exact point: a unix-socket proxy between lxpack
//! and the daemon deletes it just before it passes on the request that creates the
//! instance.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::daemon::{FaultDaemon, Leaks, fault_daemon};
use crate::harness::Env;
use crate::job::{STARTED, build_image, import, job_id, spawn_deploy, status_of};
use crate::on_both_daemons;
use crate::proxy::UnixProxy;

on_both_daemons!(the_apps_image_deleted_mid_deploy);
on_both_daemons!(the_base_image_deleted_mid_buildimage);

/// Deleted between the deploy's start and its launch: exit 6 (image), naming the app,
/// the image and how to rebuild it; the job's profile goes, nothing is left. Deleted while the buildpack runs:
/// the deploy needs nothing more from it and succeeds; the next deploy is exit 6.
fn the_apps_image_deleted_mid_deploy(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let env = Env::new(None);
    env.write_config(&daemon.socket_config("default", 30));
    import(&env, "vanish", "sleep 3\necho done");
    let image = build_image(&daemon, &leaks, &env, "vanish");

    // At the launch.
    let proxy = {
        let (daemon, image) = (daemon.clone(), image.clone());
        UnixProxy::start(
            &daemon.socket.clone(),
            b"POST /1.0/instances",
            Box::new(move || {
                daemon.cli_ok(&["image", "delete", &image]);
            }),
        )
    };
    env.write_config(&format!(
        // Through the proxy's socket the harness cannot tell the fault daemon, which
        // shares this host's network namespace: no network, as its other tests.
        "container:\n  timeout: 30\nlxpack:\n  network:\n    mode: none\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {}\n",
        proxy.path.display()
    ));
    let job = job_id();
    let finished = spawn_deploy(&env, "vanish", &job).finish(Duration::from_secs(120));
    assert!(proxy.fired(), "{name}: the proxy saw no instance created");
    eprintln!(
        "{name}: image deleted at the launch: exit {}\n{}",
        finished.run.code, finished.run.stderr
    );
    let error = finished.error();
    finished.run.expect(6).says(&[
        &image,
        "no image with that alias",
        "lxpack buildimage vanish",
    ]);
    assert_eq!(error["class"], "image", "{error}");
    assert_eq!(status_of(&env, &job), "failed");
    leaks.assert_none();

    // While the buildpack runs.
    env.write_config(&daemon.socket_config("default", 30));
    let image = build_image(&daemon, &leaks, &env, "vanish");
    let job = job_id();
    let mut deploy = spawn_deploy(&env, "vanish", &job);
    deploy.wait_for_output(STARTED, Duration::from_secs(90));
    daemon.cli_ok(&["image", "delete", &image]);
    deploy.finish(Duration::from_secs(120)).run.expect(0);
    assert_eq!(status_of(&env, &job), "succeeded");
    let next = spawn_deploy(&env, "vanish", &job_id()).finish(Duration::from_secs(120));
    eprintln!(
        "{name}: deploy after the image is gone: exit {}\n{}",
        next.run.code, next.run.stderr
    );
    next.run.expect(6).says(&[
        &image,
        "no image with that alias",
        "lxpack buildimage vanish",
    ]);
    leaks.assert_none();
}

/// The base image of a buildimage deleted just before the build container is created:
/// exit 6 (image), naming it; nothing is left, and no image is published.
fn the_base_image_deleted_mid_buildimage(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    let release = job_id();
    let alias = format!("fault-base-{}", &release[16..]);
    import_base_image(&daemon, &alias, &release);

    let proxy = {
        let (daemon, alias) = (daemon.clone(), alias.clone());
        UnixProxy::start(
            &daemon.socket.clone(),
            b"POST /1.0/instances",
            Box::new(move || {
                daemon.cli_ok(&["image", "delete", &alias]);
            }),
        )
    };
    let env = Env::new(None);
    env.write_config(&format!(
        // Through the proxy's socket the harness cannot tell the fault daemon, which
        // shares this host's network namespace: no network, as its other tests.
        "container:\n  timeout: 30\nlxpack:\n  network:\n    mode: none\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {}\n",
        proxy.path.display()
    ));
    import(&env, "baseless", "echo fine");
    let run = env.run(&[
        "--json",
        "buildimage",
        "baseless",
        "--os",
        &format!("faultbox/{release}"),
    ]);
    assert!(proxy.fired(), "{name}: the proxy saw no instance created");
    eprintln!(
        "{name}: base image deleted at the launch: exit {}\n{}",
        run.code, run.stderr
    );
    let run = run.expect(6);
    let error: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(error["class"], "image", "{error}");
    let jobs = crate::job::jobs(&env);
    assert!(
        jobs.iter().all(|(_, status, _)| status == "failed"),
        "{name}: {jobs:?}"
    );
    leaks.assert_none();
}

/// Imports the busybox test image again with its own OS (`faultbox/RELEASE`), so that
/// deleting it harms no other test.
fn import_base_image(daemon: &FaultDaemon, alias: &str, release: &str) {
    let state =
        std::env::var("LXPACK_STATE_DIR").unwrap_or_else(|_| "/var/tmp/lxpack-daemons".to_owned());
    let source = Path::new(&state).join("images/busybox");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metadata.yaml"),
        format!(
            "architecture: {arch}\ncreation_date: 1700000000\nproperties:\n  os: faultbox\n  release: \"{release}\"\n  architecture: {arch}\n  description: fault test base image\n",
            arch = std::env::consts::ARCH
        ),
    )
    .unwrap();
    let tarball = dir.path().join("base.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.path())
        .arg("metadata.yaml")
        .arg("-C")
        .arg(&source)
        .arg("rootfs")
        .status()
        .unwrap();
    assert!(status.success(), "tar of {} failed", source.display());
    daemon.cli_ok(&[
        "image",
        "import",
        tarball.to_str().unwrap(),
        "--alias",
        alias,
    ]);
}
