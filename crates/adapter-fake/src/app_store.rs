//! `AppStore` and `JobHistory` in memory, in one store as in SQLite. The rule that an
//! older job never overwrites a newer job's image is the core's; this store applies it
//! under its lock, as a database applies it in a transaction.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use lxpack_core::domain::{
    App, AppKey, JobId, JobRecord, JobStatus, ReplaceDecision, decide_replacement, newest_image,
};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome, JobHistory, JobHistoryError};
use tracing::instrument;

use crate::faults::{FakeFailure, Fault, InjectedFault, When, strike};
use crate::harness::{Port, Recorded};

/// The operations of [`AppStore`] and [`JobHistory`], to pick calls for faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreOp {
    /// `get_app`.
    GetApp,
    /// `list_apps`.
    ListApps,
    /// `record_container_image`.
    RecordContainerImage,
    /// `import_app`.
    ImportApp,
    /// `remove_app`.
    RemoveApp,
    /// `record_job`.
    RecordJob,
    /// `get_job`.
    GetJob,
    /// `list_jobs`.
    ListJobs,
    /// `running_jobs`.
    RunningJobs,
    /// `renew_lease`.
    RenewLease,
    /// `record_lost`.
    RecordLost,
}

/// One call received by a [`FakeAppStore`], with its arguments.
// A whole job record is the point of recording `record_job`; calls are kept once each,
// in tests, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreCall {
    /// `get_app`.
    GetApp {
        /// The app.
        app: AppKey,
    },
    /// `list_apps`.
    ListApps,
    /// `record_container_image`.
    RecordContainerImage {
        /// The app.
        app: AppKey,
        /// The job whose image it is.
        job: JobId,
    },
    /// `import_app`.
    ImportApp {
        /// The app.
        app: AppKey,
    },
    /// `remove_app`.
    RemoveApp {
        /// The app.
        app: AppKey,
    },
    /// `record_job`.
    RecordJob {
        /// The record.
        record: JobRecord,
    },
    /// `get_job`.
    GetJob {
        /// The job.
        job: JobId,
    },
    /// `list_jobs`.
    ListJobs {
        /// The app, when only its jobs were asked for.
        app: Option<AppKey>,
    },
    /// `running_jobs`.
    RunningJobs,
    /// `renew_lease`.
    RenewLease {
        /// The job.
        job: JobId,
        /// The renewal's time.
        at: SystemTime,
    },
    /// `record_lost`.
    RecordLost {
        /// The job.
        job: JobId,
        /// The lease renewal the caller judged by.
        seen: Option<SystemTime>,
    },
}

impl Recorded for StoreCall {
    type Op = StoreOp;

    fn op(&self) -> StoreOp {
        match self {
            Self::GetApp { .. } => StoreOp::GetApp,
            Self::ListApps => StoreOp::ListApps,
            Self::RecordContainerImage { .. } => StoreOp::RecordContainerImage,
            Self::ImportApp { .. } => StoreOp::ImportApp,
            Self::RemoveApp { .. } => StoreOp::RemoveApp,
            Self::RecordJob { .. } => StoreOp::RecordJob,
            Self::GetJob { .. } => StoreOp::GetJob,
            Self::ListJobs { .. } => StoreOp::ListJobs,
            Self::RunningJobs => StoreOp::RunningJobs,
            Self::RenewLease { .. } => StoreOp::RenewLease,
            Self::RecordLost { .. } => StoreOp::RecordLost,
        }
    }
}

