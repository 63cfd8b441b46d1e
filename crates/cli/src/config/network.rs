//! `lxpack.network`: the default policy, apps and modules of their own, and the
//! operator's bridge. An entry without `mode` or `allow` takes its level's; `allow`
//! opens destinations of the `egress` network only, so an entry that sets it under
//! another mode is refused rather than silently ignored.

use std::collections::BTreeMap;

use lxpack_core::domain::{DefaultBridge, EgressRule, NetworkMode, NetworkName, NetworkPolicy};
use lxpack_core::workflows::NetworkSettings;

use super::raw::{NetworkModeValue, RawNetwork};
use super::{ConfigError, app_key_at};

/// The most entries one `allow` list may hold: each becomes a rule of the ACL.
const MAX_ALLOW: usize = 64;

/// Reads `lxpack.network`.
pub(super) fn network_settings(
    raw: &RawNetwork,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<NetworkSettings, ConfigError> {
    let top = NetworkPolicy::default();
    let default = policy(
        "lxpack.network",
        raw.mode,
        raw.allow.as_deref(),
        &top,
        invalid,
    )?;
    let bridge = default_bridge(raw, invalid)?;
    let mut apps = BTreeMap::new();
    let mut modules = BTreeMap::new();
    for (name, entry) in raw.apps.iter().flatten() {
        let key = format!("lxpack.network.apps.{name}");
        let app = app_key_at(&key, name, invalid)?;
        let own = policy(&key, entry.mode, entry.allow.as_deref(), &default, invalid)?;
        for (module, entry) in entry.modules.iter().flatten() {
            let key = format!("{key}.modules.{module}");
            if module.is_empty() {
                return Err(invalid(&key, "a module name cannot be empty".to_owned()));
            }
            let policy = policy(&key, entry.mode, entry.allow.as_deref(), &own, invalid)?;
            modules.insert((app.clone(), module.clone()), policy);
        }
        apps.insert(app, own);
    }
    Ok(NetworkSettings {
        default,
        apps,
        modules,
        bridge,
    })
}

/// The policy of the entry at `key`: its own mode and allow list, or `parent`'s.
fn policy(
    key: &str,
    mode: Option<NetworkModeValue>,
    allow: Option<&[String]>,
    parent: &NetworkPolicy,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<NetworkPolicy, ConfigError> {
    let mode = mode.map_or(parent.mode, |m| m.0);
    let allow_key = format!("{key}.allow");
    let allow = match allow {
        Some(entries) if mode != NetworkMode::Egress => {
            if entries.is_empty() {
                Vec::new()
            } else {
                return Err(invalid(
                    &allow_key,
                    format!(
                        "allow opens destinations of mode egress only, and this entry's mode is {mode}: remove allow, or set mode: egress"
                    ),
                ));
            }
        }
        Some(entries) => allow_list(&allow_key, entries, invalid)?,
        None if mode == NetworkMode::Egress => parent.allow.clone(),
        None => Vec::new(),
    };
    Ok(NetworkPolicy { mode, allow })
}

/// The rules of an `allow` list at `key`.
fn allow_list(
    key: &str,
    entries: &[String],
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Vec<EgressRule>, ConfigError> {
    if entries.len() > MAX_ALLOW {
        return Err(invalid(
            key,
            format!(
                "{} entries is more than the {MAX_ALLOW} an allow list may hold",
                entries.len()
            ),
        ));
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            EgressRule::parse_allow(entry)
                .map_err(|e| invalid(&format!("{key}[{index}]"), e.to_string()))
        })
        .collect()
}

/// The default scope's bridge: the operator's (`bridge`), lxpack's own under another
/// name (`own_bridge`), or lxpack's own `lxpackbr0`; never both keys.
fn default_bridge(
    raw: &RawNetwork,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<DefaultBridge, ConfigError> {
    let name =
        |key: &str, text: &str| NetworkName::parse(text).map_err(|e| invalid(key, e.to_string()));
    match (raw.bridge.as_deref(), raw.own_bridge.as_deref()) {
        (Some(_), Some(_)) => Err(invalid(
            "lxpack.network.own_bridge",
            "builds use either the operator's bridge (lxpack.network.bridge) or lxpack's own \
             (lxpack.network.own_bridge): remove one of the two"
                .to_owned(),
        )),
        (Some(theirs), None) => Ok(DefaultBridge::Operator(name(
            "lxpack.network.bridge",
            theirs,
        )?)),
        (None, Some(own)) => Ok(DefaultBridge::Own(name("lxpack.network.own_bridge", own)?)),
        (None, None) => Ok(DefaultBridge::default()),
    }
}
