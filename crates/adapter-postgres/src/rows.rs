//! Rows to domain values and back, as the SQLite store maps them (crates/adapter-sqlite,
//! `rows.rs`): apps are stored as their Cloud Deploy document, read back with the core's
//! own parser; times are Unix milliseconds; a job's steps are JSON text.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::tokio_postgres::{self, Row};
use lxpack_core::document::{DocumentFormat, app_to_document, parse_app_documents};
use lxpack_core::domain::{
    App, AppKey, InstanceName, JobCommand, JobId, JobRecord, JobRunner, JobStatus, KeptInstance,
    MemberName, Release, ReleaseState, StepTiming,
};

/// The columns [`job_from_row`] reads, in order.
pub(crate) const JOB_COLUMNS: &str = "id, command, app_name, app_env, app_role, module, status, started_at_ms, ended_at_ms, error, log_path, runner_host, runner_pid, runner_started, kept_instance, kept_until_ms, steps, member, release_instance, release_state, release_note, renewed_at_ms";

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
pub(crate) fn job_from_row(row: &Row) -> Result<Result<JobRecord, Corrupt>, tokio_postgres::Error> {
    let id: String = row.try_get(0)?;
    let command_text: String = row.try_get(1)?;
    let status_text: String = row.try_get(6)?;
    let log_path: Option<String> = row.try_get(10)?;
    let started: i64 = row.try_get(7)?;
    let ended: Option<i64> = row.try_get(8)?;
    let app = AppKey {
        name: row.try_get(2)?,
        env: row.try_get(3)?,
        role: row.try_get(4)?,
    };
    let module: Option<String> = row.try_get(5)?;
    let error: Option<String> = row.try_get(9)?;
    let runner_host: Option<String> = row.try_get(11)?;
    let runner_pid: Option<i64> = row.try_get(12)?;
    let runner_started: Option<i64> = row.try_get(13)?;
    let kept_instance: Option<String> = row.try_get(14)?;
    let kept_until: Option<i64> = row.try_get(15)?;
    let steps: Option<String> = row.try_get(16)?;
    let member: Option<String> = row.try_get(17)?;
    let release_instance: Option<String> = row.try_get(18)?;
    let release_state: Option<String> = row.try_get(19)?;
    let release_note: Option<String> = row.try_get(20)?;
    let renewed: Option<i64> = row.try_get(21)?;
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
            kept: match (kept_instance, kept_until) {
                (Some(instance), Some(until)) => Some(KeptInstance {
                    instance: InstanceName::parse(&instance).map_err(|e| corrupt(e.to_string()))?,
                    until: time(until),
                }),
                _ => None,
            },
            steps: steps
                .map(|text| steps_from_json(&text).map_err(corrupt))
                .transpose()?
                .unwrap_or_default(),
            member: member
                .map(|name| MemberName::parse(&name).map_err(|e| corrupt(e.to_string())))
                .transpose()?,
            release: match (release_instance, release_state) {
                (Some(instance), Some(state)) => Some(Release {
                    instance: InstanceName::parse(&instance).map_err(|e| corrupt(e.to_string()))?,
                    state: ReleaseState::parse(&state).map_err(|e| corrupt(e.to_string()))?,
                    note: release_note,
                }),
                _ => None,
            },
            renewed_at: renewed.map(time),
        })
    })();
    Ok(record)
}

/// A runner's pid and start as BIGINTs.
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

/// A job's steps as the JSON text of the `steps` column:
/// `[{"step":"launch","ms":1234,"ok":true},…]`.
pub(crate) fn steps_json(steps: &[StepTiming]) -> Option<String> {
    if steps.is_empty() {
        return None;
    }
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|step| {
            serde_json::json!({
                "step": step.step,
                "ms": u64::try_from(step.duration.as_millis()).unwrap_or(u64::MAX),
                "ok": step.succeeded,
            })
        })
        .collect();
    Some(serde_json::Value::Array(steps).to_string())
}

fn steps_from_json(text: &str) -> Result<Vec<StepTiming>, String> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("steps: {e}"))?;
    values
        .iter()
        .map(|value| {
            Some(StepTiming {
                step: value.get("step")?.as_str()?.to_owned(),
                duration: Duration::from_millis(value.get("ms")?.as_u64()?),
                succeeded: value.get("ok")?.as_bool()?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("steps: not a list of steps: {text}"))
}

/// What a job kept, as its two columns.
pub(crate) fn kept_columns(kept: Option<&KeptInstance>) -> (Option<&str>, Option<i64>) {
    kept.map_or((None, None), |kept| {
        (Some(kept.instance.as_str()), Some(millis(kept.until)))
    })
}

/// A job's release, as its three columns.
pub(crate) fn release_columns(
    release: Option<&Release>,
) -> (Option<&str>, Option<&str>, Option<&str>) {
    release.map_or((None, None, None), |release| {
        (
            Some(release.instance.as_str()),
            Some(release.state.as_str()),
            release.note.as_deref(),
        )
    })
}
