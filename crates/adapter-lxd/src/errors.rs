//! A failed call, and its one mapping to each port's error. Every module that calls
//! the daemon (runtime, exec, release, readiness, registry) maps through here, so a
//! refusal, a missed deadline or an unreachable daemon reads the same whichever call
//! met it.

use std::time::Duration;

use lxpack_core::domain::InstanceName;
use lxpack_core::ports::{RegistryError, RuntimeError, Unreachable};

use crate::classify::Cause;
use crate::envelope::DaemonError;

/// A call that failed, before it is mapped to a port's error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CallError {
    /// The daemon said no, with its message.
    Daemon(DaemonError),
    /// The call did not finish before its deadline (how long it was given).
    Deadline(Duration),
    /// The daemon cannot be reached (or does not trust us).
    Transport(Unreachable),
    /// The daemon answered something the adapter cannot read.
    Unexpected(String),
}

impl CallError {
    /// What a refusal means; `None` for anything but a refusal.
    pub(crate) fn cause(&self) -> Option<Cause> {
        match self {
            Self::Daemon(error) => Some(error.cause()),
            _ => None,
        }
    }

    /// Whether it is a refusal for `cause`.
    pub(crate) fn is(&self, cause: Cause) -> bool {
        self.cause() == Some(cause)
    }

    /// Whether the thing asked about is not there (a named 404, or a bare one).
    pub(crate) fn is_gone(&self) -> bool {
        matches!(self.cause(), Some(Cause::NotFound | Cause::PathMissing))
    }
}

/// Maps a failed call of `operation` about the `what` named `name` (`instance`,
/// `profile`, `server`) to the runtime port's error.
pub(crate) fn runtime_error(
    operation: &str,
    what: &'static str,
    name: &str,
    error: CallError,
) -> RuntimeError {
    match error {
        CallError::Transport(unreachable) => RuntimeError::Unreachable(unreachable),
        CallError::Deadline(after) => RuntimeError::TimedOut {
            operation: operation.to_owned(),
            after,
        },
        CallError::Unexpected(message) => RuntimeError::Rejected {
            operation: operation.to_owned(),
            message,
        },
        CallError::Daemon(error) => match error.cause() {
            Cause::NotFound
            | Cause::PathMissing
            | Cause::NotRunning
            | Cause::ImageMissing
            | Cause::ProfileMissing => RuntimeError::NotFound {
                what,
                name: name.to_owned(),
            },
            Cause::AlreadyExists => RuntimeError::AlreadyExists {
                what,
                name: name.to_owned(),
            },
            Cause::InUse => RuntimeError::InUse {
                what,
                name: name.to_owned(),
            },
            _ => RuntimeError::Rejected {
                operation: operation.to_owned(),
                message: shorten(error.message),
            },
        },
    }
}

/// The most lines of a daemon's message an error keeps.
const MESSAGE_LINES: usize = 12;

/// A daemon's message cut to its first and last lines. Some refusals carry a tool's
/// whole output: an instance created on a full pool brings back one `tar` complaint
/// per file of the image, hundreds of lines that would bury the error and its hint.
pub(crate) fn shorten(message: String) -> String {
    let lines: Vec<&str> = message.lines().collect();
    if lines.len() <= MESSAGE_LINES {
        return message;
    }
    let (head, tail) = (MESSAGE_LINES / 2, MESSAGE_LINES / 2 - 1);
    format!(
        "{}\n[… {} more lines of the daemon's message …]\n{}",
        lines[..head].join("\n"),
        lines.len() - head - tail,
        lines[lines.len() - tail..].join("\n")
    )
}

