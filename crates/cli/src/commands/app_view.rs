//! How `lxpack app` reads: tables and lines for people, one JSON document for
//! machines, and the Cloud Deploy document `app export` prints.

use lxpack_core::document::app_to_document;
use lxpack_core::domain::{App, AppKey};
use serde_json::json;

use super::output::{print_json, print_line, print_table};
use crate::args::DocumentFormatArg;
use crate::exit::{CliError, ExitClass};

/// The columns of an app's summary row.
const SUMMARY_HEADERS: [&str; 6] = ["APP", "ENV", "ROLE", "REGION", "MODULES", "IMAGE (JOB)"];

/// Prints the apps in the store.
pub(crate) fn show_list(json: bool, apps: &[App]) {
    if json {
        print_json(&json!({
            "event": "result",
            "apps": apps.iter().map(app_to_document).collect::<Vec<_>>(),
        }));
    } else if apps.is_empty() {
        print_line("no apps; import one with `lxpack app import FILE`");
    } else {
        let rows: Vec<Vec<String>> = apps.iter().map(summary_row).collect();
        print_table(&SUMMARY_HEADERS, &rows);
    }
}

/// Prints one app, with its modules.
pub(crate) fn show_app(json: bool, app: &App) {
    if json {
        print_json(&json!({"event": "result", "app": app_to_document(app)}));
        return;
    }
    print_table(&SUMMARY_HEADERS, &[summary_row(app)]);
    for module in &app.modules {
        print_line(&format!(
            "module {}: path {}, buildpack {}",
            module.name,
            module.path,
            if module.build_pack.is_some() {
                "yes"
            } else {
                "none"
            }
        ));
    }
}

/// Prints `app` as a Cloud Deploy document in `format`.
pub(crate) fn export(app: &App, format: DocumentFormatArg) -> Result<(), CliError> {
    let document = app_to_document(app);
    let text = match format {
        DocumentFormatArg::Json => serde_json::to_string_pretty(&document)
            .map_err(|e| CliError::new(ExitClass::Failure, e))?,
        DocumentFormatArg::Yaml => {
            serde_yaml_ng::to_string(&document).map_err(|e| CliError::new(ExitClass::Failure, e))?
        }
    };
    print_line(text.trim_end());
    Ok(())
}

/// Says that the app `key` is removed.
pub(crate) fn show_removed(json: bool, key: &AppKey) {
    if json {
        print_json(&json!({"event": "result", "removed": key.to_string()}));
    } else {
        print_line(&format!(
            "removed app {key}; its images stay until deleted (`lxpack images` lists them)"
        ));
    }
}

/// An app as one row: the name (and color), env, role, region, module count, image.
fn summary_row(app: &App) -> Vec<String> {
    vec![
        match &app.color {
            Some(color) => format!("{} ({color})", app.key.name),
            None => app.key.name.clone(),
        },
        app.key.env.clone(),
        app.key.role.clone(),
        app.region.clone(),
        app.modules.len().to_string(),
        app.build_infos
            .container_image
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string),
    ]
}
