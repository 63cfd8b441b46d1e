//! `lxpack manpages --dir DIR` (hidden): writes the manual pages, for packaging.

use super::output::print_line;
use crate::args::ManpagesArgs;
use crate::exit::{CliError, ExitClass};

/// Runs the subcommand: one line per page written.
pub(crate) fn run(args: &ManpagesArgs) -> Result<(), CliError> {
    let written = crate::manual::write_man_pages(&args.dir).map_err(|error| {
        CliError::new(ExitClass::Failure, error).with_hint(format!(
            "pass --dir a directory you can write to (it is created if missing): {}",
            args.dir.display()
        ))
    })?;
    for path in written {
        print_line(&path.display().to_string());
    }
    Ok(())
}