impl StoreCall {
    fn injected(&self, kind: FakeFailure) -> AppStoreError {
        match (kind, self) {
            (
                FakeFailure::NotFound,
                Self::GetApp { app } | Self::RecordContainerImage { app, .. },
            ) => AppStoreError::AppNotFound { app: app.clone() },
            _ => AppStoreError::Other {
                operation: match self {
                    Self::GetApp { app } => format!("read app {app}"),
                    Self::ListApps => "list apps".to_owned(),
                    Self::RecordContainerImage { app, job } => {
                        format!("record the image of job {job} on app {app}")
                    }
                    Self::ImportApp { app } => format!("import app {app}"),
                    Self::RemoveApp { app } => format!("remove app {app}"),
                    Self::RecordJob { record } => format!("record job {}", record.id),
                    Self::GetJob { job } => format!("read job {job}"),
                    Self::ListJobs { .. } => "list jobs".to_owned(),
                    Self::RunningJobs => "list running jobs".to_owned(),
                    Self::RenewLease { job, .. } => format!("renew the lease of job {job}"),
                    Self::RecordLost { job, .. } => format!("record job {job} lost"),
                },
                source: Box::new(InjectedFault),
            },
        }
    }
}

/// A job history call's injected fault, as the history reports it.
fn history_error(error: AppStoreError) -> JobHistoryError {
    match error {
        AppStoreError::Other { operation, source } => JobHistoryError::Other { operation, source },
        other => JobHistoryError::Other {
            operation: "job history".to_owned(),
            source: Box::new(other),
        },
    }
}

#[derive(Default)]
struct Data {
    apps: BTreeMap<AppKey, App>,
    jobs: BTreeMap<JobId, JobRecord>,
    shared: bool,
}

/// An in-memory [`AppStore`]. Clones share the same apps and jobs.
///
/// `record_container_image` of the job already recorded succeeds and returns `None`:
/// nothing was replaced. It is not shared by several hosts until a test says so
/// ([`FakeAppStore::set_shared`]).
#[derive(Clone)]
pub struct FakeAppStore {
    port: Port<Data, StoreCall, AppStoreError>,
}

impl Default for FakeAppStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeAppStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAppStore")
            .field("apps", &self.apps().len())
            .field("jobs", &self.jobs().len())
            .finish_non_exhaustive()
    }
}

impl FakeAppStore {
    /// A store with no app and no job.
    #[must_use]
    pub fn new() -> Self {
        Self {
            port: Port::new(Data::default()),
        }
    }

    /// Adds an app, replacing one with the same key.
    pub fn insert_app(&self, app: App) {
        self.port
            .with(|data| data.apps.insert(app.key.clone(), app));
    }

    /// One app.
    #[must_use]
    pub fn app(&self, key: &AppKey) -> Option<App> {
        self.port.with(|data| data.apps.get(key).cloned())
    }

    /// Every app, by key.
    #[must_use]
    pub fn apps(&self) -> Vec<App> {
        self.port.with(|data| data.apps.values().cloned().collect())
    }

    /// One job record.
    #[must_use]
    pub fn job(&self, id: &JobId) -> Option<JobRecord> {
        self.port.with(|data| data.jobs.get(id).cloned())
    }

    /// From now on, says whether several hosts share it ([`JobHistory::is_shared`]).
    pub fn set_shared(&self, shared: bool) {
        self.port.with(|data| data.shared = shared);
    }

    /// Forgets a job record, without recording the call (another host's job, as this
    /// history sees it).
    pub fn forget_job(&self, id: &JobId) {
        self.port.with(|data| data.jobs.remove(id));
    }

    /// Every job record, by id (so by start time).
    #[must_use]
    pub fn jobs(&self) -> Vec<JobRecord> {
        self.port.with(|data| data.jobs.values().cloned().collect())
    }

    /// The calls, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<StoreCall> {
        self.port.calls()
    }

    /// Each call as (operation, occurrence), in order.
    #[must_use]
    pub fn call_points(&self) -> Vec<(StoreOp, u32)> {
        self.port.call_points()
    }

    /// Forgets the recorded calls; occurrences count from 1 again.
    pub fn clear_calls(&self) {
        self.port.clear_calls();
    }

    /// Makes the calls of `op` chosen by `when` fail or hang; the call has no effect.
    /// A [`FakeFailure`] becomes `AppNotFound` for `NotFound` on `get_app` and
    /// `record_container_image`, and `Other` otherwise (the store has no other
    /// variants); on the job history's calls, `JobHistoryError::Other`.
    pub fn inject(&self, op: StoreOp, when: When, fault: Fault<AppStoreError>) {
        self.port.inject(op, when, fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.port.clear_faults();
    }
}

