//! 8 handles (8 pools, as 8 build hosts would have) import, record images and record
//! and list jobs at once on one store: no error reaches them, no update is lost, and
//! the newest job's image is the app's.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{JobCommand, JobId, JobRecord, JobStatus};
use lxpack_core::ports::{AppStore, AppStoreError, JobHistory};
use lxpack_postgres::PostgresAppStore;

use crate::helpers::{app, database_or_skip, job, key};

const HANDLES: u32 = 8;
const ROUNDS: u32 = 6;

/// The image job of handle `handle` in round `round`: every handle's jobs interleave,
/// and the last round's are not the newest of all (handle order is shuffled).
fn image_job(handle: u32, round: u32) -> JobId {
    job(10_000 + round * 100 + (handle * 5) % HANDLES)
}

async fn work(store: PostgresAppStore, handle: u32) -> Vec<String> {
    let mut superseded = Vec::new();
    for round in 0..ROUNDS {
        // Everyone re-imports the shared app (with no image: it must keep the newest)
        // and imports its own.
        store.import_app(app("shared")).await.unwrap();
        store
            .import_app(app(&format!("own-{handle}-{round}")))
            .await
            .unwrap();
        match store
            .record_container_image(&key("shared"), &image_job(handle, round))
            .await
        {
            Ok(_) => {}
            Err(AppStoreError::Superseded {
                current, rejected, ..
            }) => {
                assert!(
                    current > rejected,
                    "{current} must be newer than {rejected}"
                );
                superseded.push(rejected.to_string());
            }
            Err(error) => panic!("handle {handle}: {error:?}"),
        }
        let id = JobId::generate(20_000 + handle * 100 + round, [handle as u8; 8]);
        let mut record = JobRecord::running(
            id.clone(),
            JobCommand::Deploy,
            key("shared"),
            None,
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(round)),
        );
        store.record_job(&record).await.unwrap();
        store.list_jobs(None).await.unwrap();
        store.list_apps().await.unwrap();
        record.status = JobStatus::Succeeded;
        record.ended_at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(60));
        store.record_job(&record).await.unwrap();
        store.running_jobs().await.unwrap();
    }
    superseded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_handles_at_once_lose_nothing_and_the_newest_image_wins() {
    let db = database_or_skip!();
    let mut stores = Vec::new();
    for _ in 0..HANDLES {
        stores.push(
            PostgresAppStore::connect(&db.settings().with_pool_size(2))
                .await
                .unwrap(),
        );
    }
    let tasks: Vec<_> = stores
        .into_iter()
        .zip(0..)
        .map(|(store, handle)| tokio::spawn(work(store, handle)))
        .collect();
    let mut superseded = 0;
    for task in tasks {
        superseded += task.await.unwrap().len();
    }

    let store = db.store().await;
    let newest = (0..HANDLES)
        .flat_map(|h| (0..ROUNDS).map(move |r| image_job(h, r)))
        .max()
        .unwrap();
    assert_eq!(
        store
            .get_app(&key("shared"))
            .await
            .unwrap()
            .build_infos
            .container_image,
        Some(newest)
    );
    let apps = store.list_apps().await.unwrap();
    assert_eq!(apps.len(), usize::try_from(1 + HANDLES * ROUNDS).unwrap());
    let jobs = store.list_jobs(None).await.unwrap();
    assert_eq!(jobs.len(), usize::try_from(HANDLES * ROUNDS).unwrap());
    assert!(jobs.iter().all(|j| j.status == JobStatus::Succeeded));
    assert!(store.running_jobs().await.unwrap().is_empty());
    eprintln!(
        "{superseded} of {} image records were superseded",
        HANDLES * ROUNDS
    );
}
