//! One cheap-to-clone client per daemon, with a constructor per endpoint (and one for
//! tests), one deadline on every call, and the request plumbing every resource module
//! shares: envelopes, typed replies, operations awaited through `/wait`, the cached
//! `GET /1.0` and, on HTTPS, the trust check before anything else.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::Value;

use crate::api::{Api, OperationRef};
use crate::classify::Cause;
use crate::envelope::{DaemonError, Reply, decode};
use crate::errors::CallError;
use crate::mock::MockTransport;
use crate::remote::{check_trusted, untrusted};
use crate::reply::{Operation, Server};
use crate::socket::probe;
pub use crate::transport::http::ConnectError;
use crate::transport::http::HttpTransport;
use crate::transport::{Request, Stream, Transport, Upgrade};
use lxpack_core::ports::Unreachable;

/// How much longer than the operation's own limit a `/wait` call may take: the daemon
/// answers at the limit, and the answer has to travel.
const WAIT_MARGIN: Duration = Duration::from_secs(5);

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

/// The client. Clones share the transport and the cached `GET /1.0`.
#[derive(Clone)]
pub struct LxdClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Arc<dyn Transport>,
    options: LxdOptions,
    api: Api,
    /// `GET /1.0`, read once per client: a daemon's version, extensions and trust in
    /// us do not change under a running job, and each job would otherwise ask several
    /// times (a remote client asks before its first call, for the trust check).
    server: tokio::sync::OnceCell<Server>,
    /// The cluster member of each instance this client launched, to name it when a
    /// call about the instance fails for want of that member.
    pub(crate) placements: crate::cluster::Placements,
    /// The storage pool caches live in, read once (`volumes::cache_pool`).
    cache_pool: tokio::sync::OnceCell<String>,
    /// The NIC devices of the base profiles, read once (`network::base_nics`): a
    /// launch without the daemon's network masks each of them.
    base_nics: tokio::sync::OnceCell<Vec<String>>,
}

impl std::fmt::Debug for LxdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LxdClient")
            .field("endpoint", &self.endpoint())
            .finish()
    }
}

/// Runs `call` within `limit`; a missed deadline is [`CallError::Deadline`], whichever
/// call or sequence of calls missed it.
pub(crate) async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or(Err(CallError::Deadline(limit)))
}

/// The daemon at `endpoint` did not answer a wait within `after`: it is gone, frozen
/// or swamped, which the caller cannot tell apart from here.
pub(crate) fn silent(endpoint: &str, after: Duration) -> Unreachable {
    Unreachable {
        endpoint: endpoint.to_owned(),
        reason: format!("it did not answer within {after:?} while an operation ran"),
        hint: "check that the daemon runs and is not frozen or overloaded (its log, `top`); \
               once it answers, `lxpack gc` removes what the job left"
            .to_owned(),
    }
}

/// Reads a reply's metadata as `T`.
fn read<T: DeserializeOwned>(metadata: Value) -> Result<T, CallError> {
    serde_json::from_value(metadata)
        .map_err(|e| CallError::Unexpected(format!("the daemon's reply cannot be read: {e}")))
}

impl LxdClient {
    /// A client for the daemon listening on the unix socket `path`.
    ///
    /// # Errors
    /// `Unreachable` (missing, refused, permission denied with the group to join).
    pub fn connect_unix(path: &Path, options: LxdOptions) -> Result<Self, ConnectError> {
        probe(path).map_err(ConnectError::Unreachable)?;
        Ok(Self::connect_with_transport(
            Arc::new(HttpTransport::unix(path)?),
            options,
        ))
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
        Ok(Self::connect_with_transport(
            Arc::new(HttpTransport::https(
                url,
                client_cert,
                client_key,
                server_cert,
            )?),
            options,
        ))
    }

