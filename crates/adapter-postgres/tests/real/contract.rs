//! The contract suites every store passes, and the SQLite store's own checks, here on
//! PostgreSQL.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{
    InstanceName, JobCommand, JobId, JobRecord, JobStatus, Release, ReleaseState,
};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome, JobHistory};

use crate::helpers::{app, database_or_skip, job, key};

#[tokio::test]
async fn passes_the_app_store_contract() {
    let db = database_or_skip!();
    let store = db.store().await;
    store.import_app(app("web")).await.unwrap();
    lxpack_contract::app_store_contract(&store, &key("web"))
        .await
        .assert_passed();
}

#[tokio::test]
async fn passes_the_job_history_contract_twice() {
    let db = database_or_skip!();
    let store = db.store().await;
    for _ in 0..2 {
        lxpack_contract::job_history_contract(&store, &key("web"))
            .await
            .assert_passed();
    }
}

#[tokio::test]
async fn apps_round_trip_and_import_is_idempotent_by_key() {
    let db = database_or_skip!();
    let store = db.store().await;
    assert_eq!(
        store.import_app(app("web")).await.unwrap(),
        ImportOutcome::Created
    );
    assert_eq!(
        store.import_app(app("web")).await.unwrap(),
        ImportOutcome::Updated
    );
    store.import_app(app("api")).await.unwrap();
    let names: Vec<String> = store
        .list_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.key.name)
        .collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(store.get_app(&key("web")).await.unwrap(), app("web"));
    assert!(matches!(
        store.get_app(&key("nope")).await,
        Err(AppStoreError::AppNotFound { .. })
    ));
    assert!(store.remove_app(&key("api")).await.unwrap());
    assert!(!store.remove_app(&key("api")).await.unwrap());
    // Another handle (another host) sees the same store, and finds it migrated.
    let other = db.store().await;
    assert!(other.applied_migrations().is_empty());
    assert_eq!(other.list_apps().await.unwrap().len(), 1);
}

#[tokio::test]
async fn import_never_moves_the_container_image_backwards_and_older_jobs_lose() {
    let db = database_or_skip!();
    let store = db.store().await;
    store.import_app(app("web")).await.unwrap();
    assert_eq!(
        store
            .record_container_image(&key("web"), &job(200))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .record_container_image(&key("web"), &job(200))
            .await
            .unwrap(),
        None
    );
    let error = store
        .record_container_image(&key("web"), &job(100))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AppStoreError::Superseded { ref current, .. } if *current == job(200)),
        "{error}"
    );
    let mut older = app("web");
    older.build_infos.container_image = Some(job(100));
    older.region = "us-east-1".into();
    store.import_app(older).await.unwrap();
    let stored = store.get_app(&key("web")).await.unwrap();
    assert_eq!(stored.region, "us-east-1", "the document is updated");
    assert_eq!(
        stored.build_infos.container_image,
        Some(job(200)),
        "the image is not"
    );
    assert_eq!(
        store
            .record_container_image(&key("web"), &job(300))
            .await
            .unwrap(),
        Some(job(200))
    );
    assert!(matches!(
        store.record_container_image(&key("nope"), &job(300)).await,
        Err(AppStoreError::AppNotFound { .. })
    ));
}

fn record(id: JobId, app: &str, at: u64, status: JobStatus) -> JobRecord {
    let mut record = JobRecord::running(
        id,
        JobCommand::Deploy,
        key(app),
        Some("api".into()),
        SystemTime::UNIX_EPOCH + Duration::from_secs(at),
    )
    .with_log(Some("/var/log/x.log".into()));
    record.status = status;
    record
}

#[tokio::test]
async fn job_history_orders_filters_and_finds_pending_releases() {
    let db = database_or_skip!();
    let store = db.store().await;
    store
        .record_job(&record(job(1), "web", 10, JobStatus::Running))
        .await
        .unwrap();
    store
        .record_job(&record(job(2), "web", 20, JobStatus::Running))
        .await
        .unwrap();
    let mut released = record(job(3), "api", 30, JobStatus::Failed);
    released.release = Some(Release::pending(
        InstanceName::parse("lxpack-api-1").unwrap(),
    ));
    assert_eq!(
        released.release.as_ref().unwrap().state,
        ReleaseState::Pending
    );
    store.record_job(&released).await.unwrap();
    let mut done = record(job(1), "web", 10, JobStatus::Succeeded);
    done.ended_at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(15));
    store.record_job(&done).await.unwrap();
    let ids = |jobs: Vec<JobRecord>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(ids(store.running_jobs().await.unwrap()), [job(2)]);
    assert_eq!(
        ids(store.list_jobs(Some(&key("web"))).await.unwrap()),
        [job(2), job(1)]
    );
    assert_eq!(store.list_jobs(None).await.unwrap().len(), 3);
    assert_eq!(store.pending_releases().await.unwrap(), [released]);
    assert_eq!(store.get_job(&job(1)).await.unwrap(), Some(done));
    assert_eq!(store.get_job(&job(9)).await.unwrap(), None);
}