/// What a registry call is about, for its error.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    /// An image, by alias or fingerprint.
    Image(&'a str),
    /// Publishing this instance.
    Publish(&'a InstanceName),
}

/// Maps a failed registry call of `operation` to the registry port's error.
pub(crate) fn registry_error(
    operation: &str,
    subject: Subject<'_>,
    error: CallError,
) -> RegistryError {
    let rejected = |message| RegistryError::Rejected {
        operation: operation.to_owned(),
        message: shorten(message),
    };
    match (error, subject) {
        (CallError::Transport(unreachable), _) => RegistryError::Unreachable(unreachable),
        (CallError::Deadline(after), Subject::Publish(instance)) => RegistryError::TimedOut {
            instance: instance.clone(),
            after,
        },
        (CallError::Deadline(after), Subject::Image(_)) => RegistryError::CallTimedOut {
            operation: operation.to_owned(),
            after,
        },
        (CallError::Unexpected(message), _) => rejected(message),
        (CallError::Daemon(error), Subject::Publish(instance)) => match error.cause() {
            Cause::Running => RegistryError::InstanceRunning {
                instance: instance.clone(),
            },
            Cause::NotFound => RegistryError::InstanceNotFound {
                instance: instance.clone(),
            },
            _ => rejected(error.message),
        },
        (CallError::Daemon(error), Subject::Image(image)) => match error.cause() {
            Cause::NotFound | Cause::PathMissing | Cause::ImageMissing => RegistryError::NotFound {
                image: image.to_owned(),
            },
            _ => rejected(error.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(status: u16, message: &str) -> CallError {
        CallError::Daemon(DaemonError {
            status,
            code: status,
            message: message.into(),
        })
    }

    #[test]
    fn refusals_map_to_the_runtime_port() {
        let map = |e| runtime_error("x", "profile", "lxpack-p", e);
        assert!(matches!(
            map(daemon(404, "Profile not found")),
            RuntimeError::NotFound { what: "profile", name } if name == "lxpack-p"
        ));
        assert!(matches!(
            map(daemon(
                500,
                "Error inserting \"p\" into database: The profile already exists"
            )),
            RuntimeError::AlreadyExists {
                what: "profile",
                ..
            }
        ));
        assert!(matches!(
            map(daemon(500, "Profile is currently in use")),
            RuntimeError::InUse { what: "profile", name } if name == "lxpack-p"
        ));
        let RuntimeError::Rejected { operation, message } = map(daemon(400, "Invalid devices"))
        else {
            panic!()
        };
        assert_eq!(
            (operation.as_str(), message.as_str()),
            ("x", "Invalid devices")
        );
    }

    #[test]
    fn a_message_of_hundreds_of_lines_keeps_its_first_and_last() {
        let mut message = String::from("Failed creating instance from image: Unpack failed");
        for n in 0..300 {
            message.push_str(&format!(
                "\ntar: rootfs/bin/x{n}: Cannot open: No space left on device"
            ));
        }
        message.push_str("\ntar: Exiting with failure status due to previous errors)");
        let RuntimeError::Rejected { message: short, .. } =
            runtime_error("launch", "instance", "lxpack-x", daemon(500, &message))
        else {
            panic!()
        };
        let lines: Vec<&str> = short.lines().collect();
        assert_eq!(lines.len(), 12, "{short}");
        assert_eq!(
            lines[0],
            "Failed creating instance from image: Unpack failed"
        );
        assert_eq!(lines[6], "[… 291 more lines of the daemon's message …]");
        assert_eq!(
            lines[11],
            "tar: Exiting with failure status due to previous errors)"
        );
        assert_eq!(shorten("one\ntwo".into()), "one\ntwo");
    }

    #[test]
    fn a_missed_deadline_is_each_port_s_timeout() {
        let after = Duration::from_secs(10);
        assert!(matches!(
            runtime_error("list resources", "server", "", CallError::Deadline(after)),
            RuntimeError::TimedOut { operation, after: a } if operation == "list resources" && a == after
        ));
        let instance = InstanceName::parse("lxpack-build-x").unwrap();
        assert!(matches!(
            registry_error("publish", Subject::Publish(&instance), CallError::Deadline(after)),
            RegistryError::TimedOut { instance: i, after: a } if i == instance && a == after
        ));
        assert!(matches!(
            registry_error("list images", Subject::Image(""), CallError::Deadline(after)),
            RegistryError::CallTimedOut { operation, after: a } if operation == "list images" && a == after
        ));
    }

    #[test]
    fn publish_refusals_name_the_instance() {
        let instance = InstanceName::parse("lxpack-build-x").unwrap();
        let publish = |e| registry_error("publish", Subject::Publish(&instance), e);
        assert!(matches!(
            publish(daemon(400, "Cannot export a running instance as an image")),
            RegistryError::InstanceRunning { .. }
        ));
        assert!(matches!(
            publish(daemon(
                400,
                "Failed to fetch instance \"x\" in project \"default\": Instance not found"
            )),
            RegistryError::InstanceNotFound { .. }
        ));
        assert!(matches!(
            registry_error("resolve", Subject::Image("base"), daemon(404, "Image alias not found")),
            RegistryError::NotFound { image } if image == "base"
        ));
    }
}
