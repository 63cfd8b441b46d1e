//! The contract of `AppStore`. Its heart is the newer-job rule: two buildimage jobs of
//! one app may finish in any order, and the older must never win, through
//! `record_container_image` or through an import. The suite works on an app the caller
//! seeded for it, and leaves it recording the suite's newest job; the app it imports
//! to check import and removal, it removes.

use std::time::Duration;

use lxpack_core::domain::{App, AppKey, JobId};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome};

use crate::report::{Checker, ContractReport};
use crate::unwind::CatchUnwind;

/// How long any single store call may take.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Runs the contract of [`AppStore`] against `store`, on the app `app`, which must
/// exist and should be used by nothing else. It checks:
/// - `get_app` and `AppNotFound`; `list_apps` holds the app, ordered by key;
/// - `record_container_image`: `AppNotFound`; the job it replaced; recording the
///   same job again; `Superseded` for an older job, which changes nothing; concurrent
///   writers end with the newest job;
/// - `import_app` creates then updates, and never moves an image backwards;
///   `remove_app` removes once.
///
/// The suite's jobs are newer than the app's current image, so it can run again on
/// the same app. Afterwards the app records the suite's newest job as its container
/// image, and the app the suite imported is removed.
pub async fn app_store_contract(store: &dyn AppStore, app: &AppKey) -> ContractReport {
    let mut checker = Checker::new("app store", CALL_LIMIT);
    let Some(current) = checker.ok("get_app", store.get_app(app)).await else {
        return checker.finish();
    };
    checker.equal("get_app returns the app asked for", app, &current.key);
    let base = current
        .build_infos
        .container_image
        .as_ref()
        .map_or(Some(0x6000_0000), |job| job.unix_seconds().checked_add(1));
    let Some(jobs) = base.and_then(Jobs::after) else {
        checker.fail(
            "fixture",
            "an app whose container image is not from the far future",
            format!("{:?}", current.build_infos.container_image),
        );
        return checker.finish();
    };
    let suite = Suite {
        store,
        app,
        jobs: &jobs,
    };
    let outcome =
        CatchUnwind::new(suite.run(&mut checker, current.build_infos.container_image)).await;
    checker.ran_to_the_end(outcome);
    suite.cleanup(&mut checker).await;
    checker.finish()
}

/// The suite's jobs, oldest first.
struct Jobs {
    old: JobId,
    new: JobId,
    /// Three jobs for the concurrent writers, newer than `new`.
    racing: [JobId; 3],
}

impl Jobs {
    fn after(seconds: u32) -> Option<Self> {
        let at = |offset: u32, entropy: &[u8; 8]| {
            seconds
                .checked_add(offset)
                .map(|seconds| JobId::generate(seconds, *entropy))
        };
        Some(Self {
            old: at(0, b"ct-old--")?,
            new: at(1, b"ct-new--")?,
            racing: [
                at(2, b"ct-race1")?,
                at(3, b"ct-race2")?,
                at(4, b"ct-race3")?,
            ],
        })
    }
}

struct Suite<'a> {
    store: &'a dyn AppStore,
    app: &'a AppKey,
    jobs: &'a Jobs,
}

