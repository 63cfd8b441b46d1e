//! The daemon answers with one of three envelopes; decoding them is pure, so it is
//! tested on recorded replies without a daemon.

use serde::Deserialize;
use serde_json::Value;

/// A decoded reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// A finished request, with its metadata.
    Sync(Value),
    /// A started operation: its id, and its metadata (exec secrets live there).
    Async { operation: String, metadata: Value },
    /// An error, with the daemon's own message and code.
    Error { code: u16, message: String },
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
        return Reply::Error {
            code: status,
            message: format!(
                "unexpected reply (HTTP {status}): {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        };
    };
    match envelope.kind.as_str() {
        "sync" => Reply::Sync(envelope.metadata),
        "async" => Reply::Async {
            operation: envelope
                .operation
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            metadata: envelope.metadata,
        },
        _ => Reply::Error {
            code: if envelope.error_code == 0 {
                status
            } else {
                envelope.error_code
            },
            message: envelope.error,
        },
    }
}

/// The outcome of a finished operation, from its `/wait` metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finished {
    /// 200 success, 400 failure, 401 cancelled.
    pub(crate) status_code: u16,
    /// The error, when it failed.
    pub(crate) err: String,
    /// The operation's own metadata (exec's `return`, publish's `fingerprint`).
    pub(crate) metadata: Value,
}

/// Reads the operation object returned by `/wait`.
pub(crate) fn finished(operation: &Value) -> Finished {
    Finished {
        status_code: operation
            .get("status_code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(0),
        err: operation
            .get("err")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        metadata: operation.get("metadata").cloned().unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_three_envelopes() {
        assert_eq!(
            decode(
                200,
                br#"{"type":"sync","status":"Success","status_code":200,"metadata":{"a":1}}"#
            ),
            Reply::Sync(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            decode(202, br#"{"type":"async","operation":"/1.0/operations/6916c8a6-9b7d","metadata":{"id":"6916c8a6-9b7d"}}"#),
            Reply::Async {
                operation: "6916c8a6-9b7d".into(),
                metadata: serde_json::json!({"id": "6916c8a6-9b7d"})
            }
        );
        assert_eq!(
            decode(
                404,
                br#"{"type":"error","error":"Instance not found","error_code":404}"#
            ),
            Reply::Error {
                code: 404,
                message: "Instance not found".into()
            }
        );
        assert!(matches!(
            decode(502, b"<html>bad gateway</html>"),
            Reply::Error { code: 502, .. }
        ));
    }

    #[test]
    fn reads_finished_operations() {
        let op = serde_json::json!({"status_code": 200, "err": "", "metadata": {"return": 3}});
        let done = finished(&op);
        assert_eq!(done.status_code, 200);
        assert_eq!(done.metadata["return"], 3);
        let failed =
            finished(&serde_json::json!({"status_code": 400, "err": "Failed creating instance"}));
        assert_eq!(
            (failed.status_code, failed.err.as_str()),
            (400, "Failed creating instance")
        );
    }
}
