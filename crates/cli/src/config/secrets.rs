//! `lxpack.secrets`: which app env vars are secret, for every app (patterns) and per
//! app (names and patterns). Whether a named secret is among an app's env vars is
//! known only with the app, from the store: the job checks it when it loads the app
//! (exit 3 too, before it creates anything).

use std::collections::BTreeMap;

use lxpack_core::domain::{SecretPattern, SecretRule, check_secret_name};
use lxpack_core::workflows::SecretSettings;

use super::raw::RawSecrets;
use super::{ConfigError, app_key_at};

/// The most names and patterns one entry may hold: each is matched against every env
/// var of the app, and masking costs per value.
const MAX_ENTRIES: usize = 64;

pub(super) fn secret_settings(
    raw: &RawSecrets,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<SecretSettings, ConfigError> {
    if !raw.names.is_empty() {
        return Err(invalid(
            "lxpack.secrets.names",
            "names are per app: put them under lxpack.secrets.apps.NAME/ENV/ROLE.names, or use lxpack.secrets.patterns for every app".to_owned(),
        ));
    }
    let shared = patterns("lxpack.secrets.patterns", &raw.patterns, invalid)?;
    let mut apps = BTreeMap::new();
    for (name, entry) in raw.apps.iter().flatten() {
        let key = format!("lxpack.secrets.apps.{name}");
        let app = app_key_at(&key, name, invalid)?;
        let names_key = format!("{key}.names");
        too_many(&names_key, entry.names.len(), invalid)?;
        for secret in &entry.names {
            check_secret_name(secret).map_err(|e| invalid(&names_key, e.to_string()))?;
        }
        let rule = SecretRule {
            names: entry.names.clone(),
            patterns: patterns(&format!("{key}.patterns"), &entry.patterns, invalid)?,
        };
        apps.insert(app, rule);
    }
    Ok(SecretSettings {
        patterns: shared,
        apps,
        delivery: raw.delivery.map(|d| d.0).unwrap_or_default(),
    })
}

fn patterns(
    key: &str,
    raw: &[String],
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<SecretPattern>, ConfigError> {
    too_many(key, raw.len(), invalid)?;
    raw.iter()
        .map(|text| SecretPattern::parse(text).map_err(|e| invalid(key, e.to_string())))
        .collect()
}

fn too_many(
    key: &str,
    count: usize,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    if count > MAX_ENTRIES {
        return Err(invalid(
            key,
            format!("{count} entries is more than the {MAX_ENTRIES} one list may hold"),
        ));
    }
    Ok(())
}
