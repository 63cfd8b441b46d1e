//! The contract of `JobHistory`: the sweep trusts it to tell a live job from a dead
//! one, so a record must read back exactly as written, and `running_jobs` must follow
//! the latest write. The port cannot delete, so the suite's records stay, marked ended.

use std::time::{Duration, UNIX_EPOCH};

use lxpack_core::domain::{
    AppKey, InstanceName, JobCommand, JobId, JobRecord, JobRunner, JobStatus, KeptInstance,
    Release, ReleaseState, StepTiming,
};
use lxpack_core::ports::JobHistory;

use crate::report::{Checker, ContractReport};
use crate::unwind::CatchUnwind;

/// How long any single history call may take.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// Runs the contract of [`JobHistory`] against `history`, recording jobs of `app` (the
/// app need not exist anywhere). It checks:
/// - `record_job` then `get_job` returns the record as written (its runner too); an
///   unknown job is `None`;
/// - `record_job` of the same id replaces the record (an ended one with its kept
///   instance and its steps, read back as written);
/// - `running_jobs` lists exactly the running ones of the suite's jobs, following
///   the status;
/// - `list_jobs` lists newest first, every app's or one app's;
/// - `renew_lease` of a running job answers `true` and its time reads back from
///   `get_job` and `running_jobs`; of an ended job or an unknown one it answers
///   `false` and changes nothing (an ended job stays ended);
/// - `record_lost` with a lease renewal older than the stored one answers `false` and
///   changes nothing; with the stored one it records the job lost (its end and error)
///   and answers `true`; of a job no longer running it answers `false`.
///
/// The suite's job ids start at the current second, so it can run again on the same
/// history. Afterwards its records stay, marked succeeded.
pub async fn job_history_contract(history: &dyn JobHistory, app: &AppKey) -> ContractReport {
    let mut checker = Checker::new("job history", CALL_LIMIT);
    let seconds = UNIX_EPOCH.elapsed().map_or(0x6000_0000, |d| {
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX - 2)
    });
    let suite = Suite {
        history,
        app,
        older: JobId::generate(seconds, *b"ct-job-1"),
        newer: JobId::generate(seconds.saturating_add(1), *b"ct-job-2"),
        lost: JobId::generate(seconds.saturating_add(2), *b"ct-lost-"),
    };
    let outcome = CatchUnwind::new(suite.run(&mut checker)).await;
    checker.ran_to_the_end(outcome);
    suite.cleanup(&mut checker).await;
    checker.finish()
}

struct Suite<'a> {
    history: &'a dyn JobHistory,
    app: &'a AppKey,
    older: JobId,
    newer: JobId,
    /// A job of its own for `record_lost`, left recorded lost.
    lost: JobId,
}

