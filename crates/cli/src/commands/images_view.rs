//! How `lxpack images` and `images purge` read: tables and lines for people, one JSON
//! document for machines.

use lxpack_core::domain::AppKey;
use lxpack_core::workflows::{ImageEntry, Inventory, RetentionReport};
use serde_json::json;

use super::output::{print_json, print_line, print_table, utc};
use super::retention_view::{retention_json, retention_lines};

/// Prints what the retention of the app `key` deleted (or would, in a dry run).
pub(crate) fn show_purge(json: bool, key: &AppKey, dry_run: bool, report: &RetentionReport) {
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

/// Prints the images lxpack published, after the apps whose image is gone.
pub(crate) fn show_inventory(json: bool, inventory: &Inventory) {
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
