//! How a retention report reads, after buildimage and for `images purge`.

use lxpack_core::domain::DeletionReason;
use lxpack_core::workflows::RetentionReport;
use serde_json::{Value, json};

fn reason(reason: DeletionReason) -> &'static str {
    match reason {
        DeletionReason::AmiGone => "its AMI is gone",
        DeletionReason::BeyondRetention => "beyond ami_retention",
    }
}

/// Lines for people; `verb` is "deleted" or "would delete".
pub(crate) fn retention_lines(report: &RetentionReport, verb: &str) -> Vec<String> {
    let mut lines: Vec<String> = report
        .deleted
        .iter()
        .map(|doomed| {
            format!(
                "{verb} image {} (job {}, AMI {}): {}",
                doomed.fingerprint,
                doomed.job,
                doomed
                    .ami
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), ToString::to_string),
                reason(doomed.reason)
            )
        })
        .collect();
    lines.push(format!(
        "{} image(s) kept{}",
        report.kept,
        if report.count_only {
            "; no AMI catalog is configured, so only the count rule applied"
        } else {
            ""
        }
    ));
    lines.extend(
        report
            .skipped
            .iter()
            .map(|s| format!("retention skipped: {s}")),
    );
    lines.extend(
        report
            .failures
            .iter()
            .map(|f| format!("retention failure: {f}")),
    );
    lines
}

/// The report as JSON.
pub(crate) fn retention_json(report: &RetentionReport) -> Value {
    json!({
        "deleted": report.deleted.iter().map(|d| json!({
            "fingerprint": d.fingerprint.to_string(),
            "job": d.job.to_string(),
            "ami": d.ami.as_ref().map(ToString::to_string),
            "reason": reason(d.reason),
        })).collect::<Vec<_>>(),
        "kept": report.kept,
        "count_only": report.count_only,
        "skipped": report.skipped,
        "failures": report.failures,
    })
}
