//! Each way connecting fails has its own error, and none shows the password; TLS is
//! verified against the test CA.

use std::time::Duration;

use lxpack_core::ports::{AppStore, AppStoreError};
use lxpack_postgres::{PostgresAppStore, PostgresSettings, PostgresStoreError, SecretString};

use crate::helpers::{TestDatabase, database_or_skip};

/// The error and its whole chain, as Display and as Debug.
fn all_text(error: &PostgresStoreError) -> String {
    let mut text = format!("{error:?}\n");
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = cause {
        text.push_str(&format!("{current}\n"));
        cause = current.source();
    }
    text
}

#[tokio::test]
async fn a_wrong_password_is_a_refused_login_that_never_shows_a_password() {
    let db = database_or_skip!();
    let wrong = format!("wrong-{:016x}", fastrand::u64(..));
    let settings = PostgresSettings::new(db.url("sslmode=require"))
        .with_password(SecretString::from(wrong.clone()))
        .with_root_certificate(&db.server.ca);
    assert!(!format!("{settings:?}").contains(&wrong));
    let error = PostgresAppStore::connect(&settings).await.unwrap_err();
    assert!(
        matches!(&error, PostgresStoreError::LoginRefused { user, server, .. }
            if *user == db.server.user && *server == db.server.authority),
        "{error:?}"
    );
    assert!(error.hint().contains("password"));
    let text = all_text(&error);
    assert!(!text.contains(&wrong), "{text}");
    assert!(!text.contains(&db.server.password), "{text}");

    // The right password's store never shows it either, nor do its errors.
    let store = db.store().await;
    assert!(!format!("{store:?} {:?}", db.settings()).contains(&db.server.password));
}

#[tokio::test]
async fn a_missing_database_is_named() {
    let Some(server) = crate::helpers::server() else {
        return;
    };
    let missing = format!("lxpack_t_missing_{:08x}", fastrand::u32(..));
    let settings = PostgresSettings::new(format!(
        "postgres://{}@{}/{missing}?sslmode=disable",
        server.user, server.authority
    ))
    .with_password(SecretString::from(server.password.clone()));
    let error = PostgresAppStore::connect(&settings).await.unwrap_err();
    assert!(
        matches!(&error, PostgresStoreError::DatabaseMissing { database, .. } if *database == missing),
        "{error:?}"
    );
    assert!(error.to_string().contains(&missing));
    assert!(error.hint().contains("createdb"));
}

#[tokio::test]
async fn a_port_nothing_listens_on_is_unreachable() {
    if crate::helpers::server().is_none() {
        return;
    }
    // A loopback port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = PostgresSettings::new(format!(
        "postgres://lxpack@127.0.0.1:{port}/lxpack?connect_timeout=3"
    ))
    .with_password(SecretString::from("irrelevant"));
    let started = std::time::Instant::now();
    let error = PostgresAppStore::connect(&settings).await.unwrap_err();
    assert!(
        matches!(&error, PostgresStoreError::Unreachable { server, .. } if *server == format!("127.0.0.1:{port}")),
        "{error:?}"
    );
    assert!(error.hint().contains("listens"));
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// The sessions of `db` that use TLS, and all of them.
async fn sessions(db: &TestDatabase) -> (i64, i64) {
    let row = db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*)
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.datname = $1 AND a.application_name = $1",
            &[&db.name],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn tls_is_verified_against_the_given_ca() {
    let db = database_or_skip!();
    let store = db.store().await; // sslmode=require, the script's CA
    let (tls, all) = sessions(&db).await;
    assert!(all >= 1 && tls == all, "{tls} of {all} sessions use TLS");
    drop(store);

    // Without the CA, the system's roots do not know the test CA: refused, not
    // connected unverified.
    let settings = PostgresSettings::new(db.url("sslmode=require"))
        .with_password(SecretString::from(db.server.password.clone()));
    let error = PostgresAppStore::connect(&settings).await.unwrap_err();
    assert!(matches!(error, PostgresStoreError::Tls { .. }), "{error:?}");
    assert!(error.hint().contains("certificate"));

    // A CA file that does not exist is its own error, before anything is sent.
    let settings = db.settings().with_root_certificate("/nonexistent/ca.crt");
    let error = PostgresAppStore::connect(&settings).await.unwrap_err();
    assert!(
        matches!(error, PostgresStoreError::RootCertificate { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn port_calls_carry_the_store_error_as_their_source() {
    let db = database_or_skip!();
    let store = db.store().await;
    crate::helpers::connect_raw(&db.server, "postgres")
        .await
        .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", db.name))
        .await
        .unwrap();
    // The pool's connection was ended by the server; let its task see that.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let error = store.list_apps().await.unwrap_err();
    let AppStoreError::Other { operation, source } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(operation, "list apps");
    let cause = source.downcast_ref::<PostgresStoreError>().unwrap();
    assert!(
        matches!(cause, PostgresStoreError::DatabaseMissing { database, .. } if *database == db.name),
        "{cause:?}"
    );
}
