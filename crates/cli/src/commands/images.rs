//! `lxpack images`: the images lxpack published with their AMI twins, and
//! `images purge`: retention on demand.

use super::app_ref::{resolve_app, resolve_filter};
use super::images_view::{show_inventory, show_purge};
use crate::args::{ImagesArgs, ImagesCommand};
use crate::exit::CliError;
use crate::render::{Renderer, View};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: ImagesArgs) -> Result<(), CliError> {
    let stores = wiring.stores().await?;
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
