//! Dependency caches on each daemon: a seed deploy saves the cache, a failed deploy's
//! writes never reach it, 4 deploys of the module at once each see the seed's cache
//! and only their own writes, and afterwards the cache holds exactly the newest
//! successful job's state. Purge then leaves no volume of the app.

use std::collections::BTreeSet;
use std::process::Stdio;

use crate::harness::{Env, ImageJanitor, app_items, daemons, unique_env};

const CACHE: &str = "/var/cache/lxpack-test";
const CONCURRENT: usize = 4;

/// The module's buildpack: lists the cache, writes its marker, lists it again; fails
/// when the checkout holds `fail`.
const BUILDPACK: &str = r#"#!/bin/sh
set -eu
id=$(cat id)
ls /var/cache/lxpack-test > seen-before
echo "$id" > "/var/cache/lxpack-test/marker-$id"
sleep 1
ls /var/cache/lxpack-test > seen-after
if [ -e fail ]; then echo "failing on purpose"; exit 3; fi
"#;

/// The app's cache volumes on the daemon, by name.
fn app_volumes(client: &str, app: &str) -> Vec<String> {
    app_items(client, &["storage", "volume", "list", "default"], app)
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Purges the app's caches when the test ends, passed or failed.
struct Purge<'a> {
    env: &'a Env,
    app: &'a str,
}

impl Drop for Purge<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["cache", "purge", self.app]);
    }
}

fn lines(path: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn concurrent_deploys_of_one_module_keep_the_newest_successful_jobs_cache_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        let janitor = ImageJanitor::new(client);
        let app_env = unique_env();
        let app = format!("hello/{app_env}/web");
        env.import_example_with(&app_env, &[("build_pack", BUILDPACK)]);
        let _purge = Purge {
            env: &env,
            app: &app,
        };
        let config = std::fs::read_to_string(&env.config).unwrap();
        env.write_config(&format!(
            "{config}  cache:\n    quota: 64MiB\n    budget: 1GiB\n    apps:\n      {app}:\n        site: [{CACHE}]\n"
        ));
        env.build_image(&app, client, &janitor);

        let checkout = |id: &str, fail: bool| {
            let dir = env.checkout_named(id);
            std::fs::write(dir.join("id"), id).unwrap();
            if fail {
                std::fs::write(dir.join("fail"), "").unwrap();
            }
            std::os::unix::fs::chown(dir.join("id"), Some(1000), Some(1000)).unwrap();
            dir
        };
        let deploy = |dir: &std::path::Path| {
            env.command()
                .args(["--json", "deploy", &app, "--module", "site", "--checkout"])
                .arg(dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let job_of = |stdout: &str| {
            stdout
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find(|event| event["event"] == "result")
                .and_then(|event| event["job"].as_str().map(str::to_owned))
        };

        // The first deploy finds the cache empty and saves it.
        let seed = checkout("seed", false);
        let output = deploy(&seed).wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{name}: seed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("\"cache_restored\""), "{name}: {stdout}");
        assert_eq!(lines(&seed.join("seen-before")), set(&[]), "{name}");

        // A failed deploy's writes are dropped.
        let broken = checkout("broken", true);
        let output = deploy(&broken).wait_with_output().unwrap();
        eprintln!(
            "{name}: the failing deploy said: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            output.status.code(),
            Some(7),
            "{name}: a failed buildpack is exit 7 (the build failed): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            lines(&broken.join("seen-after")),
            set(&["marker-broken", "marker-seed"]),
            "{name}"
        );

        // Four at once: each sees the seed's cache and only its own marker.
        let dirs: Vec<_> = (0..CONCURRENT)
            .map(|n| checkout(&format!("c{n}"), false))
            .collect();
        let children: Vec<_> = dirs.iter().map(|dir| deploy(dir)).collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let mut jobs = Vec::new();
        for (n, output) in outputs.iter().enumerate() {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{name}: c{n}: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            jobs.push((job_of(&stdout).unwrap(), format!("c{n}")));
            assert_eq!(
                lines(&dirs[n].join("seen-before")),
                set(&["marker-seed"]),
                "{name}: c{n}"
            );
            assert_eq!(
                lines(&dirs[n].join("seen-after")),
                set(&["marker-seed", &format!("marker-c{n}")]),
                "{name}: c{n} saw another deploy's writes"
            );
        }
        let (newest_job, newest) = jobs.iter().max().unwrap().clone();

        // The cache is the newest successful job's: the next deploy starts from it.
        let run = env.run(&["--json", "cache", "list"]).expect(0);
        let listing: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        let caches = listing["caches"].as_array().unwrap();
        let ours: Vec<_> = caches.iter().filter(|c| c["app"] == app.as_str()).collect();
        assert_eq!(ours.len(), 1, "{name}: {listing}");
        assert_eq!(
            ours[0]["saved_by"],
            newest_job.as_str(),
            "{name}: {listing}"
        );
        assert_eq!(ours[0]["path"], CACHE);
        // The test pools are dir pools, which cannot tell a size: with a budget, the
        // job measured its copy (two markers: a few KiB).
        assert!(
            ours[0]["size_bytes"].as_u64().is_some_and(|s| s > 0),
            "{name}: {listing}"
        );
        let after = checkout("after", false);
        let output = deploy(&after).wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{name}: after: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            lines(&after.join("seen-before")),
            set(&["marker-seed", &format!("marker-{newest}")]),
            "{name}: the cache is not the newest job's ({newest_job})"
        );

        // Only the current generation is left, once released instances are gone; gc
        // and purge remove the rest.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            env.run(&["gc"]).expect(0);
            let left = app_volumes(client, &app);
            if left.len() == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: volumes left after gc: {left:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let run = env.run(&["cache", "purge", &app, "--dry-run"]).expect(0);
        assert!(
            run.stdout.contains("would remove"),
            "{name}: {}",
            run.stdout
        );
        assert_eq!(
            app_volumes(client, &app).len(),
            1,
            "{name}: a dry run removed something"
        );
        env.run(&["cache", "purge", &app]).expect(0);
        assert_eq!(app_volumes(client, &app), Vec::<String>::new(), "{name}");
    }
}
