//! `lxpack cache`: what the deploys' caches hold, and purging them. The rules (which
//! generation is current, what a purge may remove) are the core's.

use lxpack_core::domain::AppKey;
use lxpack_core::workflows::{CacheEntry, CachePurge, PurgedCache};
use serde_json::json;

use super::app_ref::resolve_app;
use super::output::{print_json, print_line, print_table};
use crate::args::CacheCommand;
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, command: CacheCommand) -> Result<(), CliError> {
    let stores = wiring.stores().await?;
    let workflows = wiring.workflows(&stores)?;
    match command {
        CacheCommand::List => {
            let caches = workflows.list_caches().await?;
            show_list(wiring, &caches);
            Ok(())
        }
        CacheCommand::Purge {
            app,
            module,
            dry_run,
        } => {
            // An app removed from the store may still have caches: its full key is
            // taken as it is.
            let app = match full_key(&app) {
                Some(key) => key,
                None => resolve_app(stores.apps.as_ref(), &app).await?,
            };
            let purge = workflows
                .purge_caches(&app, module.as_deref(), dry_run)
                .await?;
            show_purge(wiring, &purge, dry_run);
            if purge.failures.is_empty() {
                Ok(())
            } else {
                Err(CliError::new(
                    ExitClass::Cleanup,
                    format!(
                        "{} cache volume(s) could not be removed",
                        purge.failures.len()
                    ),
                )
                .with_hint(
                    "see the failures above; `lxpack cache purge` or `lxpack gc` tries again",
                ))
            }
        }
    }
}

/// `NAME/ENV/ROLE`, none empty.
fn full_key(text: &str) -> Option<AppKey> {
    let mut parts = text.split('/');
    let (name, env, role) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && ![name, env, role].contains(&""))
        .then(|| AppKey::new(name, env, role))
}

fn size_text(size: Option<u64>) -> String {
    #[allow(clippy::cast_precision_loss)] // A size for people.
    size.map_or_else(
        || "unknown".to_owned(),
        |bytes| format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20)),
    )
}

fn show_list(wiring: &Wiring, caches: &[CacheEntry]) {
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "caches": caches.iter().map(|c| json!({
                "app": c.key.app.to_string(),
                "module": c.key.module,
                "path": c.key.path.as_str(),
                "volume": c.volume.as_str(),
                "saved_by": c.job.as_str(),
                "size_bytes": c.size,
                "member": c.member.as_ref().map(ToString::to_string),
                "copies_in_use": c.copies_in_use,
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    if caches.is_empty() {
        print_line("no caches (declare them in lxpack.cache.apps)");
        return;
    }
    let rows: Vec<Vec<String>> = caches
        .iter()
        .map(|c| {
            vec![
                c.key.app.to_string(),
                c.key.module.clone(),
                c.key.path.to_string(),
                c.job.to_string(),
                size_text(c.size),
                c.copies_in_use.to_string(),
                c.volume.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "APP",
            "MODULE",
            "PATH",
            "SAVED BY JOB",
            "SIZE",
            "IN USE",
            "VOLUME",
        ],
        &rows,
    );
}

fn purged_json(entry: &PurgedCache) -> serde_json::Value {
    json!({
        "volume": entry.volume.as_str(),
        "app": entry.key.app.to_string(),
        "module": entry.key.module,
        "path": entry.key.path.as_str(),
        "job": entry.job.as_str(),
        "state": entry.state.as_str(),
        "why": entry.why,
    })
}

fn show_purge(wiring: &Wiring, purge: &CachePurge, dry_run: bool) {
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "dry_run": dry_run,
            "removed": purge.removed.iter().map(purged_json).collect::<Vec<_>>(),
            "spared": purge.spared.iter().map(purged_json).collect::<Vec<_>>(),
            "failures": purge.failures,
        }));
        return;
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for entry in &purge.removed {
        print_line(&format!(
            "{verb} {} ({} of {} module {} {}, by job {})",
            entry.volume, entry.state, entry.key.app, entry.key.module, entry.key.path, entry.job
        ));
    }
    for entry in &purge.spared {
        print_line(&format!("left {}: {}", entry.volume, entry.why));
    }
    for failure in &purge.failures {
        print_line(failure);
    }
    if purge.removed.is_empty() && purge.spared.is_empty() && purge.failures.is_empty() {
        print_line("no caches to purge");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_key_is_taken_as_it_is() {
        assert_eq!(
            full_key("web/prod/front"),
            Some(AppKey::new("web", "prod", "front"))
        );
        for partial in ["web", "web/prod", "web//front", "a/b/c/d"] {
            assert_eq!(full_key(partial), None, "{partial}");
        }
    }
}
