//! The CLI on a PostgreSQL store (scripts/postgres-up): `lxpack.store` as a URL with its
//! password in a file, `lxpack store migrate` and `store copy`, and each way the server
//! can refuse, in exit class 11 with the adapter's hint, never showing the password.

use crate::harness::Env;
use crate::postgres_harness::TestDatabase;

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