#[async_trait]
impl AppStore for FakeAppStore {
    #[instrument(skip_all, fields(app = %key))]
    async fn get_app(&self, key: &AppKey) -> Result<App, AppStoreError> {
        let call = StoreCall::GetApp { app: key.clone() };
        let entered = self.port.enter(&call, |data| {
            data.apps
                .get(key)
                .cloned()
                .ok_or_else(|| AppStoreError::AppNotFound { app: key.clone() })
        });
        match entered {
            Ok(result) => result,
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all)]
    async fn list_apps(&self) -> Result<Vec<App>, AppStoreError> {
        let call = StoreCall::ListApps;
        match self
            .port
            .enter(&call, |data| data.apps.values().cloned().collect())
        {
            Ok(apps) => Ok(apps),
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all, fields(app = %app, job = %job))]
    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> Result<Option<JobId>, AppStoreError> {
        let call = StoreCall::RecordContainerImage {
            app: app.clone(),
            job: job.clone(),
        };
        let entered = self.port.enter(&call, |data| {
            let Some(found) = data.apps.get_mut(app) else {
                return Err(AppStoreError::AppNotFound { app: app.clone() });
            };
            let current = &mut found.build_infos.container_image;
            match decide_replacement(current.as_ref(), job) {
                ReplaceDecision::Replace { previous } => {
                    *current = Some(job.clone());
                    Ok(previous)
                }
                ReplaceDecision::Superseded { current } => Err(AppStoreError::Superseded {
                    app: app.clone(),
                    current,
                    rejected: job.clone(),
                }),
                _ => Ok(None),
            }
        });
        match entered {
            Ok(result) => result,
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all, fields(app = %app.key))]
    async fn import_app(&self, app: App) -> Result<ImportOutcome, AppStoreError> {
        let call = StoreCall::ImportApp {
            app: app.key.clone(),
        };
        let entered = self.port.enter(&call, |data| {
            let stored = data.apps.get(&app.key);
            let outcome = if stored.is_some() {
                ImportOutcome::Updated
            } else {
                ImportOutcome::Created
            };
            let image = newest_image(
                stored.and_then(|s| s.build_infos.container_image.clone()),
                app.build_infos.container_image.clone(),
            );
            let mut app = app;
            app.build_infos.container_image = image;
            data.apps.insert(app.key.clone(), app);
            outcome
        });
        match entered {
            Ok(outcome) => Ok(outcome),
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all, fields(app = %key))]
    async fn remove_app(&self, key: &AppKey) -> Result<bool, AppStoreError> {
        let call = StoreCall::RemoveApp { app: key.clone() };
        match self
            .port
            .enter(&call, |data| data.apps.remove(key).is_some())
        {
            Ok(removed) => Ok(removed),
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }
}

#[async_trait]
impl JobHistory for FakeAppStore {
    #[instrument(skip_all, fields(job = %record.id))]
    async fn record_job(&self, record: &JobRecord) -> Result<(), JobHistoryError> {
        let call = StoreCall::RecordJob {
            record: record.clone(),
        };
        let entered = self.port.enter(&call, |data| {
            data.jobs.insert(record.id.clone(), record.clone());
        });
        match entered {
            Ok(()) => Ok(()),
            Err(fault) => Err(history_error(
                strike(fault, None, |kind| call.injected(kind)).await,
            )),
        }
    }

    #[instrument(skip_all, fields(job = %id))]
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, JobHistoryError> {
        let call = StoreCall::GetJob { job: id.clone() };
        match self.port.enter(&call, |data| data.jobs.get(id).cloned()) {
            Ok(record) => Ok(record),
            Err(fault) => Err(history_error(
                strike(fault, None, |kind| call.injected(kind)).await,
            )),
        }
    }

