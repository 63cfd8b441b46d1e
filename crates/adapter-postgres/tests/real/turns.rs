//! Turns through the database: a second turn of a name waits for the first, other
//! names do not, a wait is bounded, and a dropped turn is released at once whatever
//! becomes of the pool's connections.

use std::time::Duration;

use lxpack_postgres::{PostgresAppStore, PostgresStoreError};

use crate::helpers::{TestDatabase, database_or_skip};

const LONG: Duration = Duration::from_secs(30);

/// How many turn locks (`lxpt`, the two-key form) the server grants now in this test's
/// database (other tests run at once).
async fn granted_turns(db: &TestDatabase) -> i64 {
    db.admin()
        .await
        .query_one(
            "SELECT count(*) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND classid = 1819832436 AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Polls until no turn lock is granted; false after 5 s.
async fn turns_released(db: &TestDatabase) -> bool {
    for _ in 0..50 {
        if granted_turns(db).await == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_turn_of_a_name_waits_until_the_first_is_dropped() {
    let db = database_or_skip!();
    let store = db.store().await;
    let first = store.take_turn("pool-fill", LONG).await.unwrap();
    assert_eq!(first.name(), "pool-fill");
    assert_eq!(granted_turns(&db).await, 1);
    // The same handle (and so the same pool) waits too: each turn is a session.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.take_turn("pool-fill", LONG).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiter.is_finished(), "the second turn did not wait");
    drop(first);
    let second = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the second turn came within 5 s of the first's drop")
        .unwrap()
        .unwrap();
    assert_eq!(granted_turns(&db).await, 1);
    drop(second);
    assert!(turns_released(&db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_of_different_names_do_not_wait_and_a_wait_is_bounded() {
    let db = database_or_skip!();
    let (one, other) = (db.store().await, db.store().await);
    let held = one.take_turn("fill hello/demo/web", LONG).await.unwrap();
    let started = std::time::Instant::now();
    let unrelated = other
        .take_turn("fill hello/prod/web", Duration::from_secs(2))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(granted_turns(&db).await, 2);
    let error = other
        .take_turn("fill hello/demo/web", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PostgresStoreError::TurnTimeout { name, .. } if name == "fill hello/demo/web"),
        "{error:?}"
    );
    assert!(error.hint().contains("another process"), "{}", error.hint());
    drop((held, unrelated));
    assert!(turns_released(&db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_turn_is_released_though_the_pool_s_connection_is_reused() {
    let db = database_or_skip!();
    // One connection in the pool: the turn's connection is the one the next query
    // would reuse, had it gone back to the pool.
    let store = PostgresAppStore::connect(&db.settings().with_pool_size(1))
        .await
        .unwrap();
    let turn = store.take_turn("pool-fill", LONG).await.unwrap();
    drop(turn);
    assert_eq!(
        store.schema_version().await.unwrap(),
        PostgresAppStore::SCHEMA_VERSION
    );
    assert!(
        turns_released(&db).await,
        "the dropped turn's lock is still held"
    );
    let other = db.store().await;
    let again = other
        .take_turn("pool-fill", Duration::from_secs(5))
        .await
        .unwrap();
    // And the one-connection pool still serves, with a turn held elsewhere.
    assert_eq!(
        store.schema_version().await.unwrap(),
        PostgresAppStore::SCHEMA_VERSION
    );
    let mine = store
        .take_turn("other", Duration::from_secs(5))
        .await
        .unwrap();
    drop((again, mine));
    assert!(turns_released(&db).await);
}
