//! `lxpack images`: the images lxpack published with their AMI twins, and
//! `images purge`: retention on demand.

use lxpack_core::domain::AppKey;
use lxpack_core::workflows::{ImageEntry, Inventory, RetentionReport};
use serde_json::json;

use super::app_ref::{resolve_app, resolve_filter};
use super::output::{print_json, print_line, print_table, utc};
use super::retention_view::{retention_json, retention_lines};
use crate::args::{ImagesArgs, ImagesCommand};
use crate::exit::CliError;
use crate::render::{Renderer, View};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: ImagesArgs) -> Result<(), CliError> {
    let stores = wiring.stores()?;
    match args.command {
        Some(ImagesCommand::Purge { app, dry_run }) => {
            let key = resolve_app(stores.apps.as_ref(), &app).await?;
            let workflows = wiring.workflows(&stores)?;
            let renderer = Renderer::new(View::choose(wiring.json), None);
            let report = workflows.purge_images(&key, dry_run, &renderer).await;
            renderer.finish();
            show_purge(wiring.json, &key, dry_run, &report.map_err(CliError::from)?);
            Ok(())
        }
        None => {
            let key = resolve_filter(stores.apps.as_ref(), args.app.as_deref()).await?;
            let workflows = wiring.workflows(&stores)?;
            let inventory = workflows
                .inventory(key.as_ref())
                .await
                .map_err(CliError::from)?;
            show_inventory(wiring.json, &inventory);
            Ok(())
        }
    }
}

fn show_purge(json: bool, key: &AppKey, dry_run: bool, report: &RetentionReport) {
    if json {
        print_json(&json!({
            "event": "result",
            "app": key.to_string(),
            "dry_run": dry_run,
            "retention": retention_json(report),
        }));
    } else {
        let verb = if dry_run { "would delete" } else { "deleted" };
        for line in retention_lines(report, verb) {
            print_line(&line);
        }
    }
}

fn show_inventory(json: bool, inventory: &Inventory) {
    if json {
        print_json(&json!({
            "event": "result",
            "images": inventory.images.iter().map(entry_json).collect::<Vec<_>>(),
            "missing": inventory.missing.iter().map(|missing| json!({
                "app": missing.app.to_string(),
                "job": missing.job.to_string(),
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    for missing in &inventory.missing {
        print_line(&format!(
            "app {} records image {}, which the daemon no longer has: deploys fail until `lxpack buildimage {}` runs",
            missing.app, missing.job, missing.app.name
        ));
    }
    if inventory.images.is_empty() {
        print_line("no images published by lxpack; `lxpack buildimage APP` makes one");
    } else {
        print_image_table(&inventory.images);
    }
}

/// The images as a table, after a warning for each current image that lost its alias.
fn print_image_table(entries: &[ImageEntry]) {
    for entry in entries
        .iter()
        .filter(|entry| entry.current && !entry.aliased)
    {
        print_line(&format!(
            "app {}'s image {} has lost its alias: deploys cannot find it; rebuild it with `lxpack buildimage {}`",
            entry.provenance.app, entry.provenance.job, entry.provenance.app.name
        ));
    }
    let rows: Vec<Vec<String>> = entries.iter().map(entry_row).collect();
    print_table(
        &[
            "APP",
            "JOB (ALIAS)",
            "FINGERPRINT",
            "CREATED (UTC)",
            "SIZE",
            "CURRENT",
            "AMI",
            "AMI STATUS",
        ],
        &rows,
    );
}

fn app_label(entry: &ImageEntry) -> String {
    match &entry.provenance.color {
        Some(color) => format!("{} ({color})", entry.provenance.app),
        None => entry.provenance.app.to_string(),
    }
}

fn entry_row(entry: &ImageEntry) -> Vec<String> {
    let fingerprint = entry.image.fingerprint.to_string();
    vec![
        app_label(entry),
        entry.provenance.job.to_string(),
        fingerprint.chars().take(12).collect(),
        utc(entry.image.created_at),
        format!("{:.1} MB", entry.image.size_bytes as f64 / 1_000_000.0),
        match (entry.current, entry.aliased) {
            (true, true) => "yes",
            (true, false) => "yes, alias gone",
            (false, _) => "",
        }
        .to_owned(),
        entry
            .provenance
            .ami
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string),
        entry.twin.to_string(),
    ]
}

fn entry_json(entry: &ImageEntry) -> serde_json::Value {
    json!({
        "app": entry.provenance.app.to_string(),
        "color": entry.provenance.color.as_ref().map(ToString::to_string),
        "job": entry.provenance.job.to_string(),
        "fingerprint": entry.image.fingerprint.to_string(),
        "created_at": utc(entry.image.created_at),
        "size_bytes": entry.image.size_bytes,
        "current": entry.current,
        "alias_present": entry.aliased,
        "ami": entry.provenance.ami.as_ref().map(ToString::to_string),
        "ami_status": entry.twin.key(),
    })
}
