//! One cheap-to-clone client per daemon, with a constructor per endpoint, a deadline on
//! every call, and the request plumbing every resource module shares: envelopes,
//! operations awaited through `/wait`, and error mapping that keeps the daemon's own
//! message.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lxpack_core::ports::{BoxError, Unreachable};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::envelope::{Finished, Reply, decode, finished};
use crate::remote::{check_trusted, transport_failure};
use crate::socket::probe;

/// Settings shared by every endpoint.
#[derive(Debug, Clone)]
pub struct LxdOptions {
    /// The deadline of each API call (Cloud Deploy's `container.timeout`).
    pub request_timeout: Duration,
    /// The project every call is scoped to.
    pub project: Option<String>,
    /// The cluster member new instances are placed on.
    pub target: Option<String>,
    /// The profiles every instance gets before its own (the one that gives a root
    /// disk): `default` unless the operator names others.
    pub base_profiles: Vec<String>,
}

impl Default for LxdOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            project: None,
            target: None,
            base_profiles: vec!["default".to_owned()],
        }
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The daemon cannot be reached.
    #[error("{0}")]
    Unreachable(Unreachable),
    /// A certificate or key file could not be read or parsed.
    #[error("cannot use {what} {path}")]
    Certificate {
        /// `client certificate`, `client key`, `server certificate`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Http(#[source] BoxError),
}

/// A call that failed, before it is mapped to a port's error.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The daemon said no, with its message.
    Daemon { code: u16, message: String },
    /// The call did not finish before its deadline (how long it was given).
    Deadline(Duration),
    /// The transport failed.
    Transport(Unreachable),
}

/// The client. Clones share the connection pool.
#[derive(Clone)]
pub struct LxdClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    endpoint: String,
    socket: Option<PathBuf>,
    options: LxdOptions,
    /// `GET /1.0`, read once per client: a daemon's version, extensions and trust in
    /// us do not change under a running job, and each job would otherwise ask several
    /// times (a remote client asks before its first call, for the trust check).
    server: tokio::sync::OnceCell<Value>,
}

impl std::fmt::Debug for LxdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LxdClient")
            .field("endpoint", &self.inner.endpoint)
            .finish()
    }
}

