//! `lxpack deploy`: a module's buildpack in a fresh container from the app's image.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use lxpack_core::domain::Owner;
use lxpack_core::workflows::{Checkout, DeployOutcome, DeployReport, DeployRequest};
use serde_json::json;

use super::app_ref::resolve_app;
use super::job_session::JobSession;
use super::output::print_json;
use crate::args::DeployArgs;
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: DeployArgs) -> Result<(), CliError> {
    let checkout = checkout(&args.checkout)?;
    let stores = wiring.stores().await?;
    let key = resolve_app(stores.apps.as_ref(), &args.app).await?;
    let workflows = wiring.workflows(&stores)?;
    workflows.check_resource_classes().await?;
    let session = JobSession::start(wiring, &workflows, args.job.job.as_deref())?;
    let request = DeployRequest {
        keep: args.job.keep,
        keep_on_failure: args.job.keep_on_failure,
        log_path: Some(session.log_path.clone()),
        ..DeployRequest::new(key, args.module, session.id.clone(), checkout)
    };
    let outcome = workflows
        .deploy(&request, &session.renderer, &session.cancel)
        .await;
    session.conclude(outcome, |session, report| {
        show(wiring, session, report, &request.checkout);
    })
}

/// The checkout directory, made absolute, with its owner: the buildpack runs as that
/// user so that what it writes belongs to them on the host.
fn checkout(path: &Path) -> Result<Checkout, CliError> {
    let missing = |problem: String| {
        CliError::new(
            ExitClass::Input,
            format!("checkout {}: {problem}", path.display()),
        )
        .with_hint("pass --checkout with the module's source directory on this host")
    };
    let absolute = path
        .canonicalize()
        .map_err(|e| missing(format!("cannot be used ({e})")))?;
    let metadata = std::fs::metadata(&absolute).map_err(|e| missing(e.to_string()))?;
    if !metadata.is_dir() {
        return Err(missing("is not a directory".to_owned()));
    }
    Ok(Checkout {
        path: absolute,
        owner: Owner {
            uid: metadata.uid(),
            gid: metadata.gid(),
        },
    })
}

fn show(wiring: &Wiring, session: &JobSession, report: &DeployReport, checkout: &Checkout) {
    let (status, detail) = match &report.outcome {
        DeployOutcome::Built { instance, image } => {
            ("built", format!("ran in {instance} from image {image}"))
        }
        DeployOutcome::Skipped { reason } => ("skipped", reason.clone()),
        other => ("done", format!("{other:?}")),
    };
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "job": report.job.to_string(),
            "module": report.module,
            "status": status,
            "detail": detail,
            "checkout": checkout.path,
            "kept_resources": report.kept_resources,
            "log": session.log_path,
        }));
        return;
    }
    let r = &session.renderer;
    r.result_line(&format!(
        "module {} {status}: {detail}; output in {}",
        report.module,
        checkout.path.display()
    ));
    if report.kept_resources {
        r.result_line(&format!(
            "kept the instance and its profile: `lxpack shell {}` opens a shell in it; `lxpack gc` removes them after lxpack.keep.expiry",
            report.job
        ));
    }
    r.result_line(&format!("job log: {}", session.log_path.display()));
}
