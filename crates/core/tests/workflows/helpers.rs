//! A world of fakes with one app, one base image and one AMI, and shortcuts to run the
//! workflows in it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lxpack_core::domain::{App, AppKey, ImageAlias, JobId, OsIdentity, OsType, Owner, Provisioner};
use lxpack_core::events::Step;
use lxpack_core::ports::RuntimeCapabilities;
use lxpack_core::workflows::{
    BuildImageReport, BuildImageRequest, Checkout, DeployReport, DeployRequest, Ports,
    ProvisionerSettings, Settings, WorkflowError, Workflows,
};
use lxpack_fake::{
    FakeAmiCatalog, FakeAppStore, FakeClock, FakeImageRegistry, FakeRunners, FakeRuntime,
    ImageBuilder, RecordingEvents,
};
use tokio_util::sync::CancellationToken;

pub(crate) use lxpack_fake::fixtures::{BUILDPACK, REGION, ami_id, job, web_app};

pub(crate) const BASE_ALIAS: &str = "debian-12";
pub(crate) const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

pub(crate) fn debian() -> OsIdentity {
    OsIdentity::new(OsType::Linux, "debian", "12", "x86_64")
}

pub(crate) fn key(name: &str) -> AppKey {
    lxpack_fake::fixtures::app_key(name)
}

/// The settings of most tests: the waiting cleanup, whose every call shows in the
/// fake's log (the background release, the default, has tests of its own).
pub(crate) fn settings() -> Settings {
    Settings {
        cleanup: lxpack_core::workflows::CleanupMode::Wait,
        provisioners: vec![ProvisionerSettings {
            kind: Provisioner::Salt,
            formulas: PathBuf::from("/srv/formulas/salt"),
            bootstrap_command: None,
            formulas_digest: None,
        }],
        ..Settings::default()
    }
}

/// The fakes, wired into workflows.
pub(crate) struct World {
    pub(crate) runtime: FakeRuntime,
    pub(crate) registry: FakeImageRegistry,
    pub(crate) catalog: FakeAmiCatalog,
    pub(crate) store: FakeAppStore,
    /// The time of job records: 2023-11-14T22:13:20Z until a test moves it.
    pub(crate) clock: FakeClock,
    /// The job processes: this one is pid 4242, alive until a test kills it.
    pub(crate) runners: FakeRunners,
    pub(crate) events: RecordingEvents,
    pub(crate) cancel: CancellationToken,
    pub(crate) workflows: Workflows,
}

impl World {
    pub(crate) fn new() -> Self {
        Self::with(settings(), true)
    }

    pub(crate) fn with(settings: Settings, with_catalog: bool) -> Self {
        let runtime = FakeRuntime::new();
        let registry = runtime.image_registry();
        registry.add_image(
            ImageBuilder::new("base-debian-12")
                .alias(ImageAlias::parse(BASE_ALIAS).unwrap())
                .os("debian", "12")
                .architecture("x86_64")
                .build(),
        );
        let catalog = FakeAmiCatalog::new();
        let app = web_app();
        catalog.insert_ami(
            REGION,
            FakeAmiCatalog::app_ami(
                &app,
                ami_id(1),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                debian(),
            ),
        );
        let store = FakeAppStore::new();
        store.insert_app(app);
        let ports = Ports {
            runtime: Arc::new(runtime.clone()),
            registry: Arc::new(registry.clone()),
            amis: with_catalog.then(|| Arc::new(catalog.clone()) as _),
            apps: Arc::new(store.clone()),
            jobs: Arc::new(store.clone()),
            capabilities: RuntimeCapabilities {
                network_policies: Some(Arc::new(runtime.clone())),
                ..RuntimeCapabilities::all_of(&runtime)
            },
        };
        let clock = FakeClock::at_unix(1_700_000_000);
        let runners = FakeRunners::with_current(4242);
        Self {
            runtime,
            registry,
            catalog,
            store,
            events: RecordingEvents::new(),
            cancel: CancellationToken::new(),
            workflows: Workflows::new(ports, settings)
                .with_clock(Arc::new(clock.clone()))
                .with_runner_probe(Arc::new(runners.clone())),
            clock,
            runners,
        }
    }

    /// The same world, its runtime offering only `capabilities` (the fake itself still
    /// has them all, so a test sees that the workflows never reach for the others).
    pub(crate) fn offering(mut self, capabilities: RuntimeCapabilities) -> Self {
        let mut ports = self.workflows.ports().clone();
        ports.capabilities = capabilities;
        self.workflows = Workflows::new(ports, self.workflows.settings().clone())
            .with_clock(Arc::new(self.clock.clone()))
            .with_runner_probe(Arc::new(self.runners.clone()));
        self
    }

    pub(crate) fn build_request(&self, job: &JobId) -> BuildImageRequest {
        BuildImageRequest {
            ami: Some(ami_id(1)),
            ..BuildImageRequest::new(key("web"), job.clone())
        }
    }

    pub(crate) async fn build(&self, job: &JobId) -> Result<BuildImageReport, WorkflowError> {
        self.workflows
            .build_image(&self.build_request(job), &self.events, &self.cancel)
            .await
    }

    pub(crate) fn deploy_request(&self, module: &str, job: &JobId) -> DeployRequest {
        DeployRequest::new(
            key("web"),
            module,
            job.clone(),
            Checkout {
                path: PathBuf::from("/home/ci/checkouts/api"),
                owner: OWNER,
            },
        )
    }

    pub(crate) async fn deploy(
        &self,
        module: &str,
        job: &JobId,
    ) -> Result<DeployReport, WorkflowError> {
        self.workflows
            .deploy(
                &self.deploy_request(module, job),
                &self.events,
                &self.cancel,
            )
            .await
    }

    /// [`World::deploy`] with `--keep`: the container and profile stay, marked.
    pub(crate) async fn deploy_kept(
        &self,
        module: &str,
        job: &JobId,
    ) -> Result<DeployReport, WorkflowError> {
        let mut request = self.deploy_request(module, job);
        request.keep = true;
        self.workflows
            .deploy(&request, &self.events, &self.cancel)
            .await
    }

    /// Records `job` as the app's current image, with a published image behind it.
    pub(crate) async fn built(&self, job: &JobId) {
        self.build(job).await.unwrap();
        let _ = self.events.take();
        self.runtime.clear_calls();
    }

    pub(crate) fn app(&self) -> App {
        self.store.app(&key("web")).unwrap()
    }

    pub(crate) fn assert_nothing_left(&self) {
        let instances: Vec<String> = self
            .runtime
            .instances()
            .iter()
            .map(|i| i.name.to_string())
            .collect();
        let profiles: Vec<String> = self
            .runtime
            .profiles()
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        assert!(instances.is_empty(), "instances left: {instances:?}");
        assert!(profiles.is_empty(), "profiles left: {profiles:?}");
    }

    /// The first profile the runtime was asked to create.
    pub(crate) fn created_profile(&self) -> lxpack_core::domain::ProfileSpec {
        self.runtime
            .calls()
            .into_iter()
            .find_map(|c| match c {
                lxpack_fake::RuntimeCall::CreateProfile { profile } => Some(profile),
                _ => None,
            })
            .expect("a profile was created")
    }

    /// The argv of every command run, in order.
    pub(crate) fn commands(&self) -> Vec<Vec<String>> {
        self.runtime
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                lxpack_fake::RuntimeCall::Exec { command, .. } => Some(command),
                _ => None,
            })
            .collect()
    }

    /// The steps that started, in order.
    pub(crate) fn steps(&self) -> Vec<Step> {
        self.events.started_steps()
    }
}
