//! `copy_store` between two stores (the fakes): everything arrives, an app keeps the
//! newest image of the two, and a second copy changes nothing but a job's end the
//! source saw after the first.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{App, JobCommand, JobRecord, JobStatus};
use lxpack_core::ports::{AppStore, JobHistory};
use lxpack_core::workflows::{CopyError, StorePorts, copy_store};
use lxpack_fake::fixtures::{bare_app, job};
use lxpack_fake::{FakeAppStore, FakeFailure, Fault, StoreOp, When};

fn ports(store: &FakeAppStore) -> StorePorts<'_> {
    StorePorts {
        apps: store,
        jobs: store,
    }
}

fn app_with_image(name: &str, image: u32) -> App {
    let mut app = bare_app(name);
    app.build_infos.container_image = Some(job(image));
    app
}

fn record(id: u32, status: JobStatus) -> JobRecord {
    let mut record = JobRecord::running(
        job(id),
        JobCommand::Deploy,
        bare_app("web").key,
        Some("api".into()),
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(id)),
    );
    record.status = status;
    record
}

async fn source() -> FakeAppStore {
    let store = FakeAppStore::new();
    store.insert_app(app_with_image("web", 1_700_000_300));
    store.insert_app(bare_app("api"));
    for (id, status) in [
        (1_700_000_100, JobStatus::Succeeded),
        (1_700_000_200, JobStatus::Failed),
        (1_700_000_300, JobStatus::Running),
    ] {
        store.record_job(&record(id, status)).await.unwrap();
    }
    store
}

#[tokio::test]
async fn a_copy_moves_every_app_and_job_and_can_be_run_again() {
    let from = source().await;
    let to = FakeAppStore::new();
    // The target already knows web, with a newer image than the source's.
    to.insert_app(app_with_image("web", 1_700_000_900));
    let report = copy_store(ports(&from), ports(&to)).await.unwrap();
    assert_eq!(
        (
            report.apps_created,
            report.apps_updated,
            report.jobs_copied,
            report.jobs_kept
        ),
        (1, 1, 3, 0),
        "{report:?}"
    );
    assert_eq!(report.apps_unchanged, 0);
    let web = to.get_app(&bare_app("web").key).await.unwrap();
    assert_eq!(
        web.build_infos.container_image,
        Some(job(1_700_000_900)),
        "the newer image stays"
    );
    assert_eq!(to.list_apps().await.unwrap().len(), 2);
    assert_eq!(
        to.list_jobs(None).await.unwrap(),
        from.list_jobs(None).await.unwrap()
    );

    // The running job ends in the source; a second copy brings only that.
    from.record_job(&record(1_700_000_300, JobStatus::Succeeded))
        .await
        .unwrap();
    // web still differs (the target keeps its newer image); the other app is as the
    // first copy left it.
    let again = copy_store(ports(&from), ports(&to)).await.unwrap();
    assert_eq!(
        (
            again.apps_created,
            again.apps_updated,
            again.apps_unchanged,
            again.jobs_copied,
            again.jobs_kept
        ),
        (0, 1, 1, 1, 2),
        "{again:?}"
    );
    assert_eq!(
        to.list_jobs(None).await.unwrap(),
        from.list_jobs(None).await.unwrap()
    );
}

#[tokio::test]
async fn a_copy_run_again_without_news_changes_nothing() {
    let from = source().await;
    let to = FakeAppStore::new();
    copy_store(ports(&from), ports(&to)).await.unwrap();
    let again = copy_store(ports(&from), ports(&to)).await.unwrap();
    assert_eq!(
        (
            again.apps_created,
            again.apps_updated,
            again.apps_unchanged,
            again.jobs_copied,
            again.jobs_kept
        ),
        (0, 0, 2, 0, 3),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_target_s_own_end_of_a_job_is_kept() {
    let from = source().await;
    let to = FakeAppStore::new();
    to.record_job(&record(1_700_000_300, JobStatus::Lost))
        .await
        .unwrap();
    let report = copy_store(ports(&from), ports(&to)).await.unwrap();
    assert_eq!((report.jobs_copied, report.jobs_kept), (2, 1));
    let kept = to.get_job(&job(1_700_000_300)).await.unwrap().unwrap();
    assert_eq!(kept.status, JobStatus::Lost);
}

#[tokio::test]
async fn every_failing_store_call_stops_the_copy_naming_its_step() {
    for (store_is_source, op, step) in [
        (true, StoreOp::ListApps, "list the source's apps"),
        (false, StoreOp::GetApp, "read an app of the target"),
        (false, StoreOp::ImportApp, "import an app into the target"),
        (true, StoreOp::ListJobs, "list the source's jobs"),
        (false, StoreOp::GetJob, "read a job of the target"),
        (false, StoreOp::RecordJob, "record a job in the target"),
    ] {
        let (from, to) = (source().await, FakeAppStore::new());
        let failing = if store_is_source { &from } else { &to };
        failing.inject(op, When::Every, Fault::fail(FakeFailure::Other));
        let error = copy_store(ports(&from), ports(&to)).await.unwrap_err();
        let named = match &error {
            CopyError::Apps { step, .. } | CopyError::Jobs { step, .. } => *step,
            _ => panic!("{error:?}"),
        };
        assert_eq!(named, step, "{op:?}: {error}");
        assert_eq!(error.to_string(), format!("{step} failed"));
    }
}