impl LxdClient {
    /// A client for the daemon listening on the unix socket `path`.
    ///
    /// # Errors
    /// `Unreachable` (missing, refused, permission denied with the group to join).
    pub fn connect_unix(path: &Path, options: LxdOptions) -> Result<Self, ConnectError> {
        probe(path).map_err(ConnectError::Unreachable)?;
        // No idle connections on the socket. LXD 5.0 and Incus 6.0 peek at the first
        // bytes of each new unix connection inside their accept loop (to tell TLS from
        // plain HTTP), so a connection that is open but silent stops the daemon from
        // accepting any other until it speaks or closes. A pooled HTTP client makes such
        // connections: it races a new connection against an idle one and keeps the
        // loser, unused, in its pool. With several jobs at once, that stalled every new
        // request, including the daemon's own start hooks, for the pool's idle timeout
        // (docs/architecture.md, "The accept-loop stall"). A connection per request
        // costs about 0.1 ms on a unix socket.
        let http = reqwest::Client::builder()
            .unix_socket(path)
            .http1_only()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| ConnectError::Http(Box::new(e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: "http://lxd".into(),
                endpoint: path.display().to_string(),
                socket: Some(path.to_owned()),
                options,
                server: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// A client for a remote daemon or cluster over HTTPS, presenting a client
    /// certificate and trusting only the pinned server certificate (TLS 1.3 at least).
    ///
    /// # Errors
    /// `Certificate` when a file cannot be read or parsed.
    pub fn connect_https(
        url: &str,
        client_cert: &Path,
        client_key: &Path,
        server_cert: &Path,
        options: LxdOptions,
    ) -> Result<Self, ConnectError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|e| ConnectError::Certificate {
                what,
                path: path.to_owned(),
                source: Box::new(e),
            })
        };
        let mut identity_pem = read("client certificate", client_cert)?;
        identity_pem.extend(read("client key", client_key)?);
        let identity =
            reqwest::Identity::from_pem(&identity_pem).map_err(|e| ConnectError::Certificate {
                what: "client certificate and key",
                path: client_cert.to_owned(),
                source: Box::new(e),
            })?;
        let pinned = reqwest::Certificate::from_pem(&read("server certificate", server_cert)?)
            .map_err(|e| ConnectError::Certificate {
                what: "server certificate",
                path: server_cert.to_owned(),
                source: Box::new(e),
            })?;
        let http = reqwest::Client::builder()
            .identity(identity)
            .tls_certs_only([pinned])
            .tls_version_min(reqwest::tls::Version::TLS_1_3)
            .http1_only()
            .build()
            .map_err(|e| ConnectError::Http(Box::new(e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: url.trim_end_matches('/').to_owned(),
                endpoint: url.to_owned(),
                socket: None,
                options,
                server: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// Where this client connects.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The metadata of `GET /1.0`, read on first use and kept. On HTTPS it is also
    /// where the client checks that the daemon trusts it: an untrusted client gets
    /// answers too, with only what is public in them.
    pub(crate) async fn server(&self) -> Result<&Value, CallError> {
        self.inner
            .server
            .get_or_try_init(|| async {
                let request = self.request(Method::GET, "/1.0");
                let server = match self
                    .fetch(request, self.inner.options.request_timeout)
                    .await?
                {
                    Reply::Sync(server)
                    | Reply::Async {
                        metadata: server, ..
                    } => server,
                    Reply::Error { code, message } => {
                        return Err(CallError::Daemon { code, message });
                    }
                };
                if self.inner.socket.is_none() {
                    check_trusted(&self.inner.endpoint, &server).map_err(CallError::Transport)?;
                }
                Ok(server)
            })
            .await
    }

    pub(crate) fn options(&self) -> &LxdOptions {
        &self.inner.options
    }

    /// A request to `path` (under `/1.0`), scoped to the project.
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self
            .inner
            .http
            .request(method, format!("{}{path}", self.inner.base));
        if let Some(project) = &self.inner.options.project {
            request = request.query(&[("project", project)]);
        }
        request
    }

    /// Sends a request and decodes its envelope, within the call deadline.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Reply, CallError> {
        self.send_within(request, self.inner.options.request_timeout)
            .await
    }

    pub(crate) async fn send_within(
        &self,
        request: RequestBuilder,
        deadline: Duration,
    ) -> Result<Reply, CallError> {
        let call = async {
            self.ensure_trusted().await?;
            self.fetch(request, deadline).await
        };
        match tokio::time::timeout(deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Deadline(deadline)),
        }
    }

    /// Sends a request and decodes its envelope within `deadline`, with no trust check.
    async fn fetch(&self, request: RequestBuilder, deadline: Duration) -> Result<Reply, CallError> {
        let call = async {
            let response = request.send().await.map_err(|e| self.transport(&e))?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(|e| self.transport(&e))?;
            Ok(decode(status, &body))
        };
        tokio::time::timeout(deadline, call)
            .await
            .map_err(|_| CallError::Deadline(deadline))?
    }

    /// Sends and expects a sync reply.
    pub(crate) async fn sync(&self, request: RequestBuilder) -> Result<Value, CallError> {
        match self.send(request).await? {
            Reply::Sync(metadata) => Ok(metadata),
            Reply::Async { metadata, .. } => Ok(metadata),
            Reply::Error { code, message } => Err(CallError::Daemon { code, message }),
        }
    }

    /// Sends, expects an operation, and waits (at most `limit`) until it ends.
    pub(crate) async fn operation(
        &self,
        request: RequestBuilder,
        limit: Duration,
    ) -> Result<Finished, CallError> {
        match self.send(request).await? {
            Reply::Async { operation, .. } => self.wait(&operation, limit).await,
            Reply::Sync(metadata) => Ok(Finished {
                status_code: 200,
                err: String::new(),
                metadata,
            }),
            Reply::Error { code, message } => Err(CallError::Daemon { code, message }),
        }
    }

    /// Waits for an operation through `/wait`, and fails unless it succeeded.
    pub(crate) async fn wait(
        &self,
        operation: &str,
        limit: Duration,
    ) -> Result<Finished, CallError> {
        let seconds = limit.as_secs().max(1);
        let request = self
            .request(Method::GET, &format!("/1.0/operations/{operation}/wait"))
            .query(&[("timeout", seconds.to_string())]);
        let metadata = match self
            .send_within(request, limit + Duration::from_secs(5))
            .await?
        {
            Reply::Sync(metadata) => metadata,
            Reply::Async { metadata, .. } => metadata,
            Reply::Error { code, message } => return Err(CallError::Daemon { code, message }),
        };
        let done = finished(&metadata);
        match done.status_code {
            200 => Ok(done),
            103 | 105 | 106 => Err(CallError::Deadline(limit)),
            code => Err(CallError::Daemon {
                code,
                message: done.err,
            }),
        }
    }

    /// Asks the daemon to cancel an operation (best effort).
    pub(crate) async fn cancel_operation(&self, operation: &str) {
        let request = self.request(Method::DELETE, &format!("/1.0/operations/{operation}"));
        let _ = self.send(request).await;
    }

    fn transport(&self, error: &reqwest::Error) -> CallError {
        match &self.inner.socket {
            Some(socket) => {
                CallError::Transport(probe(socket).err().unwrap_or_else(|| Unreachable {
                    endpoint: self.inner.endpoint.clone(),
                    reason: error.to_string(),
                    hint: "check that the daemon runs and answers at this address".into(),
                }))
            }
            None => CallError::Transport(transport_failure(&self.inner.endpoint, error)),
        }
    }

    /// On HTTPS, the trust check (through [`server`](Self::server)) comes before any
    /// other call.
    async fn ensure_trusted(&self) -> Result<(), CallError> {
        if self.inner.socket.is_none() {
            self.server().await?;
        }
        Ok(())
    }

    /// The URL a websocket of an operation is reached at, and the request to upgrade.
    pub(crate) fn websocket_request(&self, operation: &str, secret: &str) -> RequestBuilder {
        self.request(
            Method::GET,
            &format!("/1.0/operations/{operation}/websocket"),
        )
        .query(&[("secret", secret)])
        .header(reqwest::header::CONNECTION, "Upgrade")
        .header(reqwest::header::UPGRADE, "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header(
            "Sec-WebSocket-Key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        )
    }

    /// Sends a websocket upgrade request and returns the raw stream.
    pub(crate) async fn upgrade(
        &self,
        request: RequestBuilder,
    ) -> Result<reqwest::Upgraded, CallError> {
        self.ensure_trusted().await?;
        let response = tokio::time::timeout(self.inner.options.request_timeout, request.send())
            .await
            .map_err(|_| CallError::Deadline(self.inner.options.request_timeout))?
            .map_err(|e| self.transport(&e))?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            return Err(match decode(status, &body) {
                Reply::Error { code, message } => CallError::Daemon { code, message },
                _ => CallError::Daemon {
                    code: status,
                    message: "the websocket was not upgraded".into(),
                },
            });
        }
        response.upgrade().await.map_err(|e| self.transport(&e))
    }
}

#[cfg(test)]
mod tests;
