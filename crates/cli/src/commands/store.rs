//! `lxpack store`: making a store ready, and moving a host's store into another. The
//! copy's rules (what replaces what) are the core's (`copy_store`).

use lxpack_core::workflows::{CopyReport, StorePorts, copy_store};
use serde_json::json;

use super::output::{print_json, print_line};
use crate::args::StoreCommand;
use crate::exit::{CliError, ExitClass};
use crate::wiring::{Stores, Wiring, open_store, store_argument};

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, command: StoreCommand) -> Result<(), CliError> {
    match command {
        StoreCommand::Migrate => {
            wiring.stores().await?;
            if wiring.json {
                print_json(&json!({"store": wiring.store.to_string(), "ready": true}));
            } else {
                print_line(&format!("store {} is ready", wiring.store));
            }
            Ok(())
        }
        StoreCommand::Copy { from, to } => {
            let config = Some(&wiring.config);
            let (from, to) = (
                store_argument("--from", &from, config)?,
                store_argument("--to", &to, config)?,
            );
            if from == to {
                return Err(CliError::new(
                    ExitClass::Usage,
                    format!("--from and --to name the same store, {from}"),
                )
                .with_hint("copy into another store"));
            }
            let source = open_store(&from).await?;
            let target = open_store(&to).await?;
            let report = copy_store(ports(&source), ports(&target))
                .await
                .map_err(|error| {
                    CliError::new(ExitClass::Store, error).with_hint(
                        "what was copied stays; fix the cause above and run the same copy again",
                    )
                })?;
            show_copy(wiring, &from.to_string(), &to.to_string(), &report);
            Ok(())
        }
    }
}

fn ports(stores: &Stores) -> StorePorts<'_> {
    StorePorts {
        apps: stores.apps.as_ref(),
        jobs: stores.jobs.as_ref(),
    }
}

fn show_copy(wiring: &Wiring, from: &str, to: &str, report: &CopyReport) {
    if wiring.json {
        print_json(&json!({
            "from": from,
            "to": to,
            "apps_created": report.apps_created,
            "apps_updated": report.apps_updated,
            "apps_unchanged": report.apps_unchanged,
            "jobs_copied": report.jobs_copied,
            "jobs_kept": report.jobs_kept,
        }));
    } else {
        print_line(&format!(
            "copied {from} into {to}: {} app(s) created, {} updated, {} unchanged; {} job record(s) copied, {} kept as the target had them",
            report.apps_created,
            report.apps_updated,
            report.apps_unchanged,
            report.jobs_copied,
            report.jobs_kept
        ));
    }
}
