//! Job records as JSON. The core's `JobRecord` has no serde derive (the core keeps its
//! types free of any storage format), so the file's shape is this adapter's own.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lxpack_core::domain::{
    AppKey, InstanceName, JobCommand, JobId, JobRecord, JobRunner, JobStatus, KeptInstance,
    MemberName, Release, ReleaseState, StepTiming,
};
use serde::Deserialize;
use serde_json::json;

use crate::{BoxError, JsonStoreError, Result};

/// The file's shape. Times are Unix milliseconds.
#[derive(Deserialize)]
struct JobFile {
    id: String,
    command: String,
    app: AppFile,
    module: Option<String>,
    status: String,
    started_at_ms: u64,
    ended_at_ms: Option<u64>,
    error: Option<String>,
    /// Written with `to_string_lossy`: a non-UTF-8 path is stored approximately.
    log_path: Option<String>,
    /// Absent in files written before runners were recorded.
    #[serde(default)]
    runner: Option<RunnerFile>,
    /// Absent in files written before cluster members were recorded.
    #[serde(default)]
    member: Option<String>,
    /// Absent in files written before kept instances were recorded.
    #[serde(default)]
    kept: Option<KeptFile>,
    /// Absent in files written before steps were recorded.
    #[serde(default)]
    steps: Vec<StepFile>,
    /// Absent in files written before background releases were recorded.
    #[serde(default)]
    release: Option<ReleaseFile>,
    /// Absent in files written before leases were recorded.
    #[serde(default)]
    renewed_at_ms: Option<u64>,
}

#[derive(Deserialize)]
struct ReleaseFile {
    instance: String,
    state: String,
    note: Option<String>,
}

#[derive(Deserialize)]
struct KeptFile {
    instance: String,
    until_ms: u64,
}

#[derive(Deserialize)]
struct StepFile {
    step: String,
    ms: u64,
    ok: bool,
}

#[derive(Deserialize)]
struct RunnerFile {
    host: String,
    pid: u32,
    started: u64,
}

#[derive(Deserialize)]
struct AppFile {
    name: String,
    env: String,
    role: String,
}

/// The JSON text of a record, in the shape of [`JobFile`].
pub(crate) fn to_json(record: &JobRecord) -> Vec<u8> {
    let value = json!({
        "id": record.id.as_str(),
        "command": record.command.as_str(),
        "app": {
            "name": record.app.name,
            "env": record.app.env,
            "role": record.app.role,
        },
        "module": record.module,
        "status": record.status.as_str(),
        "started_at_ms": millis(record.started_at),
        "ended_at_ms": record.ended_at.map(millis),
        "error": record.error,
        "log_path": record.log_path.as_ref().map(|path| path.to_string_lossy()),
        "runner": record.runner.as_ref().map(|runner| json!({
            "host": runner.host,
            "pid": runner.pid,
            "started": runner.started,
        })),
        "member": record.member.as_ref().map(MemberName::as_str),
        "kept": record.kept.as_ref().map(|kept| json!({
            "instance": kept.instance.as_str(),
            "until_ms": millis(kept.until),
        })),
        "steps": record.steps.iter().map(|step| json!({
            "step": step.step,
            "ms": u64::try_from(step.duration.as_millis()).unwrap_or(u64::MAX),
            "ok": step.succeeded,
        })).collect::<Vec<_>>(),
        "release": record.release.as_ref().map(|release| json!({
            "instance": release.instance.as_str(),
            "state": release.state.as_str(),
            "note": release.note,
        })),
        "renewed_at_ms": record.renewed_at.map(millis),
    });
    let mut text = format!("{value:#}");
    text.push('\n');
    text.into_bytes()
}

/// Reads a record back from `text`, the contents of `path`.
pub(crate) fn from_json(text: &str, path: &Path) -> Result<JobRecord> {
    let corrupt = |source: BoxError| JsonStoreError::Corrupt {
        path: path.to_path_buf(),
        what: "job record",
        source,
    };
    let file: JobFile = serde_json::from_str(text).map_err(|e| corrupt(Box::new(e)))?;
    Ok(JobRecord {
        id: JobId::parse(&file.id).map_err(|e| corrupt(Box::new(e)))?,
        command: JobCommand::parse(&file.command).map_err(|e| corrupt(Box::new(e)))?,
        app: AppKey::new(file.app.name, file.app.env, file.app.role),
        module: file.module,
        status: JobStatus::parse(&file.status).map_err(|e| corrupt(Box::new(e)))?,
        started_at: time(file.started_at_ms),
        ended_at: file.ended_at_ms.map(time),
        error: file.error,
        log_path: file.log_path.map(PathBuf::from),
        runner: file.runner.map(|runner| JobRunner {
            host: runner.host,
            pid: runner.pid,
            started: runner.started,
        }),
        member: file
            .member
            .map(|name| MemberName::parse(&name).map_err(|e| corrupt(Box::new(e))))
            .transpose()?,
        kept: file
            .kept
            .map(|kept| {
                Ok::<_, JsonStoreError>(KeptInstance {
                    instance: InstanceName::parse(&kept.instance)
                        .map_err(|e| corrupt(Box::new(e)))?,
                    until: time(kept.until_ms),
                })
            })
            .transpose()?,
        steps: file
            .steps
            .into_iter()
            .map(|step| StepTiming {
                step: step.step,
                duration: Duration::from_millis(step.ms),
                succeeded: step.ok,
            })
            .collect(),
        release: file
            .release
            .map(|release| {
                Ok::<_, JsonStoreError>(Release {
                    instance: InstanceName::parse(&release.instance)
                        .map_err(|e| corrupt(Box::new(e)))?,
                    state: ReleaseState::parse(&release.state).map_err(|e| corrupt(Box::new(e)))?,
                    note: release.note,
                })
            })
            .transpose()?,
        renewed_at: file.renewed_at_ms.map(time),
    })
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn time(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut record = JobRecord::running(
            JobId::generate(1_700_000_000, [1; 8]),
            JobCommand::Deploy,
            AppKey::new("web", "prod", "front"),
            Some("api".into()),
            time(1_700_000_000_123),
        )
        .with_log(Some(PathBuf::from("/var/log/lxpack/job.log")))
        .with_runner(Some(JobRunner {
            host: "build-1".into(),
            pid: 4242,
            started: 987_654,
        }))
        .with_lease(time(1_700_000_004_000));
        record.end(
            JobStatus::Failed,
            Some("step buildpack failed".into()),
            time(1_700_000_009_000),
        );
        let text = String::from_utf8(to_json(&record)).unwrap();
        assert_eq!(from_json(&text, Path::new("x.json")).unwrap(), record);
        let broken = text.replace("\"failed\"", "\"exploded\"");
        let error = from_json(&broken, Path::new("x.json")).unwrap_err();
        assert!(
            matches!(
                &error,
                JsonStoreError::Corrupt {
                    what: "job record",
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
