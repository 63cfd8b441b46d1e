//! JSON lines: one object per event, with an `event` field naming its kind.

use lxpack_core::domain::UtcDateTime;
use lxpack_core::events::Event;
use serde_json::{Value, json};

use crate::exit::how_to_remove;

/// The JSON form of an event. Output bytes are decoded as UTF-8, lossily.
#[must_use]
pub fn event_json(event: &Event) -> Value {
    match event {
        Event::StepStarted { step } => json!({"event": "step_started", "step": step.to_string()}),
        Event::StepFinished {
            step,
            duration,
            succeeded,
        } => json!({
            "event": "step_finished",
            "step": step.to_string(),
            "seconds": duration.as_secs_f64(),
            "succeeded": succeeded,
        }),
        Event::Output {
            step,
            stream,
            bytes,
        } => json!({
            "event": "output",
            "step": step.to_string(),
            "stream": stream.as_str(),
            "text": String::from_utf8_lossy(bytes),
        }),
        Event::Warning { message } => json!({"event": "warning", "message": message}),
        Event::ModuleSkipped { module, reason } => {
            json!({"event": "module_skipped", "module": module, "reason": reason})
        }
        Event::StandbyClaimed {
            instance,
            pool,
            waited,
        } => json!({
            "event": "standby_claimed",
            "instance": instance.as_str(),
            "pool": pool.as_str(),
            "waited_seconds": waited.as_secs_f64(),
        }),
        Event::ColdStart { reason } => json!({"event": "cold_start", "reason": reason}),
        Event::Placed { instance, member } => json!({
            "event": "placed",
            "instance": instance.as_str(),
            "member": member.as_str(),
        }),
        Event::CacheRestored { path, from } => json!({
            "event": "cache_restored",
            "path": path.as_str(),
            "from_job": from.as_ref().map(ToString::to_string),
        }),
        Event::StepsFromSnapshot { steps, job } => json!({
            "event": "steps_from_snapshot",
            "steps": steps.iter().map(lxpack_core::events::Step::key).collect::<Vec<_>>(),
            "job": job.as_str(),
        }),
        Event::CacheSaved {
            path,
            saved,
            detail,
        } => json!({
            "event": "cache_saved",
            "path": path.as_str(),
            "saved": saved,
            "detail": detail,
        }),
        Event::ResourcesKept {
            instance,
            profile,
            until,
        } => json!({
            "event": "resources_kept",
            "instance": instance.as_str(),
            "profile": profile.as_str(),
            "until": UtcDateTime::of(*until).to_string(),
            "how_to_remove": how_to_remove(instance.as_str(), profile.as_str()),
        }),
        Event::Network {
            mode,
            scope,
            egress,
        } => json!({
            "event": "network",
            "mode": mode.as_str(),
            "scope": scope.to_string(),
            "bridge": egress.as_ref().map(|(network, _)| network.as_str()),
            "acl": egress.as_ref().map(|(_, acl)| acl.as_str()),
        }),
        Event::ResourceClass { class } => json!({
            "event": "resource_class",
            "class": class.name.as_str(),
            "cpu": class.limits.cpu,
            "memory": class.limits.memory,
            "processes": class.limits.processes,
            "disk_bytes": class.limits.root_size,
        }),
        other => json!({"event": "other", "detail": format!("{other:?}")}),
    }
}