    #[instrument(skip_all)]
    async fn list_jobs(&self, app: Option<&AppKey>) -> Result<Vec<JobRecord>, JobHistoryError> {
        let call = StoreCall::ListJobs { app: app.cloned() };
        let entered = self.port.enter(&call, |data| {
            let mut jobs: Vec<JobRecord> = data
                .jobs
                .values()
                .filter(|record| app.is_none_or(|app| record.app == *app))
                .cloned()
                .collect();
            jobs.sort_by(|a, b| {
                b.started_at
                    .cmp(&a.started_at)
                    .then_with(|| b.id.cmp(&a.id))
            });
            jobs
        });
        match entered {
            Ok(jobs) => Ok(jobs),
            Err(fault) => Err(history_error(
                strike(fault, None, |kind| call.injected(kind)).await,
            )),
        }
    }

    #[instrument(skip_all, fields(job = %id))]
    async fn renew_lease(&self, id: &JobId, at: SystemTime) -> Result<bool, JobHistoryError> {
        let call = StoreCall::RenewLease {
            job: id.clone(),
            at,
        };
        let entered = self.port.enter(&call, |data| match data.jobs.get_mut(id) {
            Some(record) if record.status == JobStatus::Running => {
                record.renewed_at = Some(at);
                true
            }
            _ => false,
        });
        match entered {
            Ok(renewed) => Ok(renewed),
            Err(fault) => Err(history_error(
                strike(fault, None, |kind| call.injected(kind)).await,
            )),
        }
    }

    #[instrument(skip_all, fields(job = %id))]
    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<SystemTime>,
        at: SystemTime,
        error: &str,
    ) -> Result<bool, JobHistoryError> {
        let call = StoreCall::RecordLost {
            job: id.clone(),
            seen,
        };
        let entered = self.port.enter(&call, |data| match data.jobs.get_mut(id) {
            Some(record) if record.status == JobStatus::Running && record.renewed_at == seen => {
                record.end(JobStatus::Lost, Some(error.to_owned()), at);
                true
            }
            _ => false,
        });
        match entered {
            Ok(recorded) => Ok(recorded),
            Err(fault) => Err(history_error(
                strike(fault, None, |kind| call.injected(kind)).await,
            )),
        }
    }

    fn is_shared(&self) -> bool {
        self.port.with(|data| data.shared)
    }

