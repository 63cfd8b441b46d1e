//! `lxpack buildimage`: the container-image twin of an AMI.

use lxpack_core::domain::{AmiId, OsIdentity};
use lxpack_core::workflows::{BuildImageReport, BuildImageRequest, RecordOutcome};
use serde_json::json;

use super::app_ref::resolve_app;
use super::job_session::JobSession;
use super::output::print_json;
use super::retention_view::{retention_json, retention_lines};
use crate::args::BuildimageArgs;
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: BuildimageArgs) -> Result<(), CliError> {
    let stores = wiring.stores().await?;
    let key = resolve_app(stores.apps.as_ref(), &args.app).await?;
    let ami = args
        .ami
        .as_deref()
        .map(AmiId::parse)
        .transpose()
        .map_err(|e| CliError::new(ExitClass::Input, e))?;
    let os = args
        .os
        .as_deref()
        .map(|text| OsIdentity::parse_spec(text, std::env::consts::ARCH))
        .transpose()
        .map_err(|e| CliError::new(ExitClass::Input, e))?;
    let workflows = wiring.workflows(&stores)?;
    workflows.check_resource_classes().await?;
    let session = JobSession::start(wiring, &workflows, args.job.job.as_deref())?;
    let request = BuildImageRequest {
        ami,
        os,
        keep: args.job.keep,
        keep_on_failure: args.job.keep_on_failure,
        log_path: Some(session.log_path.clone()),
        no_cache: args.no_cache,
        ..BuildImageRequest::new(key, session.id.clone())
    };
    let outcome = workflows
        .build_image(&request, &session.renderer, &session.cancel)
        .await;
    session.conclude(outcome, |session, report| show(wiring, session, report))
}

fn show(wiring: &Wiring, session: &JobSession, report: &BuildImageReport) {
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "job": report.job.to_string(),
            "instance": report.instance.to_string(),
            "source": report.source.to_string(),
            "image": {
                "fingerprint": report.image.fingerprint.to_string(),
                "aliases": report.image.aliases.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "size_bytes": report.image.size_bytes,
            },
            "current": matches!(report.record, RecordOutcome::Recorded { .. }),
            "retention": retention_json(&report.retention),
            "kept_resources": report.kept_resources,
            "steps_from_snapshot": report.steps_from_snapshot.iter().map(lxpack_core::events::Step::key).collect::<Vec<_>>(),
            "resumed_from": report.resumed_from.as_ref().map(ToString::to_string),
            "steps_snapshotted": report.steps_snapshotted,
            "log": session.log_path,
        }));
        return;
    }
    let r = &session.renderer;
    r.result_line(&format!(
        "built image {} (alias {}) from {} for job {}",
        report.image.fingerprint, report.job, report.source, report.job
    ));
    if let Some(job) = &report.resumed_from {
        let steps: Vec<String> = report
            .steps_from_snapshot
            .iter()
            .map(ToString::to_string)
            .collect();
        r.result_line(&format!(
            "taken from the snapshots of job {job}: {}",
            steps.join(", ")
        ));
    }
    match &report.record {
        RecordOutcome::Recorded { .. } => r.result_line("it is now the app's current image"),
        RecordOutcome::Superseded { current } => r.result_line(&format!(
            "a newer job's image ({current}) stays the app's current one"
        )),
        _ => {}
    }
    for line in retention_lines(&report.retention, "deleted") {
        r.result_line(&line);
    }
    if report.kept_resources {
        r.result_line(&format!(
            "kept instance {} and its profile: `lxpack shell {}` opens a shell in it; `lxpack gc` removes them after lxpack.keep.expiry",
            report.instance, report.job
        ));
    }
    r.result_line(&format!("job log: {}", session.log_path.display()));
}