impl Suite<'_> {
    async fn run(&self, checker: &mut Checker) {
        let unknown = JobId::generate(1, *b"ct-none-");
        if let Some(found) = checker
            .ok("get_job of an unknown job", self.history.get_job(&unknown))
            .await
        {
            checker.equal("get_job of an unknown job is None", None, found);
        }
        let running = self.record(&self.older, JobStatus::Running);
        checker
            .ok("record_job", self.history.record_job(&running))
            .await;
        if let Some(found) = checker
            .ok("get_job", self.history.get_job(&self.older))
            .await
        {
            checker.equal(
                "get_job returns the record as written",
                Some(&running),
                found.as_ref(),
            );
        }
        self.running(checker, "running_jobs lists a running job", &[&self.older])
            .await;
        self.renew_running(checker, &running).await;
        self.lost_only_unrenewed(checker).await;

        let failed = self.record(&self.older, JobStatus::Failed);
        checker
            .ok(
                "record_job replacing a record",
                self.history.record_job(&failed),
            )
            .await;
        if let Some(found) = checker
            .ok(
                "get_job after a replacement",
                self.history.get_job(&self.older),
            )
            .await
        {
            checker.equal(
                "record_job replaces the record",
                Some(&failed),
                found.as_ref(),
            );
        }
        self.running(checker, "running_jobs follows the replaced status", &[])
            .await;
        self.renew_ended(checker, &failed).await;

        let other_app = AppKey::new(
            format!("{}-lxpack-contract-other", self.app.name),
            self.app.env.clone(),
            self.app.role.clone(),
        );
        let mut newer = self.record(&self.newer, JobStatus::Running);
        newer.app = other_app;
        checker
            .ok(
                "record_job of another app's job",
                self.history.record_job(&newer),
            )
            .await;
        self.running(
            checker,
            "running_jobs lists only running jobs",
            &[&self.newer],
        )
        .await;
        if let Some(jobs) = checker.ok("list_jobs", self.history.list_jobs(None)).await {
            let ids: Vec<&JobId> = jobs
                .iter()
                .map(|job| &job.id)
                .filter(|id| **id == self.older || **id == self.newer)
                .collect();
            checker.equal(
                "list_jobs lists newest first",
                vec![&self.newer, &self.older],
                ids,
            );
        }
        if let Some(jobs) = checker
            .ok(
                "list_jobs of one app",
                self.history.list_jobs(Some(self.app)),
            )
            .await
        {
            checker.that(
                "list_jobs of one app lists only that app's jobs",
                jobs.iter().all(|job| job.app == *self.app)
                    && jobs.iter().any(|job| job.id == self.older),
                format!("jobs of {} only, {} among them", self.app, self.older),
                jobs.iter()
                    .map(|job| (job.id.to_string(), job.app.to_string()))
                    .collect::<Vec<_>>(),
            );
        }
    }

    /// Renews the lease of `running`, a running job: visible to `get_job` and
    /// `running_jobs`, nothing else changed.
    async fn renew_running(&self, checker: &mut Checker, running: &JobRecord) {
        // Millisecond times: what every store keeps.
        let at = running.started_at + Duration::from_millis(5_500);
        if let Some(renewed) = checker
            .ok(
                "renew_lease of a running job",
                self.history.renew_lease(&running.id, at),
            )
            .await
        {
            checker.equal("renew_lease of a running job answers true", true, renewed);
        }
        let expected = running.clone().with_lease(at);
        if let Some(found) = checker
            .ok(
                "get_job after renew_lease",
                self.history.get_job(&running.id),
            )
            .await
        {
            checker.equal(
                "get_job shows the renewal and nothing else changed",
                Some(&expected),
                found.as_ref(),
            );
        }
        if let Some(jobs) = checker
            .ok(
                "running_jobs after renew_lease",
                self.history.running_jobs(),
            )
            .await
        {
            let found = jobs.iter().find(|job| job.id == running.id);
            checker.equal("running_jobs shows the renewal", Some(&expected), found);
        }
    }

    /// A running job of its own, its lease renewed, recorded lost: not with a stale
    /// lease, then with the stored one, then not again.
    async fn lost_only_unrenewed(&self, checker: &mut Checker) {
        let id = self.lost.clone();
        let running = self.record(&id, JobStatus::Running);
        checker
            .ok(
                "record_job of a job to lose",
                self.history.record_job(&running),
            )
            .await;
        let renewed = running.started_at + Duration::from_millis(5_500);
        checker
            .ok(
                "renew_lease of a job to lose",
                self.history.renew_lease(&id, renewed),
            )
            .await;
        let at = running.started_at + Duration::from_secs(40);
        let stale = self.history.record_lost(&id, None, at, "gone");
        if let Some(recorded) = checker.ok("record_lost with a stale lease", stale).await {
            checker.equal(
                "record_lost with a stale lease answers false",
                false,
                recorded,
            );
        }
        let expected = running.clone().with_lease(renewed);
        if let Some(found) = checker
            .ok(
                "get_job after a stale record_lost",
                self.history.get_job(&running.id),
            )
            .await
        {
            checker.equal(
                "a stale record_lost changes nothing",
                Some(&expected),
                found.as_ref(),
            );
        }
        let current = self.history.record_lost(&id, Some(renewed), at, "gone");
        if let Some(recorded) = checker
            .ok("record_lost with the stored lease", current)
            .await
        {
            checker.equal(
                "record_lost with the stored lease answers true",
                true,
                recorded,
            );
        }
        let mut lost = expected.clone();
        lost.end(JobStatus::Lost, Some("gone".into()), at);
        if let Some(found) = checker
            .ok(
                "get_job after record_lost",
                self.history.get_job(&running.id),
            )
            .await
        {
            checker.equal(
                "record_lost records the end, the error and nothing else",
                Some(&lost),
                found.as_ref(),
            );
        }
        let again = self.history.record_lost(&id, Some(renewed), at, "gone");
        if let Some(recorded) = checker.ok("record_lost of an ended job", again).await {
            checker.equal("record_lost of an ended job answers false", false, recorded);
        }
    }

    /// Renews the lease of `ended`, an ended job, and of an unknown job: both answer
    /// false, and the ended job stays exactly as recorded.
    async fn renew_ended(&self, checker: &mut Checker, ended: &JobRecord) {
        let at = ended.started_at + Duration::from_secs(7);
        if let Some(renewed) = checker
            .ok(
                "renew_lease of an ended job",
                self.history.renew_lease(&ended.id, at),
            )
            .await
        {
            checker.equal("renew_lease of an ended job answers false", false, renewed);
        }
        if let Some(found) = checker
            .ok(
                "get_job after renewing an ended job",
                self.history.get_job(&ended.id),
            )
            .await
        {
            checker.equal(
                "renew_lease never makes an ended job running again",
                Some(ended),
                found.as_ref(),
            );
        }
        let unknown = JobId::generate(2, *b"ct-none-");
        if let Some(renewed) = checker
            .ok(
                "renew_lease of an unknown job",
                self.history.renew_lease(&unknown, at),
            )
            .await
        {
            checker.equal(
                "renew_lease of an unknown job answers false",
                false,
                renewed,
            );
        }
        if let Some(found) = checker
            .ok(
                "get_job after renewing an unknown job",
                self.history.get_job(&unknown),
            )
            .await
        {
            checker.equal("renew_lease creates no record", None, found);
        }
    }

    /// Checks that of the suite's jobs, exactly `expected` are running.
    async fn running(&self, checker: &mut Checker, check: &str, expected: &[&JobId]) {
        if let Some(running) = checker.ok(check, self.history.running_jobs()).await {
            let ours: Vec<&JobId> = running
                .iter()
                .map(|job| &job.id)
                .filter(|id| **id == self.older || **id == self.newer)
                .collect();
            checker.equal(check, expected.to_vec(), ours);
        }
    }

    fn record(&self, id: &JobId, status: JobStatus) -> JobRecord {
        let started = UNIX_EPOCH + Duration::from_secs(u64::from(id.unix_seconds()));
        let mut record = JobRecord::running(
            id.clone(),
            JobCommand::Deploy,
            self.app.clone(),
            Some("api".into()),
            started,
        )
        .with_log(Some("/var/log/lxpack/contract.log".into()))
        .with_runner(Some(JobRunner {
            host: "lxpack-contract-host".into(),
            pid: 4_000_000_000,
            started: u64::MAX / 2,
        }));
        if status != JobStatus::Running {
            record.end(
                status,
                (status == JobStatus::Failed).then(|| "lxpack contract suite".to_owned()),
                started + Duration::from_secs(1),
            );
            // What a job kept and how long its steps took are kept with its end.
            record.steps = vec![
                StepTiming {
                    step: "launch".into(),
                    duration: Duration::from_millis(1234),
                    succeeded: true,
                },
                StepTiming {
                    step: "buildpack".into(),
                    duration: Duration::from_millis(5),
                    succeeded: status == JobStatus::Succeeded,
                },
            ];
            // A background release, and what became of it, read back as written.
            if status == JobStatus::Succeeded {
                record.release = InstanceName::parse(&format!("lxpack-deploy-contract-{id}"))
                    .ok()
                    .map(|instance| Release {
                        instance,
                        state: ReleaseState::Failed,
                        note: Some("lxpack contract suite: a stop that failed".into()),
                    });
            }
            if status == JobStatus::Failed {
                record.kept = InstanceName::parse(&format!("lxpack-deploy-contract-{id}"))
                    .ok()
                    .map(|instance| KeptInstance {
                        instance,
                        until: started + Duration::from_secs(86_400),
                    });
            }
        }
        record
    }

    /// Leaves no running job behind.
    async fn cleanup(&self, checker: &mut Checker) {
        for id in [&self.older, &self.newer] {
            checker
                .ok(
                    "cleanup: mark the suite's jobs finished",
                    self.history
                        .record_job(&self.record(id, JobStatus::Succeeded)),
                )
                .await;
        }
    }
}
