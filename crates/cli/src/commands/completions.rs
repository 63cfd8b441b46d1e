//! `lxpack completions SHELL`: the shell's completion script, on stdout.

use crate::args::CompletionsArgs;
use crate::exit::{CliError, ExitClass};

/// Runs the subcommand.
pub(crate) fn run(args: &CompletionsArgs) -> Result<(), CliError> {
    let mut script = Vec::new();
    crate::manual::write_completions(args.shell, &mut script);
    super::output::print_bytes(&script).map_err(|error| {
        CliError::new(ExitClass::Failure, error)
            .with_hint("stdout could not be written: redirect it to a writable file")
    })
}
