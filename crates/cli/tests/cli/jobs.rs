//! The whole path on each daemon, Ctrl-C, and the JSON stream.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::harness::{Env, ImageJanitor, daemons, instances, test_image_os, unique_env};

#[test]
fn import_buildimage_deploy_images_purge_gc_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        let janitor = ImageJanitor::new(client);
        let os = test_image_os(client);
        let app_env = unique_env();
        env.import_example_as(&app_env);
        let app_file = env.dir.path().join("hello.yml");
        let run = env
            .run(&["app", "import", app_file.to_str().unwrap()])
            .expect(0);
        assert!(
            run.stdout
                .contains(&format!("updated app hello/{app_env}/web")),
            "{name}: importing again updates: {}",
            run.stdout
        );

        // Three images, so that retention (ami_retention: 2) has one to purge.
        let mut jobs = Vec::new();
        for _ in 0..3 {
            let run = env
                .run(&["--json", "buildimage", "hello", "--os", &os])
                .expect(0);
            let result: serde_json::Value =
                serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
            assert_eq!(result["event"], "result", "{name}: {}", run.stdout);
            jobs.push(result["job"].as_str().unwrap().to_owned());
            janitor.add(&jobs[jobs.len() - 1]);
            std::thread::sleep(Duration::from_millis(1100)); // job ids order by second
        }

        let checkout = env.deploy_example_site(name);
        let page = std::fs::read_to_string(checkout.join("dist/index.html")).unwrap();
        assert!(
            page.contains("baked into the image by post_buildimage"),
            "{name}: {page}"
        );
        assert!(
            page.contains("a message from the module's checkout"),
            "{name}: {page}"
        );
        let owner = std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata(checkout.join("dist/index.html")).unwrap(),
        );
        assert_eq!(
            owner, 1000,
            "{name}: the buildpack's files belong to the checkout's owner"
        );

        // A module without a buildpack is skipped, successfully.
        let run = env.deploy("hello", "docs", &checkout).expect(0);
        assert!(run.stdout.contains("skipped"), "{name}: {}", run.stdout);

        // Retention after the third build kept two; the newest is current.
        let run = env.run(&["images", "hello"]).expect(0);
        assert!(
            !run.stdout.contains(&jobs[0]),
            "{name}: oldest image purged:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&jobs[1]) && run.stdout.contains(&jobs[2]),
            "{name}:\n{}",
            run.stdout
        );
        let run = env.run(&["--json", "images", "hello"]).expect(0);
        let listing: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        let images = listing["images"].as_array().unwrap();
        assert_eq!(images.len(), 2, "{name}: {listing}");
        assert_eq!(images[0]["job"], jobs[2].as_str());
        assert_eq!(images[0]["current"], true);
        assert_eq!(images[0]["ami_status"], "no_ami");

        // Purge keeps the current image and, with ami_retention 1, deletes the other.
        env.write_config(&format!(
            "ami_retention: 1\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {socket}\n"
        ));
        let run = env
            .run(&["images", "purge", "hello", "--dry-run"])
            .expect(0);
        assert!(
            run.stdout.contains("would delete image"),
            "{name}: {}",
            run.stdout
        );
        assert!(run.stdout.contains(&jobs[1]), "{name}: {}", run.stdout);
        assert_eq!(
            env.run(&["--json", "images", "hello"])
                .stdout
                .matches("\"job\"")
                .count(),
            2
        );
        let run = env.run(&["images", "purge", "hello"]).expect(0);
        assert!(
            run.stdout.contains("deleted image"),
            "{name}: {}",
            run.stdout
        );
        let run = env.run(&["images", "hello"]).expect(0);
        assert!(
            !run.stdout.contains(&jobs[1]) && run.stdout.contains(&jobs[2]),
            "{name}: {}",
            run.stdout
        );

        // The history and a log.
        let run = env.run(&["jobs", "hello"]).expect(0);
        assert_eq!(
            run.stdout.matches("succeeded").count(),
            5,
            "{name}: {}",
            run.stdout
        );
        let run = env.run(&["jobs", "log", &jobs[2]]).expect(0);
        assert!(
            run.stdout.contains("post_buildimage"),
            "{name}: {}",
            run.stdout
        );

        // gc finds nothing of ours left behind.
        let run = env.run(&["gc", "--dry-run"]).expect(0);
        for job in &jobs {
            assert!(!run.stdout.contains(job.as_str()), "{name}: {}", run.stdout);
        }

        env.run(&["app", "remove", "hello"]).expect(0);
    }
}

