//! The `lxpack` binary: parse the command line, run it, print the whole error chain
//! and exit with the code of its class.

use std::process::ExitCode;

use clap::Parser;
use lxpack_cli::args::Cli;
use lxpack_cli::exit::{CliError, ExitClass};

fn main() -> ExitCode {
    let cli = Cli::parse();
    lxpack_cli::diagnostics::install(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return report(&CliError::new(ExitClass::Failure, error)),
    };
    match runtime.block_on(lxpack_cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

/// Prints `error: …`, each cause, and the hint, on stderr.
#[allow(clippy::print_stderr)]
fn report(error: &CliError) -> ExitCode {
    eprintln!("error: {}", error.error);
    let mut cause = error.error.source();
    while let Some(inner) = cause {
        eprintln!("  caused by: {inner}");
        cause = inner.source();
    }
    if let Some(hint) = &error.hint {
        eprintln!("hint: {hint}");
    }
    error.class.exit_code()
}
