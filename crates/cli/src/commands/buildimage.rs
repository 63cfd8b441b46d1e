//! `lxpack buildimage`: wires the request from the command line and the app, runs the
//! core's workflow, and reports the image it published.

use lxpack_core::domain::{AmiId, OsIdentity, OsType};
use lxpack_core::workflows::{AmiSource, BuildImageReport, BuildImageRequest, RecordOutcome};
use serde_json::json;

use super::job::JobRun;
use crate::args::BuildimageArgs;
use crate::context::Context;
use crate::exit::{CliError, ExitClass};

/// Runs `lxpack buildimage`.
///
/// # Errors
/// A [`CliError`] of the failure's class.
pub async fn run(ctx: &Context, args: &BuildimageArgs) -> Result<(), CliError> {
    ctx.require_containers()?;
    let app = ctx.resolve_app(&args.app).await?;
    let ami_id = match &args.ami {
        Some(text) => Some(AmiId::parse(text).map_err(|e| {
            CliError::new(ExitClass::Input, e).with_hint("pass --ami ami-0123456789abcdef0")
        })?),
        None => app.build_infos.source_ami.clone(),
    };
    let os = args.os.as_deref().map(parse_os).transpose()?;
    let ami = match (ctx.has_ami_catalog(), ami_id, os) {
        (true, Some(id), None) => AmiSource::Catalog(id),
        (true, None, None) => {
            return Err(CliError::new(
                ExitClass::Input,
                format!("app {} names no AMI (build_infos.source_ami)", app.key),
            )
            .with_hint("pass --ami AMI, or --os FAMILY/RELEASE to skip the AMI lookup"));
        }
        (_, ami, os) => AmiSource::Given { ami, os },
    };
    let job = ctx.job_id(args.job.job.as_deref())?;
    let request = BuildImageRequest {
        app: app.key.clone(),
        job: job.clone(),
        ami,
        keep: args.job.keep,
    };
    let run = JobRun::start(ctx, &job, lxpack_core::domain::JobCommand::BuildImage, &app.key, None).await?;
    let result = ctx
        .workflows()
        .await?
        .build_image(&request, run.renderer(), ctx.cancel())
        .await;
    let report = run.finish(ctx, result).await?;
    render(ctx, &report);
    Ok(())
}

/// Parses `FAMILY/RELEASE[/ARCH]`; the architecture defaults to this host's.
fn parse_os(text: &str) -> Result<OsIdentity, CliError> {
    let parts: Vec<&str> = text.split('/').collect();
    let bad = || {
        CliError::new(ExitClass::Input, format!("--os {text:?} is not FAMILY/RELEASE[/ARCH]"))
            .with_hint("e.g. --os debian/12 or --os ubuntu/22.04/aarch64")
    };
    match parts.as_slice() {
        [family, release] if !family.is_empty() && !release.is_empty() => Ok(OsIdentity::new(
            OsType::Linux,
            family,
            release,
            std::env::consts::ARCH,
        )),
        [family, release, arch] if parts.iter().all(|p| !p.is_empty()) => {
            Ok(OsIdentity::new(OsType::Linux, family, release, arch))
        }
        _ => Err(bad()),
    }
}

fn render(ctx: &Context, report: &BuildImageReport) {
    let record = match &report.record {
        RecordOutcome::Recorded { .. } => "recorded on the app".to_owned(),
        RecordOutcome::Superseded { current } => format!("not recorded: newer job {current} is current"),
    };
    let deleted: Vec<String> = report
        .retention
        .deleted
        .iter()
        .map(|d| d.fingerprint.short().to_owned())
        .collect();
    ctx.result(
        &[
            format!(
                "image {} (alias {}) published from {}, {record}",
                report.image.fingerprint.short(),
                report.job,
                report.source
            ),
            format!(
                "retention: {} image(s) deleted, {} kept{}",
                deleted.len(),
                report.retention.kept,
                if report.retention.count_only { " (count only: no AMI catalog)" } else { "" }
            ),
        ],
        json!({
            "job": report.job.as_str(),
            "fingerprint": report.image.fingerprint.as_str(),
            "alias": report.job.as_str(),
            "source": report.source.to_string(),
            "recorded": matches!(report.record, RecordOutcome::Recorded { .. }),
            "deleted_images": deleted,
            "kept_resources": report.kept_resources,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_arguments() {
        let os = parse_os("debian/12/arm64").unwrap();
        assert_eq!((os.family.as_str(), os.release.as_str(), os.architecture.as_str()), ("debian", "12", "aarch64"));
        assert!(parse_os("debian").is_err());
        assert!(parse_os("debian/").is_err());
        assert!(parse_os("a/b/c/d").is_err());
    }
}