    /// A client over any [`Transport`] (kube-rs takes any tower `Service` the same
    /// way): a proxy, a recorder, or a mock.
    #[must_use]
    pub fn connect_with_transport(transport: Arc<dyn Transport>, options: LxdOptions) -> Self {
        let api = Api {
            project: options.project.clone(),
            target: options.target.clone(),
        };
        Self {
            inner: Arc::new(Inner {
                transport,
                options,
                api,
                server: tokio::sync::OnceCell::new(),
                placements: crate::cluster::Placements::default(),
                cache_pool: tokio::sync::OnceCell::new(),
                base_nics: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// For tests: a client whose requests `mock` answers with canned or recorded
    /// replies, as bollard's `Docker::connect_with_mock`. Keep a clone of `mock` to
    /// queue replies and read the requests the client made.
    ///
    /// ```
    /// use lxpack_core::ports::ContainerRuntime as _;
    /// use lxpack_lxd::{LxdClient, LxdOptions, mock::MockTransport};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let mock = MockTransport::new();
    /// mock.reply(200, r#"{"type":"sync","metadata":{"environment":{"server":"incus","server_version":"6.0.4"}}}"#);
    /// let client = LxdClient::connect_with_mock(mock.clone(), LxdOptions::default());
    /// assert_eq!(client.server_info().await.unwrap().version, "6.0.4");
    /// assert_eq!(mock.lines(), ["GET /1.0"]);
    /// # });
    /// ```
    #[must_use]
    pub fn connect_with_mock(mock: MockTransport, options: LxdOptions) -> Self {
        Self::connect_with_transport(Arc::new(mock), options)
    }

    /// Where this client connects.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.inner.transport.endpoint()
    }

    /// True for a daemon on this host, reached through its socket: its host's files
    /// are ours to read.
    pub(crate) fn shares_this_host(&self) -> bool {
        self.inner.transport.shares_this_host()
    }

    /// The request builders, scoped to this client's project and target.
    pub(crate) fn api(&self) -> &Api {
        &self.inner.api
    }

    /// Whether the daemon is known to be a cluster member (from a `GET /1.0` already
    /// made: this never asks).
    pub(crate) fn is_clustered(&self) -> bool {
        self.inner
            .server
            .get()
            .is_some_and(|server| server.environment.server_clustered)
    }

    /// Where this client's instances run, on a cluster.
    pub(crate) fn placements(&self) -> &crate::cluster::Placements {
        &self.inner.placements
    }

    /// Where the storage pool of caches is kept once read.
    pub(crate) fn inner_cache_pool(&self) -> &tokio::sync::OnceCell<String> {
        &self.inner.cache_pool
    }

    /// Where the NIC devices of the base profiles are kept once read.
    pub(crate) fn inner_base_nics(&self) -> &tokio::sync::OnceCell<Vec<String>> {
        &self.inner.base_nics
    }

    pub(crate) fn options(&self) -> &LxdOptions {
        &self.inner.options
    }

    /// `GET /1.0`, read on first use and kept. On HTTPS it is also where the client
    /// checks that the daemon trusts it: an untrusted client gets answers too, with
    /// only what is public in them.
    pub(crate) async fn server(&self) -> Result<&Server, CallError> {
        self.inner
            .server
            .get_or_try_init(|| async {
                let reply = self
                    .exchange(self.api().server(), self.options().request_timeout)
                    .await?;
                let server: Server = match reply {
                    Reply::Sync(metadata) | Reply::Async { metadata, .. } => read(metadata)?,
                    Reply::Error(error) => return Err(CallError::Daemon(error)),
                };
                if self.inner.transport.is_remote() {
                    check_trusted(self.endpoint(), &server.auth).map_err(CallError::Transport)?;
                }
                Ok(server)
            })
            .await
    }

    /// Sends a request within `deadline` (after the trust check, on HTTPS) and decodes
    /// its envelope.
    pub(crate) async fn call(
        &self,
        request: Request,
        deadline: Duration,
    ) -> Result<Reply, CallError> {
        if self.inner.transport.is_remote() {
            self.server().await?;
        }
        self.exchange(request, deadline).await
    }

    /// One request and its reply, within `deadline`, with no trust check. A refusal
    /// for want of trust (a certificate the daemon stopped trusting) is told as such.
    async fn exchange(&self, request: Request, deadline: Duration) -> Result<Reply, CallError> {
        self.exchange_versioned(request, deadline)
            .await
            .map(|(reply, _)| reply)
    }

    /// [`exchange`](Self::exchange), with the reply's `ETag`.
    async fn exchange_versioned(
        &self,
        request: Request,
        deadline: Duration,
    ) -> Result<(Reply, Option<String>), CallError> {
        tracing::trace!(request = %request.line(), "lxd request");
        let response = within(deadline, async {
            self.inner
                .transport
                .send(request)
                .await
                .map_err(CallError::Transport)
        })
        .await?;
        match decode(response.status, &response.body) {
            Reply::Error(error) if error.cause() == Cause::Untrusted => Err(CallError::Transport(
                untrusted(self.endpoint(), &error.message),
            )),
            reply => Ok((reply, response.etag)),
        }
    }

    /// Sends and reads the reply's metadata as `T`, within the call deadline.
    pub(crate) async fn sync<T: DeserializeOwned>(&self, request: Request) -> Result<T, CallError> {
        match self.call(request, self.options().request_timeout).await? {
            Reply::Sync(metadata) | Reply::Async { metadata, .. } => read(metadata),
            Reply::Error(error) => Err(CallError::Daemon(error)),
        }
    }

    /// Reads `T` with its version (the `ETag` the daemon sent with it), within the
    /// call deadline, for a compare-and-set that follows.
    pub(crate) async fn versioned<T: DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<(T, Option<String>), CallError> {
        if self.inner.transport.is_remote() {
            self.server().await?;
        }
        match self
            .exchange_versioned(request, self.options().request_timeout)
            .await?
        {
            (Reply::Sync(metadata) | Reply::Async { metadata, .. }, etag) => {
                Ok((read(metadata)?, etag))
            }
            (Reply::Error(error), _) => Err(CallError::Daemon(error)),
        }
    }

    /// Sends, expecting success and no metadata of interest.
    pub(crate) async fn ack(&self, request: Request) -> Result<(), CallError> {
        self.sync::<IgnoredAny>(request).await.map(drop)
    }

    /// Sends, expects an operation, and returns where it is and its metadata, without
    /// waiting for it.
    pub(crate) async fn start(
        &self,
        request: Request,
    ) -> Result<(OperationRef, Operation), CallError> {
        match self.call(request, self.options().request_timeout).await? {
            Reply::Async {
                operation,
                metadata,
            } => Ok((operation, read(metadata)?)),
            Reply::Sync(_) => Err(CallError::Unexpected(
                "the daemon did not start an operation".into(),
            )),
            Reply::Error(error) => Err(CallError::Daemon(error)),
        }
    }

    /// Sends, expects an operation, and waits (at most `limit`) until it ends.
    pub(crate) async fn operation(
        &self,
        request: Request,
        limit: Duration,
    ) -> Result<Operation, CallError> {
        match self.call(request, self.options().request_timeout).await? {
            Reply::Async { operation, .. } => self.wait(&operation, limit).await,
            Reply::Sync(metadata) => Ok(Operation::done(metadata)),
            Reply::Error(error) => Err(CallError::Daemon(error)),
        }
    }

    /// Waits for an operation through `/wait`, at most `limit`, and fails unless it
    /// succeeded. LXD answers a wait that ends first with the running operation;
    /// Incus with "context deadline exceeded": both are a missed `limit`. A failed
    /// operation is LXD's operation with its `err`, and Incus's error envelope.
    ///
    /// On a cluster the wait is asked in slices of at most the call deadline, each of
    /// which must be answered in time: the member running the operation, when it
    /// stops answering, is found within one slice (and told as unreachable), not
    /// after the whole `limit`. A daemon that is not clustered is the one this client
    /// talks to, whose silence every call's deadline finds.
    pub(crate) async fn wait(
        &self,
        operation: &OperationRef,
        limit: Duration,
    ) -> Result<Operation, CallError> {
        let slice = if self.is_clustered() {
            self.options().request_timeout.max(Duration::from_secs(1))
        } else {
            limit
        };
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let this = left.min(slice);
            let request = self.api().wait(operation, this.as_secs().max(1));
            let reply = match self.call(request, this + WAIT_MARGIN).await {
                Err(CallError::Deadline(after)) => {
                    return Err(CallError::Transport(silent(self.endpoint(), after)));
                }
                other => other?,
            };
            let running = match reply {
                Reply::Sync(metadata) | Reply::Async { metadata, .. } => {
                    let ended: Operation = read(metadata)?;
                    match ended.status_code {
                        200 => return Ok(ended),
                        100..=199 => true,
                        code => {
                            return Err(CallError::Daemon(DaemonError {
                                status: 200,
                                code,
                                message: ended.err,
                            }));
                        }
                    }
                }
                Reply::Error(error) if error.cause() == Cause::WaitEnded => true,
                Reply::Error(error) => return Err(CallError::Daemon(error)),
            };
            // Still running after the slice that reached the deadline.
            if running && (this >= left || tokio::time::Instant::now() >= deadline) {
                return Err(CallError::Deadline(limit));
            }
        }
    }

    /// Asks the daemon to cancel an operation (best effort: most cannot be).
    pub(crate) async fn cancel(&self, operation: &OperationRef) {
        let request = self.api().cancel(operation);
        if let Err(error) = self.call(request, self.options().request_timeout).await {
            tracing::debug!(?error, "cancelling an operation failed");
        }
    }

    /// Upgrades a request to a websocket and returns the raw stream.
    pub(crate) async fn upgrade(&self, request: Request) -> Result<Box<dyn Stream>, CallError> {
        if self.inner.transport.is_remote() {
            self.server().await?;
        }
        let upgrade = within(self.options().request_timeout, async {
            self.inner
                .transport
                .upgrade(request)
                .await
                .map_err(CallError::Transport)
        })
        .await?;
        match upgrade {
            Upgrade::Switched(stream) => Ok(stream),
            Upgrade::Refused(response) => Err(match decode(response.status, &response.body) {
                Reply::Error(error) => CallError::Daemon(error),
                _ => CallError::Daemon(DaemonError {
                    status: response.status,
                    code: response.status,
                    message: "the websocket was not upgraded".into(),
                }),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
