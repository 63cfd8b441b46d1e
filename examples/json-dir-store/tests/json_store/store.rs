//! The store on its own: the shared contract, racing handles, the files.

use std::time::{Duration, SystemTime};

use lxpack_core::document::{DocumentFormat, parse_app_documents};
use lxpack_core::domain::{AppKey, JobCommand, JobId, JobRecord, JobStatus};
use lxpack_core::ports::{AppStore, AppStoreError, JobHistory};
use lxpack_example_json_store::{JsonDirAppStore, JsonStoreError};

use crate::helpers::{TempDir, app, job, key};

#[tokio::test]
async fn passes_the_app_store_contract() {
    let dir = TempDir::new("contract");
    let store = JsonDirAppStore::open(&dir.store()).unwrap();
    store.import_app(app("web")).await.unwrap();
    store.import_app(app("api")).await.unwrap();
    lxpack_contract::app_store_contract(&store, &key("web"))
        .await
        .assert_passed();
    // Again, through a new handle on the same files: the suite's jobs were kept.
    let reopened = JsonDirAppStore::open(&dir.store()).unwrap();
    lxpack_contract::app_store_contract(&reopened, &key("web"))
        .await
        .assert_passed();
    for _ in 0..2 {
        lxpack_contract::job_history_contract(&reopened, &key("web"))
            .await
            .assert_passed();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_newest_job_wins_between_handles_racing_on_one_directory() {
    let dir = TempDir::new("race");
    let key = key("web");
    JsonDirAppStore::open(&dir.store())
        .unwrap()
        .import_app(app("web"))
        .await
        .unwrap();
    // Separate handles, as separate processes would have; newest jobs first.
    let tasks: Vec<_> = (0..24u32)
        .rev()
        .map(|n| {
            let store = JsonDirAppStore::open(&dir.store()).unwrap();
            let key = key.clone();
            tokio::spawn(async move { store.record_container_image(&key, &job(1000 + n)).await })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => {}
            Err(AppStoreError::Superseded {
                current, rejected, ..
            }) => assert!(current.is_newer_than(&rejected)),
            Err(other) => panic!("{other:?}"),
        }
    }
    let store = JsonDirAppStore::open(&dir.store()).unwrap();
    let stored = store.get_app(&key).await.unwrap();
    assert_eq!(stored.build_infos.container_image, Some(job(1023)));
}

#[tokio::test]
async fn apps_are_cloud_deploy_documents_and_import_never_moves_the_image_back() {
    let dir = TempDir::new("documents");
    let store = JsonDirAppStore::open(&dir.store()).unwrap();
    let mut odd = app("a/b c");
    odd.key.env = "..".into();
    store.import_app(odd.clone()).await.unwrap();
    store.import_app(app("web")).await.unwrap();
    let file = store.app_file(&key("web"));
    assert_eq!(file, dir.store().join("apps").join("web,prod,front.json"));

    store
        .record_container_image(&key("web"), &job(200))
        .await
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let read = parse_app_documents(&text, DocumentFormat::Json).unwrap();
    assert_eq!(read[0].build_infos.container_image, Some(job(200)));

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

    let keys: Vec<AppKey> = store
        .list_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|app| app.key)
        .collect();
    assert_eq!(keys, [odd.key.clone(), key("web")]);
    assert_eq!(store.get_app(&odd.key).await.unwrap(), odd);
}

#[tokio::test]
async fn a_corrupt_document_is_an_error_naming_the_file() {
    let dir = TempDir::new("corrupt");
    let store = JsonDirAppStore::open(&dir.store()).unwrap();
    let key = key("web");
    std::fs::write(store.app_file(&key), "{\"name\": 3}").unwrap();
    let error = store.get_app(&key).await.unwrap_err();
    let AppStoreError::Other { operation, source } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(operation, "read app web/prod/front");
    let cause = source.downcast_ref::<JsonStoreError>().unwrap();
    assert!(matches!(cause, JsonStoreError::Corrupt { path, .. } if *path == store.app_file(&key)));
    assert!(cause.to_string().contains("web,prod,front.json"), "{cause}");
}

#[tokio::test]
async fn job_records_persist_and_running_jobs_follow_their_status() {
    let dir = TempDir::new("jobs");
    let store = JsonDirAppStore::open(&dir.store()).unwrap();
    let record = |id: JobId, status| {
        let mut record = JobRecord::running(
            id,
            JobCommand::Deploy,
            key("web"),
            Some("api".into()),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
        )
        .with_log(Some("/var/log/lxpack/job.log".into()));
        record.status = status;
        record
    };
    let running = |jobs: Vec<JobRecord>| {
        let mut ids: Vec<JobId> = jobs.into_iter().map(|job| job.id).collect();
        ids.sort();
        ids
    };
    store
        .record_job(&record(job(2), JobStatus::Running))
        .await
        .unwrap();
    store
        .record_job(&record(job(1), JobStatus::Running))
        .await
        .unwrap();
    store
        .record_job(&record(job(3), JobStatus::Failed))
        .await
        .unwrap();
    assert_eq!(
        running(store.running_jobs().await.unwrap()),
        [job(1), job(2)]
    );
    store
        .record_job(&record(job(1), JobStatus::Succeeded))
        .await
        .unwrap();
    let reopened = JsonDirAppStore::open(&dir.store()).unwrap();
    assert_eq!(running(reopened.running_jobs().await.unwrap()), [job(2)]);
    assert_eq!(
        reopened.get_job(&job(1)).await.unwrap(),
        Some(record(job(1), JobStatus::Succeeded))
    );
    assert_eq!(reopened.get_job(&job(9)).await.unwrap(), None);
}