impl Suite<'_> {
    async fn run(&self, checker: &mut Checker, initial: Option<JobId>) {
        self.reads(checker).await;
        self.newer_job_rule(checker, initial).await;
        self.concurrent_writers(checker).await;
        self.import_and_remove(checker).await;
    }

    async fn reads(&self, checker: &mut Checker) {
        let missing = missing_key(self.app);
        checker
            .err(
                "get_app of a missing app",
                "AppNotFound",
                self.store.get_app(&missing),
                |e| matches!(e, AppStoreError::AppNotFound { .. }),
            )
            .await;
        if let Some(apps) = checker.ok("list_apps", self.store.list_apps()).await {
            let keys: Vec<&AppKey> = apps.iter().map(|app| &app.key).collect();
            checker.that(
                "list_apps holds the app",
                keys.contains(&self.app),
                format!("a list with {}", self.app),
                &keys,
            );
            checker.that(
                "list_apps is ordered by key",
                keys.windows(2).all(|pair| pair[0] < pair[1]),
                "keys in ascending order",
                &keys,
            );
        }
    }

    async fn recorded(&self, checker: &mut Checker, check: &str, expected: &JobId) {
        if let Some(app) = checker.ok(check, self.store.get_app(self.app)).await {
            checker.equal(
                &format!("{check}: the app records job {expected}"),
                Some(expected),
                app.build_infos.container_image.as_ref(),
            );
        }
    }

    async fn newer_job_rule(&self, checker: &mut Checker, initial: Option<JobId>) {
        let jobs = self.jobs;
        checker
            .err(
                "record_container_image on a missing app",
                "AppNotFound",
                self.store
                    .record_container_image(&missing_key(self.app), &jobs.old),
                |e| matches!(e, AppStoreError::AppNotFound { .. }),
            )
            .await;
        if let Some(replaced) = checker
            .ok(
                "record_container_image",
                self.store.record_container_image(self.app, &jobs.old),
            )
            .await
        {
            checker.equal(
                "record_container_image returns the job it replaced",
                initial,
                replaced,
            );
        }
        self.recorded(checker, "get_app after record_container_image", &jobs.old)
            .await;
        checker
            .ok(
                "record_container_image of the recorded job again",
                self.store.record_container_image(self.app, &jobs.old),
            )
            .await;
        if let Some(replaced) = checker
            .ok(
                "record_container_image of a newer job",
                self.store.record_container_image(self.app, &jobs.new),
            )
            .await
        {
            checker.equal(
                "a newer job returns the job it replaced",
                Some(&jobs.old),
                replaced.as_ref(),
            );
        }
        checker
            .err(
                "record_container_image of an older job",
                &format!(
                    "Superseded {{ current: {}, rejected: {} }}",
                    jobs.new, jobs.old
                ),
                self.store.record_container_image(self.app, &jobs.old),
                |e| {
                    matches!(e, AppStoreError::Superseded { current, rejected, .. }
                        if *current == jobs.new && *rejected == jobs.old)
                },
            )
            .await;
        self.recorded(checker, "get_app after Superseded", &jobs.new)
            .await;
    }

    async fn concurrent_writers(&self, checker: &mut Checker) {
        let [first, second, third] = &self.jobs.racing;
        // Newest first, so that a store without an atomic check-and-write lets an
        // older job win.
        let (c, b, a) = tokio::join!(
            checker.bounded(self.store.record_container_image(self.app, third)),
            checker.bounded(self.store.record_container_image(self.app, second)),
            checker.bounded(self.store.record_container_image(self.app, first)),
        );
        let fine = |outcome: &Result<Result<Option<JobId>, AppStoreError>, String>| {
            matches!(
                outcome,
                Ok(Ok(_)) | Ok(Err(AppStoreError::Superseded { .. }))
            )
        };
        checker.that(
            "concurrent record_container_image succeed or are superseded",
            fine(&a) && fine(&b) && fine(&c),
            "Ok or Superseded for each",
            (&a, &b, &c),
        );
        self.recorded(checker, "get_app after concurrent writers", third)
            .await;
    }

    /// Import and remove, on a key of the suite's own.
    async fn import_and_remove(&self, checker: &mut Checker) {
        let key = imported_key(self.app);
        let jobs = self.jobs;
        let app = |image: Option<&JobId>| {
            let mut app = App::new(key.clone(), "eu-west-1");
            app.build_infos.container_image = image.cloned();
            app
        };
        if let Some(outcome) = checker
            .ok(
                "import_app of a new app",
                self.store.import_app(app(Some(&jobs.new))),
            )
            .await
        {
            checker.equal(
                "import_app of a new app creates it",
                ImportOutcome::Created,
                outcome,
            );
        }
        if let Some(found) = checker
            .ok("get_app of the imported app", self.store.get_app(&key))
            .await
        {
            checker.equal(
                "get_app returns what was imported",
                app(Some(&jobs.new)),
                found,
            );
        }
        if let Some(outcome) = checker
            .ok(
                "import_app with an older image",
                self.store.import_app(app(Some(&jobs.old))),
            )
            .await
        {
            checker.equal(
                "import_app of a known app updates it",
                ImportOutcome::Updated,
                outcome,
            );
        }
        if let Some(found) = checker
            .ok("get_app after an older import", self.store.get_app(&key))
            .await
        {
            checker.equal(
                "an import never moves the image backwards",
                Some(&jobs.new),
                found.build_infos.container_image.as_ref(),
            );
        }
        checker
            .ok("import_app with no image", self.store.import_app(app(None)))
            .await;
        if let Some(found) = checker
            .ok(
                "get_app after an import without image",
                self.store.get_app(&key),
            )
            .await
        {
            checker.equal(
                "an import without image keeps the recorded one",
                Some(&jobs.new),
                found.build_infos.container_image.as_ref(),
            );
        }
        if let Some(removed) = checker.ok("remove_app", self.store.remove_app(&key)).await {
            checker.equal("remove_app of an app that exists", true, removed);
        }
        if let Some(removed) = checker
            .ok("remove_app again", self.store.remove_app(&key))
            .await
        {
            checker.equal("remove_app of an app that does not exist", false, removed);
        }
        checker
            .err(
                "get_app of a removed app",
                "AppNotFound",
                self.store.get_app(&key),
                |e| matches!(e, AppStoreError::AppNotFound { .. }),
            )
            .await;
    }

    /// Leaves no imported app behind.
    async fn cleanup(&self, checker: &mut Checker) {
        checker
            .ok(
                "cleanup: remove the imported app",
                self.store.remove_app(&imported_key(self.app)),
            )
            .await;
    }
}

/// The key of the app the suite imports and removes.
fn imported_key(app: &AppKey) -> AppKey {
    AppKey::new(
        format!("{}-lxpack-contract-import", app.name),
        app.env.clone(),
        app.role.clone(),
    )
}

/// A key that no seeded app has: the app's own, with a suffix on the name.
fn missing_key(app: &AppKey) -> AppKey {
    AppKey {
        name: format!("{}-lxpack-contract-missing", app.name),
        env: app.env.clone(),
        role: app.role.clone(),
    }
}
