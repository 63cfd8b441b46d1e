//! How `lxpack jobs` reads: a table and notes for people, one JSON document for
//! machines.

use std::time::SystemTime;

use lxpack_core::domain::{JobRecord, ReleaseState};
use serde_json::json;

use super::output::{print_json, print_line, print_table, utc};

/// Prints `jobs`, whether their kept instances have expired judged at `now`.
pub(crate) fn show_jobs(json: bool, jobs: &[JobRecord], now: SystemTime) {
    if json {
        print_json(&json!({
            "event": "result",
            "jobs": jobs.iter().map(|job| job_json(job, now)).collect::<Vec<_>>(),
        }));
    } else if jobs.is_empty() {
        print_line("no jobs yet");
    } else {
        print_job_table(jobs);
        for line in jobs.iter().flat_map(|job| job_notes(job, now)) {
            print_line(&line);
        }
    }
}

/// The jobs as a table, with a member column when some job ran on a cluster.
fn print_job_table(jobs: &[JobRecord]) {
    // The member column only where some job ran on a cluster.
    let clustered = jobs.iter().any(|job| job.member.is_some());
    let mut headers = vec!["JOB", "COMMAND", "APP", "MODULE", "STATUS"];
    if clustered {
        headers.push("MEMBER");
    }
    headers.extend(["STARTED (UTC)", "SECONDS", "KEPT UNTIL (UTC)", "ERROR"]);
    let rows: Vec<Vec<String>> = jobs.iter().map(|job| job_row(job, clustered)).collect();
    print_table(&headers, &rows);
}

/// What the table cannot hold of `job`: its release's note, and what it kept, whole
/// (instance names are longer than a column).
fn job_notes(job: &JobRecord, now: SystemTime) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(note) = job.release.as_ref().and_then(|r| r.note.as_ref()) {
        notes.push(format!("job {}: {note}", job.id));
    }
    if let Some(kept) = &job.kept {
        notes.push(format!(
            "job {} kept instance {} until {} UTC{}; `lxpack shell {}` opens a shell in it",
            job.id,
            kept.instance,
            utc(kept.until),
            if kept.is_expired(now) {
                " (expired: the next `lxpack gc` removes it)"
            } else {
                ""
            },
            job.id
        ));
    }
    notes
}

fn seconds(job: &JobRecord) -> Option<f64> {
    job.duration().map(|d| d.as_secs_f64())
}

fn job_row(job: &JobRecord, with_member: bool) -> Vec<String> {
    let mut row = vec![
        job.id.to_string(),
        job.command.to_string(),
        job.app.to_string(),
        job.module.clone().unwrap_or_else(|| "-".to_owned()),
        status_text(job),
    ];
    if with_member {
        row.push(
            job.member
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
        );
    }
    row.extend([
        utc(job.started_at),
        seconds(job).map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
        job.kept
            .as_ref()
            .map_or_else(|| "-".to_owned(), |kept| utc(kept.until)),
        job.error
            .as_deref()
            .map(|e| e.chars().take(60).collect())
            .unwrap_or_default(),
    ]);
    row
}

/// The status, and what became of a background release when it is not plain: a
/// stop that failed is the operator's business even when the build succeeded.
fn status_text(job: &JobRecord) -> String {
    match job.release.as_ref().map(|release| release.state) {
        Some(ReleaseState::Failed) => format!("{} (stop failed)", job.status),
        Some(ReleaseState::Pending) => format!("{} (stopping)", job.status),
        _ => job.status.as_str().to_owned(),
    }
}

fn job_json(job: &JobRecord, now: SystemTime) -> serde_json::Value {
    json!({
        "id": job.id.to_string(),
        "command": job.command.as_str(),
        "app": job.app.to_string(),
        "module": job.module,
        "status": job.status.as_str(),
        "started_at": utc(job.started_at),
        "ended_at": job.ended_at.map(utc),
        "seconds": seconds(job),
        "error": job.error,
        "log": job.log_path,
        "member": job.member.as_ref().map(ToString::to_string),
        "kept": job.kept.as_ref().map(|kept| json!({
            "instance": kept.instance.as_str(),
            "until": utc(kept.until),
            "expired": kept.is_expired(now),
        })),
        "steps": job.steps.iter().map(|step| json!({
            "step": step.step,
            "seconds": step.duration.as_secs_f64(),
            "succeeded": step.succeeded,
        })).collect::<Vec<_>>(),
        "release": job.release.as_ref().map(|release| json!({
            "instance": release.instance.as_str(),
            "state": release.state.as_str(),
            "note": release.note,
        })),
    })
}
