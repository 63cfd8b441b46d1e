//! Runs a buildimage then a deploy with [`JsonDirAppStore`] as the app store and
//! `lxpack-fake`'s runtime and registry as the container daemon, printing the events.
//!
//! ```sh
//! cargo run -p lxpack-example-json-store -- [STORE_DIR]
//! ```
//! The store directory defaults to `$TMPDIR/lxpack-json-store-example`; look in it
//! afterwards: `apps/web,demo,webfront.json` records the new image, `jobs/` the two
//! jobs.

use std::error::Error;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lxpack_core::document::{DocumentFormat, parse_app_documents};
use lxpack_core::domain::{AppKey, ImageAlias, OsIdentity, OsType, Owner};
use lxpack_core::events::{Event, EventSink};
use lxpack_core::ports::{AppStore, JobHistory, RuntimeCapabilities};
use lxpack_core::workflows::{
    BuildImageRequest, Checkout, DeployRequest, Ports, Settings, WorkflowError, Workflows,
};
use lxpack_example_json_store::JsonDirAppStore;
use lxpack_fake::{ExecScript, FakeRuntime, ImageBuilder};
use tokio_util::sync::CancellationToken;

/// The app, as Cloud Deploy's API returns it; the buildpack is base64 of
/// `#!/bin/sh\nset -e\nmake all\n`.
const APP: &str = r#"{
    "name": "web", "env": "demo", "role": "webfront", "region": "eu-west-1",
    "modules": [{"name": "api", "path": "/srv/api",
                 "build_pack": "IyEvYmluL3NoCnNldCAtZQptYWtlIGFsbAo="}]
}"#;

/// A whole job may take this long; then it is cancelled, and still cleaned up.
const JOB_DEADLINE: Duration = Duration::from_secs(15 * 60);

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let root = std::env::args_os().nth(1).map_or_else(
        || std::env::temp_dir().join("lxpack-json-store-example"),
        PathBuf::from,
    );
    match run(&root).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain: each error's Display leaves its source to this loop.
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                let _ = writeln!(stderr, "  caused by: {cause}");
                source = cause.source();
            }
            let cancelled = error
                .downcast_ref::<WorkflowError>()
                .is_some_and(WorkflowError::is_cancelled);
            if cancelled {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(root: &Path) -> Result<(), BoxError> {
    // The integrator's own store, seeded with the app's document.
    let store = JsonDirAppStore::open(root)?;
    for app in parse_app_documents(APP, DocumentFormat::Json)? {
        store.import_app(app).await?;
    }
    let key = AppKey::new("web", "demo", "webfront");

    // A fake daemon with one Debian 12 base image; the buildpack prints two lines.
    let runtime = FakeRuntime::new();
    let registry = runtime.image_registry();
    registry.add_image(
        ImageBuilder::new("base-debian-12")
            .alias(ImageAlias::parse("debian-12")?)
            .os("debian", "12")
            .architecture("x86_64")
            .build(),
    );
    runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new()
            .stdout("make: building api\n")
            .stderr("make: warning: demo only\n"),
    );

    let workflows = Workflows::new(
        Ports {
            runtime: Arc::new(runtime.clone()),
            registry: Arc::new(registry),
            // No AMI catalog: the OS is given, and retention only counts (it warns).
            amis: None,
            apps: Arc::new(store.clone()),
            // The same directory keeps the job history; the workflows record each job
            // in it from start to end.
            jobs: Arc::new(store.clone()),
            capabilities: RuntimeCapabilities {
                network_policies: Some(Arc::new(runtime.clone())),
                ..RuntimeCapabilities::all_of(&runtime)
            },
        },
        Settings::default(),
    );
    let build_job = workflows.new_job_id();
    let deploy_job = workflows.new_job_id();

    // One token for the whole run: cancelling it (a deadline here; Ctrl-C in a real
    // program) stops the running command and still cleans up.
    let cancel = CancellationToken::new();
    let deadline = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            tokio::time::sleep(JOB_DEADLINE).await;
            cancel.cancel();
        }
    });
    let events = PrintEvents;

    // No AMI catalog here: the AMI's OS is given.
    let request = BuildImageRequest {
        os: Some(OsIdentity::new(OsType::Linux, "debian", "12", "x86_64")),
        ..BuildImageRequest::new(key.clone(), build_job.clone())
    };
    say(&format!("== buildimage {build_job}"));
    let built = workflows.build_image(&request, &events, &cancel).await?;
    say(&format!(
        "published {} ({:?})",
        built.image.fingerprint, built.record
    ));

    // deploy mounts a checkout owned by its owner; this one is owned by whoever runs us.
    let checkout = root.join("checkout-api");
    std::fs::create_dir_all(&checkout)?;
    let owner = {
        use std::os::unix::fs::MetadataExt as _;
        let metadata = std::fs::metadata(&checkout)?;
        Owner {
            uid: metadata.uid(),
            gid: metadata.gid(),
        }
    };
    let request = DeployRequest::new(
        key.clone(),
        "api",
        deploy_job.clone(),
        Checkout {
            path: checkout,
            owner,
        },
    );
    say(&format!("== deploy {deploy_job}"));
    let deployed = workflows.deploy(&request, &events, &cancel).await?;
    say(&format!("{:?}", deployed.outcome));
    for job in store.list_jobs(Some(&key)).await? {
        say(&format!("job {} ({}): {}", job.id, job.command, job.status));
    }
    deadline.abort();

    let app = store.get_app(&key).await?;
    say(&format!(
        "app {key} records image {:?} in {}",
        app.build_infos.container_image.map(|job| job.to_string()),
        store.app_file(&key).display()
    ));
    say(&format!(
        "leftover instances: {}",
        runtime.instances().len()
    ));
    Ok(())
}

/// Writes one line to stdout (ignoring a closed stdout, like `emit` must).
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Prints each event as it comes. `emit` runs inside the workflow, so it only writes.
struct PrintEvents;

impl EventSink for PrintEvents {
    fn emit(&self, event: Event) {
        match event {
            Event::StepStarted { step } => say(&format!("-> {step}")),
            Event::StepFinished {
                step,
                duration,
                succeeded,
            } => say(&format!(
                "   {step}: {} in {duration:?}",
                if succeeded { "ok" } else { "FAILED" }
            )),
            Event::Output { stream, bytes, .. } => {
                // Output chunks are not necessarily whole lines: pass them through.
                let _ = match stream {
                    lxpack_core::domain::OutputStream::Stdout => {
                        std::io::stdout().lock().write_all(&bytes)
                    }
                    lxpack_core::domain::OutputStream::Stderr => {
                        std::io::stderr().lock().write_all(&bytes)
                    }
                };
            }
            Event::Warning { message } => say(&format!("warning: {message}")),
            Event::ModuleSkipped { module, reason } => {
                say(&format!("module {module} skipped: {reason}"));
            }
            Event::ResourcesKept {
                instance, profile, ..
            } => {
                say(&format!("kept instance {instance} and profile {profile}"));
            }
            other => say(&format!("{other:?}")),
        }
    }
}
