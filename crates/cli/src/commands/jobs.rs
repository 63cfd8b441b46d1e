//! `lxpack jobs`: the job history, and `jobs log`: one job's full output.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use lxpack_core::domain::JobId;

use super::app_ref::resolve_filter;
use super::jobs_view::show_jobs;
use crate::args::{JobsArgs, JobsCommand};
use crate::exit::{CliError, ExitClass};
use crate::wiring::{Stores, Wiring};

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: JobsArgs) -> Result<(), CliError> {
    let stores = wiring.stores().await?;
    match args.command {
        Some(JobsCommand::Log { job }) => {
            let path = log_path(wiring, &stores, &job).await?;
            stream_log(&path)
        }
        None => {
            let key = resolve_filter(stores.apps.as_ref(), args.app.as_deref()).await?;
            let jobs = stores
                .jobs
                .list_jobs(key.as_ref())
                .await
                .map_err(|e| CliError::new(ExitClass::Store, e))?;
            show_jobs(wiring.json, &jobs, wiring.now());
            Ok(())
        }
    }
}

/// Where the log of the job `text` names is.
async fn log_path(wiring: &Wiring, stores: &Stores, text: &str) -> Result<PathBuf, CliError> {
    let id = JobId::parse(text).map_err(|e| CliError::new(ExitClass::Input, e))?;
    let record = stores
        .jobs
        .get_job(&id)
        .await
        .map_err(|e| CliError::new(ExitClass::Store, e))?
        .ok_or_else(|| {
            CliError::new(ExitClass::Input, format!("no job {id} in {}", wiring.store))
                .with_hint("`lxpack jobs` lists the jobs")
        })?;
    record
        .log_path
        .ok_or_else(|| CliError::new(ExitClass::Input, format!("job {id} has no log")))
}

/// Copies the log at `path` to stdout, streamed, not read whole: a buildpack's log can
/// be large.
fn stream_log(path: &Path) -> Result<(), CliError> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        CliError::new(
            ExitClass::Input,
            format!("cannot open job log {}: {e}", path.display()),
        )
    })?;
    let mut out = std::io::stdout().lock();
    match std::io::copy(&mut file, &mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(CliError::new(ExitClass::Failure, e)),
    }
    let _ = out.flush();
    Ok(())
}
