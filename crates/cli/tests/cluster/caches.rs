//! Dependency caches on a cluster: a cache is a volume on one member, so a module that
//! keeps caches deploys only where a member is named. With a `@group` target the
//! deploy is refused before anything is made (exit 3, naming both keys); with one
//! member named, deploys in a row each see the cache the one before saved.

use std::time::{Duration, Instant};

use crate::clusters::{Cluster, build};
use crate::harness::{Env, unique_env};

const CACHE: &str = "/var/cache/lxpack-test";

/// Lists the cache before writing its marker, so each deploy shows what it found.
const BUILDPACK: &str = r#"#!/bin/sh
set -eu
id=$(cat id)
ls /var/cache/lxpack-test > seen-before
echo "$id" > "/var/cache/lxpack-test/marker-$id"
"#;

/// Points `env` at member `via` with `target`, and gives module site of `app` a cache.
fn point_cached(cluster: &Cluster, env: &Env, via: usize, target: &str, app: &str) {
    cluster.point(env, via, Some(target));
    let config = std::fs::read_to_string(&env.config).unwrap();
    env.write_config(&format!(
        "{config}  cache:\n    apps:\n      {app}:\n        site: [{CACHE}]\n"
    ));
}

/// What lxpack made on `cluster` for `app`: its volumes, instances and profiles.
fn made_for(cluster: &Cluster, app: &str) -> Vec<String> {
    let mut made = Vec::new();
    for list in [
        &["storage", "volume", "list", "default", "--format", "json"][..],
        &["list", "--format", "json"][..],
        &["profile", "list", "--format", "json"][..],
    ] {
        let output = cluster.cli(1, list);
        assert!(
            output.status.success(),
            "{} {list:?}: {}",
            cluster.kind,
            String::from_utf8_lossy(&output.stderr)
        );
        let items: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        made.extend(
            items
                .as_array()
                .unwrap()
                .iter()
                .filter(|item| item["config"]["user.lxpack.app"] == app)
                .map(|item| format!("{list:?}: {}", item["name"])),
        );
    }
    made
}

/// Waits (at most 30 s) until `cluster` has no lxpack instance: the daemon deletes an
/// ephemeral one after it stops.
fn wait_no_instances(cluster: &Cluster) {
    let started = Instant::now();
    while !cluster.instances("lxpack-").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}: left after 30 s: {:?}",
            cluster.kind,
            cluster.instances("lxpack-")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Purges the app's caches and deletes its image when the test ends.
struct Cleanup<'a> {
    cluster: &'a Cluster,
    env: &'a Env,
    app: String,
    image: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["cache", "purge", &self.app]);
        let _ = self.cluster.cli(1, &["image", "delete", &self.image]);
    }
}

#[test]
fn caches_need_one_member_named_and_then_each_deploy_sees_the_last() {
    let Some((_turn, clusters)) = crate::clusters::clusters() else {
        return;
    };
    for cluster in &clusters {
        let kind = cluster.kind;
        let env = Env::new(None);
        let app_env = unique_env();
        let app = format!("hello/{app_env}/web");
        point_cached(cluster, &env, 2, "@odd", &app);
        env.import_example_with(&app_env, &[("build_pack", BUILDPACK)]);
        let (_, image) = build(&env, cluster);
        let _cleanup = Cleanup {
            cluster,
            env: &env,
            app: app.clone(),
            image,
        };
        let deploy = |id: &str| {
            let dir = env.checkout_named(id);
            std::fs::write(dir.join("id"), id).unwrap();
            std::os::unix::fs::chown(dir.join("id"), Some(1000), Some(1000)).unwrap();
            let run = env.run(&[
                "deploy",
                &app,
                "--module",
                "site",
                "--checkout",
                dir.to_str().unwrap(),
            ]);
            (run, dir)
        };

        // A group target: refused before anything is made, as a config error.
        for attempt in 0..2 {
            let (run, _) = deploy(&format!("group{attempt}"));
            run.expect(3)
                .says(&["lxpack.runtime.target", "lxpack.cache", "name one member"]);
            assert_eq!(made_for(cluster, &app), Vec::<String>::new(), "{kind}");
        }

        // One member named (another than the one asked): each deploy sees the last.
        point_cached(cluster, &env, 2, "m3", &app);
        let (run, first) = deploy("first");
        run.expect(0);
        let seen = std::fs::read_to_string(first.join("seen-before")).unwrap();
        assert_eq!(seen.trim(), "", "{kind}: the first deploy found a cache");
        let (run, second) = deploy("second");
        run.expect(0);
        let seen = std::fs::read_to_string(second.join("seen-before")).unwrap();
        assert_eq!(
            seen.trim(),
            "marker-first",
            "{kind}: the second deploy did not see the first's cache"
        );
        wait_no_instances(cluster);
    }
}
