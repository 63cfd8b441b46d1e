//! What every job shares around its workflow: a job id, a log file beside the store, a
//! record in the job history from start to end, and Ctrl-C (or SIGTERM) turned into
//! cancellation so that cleanup runs before the process exits with 130.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use lxpack_core::domain::{AppKey, JobCommand, JobId};
use lxpack_core::ports::{AppStore, JobRecord, JobStatus};
use lxpack_core::workflows::WorkflowError;
use lxpack_sqlite::SqliteAppStore;
use tokio_util::sync::CancellationToken;

use crate::exit::{CliError, ExitClass};
use crate::render::{Renderer, View};
use crate::wiring::{Wiring, job_log_dir};

/// One running job.
pub(crate) struct JobSession {
    /// The job id.
    pub(crate) id: JobId,
    /// The renderer (terminal, plain or JSON, and the log file).
    pub(crate) renderer: Renderer,
    /// Cancelled on Ctrl-C or SIGTERM.
    pub(crate) cancel: CancellationToken,
    /// The log file.
    pub(crate) log_path: PathBuf,
    json: bool,
    store: Arc<SqliteAppStore>,
    record: JobRecord,
    signals: tokio::task::JoinHandle<()>,
}

impl JobSession {
    /// Starts a job: checks or makes its id, opens its log, records it as running and
    /// starts listening for Ctrl-C.
    pub(crate) async fn start(
        wiring: &Wiring,
        store: Arc<SqliteAppStore>,
        command: JobCommand,
        app: &AppKey,
        module: Option<&str>,
        job: Option<&str>,
    ) -> Result<Self, CliError> {
        let id = match job {
            Some(text) => JobId::parse(text).map_err(|e| {
                CliError::new(ExitClass::Input, e)
                    .with_hint("leave out --job to get a new id, or pass 24 lowercase hex digits")
            })?,
            None => new_job_id()?,
        };
        let log_dir = job_log_dir(&wiring.store_path);
        std::fs::create_dir_all(&log_dir).map_err(|e| {
            CliError::new(
                ExitClass::Store,
                format!(
                    "cannot create the job log directory {}: {e}",
                    log_dir.display()
                ),
            )
            .with_hint("pass --store in a writable directory")
        })?;
        let log_path = log_dir.join(format!("{id}.log"));
        let log = File::create(&log_path).map_err(|e| {
            CliError::new(
                ExitClass::Store,
                format!("cannot create the job log {}: {e}", log_path.display()),
            )
        })?;
        let mut record = JobRecord::running(
            id.clone(),
            command,
            app.clone(),
            module.map(str::to_owned),
            SystemTime::now(),
        );
        record.log_path = Some(log_path.clone());
        store
            .record_job(&record)
            .await
            .map_err(|e| CliError::new(ExitClass::Store, e))?;
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(cancel_on_signals(cancel.clone()));
        Ok(Self {
            id,
            renderer: Renderer::new(View::choose(wiring.json), Some(log)),
            cancel,
            log_path,
            json: wiring.json,
            store,
            record,
            signals,
        })
    }

    /// Ends the job with the workflow's `outcome`: shows a success with `show`, then
    /// records the end and returns the outcome as the CLI reports it.
    pub(crate) async fn conclude<T>(
        self,
        outcome: Result<T, WorkflowError>,
        show: impl FnOnce(&Self, &T),
    ) -> Result<(), CliError> {
        let outcome = outcome.map_err(CliError::from);
        if let Ok(report) = &outcome {
            show(&self, report);
        }
        let outcome = outcome.map(drop);
        self.finish(outcome.as_ref().err()).await;
        outcome
    }

    /// Records how the job ended and flushes the log. A failure to record is a warning:
    /// the job's own outcome matters more.
    async fn finish(mut self, failure: Option<&CliError>) {
        self.signals.abort();
        self.renderer.finish();
        match failure {
            None => self
                .record
                .end(JobStatus::Succeeded, None, SystemTime::now()),
            Some(error) => {
                let status = if error.class == ExitClass::Cancelled {
                    JobStatus::Cancelled
                } else {
                    JobStatus::Failed
                };
                self.record
                    .end(status, Some(error.error.to_string()), SystemTime::now());
                if !self.json {
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "job {} failed; its log: {}",
                        self.id,
                        self.log_path.display()
                    );
                }
            }
        }
        if let Err(error) = self.store.record_job(&self.record).await {
            tracing::warn!("could not record the end of job {}: {error}", self.id);
        }
    }
}

/// A new job id: the current time and 8 random bytes.
fn new_job_id() -> Result<JobId, CliError> {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    let mut entropy = [0_u8; 8];
    getrandom::fill(&mut entropy).map_err(|e| {
        CliError::new(
            ExitClass::Failure,
            format!("no randomness for a job id: {e}"),
        )
        .with_hint("pass --job with 24 lowercase hex digits")
    })?;
    Ok(JobId::generate(seconds, entropy))
}

/// The first Ctrl-C or SIGTERM cancels the job, whose workflow then cleans up; a second
/// one ends the process at once, leaving what `lxpack gc` removes.
async fn cancel_on_signals(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        return;
    };
    for round in 0..2 {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        if round == 0 {
            tracing::warn!("cancelling: cleaning up (interrupt again to stop at once)");
            cancel.cancel();
        } else {
            tracing::error!("stopped at once: run `lxpack gc` to remove what this job left");
            std::process::exit(i32::from(ExitClass::Cancelled.code()));
        }
    }
}
