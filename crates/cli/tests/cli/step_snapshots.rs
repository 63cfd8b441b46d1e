//! buildimage's step snapshots on each daemon (on by default): a cold build snapshots
//! each hook; an unchanged re-run and one with only the post hook changed start from
//! the snapshots; `--no-cache` runs every step; the warm build publishes the same
//! files as a cold one; the holders go with their images.

use std::process::Command;

use crate::harness::{Env, ImageJanitor, app_items, daemons, test_image_os, unique_env};

const PRE: &str = "#!/bin/sh\nset -eu\nmkdir -p /etc/hello\necho pre > /etc/hello/pre\n";

fn post(version: &str) -> String {
    format!("#!/bin/sh\nset -eu\necho post {version} > /etc/hello/post\n")
}

/// Imports the example app under `app_env` with these hooks.
fn import(env: &Env, app_env: &str, post_hook: &str) {
    env.import_example_with(
        app_env,
        &[("pre_buildimage", PRE), ("post_buildimage", post_hook)],
    );
}

/// `lxpack --json buildimage`, its result event.
fn build(
    env: &Env,
    app: &str,
    client: &str,
    janitor: &ImageJanitor,
    extra: &[&str],
) -> serde_json::Value {
    let os = test_image_os(client);
    let mut args = vec!["--json", "buildimage", app, "--os", &os];
    args.extend_from_slice(extra);
    let run = env.run(&args).expect(0);
    let result: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    janitor.add(result["job"].as_str().unwrap());
    result
}

fn steps(result: &serde_json::Value) -> Vec<String> {
    result["steps_from_snapshot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The app's instances on the daemon: (name, step keys label).
fn holders(client: &str, app: &str) -> Vec<(String, String)> {
    app_items(client, &["list"], app)
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["config"]["user.lxpack.steps"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

/// Every file of the image of `job` with its checksum, from a container of it (the
/// logs and the container's own identity left out).
fn files_of(client: &str, job: &str, name: &str) -> String {
    let status = Command::new(client)
        .args(["launch", job, name])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let output = Command::new(client)
        .args(["exec", name, "--", "sh", "-c", "find /bin /etc /root /sbin /usr /tmp -xdev -type f ! -name hostname ! -name hosts ! -name resolv.conf ! -name mtab 2>/dev/null | sort | xargs md5sum"])
        .output()
        .unwrap();
    let _ = Command::new(client)
        .args(["delete", "--force", name])
        .output();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Deletes the app's step holders when the test ends, passed or failed.
struct Holders<'a> {
    client: &'static str,
    app: &'a str,
}

impl Drop for Holders<'_> {
    fn drop(&mut self) {
        for (name, _) in holders(self.client, self.app) {
            let _ = Command::new(self.client)
                .args(["delete", "--force", &name])
                .output();
        }
    }
}

#[test]
fn a_rebuild_starts_after_its_unchanged_steps_and_publishes_the_same_files_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        // Snapshots on (the default), and retention keeping 2 images per app.
        let config = std::fs::read_to_string(&env.config)
            .unwrap()
            .replace("    step_snapshots: false\n", "    step_snapshots: true\n");
        env.write_config(&config);
        let janitor = ImageJanitor::new(client);
        let app_env = unique_env();
        let app = format!("hello/{app_env}/web");
        import(&env, &app_env, &post("v1"));
        let _holders = Holders { client, app: &app };

        let cold = build(&env, &app, client, &janitor, &[]);
        assert!(steps(&cold).is_empty(), "{name}: {cold}");
        assert_eq!(cold["steps_snapshotted"], 2, "{name}: {cold}");

        let unchanged = build(&env, &app, client, &janitor, &[]);
        assert_eq!(
            steps(&unchanged),
            ["pre_buildimage_hook", "post_buildimage_hook"],
            "{name}: {unchanged}"
        );
        assert_eq!(unchanged["resumed_from"], cold["job"], "{name}");

        import(&env, &app_env, &post("v2"));
        let changed = build(&env, &app, client, &janitor, &[]);
        assert_eq!(
            steps(&changed),
            ["pre_buildimage_hook"],
            "{name}: {changed}"
        );
        let full = build(&env, &app, client, &janitor, &["--no-cache"]);
        assert!(steps(&full).is_empty(), "{name}: {full}");

        // The warm build's image holds exactly the cold build's files.
        let warm_files = files_of(
            client,
            changed["job"].as_str().unwrap(),
            &format!("lxpack-ss-{app_env}-w"),
        );
        let cold_files = files_of(
            client,
            full["job"].as_str().unwrap(),
            &format!("lxpack-ss-{app_env}-c"),
        );
        assert!(
            warm_files.contains("/etc/hello/post"),
            "{name}: {warm_files}"
        );
        assert_eq!(
            warm_files, cold_files,
            "{name}: the warm image differs from the cold one"
        );

        // Retention kept 2 images (ami_retention: 2): the holders of the others went.
        let left = holders(client, &app);
        assert_eq!(left.len(), 2, "{name}: {left:?}");
        assert!(
            left.iter().all(|(_, keys)| !keys.is_empty()),
            "{name}: {left:?}"
        );

        // Purging the images, then gc, leaves nothing of the app.
        drop(janitor);
        env.run(&["gc"]).expect(0);
        assert_eq!(
            holders(client, &app),
            Vec::<(String, String)>::new(),
            "{name}"
        );
    }
}
