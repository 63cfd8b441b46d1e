//! The capability parts of the runtime contract against the fake: a fault injected
//! into the fake, or a port that breaks one rule, fails the check of that rule.

use std::sync::Arc;

use lxpack_contract::container_runtime_contract;
use lxpack_core::ports::{RuntimeCapabilities, RuntimeError};
use lxpack_fake::{FakeFailure, Fault, RuntimeOp, When};

use super::helpers::busybox_runtime;
use super::helpers::standbys::{EveryClaimWins, LostAttach};
use super::{assert_clean, contract_on, failed_checks, fixture};

const CONCURRENT_CLAIMS: &str =
    "two concurrent claim_standby: exactly one wins, the other gets Changed";
const CONCURRENT_ATTACHES: &str =
    "two concurrent attach_profile: each Ok is attached, a refused one is Changed";

fn rejected() -> RuntimeError {
    RuntimeError::Rejected {
        operation: "injected".into(),
        message: "refused by the test".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_concurrent_claim_refused_for_another_reason_than_changed_is_caught() {
    let runtime = busybox_runtime();
    // The first two claims are the concurrent ones: the second is refused wrongly.
    runtime.inject(
        RuntimeOp::ClaimStandby,
        When::Nth(2),
        Fault::fail_with(rejected),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(failed_checks(&report), [CONCURRENT_CLAIMS]);
    assert!(
        report.to_string().contains("refused by the test"),
        "{report}"
    );
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn claims_without_compare_and_set_are_caught() {
    let runtime = busybox_runtime();
    let registry = runtime.image_registry();
    let capabilities = RuntimeCapabilities {
        standbys: Some(Arc::new(EveryClaimWins(runtime.clone()))),
        ..RuntimeCapabilities::all_of(&runtime)
    };
    let report = container_runtime_contract(&runtime, &capabilities, &registry, &fixture()).await;
    assert_eq!(
        failed_checks(&report),
        [CONCURRENT_CLAIMS, "claim_standby of a claimed standby"]
    );
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_standby_that_cannot_be_readied_is_caught() {
    let runtime = busybox_runtime();
    runtime.inject(
        RuntimeOp::UpdateStandby,
        When::Nth(1),
        Fault::fail(FakeFailure::Rejected),
    );
    let report = contract_on(&runtime, &fixture()).await;
    let failed = failed_checks(&report);
    assert_eq!(failed[0], "update_standby to ready", "{report}");
    // Never ready, the standby is not the one the claims read.
    assert!(failed.contains(&CONCURRENT_CLAIMS), "{report}");
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_lost_attach_is_caught() {
    let runtime = busybox_runtime();
    let registry = runtime.image_registry();
    let capabilities = RuntimeCapabilities {
        standbys: Some(Arc::new(LostAttach::new(runtime.clone()))),
        ..RuntimeCapabilities::all_of(&runtime)
    };
    let report = container_runtime_contract(&runtime, &capabilities, &registry, &fixture()).await;
    assert_eq!(failed_checks(&report), [CONCURRENT_ATTACHES]);
    assert!(report.to_string().contains("a lost update"), "{report}");
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_concurrent_attach_refused_for_another_reason_than_changed_is_caught() {
    let runtime = busybox_runtime();
    // The first attach is alone; the 2nd and 3rd are concurrent.
    runtime.inject(
        RuntimeOp::AttachProfile,
        When::Nth(3),
        Fault::fail_with(rejected),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(failed_checks(&report), [CONCURRENT_ATTACHES]);
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_name_taken_twice_is_caught() {
    let runtime = busybox_runtime();
    // The second snapshot reuses the first's name: it must be AlreadyExists.
    runtime.inject(
        RuntimeOp::SnapshotInstance,
        When::Nth(2),
        Fault::fail_with(rejected),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(
        failed_checks(&report),
        ["snapshot_instance with a taken name"]
    );
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_step_holder_that_is_not_kept_is_caught() {
    let runtime = busybox_runtime();
    runtime.inject(
        RuntimeOp::KeepAsStepHolder,
        When::Nth(1),
        Fault::fail(FakeFailure::Rejected),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(
        failed_checks(&report),
        [
            "keep_as_step_holder",
            "list_resources gives the step holder its keys",
            "the step holder keeps only the base profiles: its own is deleted"
        ]
    );
    assert_clean(&runtime);
}
