//! Each way a PostgreSQL store is refused: by the server (unreachable, a wrong
//! password, a schema newer than this lxpack) with exit 11 and the adapter's hint; by
//! lxpack before anything is sent (an unset password variable: 11; a password in the
//! URL: 3 from the config, 2 from `--store`). No password is ever in the output.

use super::env_on;
use crate::harness::{Env, Run};
use crate::postgres_harness::TestDatabase;

/// The server's real password, from scripts/postgres-up's file.
fn real_password(database: &TestDatabase) -> String {
    std::fs::read_to_string(&database.server.password_file)
        .unwrap()
        .trim()
        .to_owned()
}

/// Asserts that none of `secrets` is in the run's stdout or stderr.
#[track_caller]
fn shows_none_of(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "the output holds a password:\nstdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// A loopback port nothing listens on (one the kernel just gave and took back).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn the_server_s_refusals_are_store_errors_with_a_hint() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let password = real_password(&database);
    let env = Env::new(None);

    let port = closed_port();
    let unreachable = database
        .config_lines()
        .replace(&database.server.authority, &format!("127.0.0.1:{port}"));
    env.write_config(&format!("lxpack:\n{unreachable}"));
    let run = env
        .run_on_config_store(&["app", "list"])
        .expect(11)
        .says(&[&format!("127.0.0.1:{port} is unreachable"), "listens"]);
    shows_none_of(&run, &[&password]);

    let wrong = env.dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password-4711\n").unwrap();
    let refused = database.config_lines().replace(
        &database.server.password_file.display().to_string(),
        &wrong.display().to_string(),
    );
    env.write_config(&format!("lxpack:\n{refused}"));
    let run = env.run_on_config_store(&["app", "list"]).expect(11).says(&[
        &format!("refused the login of user {}", database.server.user),
        "pg_hba.conf",
    ]);
    shows_none_of(&run, &[&password, "not-the-password-4711"]);

    let missing = database
        .config_lines()
        .replace(&database.name, "lxpack_cli_no_such_db");
    env.write_config(&format!("lxpack:\n{missing}"));
    let run = env
        .run_on_config_store(&["store", "migrate"])
        .expect(11)
        .says(&["lxpack_cli_no_such_db does not exist", "createdb"]);
    shows_none_of(&run, &[&password]);
}

#[test]
fn a_store_newer_than_this_lxpack_is_refused_and_left_unchanged() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let env = env_on(&database);
    env.run_on_config_store(&["store", "migrate"]).expect(0);
    database.sql("INSERT INTO lxpack_schema_versions (version) VALUES (99)");
    let before = database
        .sql("SELECT string_agg(version::text, ',' ORDER BY version) FROM lxpack_schema_versions");
    let example = crate::harness::example_app();
    let run = env
        .run_on_config_store(&["app", "import", example.to_str().unwrap()])
        .expect(11)
        .says(&["schema version 99", "upgrade lxpack"]);
    shows_none_of(&run, &[&real_password(&database)]);
    env.run_on_config_store(&["store", "migrate"])
        .expect(11)
        .says(&["schema version 99"]);
    assert_eq!(
        database.sql(
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM lxpack_schema_versions"
        ),
        before
    );
    assert_eq!(database.sql("SELECT count(*) FROM apps"), "0");
}

#[test]
fn an_unset_password_variable_is_named_before_anything_is_sent() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let env = Env::new(None);
    let lines = database.config_lines().replace(
        &format!("file: {}", database.server.password_file.display()),
        "env: LXPACK_TEST_UNSET_STORE_PASSWORD",
    );
    assert!(lines.contains("env: LXPACK_TEST_UNSET_STORE_PASSWORD"));
    env.write_config(&format!("lxpack:\n{lines}"));
    let run = env
        .run_on_config_store(&["store", "migrate"])
        .expect(11)
        .says(&[
            "LXPACK_TEST_UNSET_STORE_PASSWORD is not set",
            "lxpack.store_password.env",
        ]);
    shows_none_of(&run, &[&real_password(&database)]);
    assert_eq!(
        database.sql("SELECT to_regclass('lxpack_schema_versions') IS NULL"),
        "t",
        "nothing was applied"
    );
}

#[test]
fn a_password_in_the_url_is_refused_without_being_repeated() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let secret = "in-url-secret-9031";
    let with_password = database.url().replacen(
        &format!("{}@", database.server.user),
        &format!("{}:{secret}@", database.server.user),
        1,
    );
    assert!(with_password.contains(secret));
    let env = Env::new(None);
    env.write_config(&format!(
        "lxpack:\n  store: {with_password}\n  store_password:\n    file: {}\n",
        database.server.password_file.display()
    ));
    let run = env
        .run_on_config_store(&["app", "list"])
        .expect(3)
        .says(&["lxpack.store", "holds a password"]);
    shows_none_of(&run, &[secret]);

    env.write_config(&format!(
        "lxpack:\n  store_password:\n    file: {}\n",
        database.server.password_file.display()
    ));
    let run = env
        .run_on_config_store(&["--store", &with_password, "app", "list"])
        .expect(2)
        .says(&["--store", "holds a password"]);
    shows_none_of(&run, &[secret]);
}
