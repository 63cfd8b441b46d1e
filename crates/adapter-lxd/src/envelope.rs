//! The daemon answers with one of three envelopes; decoding them is pure, so it is
//! tested on recorded replies without a daemon.

use serde::Deserialize;
use serde_json::Value;

use crate::api::OperationRef;
use crate::classify::{Cause, classify};

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// A finished request, with its metadata.
    Sync(Value),
    /// A started operation: where it is, and its metadata (exec secrets live there).
    Async {
        operation: OperationRef,
        metadata: Value,
    },
    /// A refusal.
    Error(DaemonError),
}

/// A refusal by the daemon, with its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaemonError {
    /// The HTTP status of the reply that carried it.
    pub(crate) status: u16,
    /// The envelope's `error_code`, or the failed operation's `status_code`.
    pub(crate) code: u16,
    /// The daemon's message.
    pub(crate) message: String,
}

impl DaemonError {
    /// What the refusal means.
    pub(crate) fn cause(&self) -> Cause {
        classify(self.status, self.code, &self.message)
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_code: u16,
}

/// Decodes a reply body received with HTTP status `status`.
pub(crate) fn decode(status: u16, body: &[u8]) -> Reply {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Reply::Error(DaemonError {
            status,
            code: status,
            message: format!(
                "unexpected reply (HTTP {status}): {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        });
    };
    match envelope.kind.as_str() {
        "sync" => Reply::Sync(envelope.metadata),
        "async" => Reply::Async {
            operation: OperationRef::parse(&envelope.operation),
            metadata: envelope.metadata,
        },
        _ => Reply::Error(DaemonError {
            status,
            code: if envelope.error_code == 0 {
                status
            } else {
                envelope.error_code
            },
            message: envelope.error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Daemon, reply_of};

    #[test]
    fn decodes_the_three_envelopes_of_both_daemons() {
        for daemon in Daemon::BOTH {
            let (status, body) = reply_of(daemon, "server", 0);
            let Reply::Sync(server) = decode(status, &body) else {
                panic!("{daemon:?}: server is a sync reply")
            };
            assert!(server["api_extensions"].is_array(), "{daemon:?}");

            let (status, body) = reply_of(daemon, "stop", 0);
            let Reply::Async {
                operation,
                metadata,
            } = decode(status, &body)
            else {
                panic!("{daemon:?}: a stop is an operation")
            };
            assert_eq!(
                operation.path,
                format!("/1.0/operations/{}", metadata["id"].as_str().unwrap())
            );
            assert!(operation.query.is_empty());

            let (status, body) = reply_of(daemon, "delete-running", 0);
            assert_eq!(
                decode(status, &body),
                Reply::Error(DaemonError {
                    status: 400,
                    code: 400,
                    message: "Instance is running".into()
                })
            );
        }
    }

    #[test]
    fn a_body_that_is_no_envelope_is_an_error_with_its_start() {
        let Reply::Error(error) = decode(502, b"<html>bad gateway</html>") else {
            panic!()
        };
        assert_eq!((error.status, error.code), (502, 502));
        assert!(error.message.contains("<html>bad gateway"), "{error:?}");
    }

    #[test]
    fn incus_fails_a_waited_operation_with_an_error_envelope_lxd_with_the_operation() {
        let (status, body) = reply_of(Daemon::Incus, "stop-already-stopped", 1);
        assert_eq!(
            decode(status, &body),
            Reply::Error(DaemonError {
                status: 200,
                code: 400,
                message: "The instance is already stopped".into()
            })
        );
        let (status, body) = reply_of(Daemon::Lxd, "stop-already-stopped", 1);
        let Reply::Sync(operation) = decode(status, &body) else {
            panic!()
        };
        assert_eq!(operation["status_code"], 400);
        assert_eq!(operation["err"], "The instance is already stopped");
    }
}
