//! Secrets through the binary, on both daemons: a secret the build prints is in none of
//! the terminal, `--json`, the job log or `lxpack jobs`; a secret the app lacks is
//! refused with exit 3 before anything is created.

use std::path::Path;

use crate::harness::{
    Env, ImageJanitor, daemons, example_app, instances, test_image_os, unique_env,
};

const SECRET: &str = "Xy7-cli-s3cret-value";

/// Prints the secret alone, in a line, to stderr, and cut across two writes.
const LEAKY: &str = "#!/bin/sh\nv=\"$DB_PASSWORD\"\necho \"$v\"\necho \"connecting with password=$v now\"\necho \"error: $v\" >&2\nprintf 'split %s' \"${v%%-*}\"; sleep 0.3; printf '%s end\\n' \"-${v#*-}\"\n";

/// The example app under `app_env`, with `DB_PASSWORD` and leaky scripts.
fn import(env: &Env, app_env: &str) {
    use base64::Engine as _;
    let encode = |script: &str| base64::engine::general_purpose::STANDARD.encode(script);
    let text: String = std::fs::read_to_string(example_app())
        .unwrap()
        .replace(
            "env: demo",
            &format!(
                "env: {app_env}\nenv_vars:\n  - var_key: DB_PASSWORD\n    var_value: {SECRET}"
            ),
        )
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            if trimmed.starts_with("build_pack:") {
                format!(
                    "{indent}build_pack: {}\n",
                    encode(&format!("{LEAKY}exit 3\n"))
                )
            } else if trimmed.starts_with("pre_buildimage:") {
                format!(
                    "{indent}pre_buildimage: {}\n",
                    encode(&format!(
                        "{LEAKY}mkdir -p /etc/hello; echo pre > /etc/hello/pre\n"
                    ))
                )
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let file = env.dir.path().join("hello.yml");
    std::fs::write(&file, text).unwrap();
    env.run(&["app", "import", file.to_str().unwrap()])
        .expect(0);
}

fn secrets_config(socket: &str, app_env: &str, name: &str) -> String {
    format!(
        "container:\n  timeout: 30\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {socket}\n  secrets:\n    apps:\n      hello/{app_env}/web:\n        names: [{name}]\n"
    )
}

#[track_caller]
fn assert_hidden(daemon: &str, what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "{daemon}: the secret shows in {what}:\n{text}"
    );
}

fn deploy_json(env: &Env, checkout: &Path) -> crate::harness::Run {
    env.run(&[
        "--json",
        "deploy",
        "hello",
        "--module",
        "site",
        "--checkout",
        checkout.to_str().unwrap(),
    ])
}

#[test]
fn a_printed_secret_is_in_no_output_log_or_record() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        let app_env = unique_env();
        env.write_config(&secrets_config(&socket, &app_env, "DB_PASSWORD"));
        import(&env, &app_env);
        let janitor = ImageJanitor::new(client);
        let build = env
            .run(&[
                "--json",
                "buildimage",
                "hello",
                "--os",
                &test_image_os(client),
            ])
            .expect(0);
        let result: serde_json::Value =
            serde_json::from_str(build.stdout.lines().last().unwrap()).unwrap();
        janitor.add(result["job"].as_str().unwrap());
        assert_hidden(name, "buildimage --json", &build.stdout);
        assert_hidden(name, "buildimage's stderr", &build.stderr);
        assert!(
            build.stdout.contains("connecting with password=*** now"),
            "{name}: {}",
            build.stdout
        );

        let checkout = env.checkout();
        let terminal = env.deploy("hello", "site", &checkout).expect(7);
        assert_hidden(
            name,
            "the terminal",
            &format!("{}{}", terminal.stdout, terminal.stderr),
        );
        assert!(
            format!("{}{}", terminal.stdout, terminal.stderr).contains("split *** end"),
            "{name}: {terminal:?}"
        );
        let json = deploy_json(&env, &checkout).expect(7);
        assert_hidden(
            name,
            "deploy --json",
            &format!("{}{}", json.stdout, json.stderr),
        );

        let jobs = env.run(&["--json", "jobs", "hello"]).expect(0);
        assert_hidden(name, "lxpack jobs", &jobs.stdout);
        let listing: serde_json::Value = serde_json::from_str(jobs.stdout.trim()).unwrap();
        let ids: Vec<String> = listing["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| job["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 3, "{name}: {listing}");
        for id in &ids {
            let log = env.run(&["jobs", "log", id]).expect(0);
            assert_hidden(name, "a job log", &log.stdout);
            assert!(log.stdout.contains("***"), "{name}: {}", log.stdout);
        }
        let metrics = env.run(&["metrics"]);
        assert_hidden(name, "lxpack metrics", &metrics.stdout);
    }
}

#[test]
fn a_secret_the_app_lacks_is_refused_with_exit_3_before_anything_is_made() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        let app_env = unique_env();
        import(&env, &app_env);
        env.write_config(&secrets_config(&socket, &app_env, "NO_SUCH_KEY"));
        let run = env
            .run(&["buildimage", "hello", "--os", &test_image_os(client)])
            .expect(3)
            .says(&["NO_SUCH_KEY", "lxpack.secrets", "DB_PASSWORD"]);
        assert_hidden(name, "the refusal", &run.stderr);
        let jobs = env.run(&["--json", "jobs", "hello"]).expect(0);
        let listing: serde_json::Value = serde_json::from_str(jobs.stdout.trim()).unwrap();
        let job = &listing["jobs"][0];
        assert_eq!(job["status"], "failed", "{name}: {listing}");
        assert!(
            job["error"].as_str().unwrap().contains("NO_SUCH_KEY"),
            "{name}: {listing}"
        );
        let id = job["id"].as_str().unwrap();
        let made = instances(client, "lxpack-");
        assert!(made.iter().all(|i| !i.ends_with(id)), "{name}: {made:?}");
        let doctor = env.run(&["doctor"]);
        assert!(
            doctor.stdout.contains("secrets: 1 configured"),
            "{name}: {}",
            doctor.stdout
        );
    }
}
