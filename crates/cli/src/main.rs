//! The `lxpack` binary: parse the command line, run, and map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser as _;
use lxpack_cli::args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    lxpack_cli::run(cli)
}
