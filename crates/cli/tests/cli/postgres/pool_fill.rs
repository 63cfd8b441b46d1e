//! Pool fills of two build hosts (two HOME directories, two configs) sharing one
//! PostgreSQL store and one daemon take turns through the database: two `lxpack pool
//! fill` of a pool of 2 started at once end with 2 standbys, not 4. A lock file, which
//! each host has its own of, would let both start 2.

use std::process::Stdio;

use super::env_on_daemon;
use crate::harness::{
    Env, ImageJanitor, app_items, daemons, example_app, test_image_os, unique_env,
};
use crate::postgres_harness::TestDatabase;

/// Drains the app's pool when the test ends, passed or failed.
struct Drain<'a> {
    env: &'a Env,
    app: &'a str,
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        let _ = self.env.run_on_config_store(&["pool", "drain", self.app]);
    }
}

/// Imports the example app under `app_env` into the config's store.
fn import_example(env: &Env, app_env: &str) {
    let text = std::fs::read_to_string(example_app())
        .unwrap()
        .replace("env: demo", &format!("env: {app_env}"));
    let file = env.dir.path().join("hello.yml");
    std::fs::write(&file, text).unwrap();
    env.run_on_config_store(&["app", "import", file.to_str().unwrap()])
        .expect(0);
}

/// The app's standbys on the daemon `client` talks to.
fn standbys(client: &str, app: &str) -> usize {
    app_items(client, &["list"], app)
        .iter()
        .filter(|i| i["config"]["user.lxpack.standby"].is_string())
        .count()
}

#[test]
fn two_hosts_filling_one_pool_at_once_take_turns_through_the_database() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let Some(database) = TestDatabase::create() else {
            return;
        };
        let hosts = [
            env_on_daemon(&socket, &database),
            env_on_daemon(&socket, &database),
        ];
        for host in &hosts {
            let config = std::fs::read_to_string(&host.config).unwrap();
            host.write_config(&format!("{config}  pool:\n    size: 2\n"));
        }
        let janitor = ImageJanitor::new(client);
        let app_env = unique_env();
        import_example(&hosts[0], &app_env);
        let app = format!("hello/{app_env}/web");
        let run = hosts[0]
            .run_on_config_store(&["--json", "buildimage", &app, "--os", &test_image_os(client)])
            .expect(0);
        let result: serde_json::Value =
            serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
        janitor.add(result["job"].as_str().unwrap());
        let _drain = Drain {
            env: &hosts[0],
            app: &app,
        };

        let children: Vec<_> = hosts
            .iter()
            .map(|host| {
                host.command_on_config_store()
                    .args(["--json", "pool", "fill", &app, "--owner", "1000:1000"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<_> = children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let mut started = 0;
        for output in &outputs {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{name}: pool fill failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: serde_json::Value =
                serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
            for pool in report["pools"].as_array().unwrap() {
                started += pool["started"].as_array().unwrap().len();
            }
        }
        assert_eq!(
            started, 2,
            "{name}: the two fills started {started} standbys"
        );
        assert_eq!(standbys(client, &app), 2, "{name}: standbys on the daemon");
        let listed = hosts[1]
            .run_on_config_store(&["--json", "pool", "list", &app])
            .expect(0);
        let listing: serde_json::Value = serde_json::from_str(listed.stdout.trim()).unwrap();
        let ready = listing["pools"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|pool| pool["standbys"].as_array().unwrap())
            .filter(|standby| standby["state"] == "ready")
            .count();
        assert_eq!(ready, 2, "{name}: {listing}");
    }
}
