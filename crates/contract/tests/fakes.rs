//! The contract suites against the fakes of `lxpack-fake`: the fakes must pass, and
//! broken implementations (faults injected into the fakes, or thin wrappers that
//! break one rule) must fail with the right check named.

mod helpers;
mod parts;

use lxpack_contract::{
    AmiFixture, Outcome, RuntimeFixture, ami_catalog_contract, app_store_contract,
    container_runtime_contract, job_history_contract,
};
use std::time::Duration;

use lxpack_core::domain::{Image, ImageAlias, InstanceName, LaunchSpec};
use lxpack_core::ports::{JobHistory, RuntimeError};
use lxpack_fake::{
    ExecScript, FakeAppStore, FakeRuntime, Fault, ImageBuilder, InstanceStatus, Interruption,
    RegistryOp, RuntimeOp, Signal, When,
};

use helpers::{
    FirstRecordWins, LastWriterWins, OldestFirst, RenewalResurrects, ami_id, app, base_image,
    busybox_runtime, key, seeded_catalog,
};

const PREFIX: &str = "lxpack-ct";

fn fixture() -> RuntimeFixture {
    RuntimeFixture::new(base_image(), PREFIX)
}

/// The daemon holds nothing but the base image.
fn assert_clean(runtime: &FakeRuntime) {
    assert!(runtime.instances().is_empty(), "{:?}", runtime.instances());
    assert!(runtime.profiles().is_empty(), "{:?}", runtime.profiles());
    let images: Vec<Image> = runtime.image_registry().images();
    assert_eq!(images.len(), 1, "{images:?}");
}

