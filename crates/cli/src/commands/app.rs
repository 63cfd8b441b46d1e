//! `lxpack app …`: the apps in the store, read from and written as Cloud Deploy
//! documents.

use std::path::{Path, PathBuf};

use lxpack_core::document::{DocumentFormat, app_to_document, parse_app_documents};
use lxpack_core::domain::{App, AppKey};
use lxpack_core::ports::{AppStore, ImportOutcome};
use serde_json::json;

use super::app_ref::resolve_app;
use super::output::{print_json, print_line, print_table};
use crate::args::{AppCommand, DocumentFormatArg};
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, command: AppCommand) -> Result<(), CliError> {
    let store = wiring.stores()?.apps;
    let store = store.as_ref();
    match command {
        AppCommand::Import { files } => import(store, wiring.json, &files).await,
        AppCommand::List => {
            show_list(wiring.json, &list(store).await?);
            Ok(())
        }
        AppCommand::Show { app } => {
            show_app(wiring.json, &load(store, &app).await?);
            Ok(())
        }
        AppCommand::Export { app, format } => export(&load(store, &app).await?, format),
        AppCommand::Remove { app } => {
            let key = resolve_app(store, &app).await?;
            store
                .remove_app(&key)
                .await
                .map_err(|e| CliError::new(ExitClass::Store, e))?;
            show_removed(wiring.json, &key);
            Ok(())
        }
    }
}

/// Imports the apps of `files`, saying of each whether it was new. Every file is read
/// and checked before anything is written, so a bad file in the list leaves the store
/// as it was.
async fn import(store: &dyn AppStore, json: bool, files: &[PathBuf]) -> Result<(), CliError> {
    let mut apps = Vec::new();
    for file in files {
        apps.extend(read_apps(file)?.into_iter().map(|app| (file, app)));
    }
    let mut results = Vec::new();
    for (file, app) in apps {
        let key = app.key.clone();
        let outcome = store
            .import_app(app)
            .await
            .map_err(|e| CliError::new(ExitClass::Store, e))?;
        let verb = match outcome {
            ImportOutcome::Created => "imported",
            _ => "updated",
        };
        if json {
            results.push(json!({"app": key.to_string(), "outcome": verb, "file": file}));
        } else {
            print_line(&format!("{verb} app {key} from {}", file.display()));
        }
    }
    if json {
        print_json(&json!({"event": "result", "imported": results}));
    }
    Ok(())
}

const SUMMARY_HEADERS: [&str; 6] = ["APP", "ENV", "ROLE", "REGION", "MODULES", "IMAGE (JOB)"];

fn show_list(json: bool, apps: &[App]) {
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

fn show_app(json: bool, app: &App) {
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
fn export(app: &App, format: DocumentFormatArg) -> Result<(), CliError> {
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

fn show_removed(json: bool, key: &AppKey) {
    if json {
        print_json(&json!({"event": "result", "removed": key.to_string()}));
    } else {
        print_line(&format!(
            "removed app {key}; its images stay until deleted (`lxpack images` lists them)"
        ));
    }
}

fn read_apps(file: &Path) -> Result<Vec<App>, CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        CliError::new(
            ExitClass::Input,
            format!("cannot read app file {}: {e}", file.display()),
        )
    })?;
    let format = file
        .extension()
        .and_then(|e| e.to_str())
        .and_then(DocumentFormat::from_extension)
        .unwrap_or_else(|| DocumentFormat::detect(&text));
    parse_app_documents(&text, format).map_err(|error| {
        CliError::new(
            ExitClass::Input,
            format!("app file {}: {error}", file.display()),
        )
        .with_hint("fix the field named above; docs/operator-guide.md describes the app document")
    })
}

async fn list(store: &dyn AppStore) -> Result<Vec<App>, CliError> {
    store
        .list_apps()
        .await
        .map_err(|e| CliError::new(ExitClass::Store, e))
}

async fn load(store: &dyn AppStore, text: &str) -> Result<App, CliError> {
    let key = resolve_app(store, text).await?;
    store
        .get_app(&key)
        .await
        .map_err(|e| CliError::new(ExitClass::Store, e))
}

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
