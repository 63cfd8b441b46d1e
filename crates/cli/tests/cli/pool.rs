//! Standby pools on each daemon: 16 deploys at once against a pool of 8. Exactly 8
//! claim a standby and 8 start cold, no instance runs two builds, and afterwards
//! nothing of the app is left but the pool, refilled in the background.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::{Env, ImageJanitor, app_items, daemons, unique_env};

const POOL: usize = 8;
const DEPLOYS: usize = 16;

/// The app's instances on the daemon, by name, with whether each is a standby.
fn app_instances(client: &str, app: &str) -> Vec<(String, bool)> {
    app_items(client, &["list"], app)
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["config"]["user.lxpack.standby"].is_string()
                    && i["config"]["user.lxpack.job"].is_null(),
            )
        })
        .collect()
}

/// Retires the app's standbys when the test ends, passed or failed (before the
/// environment's directory goes).
struct Drain<'a> {
    env: &'a Env,
    app: &'a str,
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["pool", "drain", self.app]);
    }
}

/// Waits until no `lxpack pool fill` of this environment's store runs any more.
fn wait_for_fills(env: &Env, name: &str) {
    let store = env.dir.path().join("lxpack.db");
    let store = store.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
            .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
            .filter(|cmdline| cmdline.contains(&store) && cmdline.contains("pool fill"))
            .count();
        if running == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {running} background fills still run after 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ready_standbys(env: &Env, app: &str) -> (usize, usize) {
    let run = env.run(&["--json", "pool", "list", app]).expect(0);
    let listing: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let mut ready = 0;
    let mut other = 0;
    for pool in listing["pools"].as_array().unwrap() {
        for standby in pool["standbys"].as_array().unwrap() {
            if standby["state"] == "ready" {
                ready += 1;
            } else {
                other += 1;
            }
        }
    }
    (ready, other)
}

#[test]
fn sixteen_deploys_against_a_pool_of_eight_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        let janitor = ImageJanitor::new(client);
        let app_env = unique_env();
        env.import_example_as(&app_env);
        let app = format!("hello/{app_env}/web");
        let _drain = Drain {
            env: &env,
            app: &app,
        };
        let config = std::fs::read_to_string(&env.config).unwrap();
        env.write_config(&format!("{config}  pool:\n    size: {POOL}\n"));
        env.build_image(&app, client, &janitor);

        let checkouts: Vec<_> = (0..DEPLOYS)
            .map(|n| env.checkout_named(&format!("checkout-{n}")))
            .collect();
        let started = Instant::now();
        let run = env
            .run(&[
                "pool",
                "fill",
                &app,
                "--checkout",
                checkouts[0].to_str().unwrap(),
            ])
            .expect(0);
        eprintln!(
            "{name}: filled a pool of {POOL} in {:.1?}",
            started.elapsed()
        );
        assert!(
            run.stdout.contains(&format!("started {POOL}")),
            "{name}: {}",
            run.stdout
        );
        assert_eq!(ready_standbys(&env, &app), (POOL, 0), "{name}");

        let children: Vec<_> = checkouts
            .iter()
            .map(|checkout| {
                env.command()
                    .args(["--json", "deploy", &app, "--module", "site", "--checkout"])
                    .arg(checkout)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Every deploy ends before anything is judged: a deploy still running when
        // the test fails would lose its checkout and store with the test's directory.
        let outputs: Vec<_> = children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let mut warm = 0;
        let mut cold = 0;
        let mut instances = BTreeSet::new();
        for output in outputs {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{name}: a deploy failed: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            for line in stdout.lines() {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                match event["event"].as_str() {
                    Some("standby_claimed") => warm += 1,
                    Some("cold_start") => cold += 1,
                    Some("result") => {
                        let detail = event["detail"].as_str().unwrap();
                        let instance = detail.split_whitespace().nth(2).unwrap().to_owned();
                        assert!(
                            instances.insert(instance),
                            "{name}: one instance ran two builds"
                        );
                    }
                    _ => {}
                }
            }
        }
        assert_eq!((warm, cold), (POOL, DEPLOYS - POOL), "{name}");
        assert_eq!(instances.len(), DEPLOYS, "{name}");
        for checkout in &checkouts {
            assert!(
                checkout.join("dist/index.html").exists(),
                "{name}: {}",
                checkout.display()
            );
        }

        // The deploys asked for refills, which run in the background: wait for them,
        // then only the refilled pool is left of the app.
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let (ready, other) = ready_standbys(&env, &app);
            let left = app_instances(client, &app);
            if ready == POOL && other == 0 && left.len() == POOL && left.iter().all(|(_, s)| *s) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: after 180 s: {ready} ready, {other} other standbys; the app's instances: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        let profiles = std::process::Command::new(client)
            .args(["profile", "list", "--format", "csv", "-c", "n"])
            .output()
            .unwrap();
        for instance in &instances {
            assert!(
                !String::from_utf8_lossy(&profiles.stdout).contains(instance.as_str()),
                "{name}: profile {instance} left"
            );
        }

        // The refills the deploys started may still queue for their turn; each finds
        // the pool full, but one that ran after the drain would fill it again.
        wait_for_fills(&env, name);
        let run = env.run(&["pool", "drain", &app]).expect(0);
        assert!(
            run.stdout.contains("retired standby"),
            "{name}: {}",
            run.stdout
        );
        assert!(app_instances(client, &app).is_empty(), "{name}");
    }
}
