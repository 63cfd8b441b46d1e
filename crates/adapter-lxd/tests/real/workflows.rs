//! The core's buildimage and deploy end to end on each real daemon, with the fake
//! AMI catalog and app store: a hook's output streams back, the image is published
//! and recorded, the buildpack writes into the checkout as the checkout's owner, and
//! nothing is left behind.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lxpack_core::domain::{
    App, AppKey, BuildInfos, GuestPath, ImageAlias, ImageSelector, JobId, LifecycleHooks, Module,
    OutputStream, Owner, Script,
};
use lxpack_core::events::Step;
use lxpack_core::ports::{ContainerRuntime, ImageRegistry};
use lxpack_core::workflows::{
    AmiSource, BuildImageRequest, Checkout, DeployRequest, Ports, Settings, Workflows,
};
use lxpack_fake::{FakeAppStore, RecordingEvents};
use lxpack_lxd::LxdClient;

use tokio_util::sync::CancellationToken;

use crate::helpers::daemons;

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

fn app(name: &str) -> App {
    App {
        key: AppKey { name: name.into(), env: "test".into(), role: "e2e".into() },
        region: "eu-west-1".into(),
        color: None,
        env_vars: vec![],
        features: vec![],
        lifecycle_hooks: LifecycleHooks {
            pre_buildimage: Some(Script::new(b"echo pre-hook for $GHOST_APP\necho made-by-buildimage > /etc/lxpack-marker\n".to_vec())),
            post_buildimage: Some(Script::new(b"test -f /etc/lxpack-marker && echo post-hook\n".to_vec())),
        },
        modules: vec![Module {
            name: "api".into(),
            path: GuestPath::parse("/srv/api").unwrap(),
            build_pack: Some(Script::new(
                b"#!/bin/sh\nset -e\ncat /etc/lxpack-marker > built.txt\nid -u >> built.txt\necho built in $(pwd)\n".to_vec(),
            )),
            git_repo: None,
        }],
        build_infos: BuildInfos {
            source_container_image: Some(ImageSelector::Alias(ImageAlias::parse("lxpack-test-busybox").unwrap())),
            ..BuildInfos::default()
        },
    }
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
    let workflows = Workflows::new(
        Ports {
            runtime: Arc::new(client.clone()),
            registry: Arc::new(client.clone()),
            amis: None,
            apps: Arc::new(store.clone()),
        },
        Settings::default(),
    );
    let seconds = u32::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let pid = std::process::id().to_be_bytes();
    let build_job = JobId::generate(seconds, [pid[0], pid[1], pid[2], pid[3], 0, 0, 0, 1]);
    let deploy_job = JobId::generate(seconds, [pid[0], pid[1], pid[2], pid[3], 0, 0, 0, 2]);
    let events = RecordingEvents::new();
    let cancel = CancellationToken::new();

    let build = workflows
        .build_image(
            &BuildImageRequest {
                app: app.key.clone(),
                job: build_job.clone(),
                ami: AmiSource::Given {
                    ami: None,
                    os: None,
                },
                keep: false,
            },
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
            &DeployRequest {
                app: app.key.clone(),
                module: "api".into(),
                job: deploy_job,
                checkout: Checkout {
                    path: dir.clone(),
                    owner: OWNER,
                },
                keep: false,
            },
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
    let leftovers = client.list_leftovers().await.unwrap();
    assert!(
        leftovers.iter().all(|l| l.job != Some(build_job.clone())),
        "{daemon}: left behind {leftovers:?}"
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
