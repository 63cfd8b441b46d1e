//! Errors that need a daemon to be reached first.

use crate::harness::{Env, ImageJanitor, daemons, instances, unique_env};

#[test]
fn unknown_module_is_an_input_error_naming_the_modules() {
    let Some(daemons) = daemons() else { return };
    let (_, _, socket) = &daemons[0];
    let env = Env::with_example(socket);
    let checkout = env.checkout();
    env.deploy("hello", "nope", &checkout)
        .expect(4)
        .says(&["no module \"nope\"", "site, docs"]);
}

#[test]
fn deploy_before_buildimage_says_to_run_buildimage() {
    let Some(daemons) = daemons() else { return };
    let (_, _, socket) = &daemons[0];
    let env = Env::with_example(socket);
    let checkout = env.checkout();
    env.deploy("hello", "site", &checkout)
        .expect(6)
        .says(&["no container image yet", "lxpack buildimage"]);
}

#[test]
fn an_os_no_image_matches_lists_the_candidates() {
    let Some(daemons) = daemons() else { return };
    let (_, _, socket) = &daemons[0];
    let env = Env::with_example(socket);
    env.run(&["buildimage", "hello", "--os", "plan9/4"])
        .expect(6)
        .says(&["no image matches", "plan9", "hint:"]);
}

#[test]
fn doctor_passes_on_this_host() {
    let Some(daemons) = daemons() else { return };
    for (name, _, socket) in daemons {
        let env = Env::new(Some(&socket));
        let run = env.run(&["doctor"]).expect(0);
        for check in [
            "config",
            "socket access",
            "daemon running",
            "storage",
            "api extensions",
            "mount ownership",
            "store",
        ] {
            assert!(
                run.stdout.contains(&format!("ok    {check}")),
                "{name}: {check} not ok:\n{}",
                run.stdout
            );
        }
        assert!(
            !env.dir.path().join("lxpack.db").exists(),
            "{name}: doctor must not create the store"
        );
        assert!(run.stdout.contains("does not exist yet"), "{}", run.stdout);
    }
}

/// On LXD, which maps a checkout's owner with raw.idmap, an owner that /etc/subuid does
/// not let root map is refused at once, with the line to add, before anything starts.
#[test]
fn a_checkout_owner_root_may_not_map_is_refused_at_once_on_lxd() {
    let Some(daemons) = daemons() else { return };
    let (name, client, socket) = &daemons[0];
    assert_eq!(*name, "lxd", "the first daemon is LXD");
    let env = Env::new(Some(socket));
    env.import_example_as(&unique_env());
    let janitor = ImageJanitor::new(client);
    env.build_image("hello", client, &janitor);
    let checkout = env.checkout();
    std::os::unix::fs::chown(&checkout, Some(2000), Some(2000)).unwrap();
    let started = std::time::Instant::now();
    env.deploy("hello", "site", &checkout).expect(4).says(&[
        "uid 2000",
        "root:2000:1",
        "/etc/subuid",
    ]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "refused up front, not after start retries: {:?}",
        started.elapsed()
    );
    assert!(instances(client, "lxpack-deploy-hello").is_empty());
}

/// An image server the daemon cannot reach is the infrastructure's failure (13), with
/// the setting to check, never a failed build (7).
#[test]
fn an_unreachable_image_server_is_an_infrastructure_failure() {
    let Some(daemons) = daemons() else { return };
    for (name, _, socket) in &daemons {
        let env = Env::new(Some(socket));
        env.write_config(&format!(
            "container:\n  timeout: 30\n  endpoint: https://127.0.0.1:1\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {socket}\n"
        ));
        let app = std::fs::read_to_string(crate::harness::example_app())
            .unwrap()
            .replace("env: demo", &format!("env: {}", unique_env()))
            + "build_infos:\n  source_container_image: lxpack-test-busybox\n";
        let file = env.dir.path().join("hello.yml");
        std::fs::write(&file, app).unwrap();
        env.run(&["app", "import", file.to_str().unwrap()])
            .expect(0);
        let run = env.run(&["buildimage", "hello"]).expect(13);
        assert!(
            run.stderr.contains("container.endpoint"),
            "{name}: {}",
            run.stderr
        );
    }
}
