//! `lxpack.resources`: the resource classes, the default one and the apps' and
//! modules' choices, each refused at config time naming its key when it is not a
//! class, a cap of 0, or not a cap at all. Caps past the host are the core's check
//! at wiring time (`Workflows::check_resource_classes`): only the daemon knows the
//! host. The deprecated `lxpack.limits` fills in the default class's CPU and memory.

use lxpack_core::domain::{ClassName, DEFAULT_PROCESSES, ResourceLimits};
use lxpack_core::workflows::ResourceSettings;

use super::raw::{RawAppClass, RawClass, RawLimits, RawResources};
use super::{ConfigError, ConfigOrigin, app_key_at, byte_size};

/// The fewest processes a class may allow: a container needs a few to start and to
/// run a step's shell at all.
pub(super) const MIN_PROCESSES: u64 = 10;

/// The most processes a class may allow: the kernel's own ceiling on process ids.
pub(super) const MAX_PROCESSES: u64 = 4_194_304;

/// The resource settings of `raw`; `limits` is the deprecated `lxpack.limits`.
pub(super) fn resource_settings(
    raw: &RawResources,
    limits: &RawLimits,
    origin: &ConfigOrigin,
    invalid: &dyn Fn(&str, String) -> ConfigError,
    warnings: &mut Vec<String>,
) -> Result<ResourceSettings, ConfigError> {
    let mut settings = ResourceSettings::default();
    for (name, class) in raw.classes.iter().flatten() {
        let key = format!("lxpack.resources.classes.{name}");
        let parsed = ClassName::parse(name).map_err(|problem| invalid(&key, problem))?;
        settings
            .classes
            .insert(parsed, class_limits(&key, class, invalid)?);
    }
    if let Some(name) = &raw.default {
        settings.default = known_class(&settings, "lxpack.resources.default", name, invalid)?;
    }
    if limits.cpu.is_some() || limits.memory.is_some() {
        warnings.push(format!(
            "{origin}: lxpack.limits is deprecated: it sets the cpu and memory of the default class ({}) unless that class sets them; write them under lxpack.resources.classes.{} instead",
            settings.default, settings.default
        ));
        let legacy = class_limits(
            "lxpack.limits",
            &RawClass {
                cpu: limits.cpu.clone(),
                memory: limits.memory.clone(),
                ..RawClass::default()
            },
            invalid,
        )?;
        if let Some(default) = settings.classes.get_mut(&settings.default) {
            default.cpu = default.cpu.take().or(legacy.cpu);
            default.memory = default.memory.take().or(legacy.memory);
        }
    }
    for (name, choice) in raw.apps.iter().flatten() {
        let key = format!("lxpack.resources.apps.{name}");
        let app = app_key_at(&key, name, invalid)?;
        let (class, modules) = match choice {
            RawAppClass::Name(class) => (Some(class), None),
            RawAppClass::Detailed { class, modules } => (class.as_ref(), Some(modules)),
        };
        if let Some(class) = class {
            let class_key = match choice {
                RawAppClass::Name(_) => key.clone(),
                RawAppClass::Detailed { .. } => format!("{key}.class"),
            };
            let class = known_class(&settings, &class_key, class, invalid)?;
            settings.apps.insert(app.clone(), class);
        }
        for (module, class) in modules.into_iter().flatten() {
            let module_key = format!("{key}.modules.{module}");
            let class = known_class(&settings, &module_key, class, invalid)?;
            settings
                .modules
                .insert((app.clone(), module.clone()), class);
        }
    }
    Ok(settings)
}

/// The class `name` at `key`, which must be one of `settings`'s.
fn known_class(
    settings: &ResourceSettings,
    key: &str,
    name: &str,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<ClassName, ConfigError> {
    let parsed = ClassName::parse(name).map_err(|problem| invalid(key, problem))?;
    if settings.classes.contains_key(&parsed) {
        return Ok(parsed);
    }
    let known: Vec<&str> = settings.classes.keys().map(ClassName::as_str).collect();
    Err(invalid(
        key,
        format!(
            "there is no resource class {name:?} (the classes: {}): define it under lxpack.resources.classes",
            known.join(", ")
        ),
    ))
}

/// One class's caps, each checked under `key`; processes default to
/// [`DEFAULT_PROCESSES`], so every class caps them.
fn class_limits(
    key: &str,
    class: &RawClass,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<ResourceLimits, ConfigError> {
    let at = |field: &str| format!("{key}.{field}");
    let cpu = class
        .cpu
        .as_deref()
        .map(|cpu| check_cpu(cpu).map_err(|problem| invalid(&at("cpu"), problem)))
        .transpose()?;
    let memory = class
        .memory
        .as_deref()
        .map(|memory| check_memory(memory).map_err(|problem| invalid(&at("memory"), problem)))
        .transpose()?;
    let processes = match class.processes {
        None => DEFAULT_PROCESSES,
        Some(n) if (MIN_PROCESSES..=MAX_PROCESSES).contains(&n) => n,
        Some(n) => {
            return Err(invalid(
                &at("processes"),
                format!(
                    "{n} is not a process limit: allow from {MIN_PROCESSES} to {MAX_PROCESSES} processes"
                ),
            ));
        }
    };
    let root_size = class
        .disk
        .as_deref()
        .map(|disk| byte_size(disk).map_err(|problem| invalid(&at("disk"), problem)))
        .transpose()?;
    Ok(ResourceLimits {
        cpu,
        memory,
        processes: Some(processes),
        root_size,
    })
}

/// A CPU cap: a positive count (`2`) or a set of CPUs (`0-3`, `0,2`).
fn check_cpu(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Ok(count) = text.parse::<u64>() {
        return if count == 0 {
            Err("0 CPUs is not a limit: give a positive count, or a set like 0-3".to_owned())
        } else {
            Ok(text.to_owned())
        };
    }
    let is_set = !text.is_empty()
        && text.split(',').all(|range| {
            let mut ends = range.split('-');
            let first = ends.next().is_some_and(|n| n.trim().parse::<u32>().is_ok());
            let rest: Vec<&str> = ends.collect();
            first && rest.len() <= 1 && rest.iter().all(|n| n.trim().parse::<u32>().is_ok())
        });
    if is_set {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a CPU limit: give a count (2) or a set of CPUs (0-3, 0,2)"
        ))
    }
}

/// A memory cap: a size of at least 1 MiB (`2GiB`) or a share of the host's from 1
/// to 100 (`50%`).
fn check_memory(text: &str) -> Result<String, String> {
    let text = text.trim();
    if let Some(share) = text.strip_suffix('%') {
        return match share.trim().parse::<u8>() {
            Ok(1..=100) => Ok(text.to_owned()),
            _ => Err(format!(
                "{text:?} is not a share of the host's memory: give 1% to 100%"
            )),
        };
    }
    byte_size(text).map(|_| text.to_owned())
}

/// A class's caps in words (`cpu 2, memory 4GiB, processes 2000`), for `lxpack doctor`.
#[must_use]
pub fn describe(limits: &ResourceLimits) -> String {
    let mut parts = Vec::new();
    if let Some(cpu) = &limits.cpu {
        parts.push(format!("cpu {cpu}"));
    }
    if let Some(memory) = &limits.memory {
        parts.push(format!("memory {memory}"));
    }
    if let Some(processes) = limits.processes {
        parts.push(format!("processes {processes}"));
    }
    if let Some(size) = limits.root_size {
        parts.push(format!("disk {} MiB", size >> 20));
    }
    if parts.is_empty() {
        "no caps".to_owned()
    } else {
        parts.join(", ")
    }
}
