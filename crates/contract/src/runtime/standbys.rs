//! The standbys part of the runtime contract: a standby launched with its mark, made
//! ready, claimed by exactly one of two concurrent claims, then refused to every later
//! claim or change of mark; a profile attached to it, and two concurrent attaches of
//! which none is lost; and each `NotFound`. It runs when the runtime offers standby
//! pools.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{
    AppKey, InstanceName, Isolation, JobCommand, JobId, Labels, PoolKey, ProfileName, ProfileSpec,
    StandbyMark,
};
use lxpack_core::ports::{ResourceKind, RuntimeError, Standbys};
use tokio_util::sync::CancellationToken;

use super::{Suite, contract_labels};
use crate::report::Checker;

/// The names of the standbys part, under the fixture's prefix.
pub(super) struct StandbyNames {
    /// The standby.
    standby: InstanceName,
    /// The profile attached alone, then the two attached together.
    attached: ProfileName,
    first: ProfileName,
    second: ProfileName,
    /// An instance and a profile that never exist.
    missing: InstanceName,
    missing_profile: ProfileName,
}

impl StandbyNames {
    pub(super) fn new(prefix: &str) -> Result<Self, String> {
        let instance =
            |s: &str| InstanceName::parse(&format!("{prefix}-{s}")).map_err(|e| e.to_string());
        let profile =
            |s: &str| ProfileName::parse(&format!("{prefix}-{s}")).map_err(|e| e.to_string());
        Ok(Self {
            standby: instance("standby")?,
            attached: profile("attach-a")?,
            first: profile("attach-b")?,
            second: profile("attach-c")?,
            missing: instance("no-standby")?,
            missing_profile: profile("no-attach")?,
        })
    }

    pub(super) fn instances(&self) -> [&InstanceName; 1] {
        [&self.standby]
    }

    pub(super) fn profiles(&self) -> [&ProfileName; 3] {
        [&self.attached, &self.first, &self.second]
    }
}

/// The mark of the suite's standby: a pool of its own app, started at a fixed time.
fn standby_mark(prefix: &str) -> StandbyMark {
    let key = PoolKey {
        app: AppKey::new(prefix, "contract", "standbys"),
        image: JobId::generate(0x6600_0001, *b"standbys"),
        isolation: Isolation::default(),
        limits: Default::default(),
        target: None,
        owner: None,
    };
    StandbyMark::new(
        &key,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_748_800),
    )
}

/// The labels of a job of the standby's app (a claim keeps the app label, which the
/// mark and the job share) that claims it.
fn job_labels(seed: u32, mark: &StandbyMark) -> Labels {
    Labels {
        job: JobId::generate(seed, *b"claiming"),
        command: JobCommand::Deploy,
        app: mark.app.clone(),
    }
}

