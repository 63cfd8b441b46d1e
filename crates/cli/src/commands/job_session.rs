//! What the CLI adds around a job, and only that: the log file beside the store, the
//! renderer, and Ctrl-C (or SIGTERM) turned into cancellation so that cleanup runs
//! before the process exits with 130. The job's id and its record in the history are
//! the core's.

use std::path::PathBuf;

use lxpack_core::domain::JobId;
use lxpack_core::workflows::{WorkflowError, Workflows};
use tokio_util::sync::CancellationToken;

use crate::exit::{CliError, ExitClass};
use crate::render::{Renderer, View};
use crate::wiring::{Wiring, create_private_dir, create_private_file, job_log_dir};

/// One running job, as the CLI shows it.
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
    signals: tokio::task::JoinHandle<()>,
}

impl JobSession {
    /// Opens a job's log and starts listening for Ctrl-C. The id is `--job`'s, or a
    /// new one from the core.
    pub(crate) fn start(
        wiring: &Wiring,
        workflows: &Workflows,
        job: Option<&str>,
    ) -> Result<Self, CliError> {
        let id = match job {
            Some(text) => JobId::parse(text).map_err(|e| {
                CliError::new(ExitClass::Input, e)
                    .with_hint("leave out --job to get a new id, or pass 24 lowercase hex digits")
            })?,
            None => workflows.new_job_id(),
        };
        let log_dir = job_log_dir(&wiring.host_dir);
        create_private_dir(&log_dir).map_err(|e| {
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
        let log = create_private_file(&log_path).map_err(|e| {
            CliError::new(
                ExitClass::Store,
                format!("cannot create the job log {}: {e}", log_path.display()),
            )
        })?;
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(cancel_on_signals(cancel.clone()));
        Ok(Self {
            id,
            renderer: Renderer::new(View::choose(wiring.json), Some(log)),
            cancel,
            log_path,
            json: wiring.json,
            signals,
        })
    }

    /// Ends the job with the workflow's `outcome`: shows a success with `show`, or
    /// where the failed job's log is, and returns the outcome as the CLI reports it.
    pub(crate) fn conclude<T>(
        self,
        outcome: Result<T, WorkflowError>,
        show: impl FnOnce(&Self, &T),
    ) -> Result<(), CliError> {
        self.signals.abort();
        let outcome = outcome.map_err(CliError::from);
        if let Ok(report) = &outcome {
            show(&self, report);
        }
        self.renderer.finish();
        if outcome.is_err() && !self.json {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "job {} failed; its log: {}",
                self.id,
                self.log_path.display()
            );
        }
        outcome.map(drop)
    }
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
