//! `NAME` or `NAME/ENV/ROLE` on the command line, resolved against the store.

use lxpack_core::domain::{AppKey, AppRef};
use lxpack_core::ports::AppStore;

use crate::exit::{CliError, ExitClass};

/// The one app `text` names.
///
/// # Errors
/// `Input` (exit 4) when it is malformed, unknown or ambiguous; `Store` when the apps
/// cannot be listed.
pub(crate) async fn resolve_app(store: &dyn AppStore, text: &str) -> Result<AppKey, CliError> {
    let reference = AppRef::parse(text).map_err(|e| CliError::new(ExitClass::Input, e))?;
    let apps = store
        .list_apps()
        .await
        .map_err(|e| CliError::new(ExitClass::Store, e))?;
    reference
        .resolve(apps.iter().map(|app| &app.key))
        .map_err(|error| {
            CliError::new(ExitClass::Input, error)
                .with_hint("`lxpack app list` shows the apps; `lxpack app import FILE` adds one")
        })
}

/// The app `text` names, when a filter is given: `None` for every app.
///
/// # Errors
/// As [`resolve_app`].
pub(crate) async fn resolve_filter(
    store: &dyn AppStore,
    text: Option<&str>,
) -> Result<Option<AppKey>, CliError> {
    match text {
        Some(text) => resolve_app(store, text).await.map(Some),
        None => Ok(None),
    }
}