impl Suite<'_> {
    pub(super) async fn standbys(&self, checker: &mut Checker, port: &dyn Standbys) {
        let names = &self.names.standbys;
        let mark = standby_mark(&self.fixture.prefix);
        let mut spec = self.launch_spec(&names.standby);
        spec.standby = Some(mark.clone());
        if checker
            .ok(
                "launch_instance as a standby",
                self.runtime
                    .launch_instance(&spec, &CancellationToken::new()),
            )
            .await
            .is_none()
        {
            return;
        }
        self.standby_listed(
            checker,
            "list_resources shows a new standby's mark",
            &mark,
            None,
        )
        .await;
        let ready = mark.readied();
        checker
            .ok(
                "update_standby to ready",
                port.update_standby(&names.standby, &mark, &ready),
            )
            .await;
        checker
            .err(
                "update_standby with a stale mark",
                "Changed",
                port.update_standby(&names.standby, &mark, &ready.retired()),
                |e| matches!(e, RuntimeError::Changed { .. }),
            )
            .await;
        checker
            .err(
                "update_standby of a missing instance",
                "NotFound",
                port.update_standby(&names.missing, &mark, &ready),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        if let Some(winner) = self.concurrent_claims(checker, port, &ready).await {
            self.standby_listed(
                checker,
                "list_resources shows the claimed standby's mark and the winner's labels",
                &ready,
                Some(&winner),
            )
            .await;
        }
        self.claimed(checker, port, &ready).await;
        self.attaches(checker, port).await;
        checker
            .ok(
                "delete_instance of the standby",
                self.runtime.delete_instance(&names.standby),
            )
            .await;
        self.remove_attached(checker).await;
    }

    /// Two jobs claim the ready standby at once: exactly one wins, the other is told
    /// `Changed`. Returns the winner's labels.
    async fn concurrent_claims(
        &self,
        checker: &mut Checker,
        port: &dyn Standbys,
        ready: &StandbyMark,
    ) -> Option<Labels> {
        let standby = &self.names.standbys.standby;
        let (first, second) = (
            job_labels(0x6600_0002, ready),
            job_labels(0x6600_0003, ready),
        );
        let (a, b) = tokio::join!(
            checker.bounded(port.claim_standby(standby, ready, &first)),
            checker.bounded(port.claim_standby(standby, ready, &second)),
        );
        let lost = |result: &Result<Result<(), RuntimeError>, String>| {
            matches!(result, Ok(Err(RuntimeError::Changed { .. })))
        };
        let winner = match (&a, &b) {
            (Ok(Ok(())), other) if lost(other) => Some(first),
            (other, Ok(Ok(()))) if lost(other) => Some(second),
            _ => None,
        };
        checker.that(
            "two concurrent claim_standby: exactly one wins, the other gets Changed",
            winner.is_some(),
            "one Ok and one Err(Changed)",
            (&a, &b),
        );
        winner
    }

    /// A claimed standby takes no other claim and no change of mark; a missing one is
    /// `NotFound`.
    async fn claimed(&self, checker: &mut Checker, port: &dyn Standbys, ready: &StandbyMark) {
        let names = &self.names.standbys;
        checker
            .err(
                "claim_standby of a claimed standby",
                "Changed",
                port.claim_standby(&names.standby, ready, &job_labels(0x6600_0004, ready)),
                |e| matches!(e, RuntimeError::Changed { .. }),
            )
            .await;
        checker
            .err(
                "update_standby of a claimed standby",
                "Changed",
                port.update_standby(&names.standby, ready, &ready.retired()),
                |e| matches!(e, RuntimeError::Changed { .. }),
            )
            .await;
        checker
            .err(
                "claim_standby of a missing instance",
                "NotFound",
                port.claim_standby(&names.missing, ready, &job_labels(0x6600_0005, ready)),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }

    /// The standby is listed with `mark` and `labels`.
    async fn standby_listed(
        &self,
        checker: &mut Checker,
        check: &str,
        mark: &StandbyMark,
        labels: Option<&Labels>,
    ) {
        let standby = &self.names.standbys.standby;
        let Some(resources) = checker
            .ok(&format!("{check}: list"), self.runtime.list_resources())
            .await
        else {
            return;
        };
        let listed = resources
            .iter()
            .find(|r| r.kind == ResourceKind::Instance && r.name == standby.as_str());
        checker.that(
            check,
            listed.is_some_and(|r| r.standby.as_ref() == Some(mark) && r.labels.as_ref() == labels),
            format!("{standby} marked {mark:?}, labelled {labels:?}"),
            listed,
        );
    }

    /// Attaching a profile puts it in use; of two concurrent attaches none is lost;
    /// a missing profile or instance is `NotFound`.
    async fn attaches(&self, checker: &mut Checker, port: &dyn Standbys) {
        let names = &self.names.standbys;
        for profile in self.names.standbys.profiles() {
            let spec = ProfileSpec {
                name: profile.clone(),
                description: "lxpack contract suite: attached".to_owned(),
                mounts: vec![],
                labels: Some(contract_labels()),
                standby: None,
            };
            if checker
                .ok(
                    "create_profile to attach",
                    self.runtime.create_profile(&spec),
                )
                .await
                .is_none()
            {
                return;
            }
        }
        if checker
            .ok(
                "attach_profile",
                port.attach_profile(&names.standby, &names.attached),
            )
            .await
            .is_some()
        {
            self.in_use(checker, "an attached profile is in use", &names.attached)
                .await;
        }
        self.concurrent_attaches(checker, port).await;
        checker
            .err(
                "attach_profile of a missing profile",
                "NotFound { what: \"profile\" }",
                port.attach_profile(&names.standby, &names.missing_profile),
                |e| {
                    matches!(
                        e,
                        RuntimeError::NotFound {
                            what: "profile",
                            ..
                        }
                    )
                },
            )
            .await;
        checker
            .err(
                "attach_profile to a missing instance",
                "NotFound { what: \"instance\" }",
                port.attach_profile(&names.missing, &names.attached),
                |e| {
                    matches!(
                        e,
                        RuntimeError::NotFound {
                            what: "instance",
                            ..
                        }
                    )
                },
            )
            .await;
    }

    /// Two profiles attached to one running instance at once: each attach that
    /// returned `Ok` is really attached (at least one does), and a refused one is
    /// `Changed`, never a lost update.
    async fn concurrent_attaches(&self, checker: &mut Checker, port: &dyn Standbys) {
        let names = &self.names.standbys;
        let (a, b) = tokio::join!(
            checker.bounded(port.attach_profile(&names.standby, &names.first)),
            checker.bounded(port.attach_profile(&names.standby, &names.second)),
        );
        let check = "two concurrent attach_profile: each Ok is attached, a refused one is Changed";
        let mut problems = Vec::new();
        let mut attached = 0;
        for (profile, result) in [(&names.first, a), (&names.second, b)] {
            match result {
                Ok(Ok(())) => {
                    attached += 1;
                    match checker.bounded(self.runtime.delete_profile(profile)).await {
                        Ok(Err(RuntimeError::InUse { .. })) => {}
                        other => problems.push(format!(
                            "attach of {profile} returned Ok, but it is not attached \
                             (a lost update): delete_profile gave {other:?}"
                        )),
                    }
                }
                Ok(Err(RuntimeError::Changed { .. })) => {}
                other => problems.push(format!("attach of {profile}: {other:?}")),
            }
        }
        if attached == 0 {
            problems.push("neither attach succeeded".to_owned());
        }
        checker.that(check, problems.is_empty(), "no problem", problems);
    }

    /// Passes when `profile` cannot be deleted because an instance uses it.
    async fn in_use(&self, checker: &mut Checker, check: &str, profile: &ProfileName) {
        checker
            .err(
                check,
                "delete_profile gives InUse { what: \"profile\" }",
                self.runtime.delete_profile(profile),
                |e| {
                    matches!(
                        e,
                        RuntimeError::InUse {
                            what: "profile",
                            ..
                        }
                    )
                },
            )
            .await;
    }

    /// Deletes the attached profiles once the standby is gone (one may be gone
    /// already).
    async fn remove_attached(&self, checker: &mut Checker) {
        let mut problems = Vec::new();
        for profile in self.names.standbys.profiles() {
            match checker.bounded(self.runtime.delete_profile(profile)).await {
                Ok(Ok(()) | Err(RuntimeError::NotFound { .. })) => {}
                other => problems.push(format!("delete profile {profile}: {other:?}")),
            }
        }
        checker.that(
            "the attached profiles are free once the standby is deleted",
            problems.is_empty(),
            "each deleted",
            problems,
        );
    }
}
