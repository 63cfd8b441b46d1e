//! One module per subcommand. Each reads its arguments, asks [`crate::wiring`] for the
//! ports it needs, calls one core workflow or store method, and renders the result;
//! where rendering is more than a few lines, it lives beside the command in a `_view`
//! module (`gc_view`, `jobs_view`, …).

mod app;
mod app_ref;
mod app_view;
mod buildimage;
mod cache;
mod completions;
mod deploy;
mod doctor;
mod gc;
mod gc_view;
mod images;
mod images_view;
mod job_session;
mod jobs;
mod jobs_view;
mod manpages;
mod metrics;
mod output;
mod pool;
mod retention_view;
mod shell;
mod store;

use crate::args::{Cli, Command};
use crate::exit::CliError;
use crate::wiring::Wiring;

/// Runs the subcommand of `cli` and returns the process's exit code on success: 0,
/// or, for `lxpack shell`, the command's own.
///
/// # Errors
/// A [`CliError`] with its exit class and hint.
pub async fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match &cli.command {
        Command::Doctor => return doctor::run(&cli).await.map(|()| 0),
        // Neither needs a config, a store or a daemon.
        Command::Completions(args) => return completions::run(args).map(|()| 0),
        Command::Manpages(args) => return manpages::run(args).map(|()| 0),
        _ => {}
    }
    let wiring = Wiring::load(&cli)?;
    match cli.command {
        Command::Doctor | Command::Completions(_) | Command::Manpages(_) => Ok(()),
        Command::App(command) => app::run(&wiring, command).await,
        Command::Buildimage(args) => buildimage::run(&wiring, args).await,
        Command::Deploy(args) => deploy::run(&wiring, args).await,
        Command::Images(args) => images::run(&wiring, args).await,
        Command::Gc(args) => gc::run(&wiring, args).await,
        Command::Pool(command) => pool::run(&wiring, command).await,
        Command::Cache(command) => cache::run(&wiring, command).await,
        Command::Jobs(args) => jobs::run(&wiring, args).await,
        Command::Store(command) => store::run(&wiring, command).await,
        Command::Shell(args) => return shell::run(&wiring, args).await,
        Command::Metrics(args) => metrics::run(&wiring, args).await,
    }
    .map(|()| 0)
}
