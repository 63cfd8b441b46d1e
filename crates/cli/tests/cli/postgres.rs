//! The CLI on a PostgreSQL store (scripts/postgres-up): `lxpack.store` as a URL with its
//! password in a file, `lxpack store migrate` and `store copy`, and each way the server
//! can refuse, in exit class 11 with the adapter's hint, never showing the password.
//!
//! - `copy`: a quickstart's SQLite store copied into the server shows the same jobs and
//!   images (on each daemon);
//! - `refusals`: every refusal, its exit code and message, and no password in any output;
//! - `pool_fill`: two hosts' fills of one pool take turns through the database.

mod copy;
mod pool_fill;
mod refusals;

use std::process::Stdio;

use crate::harness::Env;
use crate::postgres_harness::TestDatabase;

/// `text` (a config with an `lxpack:` block) with `database`'s lines in that block.
fn with_database(text: &str, database: &TestDatabase) -> String {
    text.replacen(
        "lxpack:\n",
        &format!("lxpack:\n{}", database.config_lines()),
        1,
    )
}

/// An environment on the daemon at `socket` whose config names `database` as its
/// store: [`Env::run_on_config_store`] runs on the server, [`Env::run`] on the
/// environment's SQLite file.
fn env_on_daemon(socket: &str, database: &TestDatabase) -> Env {
    let env = Env::new(Some(socket));
    let config = std::fs::read_to_string(&env.config).unwrap();
    env.write_config(&with_database(&config, database));
    env
}

/// An environment whose config names `database` as its store (no daemon).
fn env_on(database: &TestDatabase) -> Env {
    let env = Env::new(None);
    env.write_config(&format!(
        "container:\n  timeout: 30\nlxpack:\n{}",
        database.config_lines()
    ));
    env
}

#[test]
fn apps_imported_through_the_config_s_url_are_in_the_server() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let env = env_on(&database);
    env.run_on_config_store(&["store", "migrate"]).expect(0);
    let example = crate::harness::example_app();
    env.run_on_config_store(&["app", "import", example.to_str().unwrap()])
        .expect(0);
    assert_eq!(
        database.sql("SELECT name || '/' || env || '/' || role FROM apps"),
        "hello/demo/web"
    );
    let listed = env.run_on_config_store(&["app", "list"]).expect(0);
    assert!(listed.stdout.contains("hello"), "{}", listed.stdout);
    assert!(
        !env.dir
            .path()
            .join(".local/share/lxpack/lxpack.db")
            .exists(),
        "no SQLite file is made beside a server store"
    );
}

#[test]
fn a_missing_database_and_an_unreadable_password_are_store_errors() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let env = Env::new(None);
    let missing = database
        .config_lines()
        .replace(&database.name, "lxpack_cli_no_such_db");
    env.write_config(&format!("lxpack:\n{missing}"));
    env.run_on_config_store(&["app", "list"])
        .expect(11)
        .says(&["lxpack_cli_no_such_db does not exist", "createdb"]);
    let unreadable = database.config_lines().replace(
        &database.server.password_file.display().to_string(),
        "/nonexistent/lxpack-password",
    );
    env.write_config(&format!("lxpack:\n{unreadable}"));
    env.run_on_config_store(&["app", "list"])
        .expect(11)
        .says(&["/nonexistent/lxpack-password", "lxpack.store_password.file"]);
}

#[test]
fn four_migrations_at_once_apply_the_schema_once() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let env = env_on(&database);
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command_on_config_store()
                .args(["store", "migrate"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "store migrate: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("is ready"));
    }
    let expected: Vec<String> = (1..=lxpack_postgres::PostgresAppStore::SCHEMA_VERSION)
        .map(|v| v.to_string())
        .collect();
    assert_eq!(
        database.sql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM lxpack_schema_versions"
        ),
        expected.join(",")
    );
    // One transaction applied them all: they share its start time.
    assert_eq!(
        database.sql("SELECT count(DISTINCT applied_at) FROM lxpack_schema_versions"),
        "1"
    );
}
