//! The seam between the client and the wire, as kube-rs has it: the client builds pure
//! [`Request`] values and reads [`Response`] values, and a [`Transport`] carries them.
//! The real transports speak HTTP/1.1 over the daemon's unix socket or over HTTPS
//! (`transport::http`); [`MockTransport`](crate::mock::MockTransport) plays back recorded
//! replies, so that everything above the wire (envelopes, operations, retries, error
//! mapping, exec's signals) is tested without a daemon.

use std::fmt;

use async_trait::async_trait;
use lxpack_core::ports::Unreachable;
use tokio::io::{AsyncRead, AsyncWrite};

pub(crate) mod http;
mod pinning;

/// An HTTP method of the LXD API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request, as a value: what to send, not how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, from `/1.0`, without a query.
    pub path: String,
    /// The query parameters, in order, not encoded.
    pub query: Vec<(String, String)>,
    /// Extra headers (`Content-Type`, the file API's `X-LXD-*` and `X-Incus-*`).
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no query, headers or body.
    #[must_use]
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a JSON body, with its content type.
    #[must_use]
    pub fn json(self, body: &impl serde::Serialize) -> Self {
        // Serializing our own bodies (maps with string keys) cannot fail.
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.header("Content-Type", "application/json").bytes(bytes)
    }

    /// Sets a raw body.
    #[must_use]
    pub fn bytes(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The value of the query parameter `key`, if it has one.
    #[must_use]
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of the header `name` (case-insensitive), if it has one.
    #[must_use]
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    #[must_use]
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The path and the encoded query, as they go on the wire:
    /// `/1.0/operations/ID/wait?project=default&timeout=10`.
    #[must_use]
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{}?{}", self.path, query.join("&"))
    }

    /// `METHOD target`, e.g. `PUT /1.0/instances/x/state`.
    #[must_use]
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target())
    }
}

/// `application/x-www-form-urlencoded` encoding of one query key or value, as HTTP
/// clients (and so the real transports) encode them.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A reply: its HTTP status, body, and the version of what it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The `ETag` header: the version of the object read, for a compare-and-set
    /// (`If-Match`) that fails when anything changed it since.
    pub etag: Option<String>,
}

/// A byte stream an upgraded connection (a websocket) runs on.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// The outcome of a websocket upgrade request.
pub enum Upgrade {
    /// The daemon switched protocols: the raw stream, ready for websocket frames.
    Switched(Box<dyn Stream>),
    /// The daemon answered without switching (an error envelope, usually).
    Refused(Response),
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Switched(_) => f.write_str("Switched"),
            Self::Refused(response) => f.debug_tuple("Refused").field(response).finish(),
        }
    }
}

/// Carries requests to a daemon and its replies back.
///
/// Deadlines are not the transport's business: the client puts one on every call.
/// A transport only reports that the daemon cannot be reached, with why and the fix.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends a request and reads the whole reply.
    ///
    /// # Errors
    /// [`Unreachable`] when the daemon cannot be reached.
    async fn send(&self, request: Request) -> Result<Response, Unreachable>;

    /// Sends a websocket upgrade request (the transport adds the upgrade headers).
    ///
    /// # Errors
    /// [`Unreachable`] when the daemon cannot be reached.
    async fn upgrade(&self, request: Request) -> Result<Upgrade, Unreachable>;

    /// Where it connects, for messages.
    fn endpoint(&self) -> &str;

    /// Whether the daemon is remote, so that the client checks, once, that it trusts
    /// us before anything else (a local socket is trusted by its permissions).
    fn is_remote(&self) -> bool;

    /// Whether the daemon runs on this host, so that its host's files (`/etc/subuid`)
    /// are ours to read. False unless the transport knows (a mock does not).
    fn shares_this_host(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_encodes_the_query_as_http_clients_do() {
        let request = Request::new(Method::Post, "/1.0/instances/x/files")
            .query("path", "/etc/my file&x=1")
            .query("project", "default");
        assert_eq!(
            request.line(),
            "POST /1.0/instances/x/files?path=%2Fetc%2Fmy+file%26x%3D1&project=default"
        );
        assert_eq!(request.query_value("project"), Some("default"));
        assert_eq!(Request::new(Method::Get, "/1.0").target(), "/1.0");
    }
}
