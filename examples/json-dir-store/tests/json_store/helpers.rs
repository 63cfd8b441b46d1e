//! A temporary store directory, an app, job ids, and a world of fakes around the store.

use std::path::PathBuf;
use std::sync::Arc;

use lxpack_core::document::{DocumentFormat, parse_app_documents};
use lxpack_core::domain::{App, AppKey, ImageAlias, JobId, OsIdentity, OsType, Owner};
use lxpack_core::ports::AppStore as _;
use lxpack_core::ports::RuntimeCapabilities;
use lxpack_core::workflows::{
    BuildImageReport, BuildImageRequest, Checkout, DeployReport, DeployRequest, Ports, Settings,
    WorkflowError, Workflows,
};
use lxpack_example_json_store::JsonDirAppStore;
use lxpack_fake::{FakeImageRegistry, FakeRuntime, ImageBuilder, RecordingEvents};
use tokio_util::sync::CancellationToken;

/// A directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("lxpack-json-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Where the store lives (created by `open`).
    pub(crate) fn store(&self) -> PathBuf {
        self.0.join("store")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An app with one module `api` whose buildpack is `make`.
pub(crate) fn app(name: &str) -> App {
    let text = format!(
        r#"{{"name": "{name}", "env": "prod", "role": "front", "region": "eu-west-1",
            "modules": [{{"name": "api", "path": "/srv/api", "build_pack": "bWFrZQo="}}]}}"#
    );
    parse_app_documents(&text, DocumentFormat::Json)
        .unwrap()
        .pop()
        .unwrap()
}

pub(crate) fn key(name: &str) -> AppKey {
    app(name).key
}

pub(crate) fn job(seconds: u32) -> JobId {
    JobId::generate(seconds, [5; 8])
}

/// The JSON store holding app `web`, and the fakes for the rest, wired into workflows.
pub(crate) struct World {
    pub(crate) dir: TempDir,
    pub(crate) store: JsonDirAppStore,
    pub(crate) runtime: FakeRuntime,
    pub(crate) registry: FakeImageRegistry,
    pub(crate) events: RecordingEvents,
    pub(crate) cancel: CancellationToken,
    pub(crate) workflows: Workflows,
}

impl World {
    pub(crate) async fn new(name: &str, settings: Settings) -> Self {
        let dir = TempDir::new(name);
        let store = JsonDirAppStore::open(&dir.store()).unwrap();
        store.import_app(app("web")).await.unwrap();
        let runtime = FakeRuntime::new();
        let registry = runtime.image_registry();
        registry.add_image(
            ImageBuilder::new("base-debian-12")
                .alias(ImageAlias::parse("debian-12").unwrap())
                .os("debian", "12")
                .architecture("x86_64")
                .build(),
        );
        let workflows = Workflows::new(
            Ports {
                runtime: Arc::new(runtime.clone()),
                registry: Arc::new(registry.clone()),
                amis: None,
                apps: Arc::new(store.clone()),
                jobs: Arc::new(store.clone()),
                capabilities: RuntimeCapabilities {
                    network_policies: Some(Arc::new(runtime.clone())),
                    ..RuntimeCapabilities::all_of(&runtime)
                },
            },
            settings,
        );
        Self {
            dir,
            store,
            runtime,
            registry,
            events: RecordingEvents::new(),
            cancel: CancellationToken::new(),
            workflows,
        }
    }

    pub(crate) async fn build(&self, job: &JobId) -> Result<BuildImageReport, WorkflowError> {
        let request = BuildImageRequest {
            os: Some(OsIdentity::new(OsType::Linux, "debian", "12", "x86_64")),
            ..BuildImageRequest::new(key("web"), job.clone())
        };
        self.workflows
            .build_image(&request, &self.events, &self.cancel)
            .await
    }

    pub(crate) async fn deploy(&self, job: &JobId) -> Result<DeployReport, WorkflowError> {
        let request = DeployRequest::new(
            key("web"),
            "api",
            job.clone(),
            Checkout {
                path: self.dir.0.clone(),
                owner: Owner {
                    uid: 1000,
                    gid: 1000,
                },
            },
        );
        self.workflows
            .deploy(&request, &self.events, &self.cancel)
            .await
    }

    /// The image job the app's file records.
    pub(crate) async fn recorded(&self) -> Option<JobId> {
        use lxpack_core::ports::AppStore as _;
        let app = self.store.get_app(&key("web")).await.unwrap();
        app.build_infos.container_image
    }

    pub(crate) fn assert_nothing_left(&self) {
        assert!(
            self.runtime.instances().is_empty(),
            "{:?}",
            self.runtime.instances()
        );
        assert!(
            self.runtime.profiles().is_empty(),
            "{:?}",
            self.runtime.profiles()
        );
    }
}
