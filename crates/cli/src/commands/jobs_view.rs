//! How `lxpack jobs` reads: a table and notes for people, one JSON document for
//! machines. Columns that would say the same on every row (the cluster member off a
//! cluster, the host when one host ran them all) are left out.

use std::collections::BTreeSet;
use std::time::SystemTime;

use lxpack_core::domain::{JobRecord, JobRunner, ReleaseState};
use serde_json::json;

use super::output::{print_json, print_line, print_table, utc};

/// Prints `jobs`, whether their kept instances have expired judged at `now`.
pub(crate) fn show_jobs(json: bool, jobs: &[JobRecord], now: SystemTime) {
    if json {
        print_json(&jobs_json(jobs, now));
    } else if jobs.is_empty() {
        print_line("no jobs yet");
    } else {
        let (headers, rows) = job_table(jobs);
        print_table(&headers, &rows);
        for line in jobs.iter().flat_map(|job| job_notes(job, now)) {
            print_line(&line);
        }
    }
}

/// Which of the columns that may be left out `jobs` need.
#[derive(Clone, Copy)]
struct Columns {
    /// Some job ran on a cluster.
    member: bool,
    /// The jobs ran on more than one host (a store several hosts share).
    host: bool,
}

impl Columns {
    fn of(jobs: &[JobRecord]) -> Self {
        Self {
            member: jobs.iter().any(|job| job.member.is_some()),
            host: hosts(jobs).len() > 1,
        }
    }
}

/// The names of the hosts that ran `jobs` (their boots aside), as their runners say.
fn hosts(jobs: &[JobRecord]) -> BTreeSet<&str> {
    jobs.iter()
        .filter_map(|job| job.runner.as_ref().map(JobRunner::host_name))
        .collect()
}

/// The host that ran `job`, `-` when its record does not say.
fn host_text(job: &JobRecord) -> String {
    job.runner
        .as_ref()
        .map_or_else(|| "-".to_owned(), |runner| runner.host_name().to_owned())
}

/// The jobs as a table's headers and rows: a host column when more than one host ran
/// them, a member column when some job ran on a cluster.
fn job_table(jobs: &[JobRecord]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let columns = Columns::of(jobs);
    let mut headers = vec!["JOB", "COMMAND", "APP", "MODULE", "STATUS"];
    if columns.host {
        headers.push("HOST");
    }
    if columns.member {
        headers.push("MEMBER");
    }
    headers.extend(["STARTED (UTC)", "SECONDS", "KEPT UNTIL (UTC)", "ERROR"]);
    let rows = jobs.iter().map(|job| job_row(job, columns)).collect();
    (headers, rows)
}

/// The JSON document of `jobs`: each job's `host` only when more than one host ran
/// them.
fn jobs_json(jobs: &[JobRecord], now: SystemTime) -> serde_json::Value {
    let columns = Columns::of(jobs);
    json!({
        "event": "result",
        "jobs": jobs
            .iter()
            .map(|job| {
                let mut value = job_json(job, now);
                if columns.host
                    && let Some(fields) = value.as_object_mut()
                {
                    fields.insert(
                        "host".to_owned(),
                        job.runner
                            .as_ref()
                            .map_or(serde_json::Value::Null, |runner| {
                                runner.host_name().into()
                            }),
                    );
                }
                value
            })
            .collect::<Vec<_>>(),
    })
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

fn job_row(job: &JobRecord, columns: Columns) -> Vec<String> {
    let mut row = vec![
        job.id.to_string(),
        job.command.to_string(),
        job.app.to_string(),
        job.module.clone().unwrap_or_else(|| "-".to_owned()),
        status_text(job),
    ];
    if columns.host {
        row.push(host_text(job));
    }
    if columns.member {
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use lxpack_core::domain::{AppKey, JobCommand, JobId};

    use super::*;

    fn job(seconds: u32, host: Option<&str>) -> JobRecord {
        JobRecord::running(
            JobId::generate(seconds, [1; 8]),
            JobCommand::Deploy,
            AppKey::new("web", "prod", "front"),
            Some("api".into()),
            UNIX_EPOCH + Duration::from_secs(u64::from(seconds)),
        )
        .with_runner(host.map(|host| JobRunner {
            host: host.into(),
            pid: 7,
            started: 1,
        }))
    }

    fn host_column(jobs: &[JobRecord]) -> Option<Vec<String>> {
        let (headers, rows) = job_table(jobs);
        let index = headers.iter().position(|h| *h == "HOST")?;
        Some(rows.iter().map(|row| row[index].clone()).collect())
    }

    fn json_hosts(jobs: &[JobRecord]) -> Vec<Option<serde_json::Value>> {
        let value = jobs_json(jobs, UNIX_EPOCH);
        value["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| job.get("host").cloned())
            .collect()
    }

    #[test]
    fn one_host_shows_no_host_column_even_across_reboots() {
        let jobs = [
            job(20, Some("build-1#boot-b")),
            job(10, Some("build-1#boot-a")),
            job(5, None),
        ];
        assert_eq!(host_column(&jobs), None);
        assert_eq!(json_hosts(&jobs), [None, None, None]);
        assert_eq!(host_column(&[]), None);
    }

    #[test]
    fn two_hosts_show_each_job_s_host_name() {
        let jobs = [
            job(30, Some("build-2#b2")),
            job(20, Some("build-1#b1")),
            job(10, None),
        ];
        assert_eq!(
            host_column(&jobs),
            Some(vec!["build-2".into(), "build-1".into(), "-".into()])
        );
        let (headers, _) = job_table(&jobs);
        assert_eq!(&headers[4..6], ["STATUS", "HOST"]);
        assert_eq!(
            json_hosts(&jobs),
            [
                Some(json!("build-2")),
                Some(json!("build-1")),
                Some(serde_json::Value::Null)
            ]
        );
    }
}