/// A cluster member of the fake, with its state.
#[allow(clippy::expect_used)]
fn member(name: &str, status: &str) -> lxpack_core::domain::ClusterMember {
    lxpack_core::domain::ClusterMember {
        name: lxpack_core::domain::MemberName::parse(name).expect("a valid member name"),
        url: format!("https://{name}:8443"),
        status: status.into(),
        message: String::new(),
        groups: Vec::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_fake_cluster_honours_the_runtime_contract_and_reports_placement() {
    let runtime = busybox_runtime();
    runtime.set_cluster(vec![member("m1", "Offline"), member("m2", "Online")]);
    contract_on(&runtime, &fixture().on_member("m2"))
        .await
        .assert_passed();
    // Expecting another member than the one the cluster picks fails, by name.
    let report = contract_on(&runtime, &fixture().on_member("m1")).await;
    assert_eq!(
        failed_checks(&report),
        ["launch_instance says which cluster member runs the instance"]
    );
}

#[tokio::test(start_paused = true)]
async fn the_base_contract_runs_without_capabilities_and_each_capability_adds_its_part() {
    let runtime = busybox_runtime();
    runtime.set_cluster(vec![member("m2", "Online")]);
    let registry = runtime.image_registry();
    let none = lxpack_core::ports::RuntimeCapabilities::none();
    let base = container_runtime_contract(&runtime, &none, &registry, &fixture()).await;
    base.assert_passed();
    let full = contract_on(&runtime, &fixture()).await;
    full.assert_passed();
    let names = |report: &lxpack_contract::ContractReport| -> Vec<String> {
        report
            .checks
            .iter()
            .map(|check| check.name.clone())
            .collect()
    };
    let (base, full) = (names(&base), names(&full));
    for part in [
        "create_volume empty, with a quota",
        "cluster_members",
        "launch_instance as a standby",
        "snapshot_instance of a running instance",
        "ensure_egress creates the bridge and its ACL",
    ] {
        assert!(
            !base.iter().any(|name| name == part),
            "{part} ran without its capability"
        );
        assert!(full.iter().any(|name| name == part), "{part} did not run");
    }
}

/// The whole runtime contract, every capability offered, on `runtime` and its
/// registry.
async fn contract_on(
    runtime: &FakeRuntime,
    fixture: &lxpack_contract::RuntimeFixture,
) -> lxpack_contract::ContractReport {
    let registry = runtime.image_registry();
    let capabilities = lxpack_core::ports::RuntimeCapabilities {
        network_policies: Some(std::sync::Arc::new(runtime.clone())),
        ..lxpack_core::ports::RuntimeCapabilities::all_of(runtime)
    };
    container_runtime_contract(runtime, &capabilities, &registry, fixture).await
}

fn failed_checks(report: &lxpack_contract::ContractReport) -> Vec<&str> {
    report.failures().map(|check| check.name.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn the_fake_daemon_honours_the_runtime_contract() {
    let runtime = busybox_runtime();
    let report = contract_on(&runtime, &fixture()).await;
    report.assert_passed();
    assert!(report.checks.len() > 60, "{}", report.checks.len());
    assert_clean(&runtime);

    let signalled: Vec<(Interruption, Vec<Signal>)> = runtime
        .signals()
        .into_iter()
        .map(|record| (record.cause, record.signals))
        .collect();
    let both = vec![Signal::Term, Signal::Kill];
    assert_eq!(
        signalled,
        vec![
            (Interruption::TimedOut, both.clone()),
            (Interruption::Cancelled, both)
        ]
    );

    // A second run on the same daemon passes too.
    contract_on(&runtime, &fixture()).await.assert_passed();
}

#[tokio::test(start_paused = true)]
async fn leftovers_of_an_earlier_run_are_removed_first() {
    let runtime = busybox_runtime();
    let registry = runtime.image_registry();
    // What a run killed half-way leaves: its instances and its image.
    for name in ["lxpack-ct-main", "contract-ct-labelled"] {
        let spec = LaunchSpec {
            name: InstanceName::parse(name).unwrap(),
            image: base_image(),
            profile: None,
            ephemeral: false,
            isolation: Default::default(),
            limits: Default::default(),
            network: Default::default(),
            labels: None,
            standby: None,
            map_owner: None,
            from_snapshot: None,
            timeout: Duration::from_secs(60),
        };
        runtime.add_instance(&spec, InstanceStatus::Stopped);
    }
    registry.add_image(
        ImageBuilder::new("earlier")
            .alias(ImageAlias::parse("lxpack-ct-image").unwrap())
            .build(),
    );
    let report = contract_on(&runtime, &fixture()).await;
    report.assert_passed();
    assert!(
        report
            .check("remove leftovers of an earlier run")
            .unwrap()
            .passed()
    );
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_error_is_reported_with_expected_and_got() {
    let runtime = busybox_runtime();
    runtime.inject(
        RuntimeOp::CreateProfile,
        When::Nth(2),
        Fault::fail_with(|| RuntimeError::Rejected {
            operation: "create profile".into(),
            message: "duplicate".into(),
        }),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(failed_checks(&report), ["create_profile twice"]);
    let check = report.check("create_profile twice").unwrap();
    match &check.outcome {
        Outcome::Failed { expected, got } => {
            assert!(expected.contains("AlreadyExists"), "{expected}");
            assert!(got.contains("Rejected"), "{got}");
        }
        Outcome::Passed => panic!("{check:?}"),
    }
    assert!(report.to_string().contains("1 of"), "{report}");
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_keep_mark_that_is_not_kept_is_caught() {
    let runtime = busybox_runtime();
    // The mark is refused: the call fails, and nothing reads back.
    runtime.inject(
        RuntimeOp::MarkKept,
        When::Nth(1),
        Fault::fail(lxpack_fake::FakeFailure::Rejected),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(
        failed_checks(&report),
        [
            "mark_kept of an instance",
            "list_resources reads back an instance's keep mark, and only that instance's"
        ]
    );
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn output_on_the_wrong_stream_is_caught() {
    let runtime = busybox_runtime();
    // The 3rd exec is the interleaved one: send everything to stdout.
    runtime.script_exec(
        When::Nth(3),
        ExecScript::new().stdout("out1\nerr1\nout2\nerr2\nout3\n"),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(
        failed_checks(&report),
        ["stdout arrives in order", "stderr arrives in order"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_implementation_still_cleans_up() {
    let runtime = busybox_runtime();
    let registry = runtime.image_registry();
    registry.inject(
        RegistryOp::PublishImage,
        When::Nth(1),
        Fault::fail_with(|| panic!("adapter bug")),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(failed_checks(&report), ["the checks run to the end"]);
    let text = report.to_string();
    assert!(text.contains("panic: adapter bug"), "{text}");
    assert!(report.check("cleanup").unwrap().passed());
    assert!(report.check("nothing is left behind").unwrap().passed());
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_never_answers_fails_its_check() {
    let runtime = busybox_runtime();
    runtime.inject(RuntimeOp::ListResources, When::Nth(1), Fault::Hang);
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(failed_checks(&report), ["list_resources after launch"]);
    let text = report.to_string();
    assert!(text.contains("no answer within 600s"), "{text}");
    assert_clean(&runtime);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_that_is_not_honoured_is_caught() {
    let runtime = busybox_runtime();
    // The sleeps that must time out (after 2 s) or be cancelled (after 1 s) exit 0
    // after half a second instead.
    runtime.on_command(
        &["sleep", "600"],
        ExecScript::new().sleep(Duration::from_millis(500)),
    );
    let report = contract_on(&runtime, &fixture()).await;
    assert_eq!(
        failed_checks(&report),
        [
            "exec past its timeout",
            "a timed-out exec returns within the grace period",
            "exec cancelled by its token"
        ]
    );
}

#[tokio::test]
async fn a_bad_prefix_is_a_fixture_failure() {
    let runtime = busybox_runtime();
    let bad = RuntimeFixture::new(base_image(), "ct");
    let report = contract_on(&runtime, &bad).await;
    assert_eq!(failed_checks(&report), ["fixture"]);
    assert!(runtime.calls().is_empty());
}

#[tokio::test]
async fn the_fake_store_honours_the_store_contract_again_and_again() {
    let store = FakeAppStore::new();
    store.insert_app(app("web", None));
    store.insert_app(app("api", None));
    app_store_contract(&store, &key("web"))
        .await
        .assert_passed();
    app_store_contract(&store, &key("web"))
        .await
        .assert_passed();
    let apps: Vec<_> = store.apps().into_iter().map(|app| app.key).collect();
    assert_eq!(
        apps,
        [key("api"), key("web")],
        "the imported app is removed"
    );
}

#[tokio::test]
async fn the_fake_store_honours_the_job_history_contract_again_and_again() {
    let store = FakeAppStore::new();
    job_history_contract(&store, &key("web"))
        .await
        .assert_passed();
    job_history_contract(&store, &key("web"))
        .await
        .assert_passed();
    let running = JobHistory::running_jobs(&store).await.unwrap();
    assert!(running.is_empty(), "{running:?}");
}

#[tokio::test]
async fn a_history_whose_jobs_never_end_fails() {
    let report = job_history_contract(&FirstRecordWins(FakeAppStore::new()), &key("web")).await;
    let failed = failed_checks(&report);
    assert!(
        failed.contains(&"record_job replaces the record"),
        "{report}"
    );
    assert!(
        failed.contains(&"running_jobs follows the replaced status"),
        "{report}"
    );
}

#[tokio::test]
async fn a_history_whose_renewal_revives_ended_jobs_fails() {
    let report = job_history_contract(&RenewalResurrects(FakeAppStore::new()), &key("web")).await;
    let failed = failed_checks(&report);
    assert!(
        failed.contains(&"renew_lease of an ended job answers false"),
        "{report}"
    );
    assert!(
        failed.contains(&"renew_lease never makes an ended job running again"),
        "{report}"
    );
    assert!(
        !failed.contains(&"renew_lease of an unknown job answers false"),
        "{report}"
    );
}

#[tokio::test]
async fn a_store_without_the_newer_job_rule_fails() {
    let inner = FakeAppStore::new();
    inner.insert_app(app("web", None));
    let report = app_store_contract(&LastWriterWins(inner), &key("web")).await;
    let failed = failed_checks(&report);
    assert!(
        failed.contains(&"record_container_image of an older job"),
        "{report}"
    );
    assert!(
        failed
            .iter()
            .any(|name| name.starts_with("get_app after Superseded")),
        "{report}"
    );
}

#[tokio::test]
async fn a_missing_app_is_reported() {
    let store = FakeAppStore::new();
    let report = app_store_contract(&store, &key("web")).await;
    assert_eq!(failed_checks(&report), ["get_app"]);
}

#[tokio::test]
async fn the_fake_catalog_honours_the_catalog_contract() {
    let (catalog, owned, foreign) = seeded_catalog();
    let fixture = AmiFixture::new(app("web", None), owned, foreign, ami_id(99));
    ami_catalog_contract(&catalog, &fixture)
        .await
        .assert_passed();
}

#[tokio::test]
async fn a_catalog_listing_oldest_first_fails() {
    let (catalog, owned, foreign) = seeded_catalog();
    let fixture = AmiFixture::new(app("web", None), owned, foreign, ami_id(99));
    let report = ami_catalog_contract(&OldestFirst(catalog), &fixture).await;
    assert_eq!(failed_checks(&report), ["list_app_amis is newest first"]);
}

#[tokio::test]
async fn a_catalog_missing_an_ami_fails() {
    let (catalog, mut owned, foreign) = seeded_catalog();
    owned.push(ami_id(20)); // exists, but in another region
    let fixture = AmiFixture::new(app("web", None), owned, foreign, ami_id(99));
    let report = ami_catalog_contract(&catalog, &fixture).await;
    assert_eq!(
        failed_checks(&report),
        ["list_app_amis lists exactly the app's AMIs"]
    );
}