fn sleeper_app(name: &str) -> String {
    let script = base64::engine::general_purpose::STANDARD
        .encode("#!/bin/sh\necho started\nexec sleep 120\n");
    format!(
        "name: {name}\nenv: test\nrole: cli\nregion: eu-west-1\nmodules:\n  - name: slow\n    path: /srv/slow\n    build_pack: {script}\n"
    )
}

#[test]
fn ctrl_c_cancels_cleans_up_and_exits_130() {
    let Some(daemons) = daemons() else { return };
    let (_, client, socket) = &daemons[0];
    let env = Env::new(Some(socket));
    let janitor = ImageJanitor::new(client);
    let app = env.dir.path().join("sleeper.yml");
    std::fs::write(&app, sleeper_app("sleeper")).unwrap();
    env.run(&["app", "import", app.to_str().unwrap()]).expect(0);
    env.build_image("sleeper", client, &janitor);
    let checkout = env.checkout();

    let mut child = env
        .command()
        .args([
            "--json",
            "deploy",
            "sleeper",
            "--module",
            "slow",
            "--checkout",
            checkout.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    loop {
        let line = lines
            .next()
            .expect("the deploy ended before its buildpack started")
            .unwrap();
        if line.contains("\"output\"") && line.contains("started") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no output from the buildpack"
        );
    }
    let interrupted = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "after Ctrl-C: {rest:?}");
    assert!(
        interrupted.elapsed() < Duration::from_secs(30),
        "cancelling took {:?}",
        interrupted.elapsed()
    );
    let error: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(error["event"], "error");
    assert_eq!(error["class"], "cancelled");
    assert!(
        rest.iter().any(|l| l.contains("\"cleanup\"")),
        "cleanup ran: {rest:?}"
    );
    // The cancelled job's container is released in the background (the default):
    // it goes once the daemon's stop ends.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !instances(client, "lxpack-deploy-sleeper").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        instances(client, "lxpack-deploy-sleeper").is_empty(),
        "nothing left behind"
    );

    let run = env.run(&["--json", "jobs", "sleeper"]).expect(0);
    let jobs: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(jobs["jobs"][0]["status"], "cancelled", "{jobs}");

    env.run(&["app", "remove", "sleeper"]).expect(0);
}

/// `lxpack.cleanup: background` ends the deploy once the daemon has taken the stop;
/// the profile is already gone then, and the instance goes with its stop.
#[test]
fn background_cleanup_leaves_nothing_once_the_daemon_is_done() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        env.write_config(&format!(
            "container:\n  timeout: 30\nlxpack:\n  buildimage:\n    step_snapshots: false\n  cleanup: background\n  runtime:\n    socket: {socket}\n"
        ));
        let janitor = ImageJanitor::new(client);
        env.import_example_as(&unique_env());
        env.build_image("hello", client, &janitor);
        env.deploy_example_site(name);
        // The job recorded its release as pending, naming the instance (tests running
        // beside this one deploy the same module, so only this name is looked for).
        let release = |env: &Env| {
            let run = env.run(&["--json", "jobs", "hello"]).expect(0);
            let jobs: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
            jobs["jobs"][0]["release"].clone()
        };
        let pending = release(&env);
        assert_eq!(pending["state"], "pending", "{name}: {pending}");
        let instance = pending["instance"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !instances(client, &instance).is_empty() {
            assert!(
                Instant::now() < deadline,
                "{name}: the released instance is still there after 30 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        let profiles = std::process::Command::new(client)
            .args(["profile", "list", "--format", "csv"])
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&profiles.stdout).contains(&instance),
            "{name}: the profile is left"
        );
        // The next look (here gc) confirms it went.
        env.run(&["gc"]).expect(0);
        assert_eq!(release(&env)["state"], "confirmed", "{name}");
    }
}
