//! `lxpack gc`: the sweep of what crashed or killed jobs left behind.

use lxpack_core::ports::LeftoverKind;
use serde_json::json;

use super::output::{print_json, print_line};
use crate::args::GcArgs;
use crate::exit::{CliError, ExitClass};
use crate::render::{Renderer, View};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: GcArgs) -> Result<(), CliError> {
    let workflows = wiring.workflows(wiring.store()?)?;
    let renderer = Renderer::new(View::choose(wiring.json), None);
    let report = workflows
        .sweep(args.dry_run, std::time::SystemTime::now(), &renderer)
        .await;
    renderer.finish();
    let report = report.map_err(CliError::from)?;
    let kind = |kind: LeftoverKind| match kind {
        LeftoverKind::Instance => "instance",
        LeftoverKind::Profile => "profile",
    };
    if wiring.json {
        let list = |items: &[lxpack_core::ports::Leftover]| {
            items
                .iter()
                .map(|l| json!({"kind": kind(l.kind), "name": l.name.to_string(), "job": l.job.as_ref().map(ToString::to_string)}))
                .collect::<Vec<_>>()
        };
        print_json(&json!({
            "event": "result",
            "dry_run": args.dry_run,
            "removed": list(&report.removed),
            "active": list(&report.active),
            "stale_jobs": report.stale_jobs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "failures": report.failures,
        }));
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for leftover in &report.removed {
            print_line(&format!("{verb} {} {}", kind(leftover.kind), leftover.name));
        }
        for leftover in &report.active {
            print_line(&format!(
                "left {} {} alone: its job is running",
                kind(leftover.kind),
                leftover.name
            ));
        }
        for failure in &report.failures {
            print_line(&format!("could not remove: {failure}"));
        }
        if report.removed.is_empty() && report.failures.is_empty() {
            print_line("nothing to remove");
        }
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            ExitClass::Cleanup,
            format!("{} leftover(s) could not be removed", report.failures.len()),
        )
        .with_hint(
            "see the failures above; remove them with `lxc delete --force` / `lxc profile delete`",
        ))
    }
}
