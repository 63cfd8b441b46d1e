//! `lxpack app …`: the apps in the store, read from and written as Cloud Deploy
//! documents.

use std::path::{Path, PathBuf};

use lxpack_core::document::{DocumentFormat, parse_app_documents};
use lxpack_core::domain::App;
use lxpack_core::ports::{AppStore, ImportOutcome};
use serde_json::json;

use super::app_ref::resolve_app;
use super::app_view::{export, show_app, show_list, show_removed};
use super::output::{print_json, print_line};
use crate::args::AppCommand;
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, command: AppCommand) -> Result<(), CliError> {
    let store = wiring.stores().await?.apps;
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
