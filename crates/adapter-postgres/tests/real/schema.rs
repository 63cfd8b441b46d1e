//! Migrations: applied once by racing handles, refused by a newer store, rolled back
//! whole when one fails.

use lxpack_core::ports::AppStore;
use lxpack_postgres::{PostgresAppStore, PostgresStoreError};

use crate::helpers::{TestDatabase, app, database_or_skip};

async fn versions(db: &TestDatabase) -> Vec<i64> {
    db.admin()
        .await
        .query(
            "SELECT version FROM lxpack_schema_versions ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn tables(db: &TestDatabase) -> Vec<String> {
    db.admin()
        .await
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_handles_starting_at_once_migrate_once() {
    let db = database_or_skip!();
    let settings = db.settings();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move { PostgresAppStore::connect(&settings).await })
        })
        .collect();
    let mut applied = Vec::new();
    for handle in handles {
        let store = handle.await.unwrap().unwrap();
        applied.extend_from_slice(store.applied_migrations());
        assert_eq!(
            store.schema_version().await.unwrap(),
            PostgresAppStore::SCHEMA_VERSION
        );
    }
    let expected: Vec<i64> = (1..=PostgresAppStore::SCHEMA_VERSION).collect();
    assert_eq!(
        applied, expected,
        "each version applied by exactly one handle"
    );
    assert_eq!(versions(&db).await, expected);
}

#[tokio::test]
async fn a_newer_store_is_refused_and_left_as_it_was() {
    let db = database_or_skip!();
    let store = db.store().await;
    store.import_app(app("web")).await.unwrap();
    drop(store);
    db.admin()
        .await
        .execute(
            "INSERT INTO lxpack_schema_versions (version) VALUES (99)",
            &[],
        )
        .await
        .unwrap();
    let (tables_before, versions_before) = (tables(&db).await, versions(&db).await);

    let error = PostgresAppStore::connect(&db.settings()).await.unwrap_err();
    assert!(
        matches!(
            error,
            PostgresStoreError::NewerSchema { found: 99, supported, .. }
                if supported == PostgresAppStore::SCHEMA_VERSION
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("99")
            && message.contains(&format!("({})", PostgresAppStore::SCHEMA_VERSION)),
        "{message}"
    );
    assert!(error.hint().contains("upgrade lxpack"));

    assert_eq!(tables(&db).await, tables_before);
    assert_eq!(versions(&db).await, versions_before);
    let apps: i64 = db
        .admin()
        .await
        .query_one("SELECT count(*) FROM apps", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(apps, 1);
}

#[tokio::test]
async fn a_failed_migration_leaves_nothing_behind() {
    let db = database_or_skip!();
    // A table in the way of version 1's CREATE TABLE apps.
    db.admin()
        .await
        .batch_execute("CREATE TABLE apps (something INTEGER)")
        .await
        .unwrap();
    let error = PostgresAppStore::connect(&db.settings()).await.unwrap_err();
    assert!(
        matches!(error, PostgresStoreError::Migrate { version: 1, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("version 1"), "{error}");
    assert_eq!(
        tables(&db).await,
        ["apps"],
        "no versions table, no jobs table"
    );
}
