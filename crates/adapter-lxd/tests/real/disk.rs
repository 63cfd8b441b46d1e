//! The root disk size of a resource class on each real daemon: a buildpack that fills
//! the disk is stopped by the size on a pool that enforces it (btrfs), and its job
//! fails naming the disk, read from the usage the daemon reports.

use std::time::Duration;

use lxpack_core::domain::{App, AppKey, LimitHit, Owner, ResourceLimits};
use lxpack_core::ports::ImageRegistry;
use lxpack_core::workflows::{BuildImageRequest, Checkout, DeployRequest, Settings, WorkflowError};
use lxpack_fake::{FakeAppStore, RecordingEvents};
use lxpack_lxd::LxdClient;
use tokio_util::sync::CancellationToken;

use crate::helpers::btrfs_daemons;

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// The root disk of the `tiny` class: 64 MiB.
const ROOT_SIZE: u64 = 64 << 20;

/// Writes 200 MiB, bounded, into a 64 MiB root disk: in /var/tmp, on the root disk and
/// writable by the checkout's owner the buildpack runs as (not /root, nor the
/// checkout, which is the host's).
const DISK_FILLER: &[u8] = b"#!/bin/sh\ndd if=/dev/zero of=/var/tmp/fill bs=1M count=200\n";

fn app(name: &str) -> App {
    crate::helpers::buildpack_app(
        AppKey::new(name, "test", "disk"),
        &[("filler", DISK_FILLER)],
    )
}

/// A `tiny` class (a 64 MiB root disk, 64 processes) for the module.
fn settings(daemon: &str, app: &AppKey) -> Settings {
    crate::helpers::class_settings(
        daemon,
        app,
        &["filler"],
        "tiny",
        ResourceLimits {
            processes: Some(64),
            root_size: Some(ROOT_SIZE),
            ..ResourceLimits::default()
        },
        Duration::from_secs(60),
    )
}

async fn run_on(daemon: &str, client: LxdClient) {
    let store = FakeAppStore::new();
    let app = app(&format!("disk-{daemon}"));
    store.insert_app(app.clone());
    let workflows = crate::helpers::workflows_on(&client, &store, settings(daemon, &app.key));
    let (events, cancel) = (RecordingEvents::new(), CancellationToken::new());
    let report = workflows
        .build_image(
            &BuildImageRequest::new(app.key.clone(), workflows.new_job_id()),
            &events,
            &cancel,
        )
        .await
        .unwrap_or_else(|e| panic!("{daemon}: buildimage failed: {e:?}"));
    let dir = std::env::temp_dir().join(format!("lxpack-disk-{daemon}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(OWNER.uid), Some(OWNER.gid)).unwrap();
    let request = DeployRequest::new(
        app.key.clone(),
        "filler",
        workflows.new_job_id(),
        Checkout {
            path: dir.clone(),
            owner: OWNER,
        },
    );
    let filled = workflows.deploy(&request, &events, &cancel).await;
    let _ = client.delete_image(&report.image.fingerprint).await;
    let _ = std::fs::remove_dir_all(&dir);

    let filled = filled.expect_err("the disk filler succeeded");
    eprintln!("{daemon}: disk filler: {filled}");
    let WorkflowError::LimitHit { hit, .. } = &filled else {
        panic!("{daemon}: the disk filler failed otherwise: {filled}")
    };
    let LimitHit::Disk { size, used } = &**hit else {
        panic!("{daemon}: the disk filler hit another cap: {filled}")
    };
    eprintln!("{daemon}: root disk {size} bytes, {used} used");
    assert_eq!(*size, ROOT_SIZE, "{daemon}");
    assert!(
        filled
            .to_string()
            .contains("resource class tiny: disk full: root disk 64 MiB"),
        "{daemon}: {filled}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filler_stops_at_its_class_s_root_size_on_btrfs_on_lxd_and_incus() {
    let Some(daemons) = btrfs_daemons().await else {
        return;
    };
    for (name, client) in daemons {
        run_on(name, client).await;
    }
}
