//! Plain lines: for pipes, CI logs and the job log file.

use std::io::Write;

use lxpack_core::domain::{OutputStream, UtcDateTime};
use lxpack_core::events::Event;

use crate::exit::how_to_remove;

/// The line an event prints as, if any (output is written raw instead).
pub(super) fn describe(event: &Event) -> Option<String> {
    match event {
        Event::StepStarted { step } => Some(format!("==> {step}")),
        Event::StepFinished {
            step,
            duration,
            succeeded,
        } => Some(format!(
            "<== {step} {} in {:.2}s",
            if *succeeded { "done" } else { "FAILED" },
            duration.as_secs_f64()
        )),
        Event::Output { .. } => None,
        Event::Warning { message } => Some(format!("warning: {message}")),
        Event::ModuleSkipped { module, reason } => {
            Some(format!("skipped module {module}: {reason}"))
        }
        Event::StandbyClaimed {
            instance,
            pool,
            waited,
        } => Some(format!(
            "runs in standby {instance} of pool {pool} (started {} s before)",
            waited.as_secs()
        )),
        Event::ColdStart { reason } => Some(format!("cold start: {reason}")),
        Event::Placed { instance, member } => {
            Some(format!("{instance} runs on cluster member {member}"))
        }
        Event::CacheRestored { path, from } => Some(match from {
            Some(job) => format!("cache {path}: a copy of what job {job} saved"),
            None => format!("cache {path}: empty (nothing saved yet)"),
        }),
        Event::CacheSaved { path, detail, .. } => Some(format!("cache {path}: {detail}")),
        Event::StepsFromSnapshot { steps, job } => Some(format!(
            "starting from the snapshot of job {job} after: {}",
            steps
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Event::ResourcesKept {
            instance,
            profile,
            until,
        } => Some(format!(
            "kept instance and profile {instance} until {} (then lxpack gc removes them); open a shell in it with: lxpack shell {}; remove them now with: {}",
            UtcDateTime::of(*until),
            instance
                .job()
                .map_or_else(|| "JOB".to_owned(), |job| job.to_string()),
            how_to_remove(instance.as_str(), profile.as_str())
        )),
        Event::Network {
            mode,
            scope,
            egress,
        } => Some(match egress {
            Some((network, acl)) => {
                format!("network: {mode} ({scope} policy; bridge {network}, ACL {acl})")
            }
            None => format!("network: {mode} ({scope} policy)"),
        }),
        Event::ResourceClass { class } => Some(format!(
            "resource class: {} ({})",
            class.name,
            crate::config::describe_class(&class.limits)
        )),
        other => Some(format!("{other:?}")),
    }
}

/// Prints an event: progress and warnings on stderr, output on its own stream.
pub(super) fn print(event: &Event) {
    // Writes to a closed pipe are not worth failing a job for.
    match event {
        Event::Output {
            stream: OutputStream::Stdout,
            bytes,
            ..
        } => {
            let _ = std::io::stdout().lock().write_all(bytes);
        }
        Event::Output { bytes, .. } => {
            let _ = std::io::stderr().lock().write_all(bytes);
        }
        other => {
            if let Some(line) = describe(other) {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lxpack_core::domain::{AclName, NetworkMode, NetworkName, PolicyScope};

    use super::*;

    #[test]
    fn a_jobs_network_reads_with_its_mode_and_names() {
        let egress = Event::Network {
            mode: NetworkMode::Egress,
            scope: PolicyScope::Default,
            egress: Some((
                NetworkName::parse("lxpackbr0").unwrap(),
                AclName::parse("lxpack-egress").unwrap(),
            )),
        };
        assert_eq!(
            describe(&egress).unwrap(),
            "network: egress (default policy; bridge lxpackbr0, ACL lxpack-egress)"
        );
        let none = Event::Network {
            mode: NetworkMode::None,
            scope: PolicyScope::Default,
            egress: None,
        };
        assert_eq!(describe(&none).unwrap(), "network: none (default policy)");
        let json = crate::render::json::event_json(&egress);
        assert_eq!(json["event"], "network");
        assert_eq!(json["bridge"], "lxpackbr0");
    }

    #[test]
    fn a_jobs_resource_class_reads_with_its_caps() {
        let class = Event::ResourceClass {
            class: lxpack_core::domain::ResourceClass::builtin_default(),
        };
        assert_eq!(
            describe(&class).unwrap(),
            "resource class: default (processes 2000)"
        );
        let json = crate::render::json::event_json(&class);
        assert_eq!(json["event"], "resource_class");
        assert_eq!(json["class"], "default");
        assert_eq!(json["processes"], 2000);
        assert_eq!(json["memory"], serde_json::Value::Null);
    }
}
