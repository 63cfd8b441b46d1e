//! `lxpack gc`: the sweep of what crashed or killed jobs left behind.

use lxpack_core::workflows::SweepReport;

use super::gc_view::{report_json, report_lines};
use super::output::{print_json, print_line};
use crate::args::GcArgs;
use crate::exit::{CliError, ExitClass};
use crate::render::{Renderer, View};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: GcArgs) -> Result<(), CliError> {
    let workflows = wiring.workflows(&wiring.stores().await?)?;
    let renderer = Renderer::new(View::choose(wiring.json), None);
    let report = workflows.sweep(args.dry_run, &renderer).await;
    renderer.finish();
    let report = report.map_err(CliError::from)?;
    if wiring.json {
        print_json(&report_json(&report, args.dry_run));
    } else {
        for line in report_lines(&report, args.dry_run) {
            print_line(&line);
        }
    }
    failed_removals(&report)
}

/// An error when some removal failed: the sweep did not finish its job.
fn failed_removals(report: &SweepReport) -> Result<(), CliError> {
    if report.failures.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        ExitClass::Cleanup,
        format!("{} leftover(s) could not be removed", report.failures.len()),
    )
    .with_hint(
        "see the failures above; remove them with `lxc delete --force NAME` and `lxc profile delete NAME` (`incus` on Incus)",
    ))
}
