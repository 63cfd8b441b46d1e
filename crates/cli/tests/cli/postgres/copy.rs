//! The "done when": a store like the quickstart's (the example app imported,
//! a real buildimage and a deploy of its `site` module) copied into PostgreSQL with
//! `lxpack store copy` shows the same `lxpack jobs` and `lxpack images` through the
//! server as through the SQLite file; a second copy changes nothing. On each daemon.

use super::env_on_daemon;
use crate::harness::{Env, ImageJanitor, daemons, unique_env};
use crate::postgres_harness::TestDatabase;

/// `lxpack --json ARGS`'s result, through the SQLite file (`server` false) or the
/// server the config names.
fn json(env: &Env, server: bool, args: &[&str]) -> serde_json::Value {
    let args: Vec<&str> = std::iter::once("--json")
        .chain(args.iter().copied())
        .collect();
    let run = if server {
        env.run_on_config_store(&args)
    } else {
        env.run(&args)
    }
    .expect(0);
    serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap()
}

/// `store copy --from the SQLite file --to the server`'s JSON report.
fn copy(env: &Env, database: &TestDatabase) -> serde_json::Value {
    let file = env.dir.path().join("lxpack.db");
    json(
        env,
        true,
        &[
            "store",
            "copy",
            "--from",
            file.to_str().unwrap(),
            "--to",
            &database.url(),
        ],
    )
}

#[test]
fn a_quickstart_store_copied_into_postgres_shows_the_same_jobs_and_images() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let Some(database) = TestDatabase::create() else {
            return;
        };
        let env = env_on_daemon(&socket, &database);
        let janitor = ImageJanitor::new(client);
        let app_env = unique_env();
        env.import_example_as(&app_env);
        let app = format!("hello/{app_env}/web");
        env.build_image(&app, client, &janitor);
        env.deploy_example_site(name);

        let first = copy(&env, &database);
        assert_eq!(first["apps_created"], 1, "{name}: {first}");
        assert_eq!(
            first["jobs_copied"], 2,
            "{name}: buildimage and deploy: {first}"
        );
        assert_eq!(
            database.sql("SELECT count(*) FROM jobs WHERE status = 'succeeded'"),
            "2",
            "{name}"
        );

        let jobs = json(&env, false, &["jobs"]);
        assert_eq!(jobs["jobs"].as_array().unwrap().len(), 2, "{name}: {jobs}");
        assert_eq!(json(&env, true, &["jobs"]), jobs, "{name}: jobs differ");
        let images = json(&env, false, &["images", &app]);
        assert_eq!(
            images["images"].as_array().unwrap().len(),
            1,
            "{name}: {images}"
        );
        assert_eq!(images["images"][0]["current"], true, "{name}: {images}");
        assert_eq!(
            json(&env, true, &["images", &app]),
            images,
            "{name}: images differ"
        );

        let second = copy(&env, &database);
        for (field, expected) in [
            ("apps_created", 0),
            ("apps_updated", 0),
            ("apps_unchanged", 1),
            ("jobs_copied", 0),
            ("jobs_kept", 2),
        ] {
            assert_eq!(second[field], expected, "{name}: {field}: {second}");
        }
        let file = env.dir.path().join("lxpack.db");
        let again = env
            .run_on_config_store(&[
                "store",
                "copy",
                "--from",
                file.to_str().unwrap(),
                "--to",
                &database.url(),
            ])
            .expect(0);
        assert!(
            again.stdout.contains(
                "0 app(s) created, 0 updated, 1 unchanged; 0 job record(s) copied, 2 kept"
            ),
            "{name}: {}",
            again.stdout
        );
        assert_eq!(
            json(&env, true, &["jobs"]),
            jobs,
            "{name}: a re-copy changed the jobs"
        );
    }
}
