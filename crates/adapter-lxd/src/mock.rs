//! A [`Transport`] for tests, as bollard's `connect_with_mock`: it answers with canned
//! or recorded replies, in order, and keeps every request it got, so that a test can
//! drive the client (and the ports it implements) without a daemon and assert on the
//! exact requests made. Use it through [`LxdClient::connect_with_mock`].
//!
//! The recordings this crate's own tests play are in `tests/fixtures/` (LXD 5.0 and
//! Incus 6.0, captured by `tests/fixtures/capture.py`); [`MockTransport::play`] queues
//! the replies of such a recording.
//!
//! [`LxdClient::connect_with_mock`]: crate::LxdClient::connect_with_mock

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use lxpack_core::ports::Unreachable;
use serde::Deserialize;

use crate::transport::{Request, Response, Stream, Transport, Upgrade};

/// One canned answer.
enum Canned {
    /// A reply.
    Reply(Response),
    /// A reply after a delay (on tokio's clock, so a paused test clock skips it).
    Later(Duration, Response),
    /// No reply, ever: the call's deadline decides.
    Hang,
    /// The daemon cannot be reached.
    Unreachable(Unreachable),
    /// A switched websocket, on the given stream.
    Switched(Box<dyn Stream>),
}

#[derive(Default)]
struct State {
    replies: VecDeque<Canned>,
    requests: Vec<Request>,
}

/// A transport that plays back replies in order and records the requests.
///
/// Clones share the queue and the record, so a test keeps one clone to inspect after
/// handing another to the client.
#[derive(Clone)]
pub struct MockTransport {
    state: Arc<Mutex<State>>,
    endpoint: String,
    remote: bool,
}

impl std::fmt::Debug for MockTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTransport")
            .field("endpoint", &self.endpoint)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl Default for MockTransport {
    fn default() -> Self {
        Self::new()
    }
}

/// A recording as `tests/fixtures/capture.py` writes it.
#[derive(Deserialize)]
struct Recording {
    exchanges: Vec<Exchange>,
}

#[derive(Deserialize)]
struct Exchange {
    status: u16,
    reply: serde_json::Value,
    /// The reply's `ETag` header, where the daemon sent one.
    #[serde(default)]
    etag: Option<String>,
}

impl MockTransport {
    /// A mock of a local daemon (no trust check) with nothing queued.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Arc::default(),
            endpoint: "mock".into(),
            remote: false,
        }
    }

    /// A mock of a remote daemon: the client checks, with its first request
    /// (`GET /1.0`), that the daemon trusts it.
    #[must_use]
    pub fn remote() -> Self {
        Self {
            endpoint: "https://mock:8443".into(),
            remote: true,
            ..Self::new()
        }
    }

    fn push(&self, canned: Canned) -> &Self {
        self.lock().replies.push_back(canned);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a reply with HTTP status `status` and body `body`.
    pub fn reply(&self, status: u16, body: impl Into<Vec<u8>>) -> &Self {
        self.push(Canned::Reply(Response {
            status,
            body: body.into(),
            etag: None,
        }))
    }

    /// Queues a reply that carries an `ETag` header.
    pub fn reply_versioned(&self, status: u16, body: impl Into<Vec<u8>>, etag: &str) -> &Self {
        self.push(Canned::Reply(Response {
            status,
            body: body.into(),
            etag: Some(etag.to_owned()),
        }))
    }

    /// Queues a JSON reply.
    pub fn reply_json(&self, status: u16, body: &serde_json::Value) -> &Self {
        self.reply(status, body.to_string())
    }

    /// Queues a reply that arrives after `delay`.
    pub fn reply_later(&self, delay: Duration, status: u16, body: impl Into<Vec<u8>>) -> &Self {
        self.push(Canned::Later(
            delay,
            Response {
                status,
                body: body.into(),
                etag: None,
            },
        ))
    }

    /// Queues a request that is never answered.
    pub fn hang(&self) -> &Self {
        self.push(Canned::Hang)
    }

    /// Queues a transport failure.
    pub fn unreachable(&self, reason: &str) -> &Self {
        self.push(Canned::Unreachable(Unreachable {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
            hint: "this is a mock".into(),
        }))
    }

    /// Queues a switched websocket running on `stream` (one end of a
    /// `tokio::io::duplex`, say; the test speaks websocket on the other end).
    pub fn websocket(&self, stream: impl Stream + 'static) -> &Self {
        self.push(Canned::Switched(Box::new(stream)))
    }

    /// Queues every reply of a recording made by `tests/fixtures/capture.py`
    /// (`{"exchanges": [{"status": 200, "reply": {...}, "etag": "..."}, ...]}`, the
    /// `etag` only where the daemon sent one), in order.
    ///
    /// # Errors
    /// When `recording` is not such a document.
    pub fn play(&self, recording: &str) -> Result<&Self, serde_json::Error> {
        let recording: Recording = serde_json::from_str(recording)?;
        for exchange in recording.exchanges {
            let body = exchange.reply.to_string();
            match exchange.etag {
                Some(etag) => self.reply_versioned(exchange.status, body, &etag),
                None => self.reply(exchange.status, body),
            };
        }
        Ok(self)
    }

    /// Every request received so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// `METHOD target` of every request received so far (see [`Request::line`]).
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.lock().requests.iter().map(Request::line).collect()
    }

    /// How many queued replies were not asked for.
    #[must_use]
    pub fn unused(&self) -> usize {
        self.lock().replies.len()
    }

    fn take(&self, request: Request) -> Option<Canned> {
        let mut state = self.lock();
        state.requests.push(request);
        state.replies.pop_front()
    }

    fn exhausted(&self, request: &str) -> Unreachable {
        Unreachable {
            endpoint: self.endpoint.clone(),
            reason: format!("the mock has no reply queued for {request}"),
            hint: "queue one more reply in the test".into(),
        }
    }
}

#[async_trait]
impl Transport for MockTransport {
    async fn send(&self, request: Request) -> Result<Response, Unreachable> {
        let line = request.line();
        match self.take(request) {
            Some(Canned::Reply(response)) => Ok(response),
            Some(Canned::Later(delay, response)) => {
                tokio::time::sleep(delay).await;
                Ok(response)
            }
            Some(Canned::Hang) => std::future::pending().await,
            Some(Canned::Unreachable(unreachable)) => Err(unreachable),
            Some(Canned::Switched(_)) => Err(Unreachable {
                endpoint: self.endpoint.clone(),
                reason: format!("the mock has a websocket queued, not a reply, for {line}"),
                hint: "queue replies in the order the client asks for them".into(),
            }),
            None => Err(self.exhausted(&line)),
        }
    }

    async fn upgrade(&self, request: Request) -> Result<Upgrade, Unreachable> {
        let line = request.line();
        match self.take(request) {
            Some(Canned::Switched(stream)) => Ok(Upgrade::Switched(stream)),
            Some(Canned::Reply(response) | Canned::Later(_, response)) => {
                Ok(Upgrade::Refused(response))
            }
            Some(Canned::Hang) => std::future::pending().await,
            Some(Canned::Unreachable(unreachable)) => Err(unreachable),
            None => Err(self.exhausted(&line)),
        }
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn is_remote(&self) -> bool {
        self.remote
    }
}
