//! The core's buildimage and deploy end to end on each real daemon, with the fake
//! AMI catalog and app store: a hook's output streams back, the image is published
//! and recorded, the buildpack writes into the checkout as the checkout's owner, and
//! nothing is left behind.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use lxpack_core::domain::{
    App, AppKey, BuildInfos, GuestPath, ImageAlias, ImageSelector, LifecycleHooks, Module,
    OutputStream, Owner, Script,
};
use lxpack_core::events::Step;
use lxpack_core::ports::{ContainerRuntime, ImageRegistry};
use lxpack_core::workflows::{BuildImageRequest, Checkout, DeployRequest};
use lxpack_fake::{FakeAppStore, RecordingEvents};
use lxpack_lxd::LxdClient;

use tokio_util::sync::CancellationToken;

use crate::helpers::daemons;

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

fn app(name: &str) -> App {
    App::new(AppKey::new(name, "test", "e2e"), "eu-west-1")
        .with_hooks(LifecycleHooks {
            pre_buildimage: Some(Script::new(b"echo pre-hook for $GHOST_APP\necho made-by-buildimage > /etc/lxpack-marker\n".to_vec())),
            post_buildimage: Some(Script::new(b"test -f /etc/lxpack-marker && echo post-hook\n".to_vec())),
        })
        .with_module(Module::new("api", GuestPath::parse("/srv/api").unwrap()).with_build_pack(Script::new(
            b"#!/bin/sh\nset -e\ncat /etc/lxpack-marker > built.txt\nid -u >> built.txt\necho built in $(pwd)\n".to_vec(),
        )))
        .with_build_infos(BuildInfos {
            source_container_image: Some(ImageSelector::Alias(ImageAlias::parse("lxpack-test-busybox").unwrap())),
            ..BuildInfos::default()
        })
}

fn checkout(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lxpack-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(OWNER.uid), Some(OWNER.gid)).unwrap();
    dir
}

async fn run_on(daemon: &str, client: LxdClient) {
    let store = FakeAppStore::new();
    let app = app(&format!("e2e-{daemon}"));
    store.insert_app(app.clone());
    let workflows =
        crate::helpers::workflows_on(&client, &store, crate::helpers::settings_for(daemon));
    let build_job = workflows.new_job_id();
    let deploy_job = workflows.new_job_id();
    let events = RecordingEvents::new();
    let cancel = CancellationToken::new();

    let build = workflows
        .build_image(
            &BuildImageRequest::new(app.key.clone(), build_job.clone()),
            &events,
            &cancel,
        )
        .await;
    let report = build.unwrap_or_else(|e| panic!("{daemon}: buildimage failed: {e:?}"));
    let pre =
        String::from_utf8_lossy(&events.output(Step::PreBuildImageHook, OutputStream::Stdout))
            .into_owned();
    assert_eq!(pre, format!("pre-hook for {}\n", app.key.name), "{daemon}");
    assert_eq!(
        store.app(&app.key).unwrap().build_infos.container_image,
        Some(build_job.clone())
    );

    let dir = checkout(daemon);
    let deployed = workflows
        .deploy(
            &DeployRequest::new(
                app.key.clone(),
                "api",
                deploy_job,
                Checkout {
                    path: dir.clone(),
                    owner: OWNER,
                },
            ),
            &events,
            &cancel,
        )
        .await;
    let outcome = deployed.map_err(|e| format!("{e:?}"));
    let built = std::fs::read_to_string(dir.join("built.txt"));
    let owner = std::fs::metadata(dir.join("built.txt")).map(|m| (m.uid(), m.gid()));
    cleanup(&client, &report.image.fingerprint, &dir).await;
    outcome.unwrap_or_else(|e| panic!("{daemon}: deploy failed: {e}"));
    assert_eq!(
        built.unwrap(),
        "made-by-buildimage\n1000\n",
        "{daemon}: the buildpack ran in the published image, as uid 1000"
    );
    assert_eq!(
        owner.unwrap(),
        (OWNER.uid, OWNER.gid),
        "{daemon}: files written in the checkout belong to its owner"
    );
    let out =
        String::from_utf8_lossy(&events.output(Step::Buildpack, OutputStream::Stdout)).into_owned();
    assert_eq!(out, "built in /srv/api\n", "{daemon}");
    let leftovers = client.list_resources().await.unwrap();
    assert!(
        leftovers
            .iter()
            .all(|r| r.labels.as_ref().is_none_or(|l| l.job != build_job)),
        "{daemon}: left behind {leftovers:?}"
    );
    assert_eq!(
        store.job(&build_job).map(|r| r.status),
        Some(lxpack_core::domain::JobStatus::Succeeded),
        "{daemon}: the job is recorded"
    );
}

async fn cleanup(client: &LxdClient, fingerprint: &lxpack_core::domain::Fingerprint, dir: &Path) {
    let _ = client.delete_image(fingerprint).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buildimage_and_deploy_on_lxd_and_incus() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        run_on(name, client).await;
    }
}
