//! Rows to domain values and back. Apps are stored as their Cloud Deploy document, read
//! back with the core's own parser; times are Unix milliseconds.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lxpack_core::document::{DocumentFormat, app_to_document, parse_app_documents};
use lxpack_core::domain::{
    App, AppKey, JobCommand, JobId, JobRecord, JobRunner, JobStatus, MemberName,
};
use rusqlite::Row;

/// The columns [`job_from_row`] reads, in order.
pub(crate) const JOB_COLUMNS: &str = "id, command, app_name, app_env, app_role, module, status, started_at_ms, ended_at_ms, error, log_path, runner_host, runner_pid, runner_started, member";

/// A stored value that does not read back.
pub(crate) struct Corrupt {
    pub(crate) what: String,
    pub(crate) problem: String,
}

pub(crate) fn document_of(app: &App) -> String {
    app_to_document(app).to_string()
}

pub(crate) fn app_from_document(
    document: &str,
    container_image: Option<String>,
) -> Result<App, Corrupt> {
    let corrupt = |problem: String| Corrupt {
        what: "app document".into(),
        problem,
    };
    let mut apps =
        parse_app_documents(document, DocumentFormat::Json).map_err(|e| corrupt(e.to_string()))?;
    let mut app = apps.pop().ok_or_else(|| corrupt("no app".into()))?;
    app.build_infos.container_image = container_image
        .map(|text| JobId::parse(&text).map_err(|e| corrupt(e.to_string())))
        .transpose()?;
    Ok(app)
}

pub(crate) fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn time(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// Reads a row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Result<JobRecord, Corrupt>> {
    let id: String = row.get(0)?;
    let command_text: String = row.get(1)?;
    let status_text: String = row.get(6)?;
    let log_path: Option<String> = row.get(10)?;
    let started: i64 = row.get(7)?;
    let ended: Option<i64> = row.get(8)?;
    let app = AppKey {
        name: row.get(2)?,
        env: row.get(3)?,
        role: row.get(4)?,
    };
    let module: Option<String> = row.get(5)?;
    let error: Option<String> = row.get(9)?;
    let runner_host: Option<String> = row.get(11)?;
    let runner_pid: Option<i64> = row.get(12)?;
    let runner_started: Option<i64> = row.get(13)?;
    let member: Option<String> = row.get(14)?;
    let corrupt = |problem: String| Corrupt {
        what: format!("job {id}"),
        problem,
    };
    let record = (|| {
        Ok(JobRecord {
            id: JobId::parse(&id).map_err(|e| corrupt(e.to_string()))?,
            command: JobCommand::parse(&command_text).map_err(|e| corrupt(e.to_string()))?,
            app,
            module,
            status: JobStatus::parse(&status_text).map_err(|e| corrupt(e.to_string()))?,
            started_at: time(started),
            ended_at: ended.map(time),
            error,
            log_path: log_path.map(PathBuf::from),
            runner: match (runner_host, runner_pid, runner_started) {
                (Some(host), Some(pid), Some(started)) => Some(JobRunner {
                    host,
                    pid: u32::try_from(pid).map_err(|e| corrupt(e.to_string()))?,
                    started: u64::try_from(started).map_err(|e| corrupt(e.to_string()))?,
                }),
                _ => None,
            },
            member: member
                .map(|name| MemberName::parse(&name).map_err(|e| corrupt(e.to_string())))
                .transpose()?,
        })
    })();
    Ok(record)
}

/// A runner's pid and start as SQLite integers.
pub(crate) fn runner_columns(
    runner: Option<&JobRunner>,
) -> (Option<&str>, Option<i64>, Option<i64>) {
    runner.map_or((None, None, None), |runner| {
        (
            Some(runner.host.as_str()),
            Some(i64::from(runner.pid)),
            Some(i64::try_from(runner.started).unwrap_or(i64::MAX)),
        )
    })
}