    #[instrument(skip_all)]
    async fn running_jobs(&self) -> Result<Vec<JobRecord>, JobHistoryError> {
        let call = StoreCall::RunningJobs;
        let entered = self.port.enter(&call, |data| {
            data.jobs
                .values()
                .filter(|record| record.status == JobStatus::Running)
                .cloned()
                .collect()
        });
        match entered {
            Ok(jobs) => Ok(jobs),
            Err(fault) => Err(history_error(
                strike(fault, None, |kind| call.injected(kind)).await,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use lxpack_core::domain::JobCommand;

    use super::*;
    use crate::fixtures::{app_key as key, bare_app as app};

    fn job(seconds: u32) -> JobId {
        JobId::generate(seconds, [0; 8])
    }

    fn record(id: JobId, status: JobStatus) -> JobRecord {
        let mut record = JobRecord::running(
            id,
            JobCommand::BuildImage,
            key("web"),
            None,
            UNIX_EPOCH + Duration::from_secs(1),
        );
        record.status = status;
        record
    }

    #[tokio::test]
    async fn an_older_job_never_replaces_a_newer_one() {
        let store = FakeAppStore::new();
        store.insert_app(app("web"));
        let web = key("web");
        assert_eq!(
            store.record_container_image(&web, &job(10)).await.unwrap(),
            None
        );
        assert_eq!(
            store.record_container_image(&web, &job(20)).await.unwrap(),
            Some(job(10))
        );
        assert_eq!(
            store.record_container_image(&web, &job(20)).await.unwrap(),
            None
        );
        let error = store
            .record_container_image(&web, &job(15))
            .await
            .unwrap_err();
        match error {
            AppStoreError::Superseded {
                current, rejected, ..
            } => {
                assert_eq!((current, rejected), (job(20), job(15)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.app(&web).unwrap().build_infos.container_image,
            Some(job(20))
        );
        let error = store
            .record_container_image(&key("nope"), &job(30))
            .await
            .unwrap_err();
        assert!(
            matches!(error, AppStoreError::AppNotFound { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn apps_are_listed_by_key_and_jobs_upserted() {
        let store = FakeAppStore::new();
        store.insert_app(app("b"));
        store.insert_app(app("a"));
        let names: Vec<String> = store
            .list_apps()
            .await
            .unwrap()
            .into_iter()
            .map(|app| app.key.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(store.get_app(&key("c")).await.is_err());

        store
            .record_job(&record(job(1), JobStatus::Running))
            .await
            .unwrap();
        store
            .record_job(&record(job(2), JobStatus::Running))
            .await
            .unwrap();
        let ids = |jobs: Vec<JobRecord>| jobs.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.running_jobs().await.unwrap()),
            vec![job(1), job(2)]
        );
        store
            .record_job(&record(job(1), JobStatus::Failed))
            .await
            .unwrap();
        assert_eq!(ids(store.running_jobs().await.unwrap()), vec![job(2)]);
        assert_eq!(store.job(&job(1)).unwrap().status, JobStatus::Failed);
        assert_eq!(store.jobs().len(), 2);
    }

    #[tokio::test]
    async fn a_lease_is_renewed_only_while_the_job_runs() {
        let store = FakeAppStore::new();
        let at = UNIX_EPOCH + Duration::from_secs(50);
        assert!(!store.renew_lease(&job(1), at).await.unwrap(), "unknown");
        store
            .record_job(&record(job(1), JobStatus::Running))
            .await
            .unwrap();
        assert!(store.renew_lease(&job(1), at).await.unwrap());
        assert_eq!(store.job(&job(1)).unwrap().renewed_at, Some(at));
        store
            .record_job(&record(job(1), JobStatus::Lost))
            .await
            .unwrap();
        assert!(!store.renew_lease(&job(1), at).await.unwrap());
        let ended = store.job(&job(1)).unwrap();
        assert_eq!((ended.status, ended.renewed_at), (JobStatus::Lost, None));

        store.inject(
            StoreOp::RenewLease,
            When::Every,
            Fault::fail(FakeFailure::Other),
        );
        store
            .record_job(&record(job(2), JobStatus::Running))
            .await
            .unwrap();
        let error = store.renew_lease(&job(2), at).await.unwrap_err();
        assert!(error.to_string().contains("renew the lease"), "{error}");
        assert_eq!(store.job(&job(2)).unwrap().renewed_at, None);
        assert!(!store.is_shared());
        store.set_shared(true);
        assert!(store.clone().is_shared());
    }

    #[tokio::test]
    async fn injected_faults_have_no_effect() {
        let store = FakeAppStore::new();
        store.insert_app(app("web"));
        store.inject(
            StoreOp::RecordContainerImage,
            When::Nth(1),
            Fault::fail(FakeFailure::Unreachable),
        );
        store.inject(
            StoreOp::GetApp,
            When::Every,
            Fault::fail(FakeFailure::NotFound),
        );
        let error = store
            .record_container_image(&key("web"), &job(1))
            .await
            .unwrap_err();
        assert!(matches!(error, AppStoreError::Other { .. }), "{error:?}");
        assert_eq!(
            store.app(&key("web")).unwrap().build_infos.container_image,
            None
        );
        let error = store.get_app(&key("web")).await.unwrap_err();
        assert!(
            matches!(error, AppStoreError::AppNotFound { .. }),
            "{error:?}"
        );
        assert_eq!(
            store.calls(),
            vec![
                StoreCall::RecordContainerImage {
                    app: key("web"),
                    job: job(1)
                },
                StoreCall::GetApp { app: key("web") }
            ]
        );
    }
}
