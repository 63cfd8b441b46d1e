//! The real transports: reqwest over the daemon's unix socket, or over HTTPS with a
//! client certificate and a pinned server certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use lxpack_core::ports::{BoxError, Unreachable};
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::pinning::PinnedCertificate;
use super::{Method, Request, Response, Transport, Upgrade};
use crate::remote::transport_failure;
use crate::socket::probe;

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
    /// The client key can be read by other users than its owner.
    #[error("client key {path} can be read by other users (mode {mode:o}): run `chmod 600 {path}`")]
    KeyExposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Http(#[source] BoxError),
}

/// The one TLS crypto backend of the whole binary: ring, which the AWS SDK's HTTPS
/// client uses too (docs/architecture.md, "Cargo features and dependencies").
/// reqwest is built without a provider of its own, so every client gets this one.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Refuses a private key that group or others may read: whoever reads it is trusted
/// by the daemon as lxpack.
fn check_key_mode(path: &Path) -> Result<(), ConnectError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .map_err(|e| ConnectError::Certificate {
            what: "client key",
            path: path.to_owned(),
            source: Box::new(e),
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(ConnectError::KeyExposed {
            path: path.to_owned(),
            mode,
        })
    }
}

/// HTTP/1.1 to one daemon.
pub(crate) struct HttpTransport {
    http: reqwest::Client,
    /// `http://lxd` on the socket, the daemon's URL on HTTPS.
    base: String,
    endpoint: String,
    /// The socket, when the daemon is local.
    socket: Option<PathBuf>,
}

impl HttpTransport {
    /// The daemon listening on the unix socket `path`.
    pub(crate) fn unix(path: &Path) -> Result<Self, ConnectError> {
        // No idle connections on the socket. LXD 5.0 and Incus 6.0 peek at the first
        // bytes of each new unix connection inside their accept loop (to tell TLS from
        // plain HTTP), so a connection that is open but silent stops the daemon from
        // accepting any other until it speaks or closes. A pooled HTTP client makes such
        // connections: it races a new connection against an idle one and keeps the
        // loser, unused, in its pool. With several jobs at once, that stalled every new
        // request, including the daemon's own start hooks, for the pool's idle timeout
        // (docs/architecture.md, "The accept-loop stall"). A connection per request
        // costs about 0.1 ms on a unix socket.
        // The socket speaks plain HTTP; reqwest still builds a TLS configuration, so it
        // gets one with no trust roots, on the one crypto provider of the binary.
        let tls = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Http(Box::new(e)))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .unix_socket(path)
            .use_preconfigured_tls(tls)
            .http1_only()
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| ConnectError::Http(Box::new(e)))?;
        Ok(Self {
            http,
            base: "http://lxd".into(),
            endpoint: path.display().to_string(),
            socket: Some(path.to_owned()),
        })
    }

    /// A remote daemon over HTTPS, presenting a client certificate and trusting only
    /// the pinned server certificate (TLS 1.3 at least).
    pub(crate) fn https(
        url: &str,
        client_cert: &Path,
        client_key: &Path,
        server_cert: &Path,
    ) -> Result<Self, ConnectError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|e| ConnectError::Certificate {
                what,
                path: path.to_owned(),
                source: Box::new(e),
            })
        };
        check_key_mode(client_key)?;
        let bad = |what: &'static str, path: &Path| {
            let path = path.to_owned();
            move |e: rustls::pki_types::pem::Error| ConnectError::Certificate {
                what,
                path,
                source: Box::new(e),
            }
        };
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read("client certificate", client_cert)?)
                .collect::<Result<_, _>>()
                .map_err(bad("client certificate", client_cert))?;
        let key = PrivateKeyDer::from_pem_slice(&read("client key", client_key)?)
            .map_err(bad("client key", client_key))?;
        let pinned = CertificateDer::from_pem_slice(&read("server certificate", server_cert)?)
            .map_err(bad("server certificate", server_cert))?;
        let provider = crypto_provider();
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ConnectError::Http(Box::new(e)))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate::new(pinned, provider)))
            .with_client_auth_cert(chain, key)
            .map_err(|e| ConnectError::Certificate {
                what: "client certificate and key",
                path: client_cert.to_owned(),
                source: Box::new(e),
            })?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .http1_only()
            .build()
            .map_err(|e| ConnectError::Http(Box::new(e)))?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            endpoint: url.to_owned(),
            socket: None,
        })
    }

    fn builder(&self, request: Request) -> reqwest::RequestBuilder {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.base, request.path));
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        builder
    }

    /// Why a request failed to reach the daemon: on the socket, the socket's own state
    /// (missing, refused, the group to join) when it tells more than the HTTP error.
    fn unreachable(&self, error: &reqwest::Error) -> Unreachable {
        match &self.socket {
            Some(socket) => probe(socket).err().unwrap_or_else(|| Unreachable {
                endpoint: self.endpoint.clone(),
                reason: error.to_string(),
                hint: "check that the daemon runs and answers at this address".into(),
            }),
            None => transport_failure(&self.endpoint, error),
        }
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&self, request: Request) -> Result<Response, Unreachable> {
        let response = self
            .builder(request)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        Ok(Response {
            status,
            body: body.to_vec(),
            etag,
        })
    }

    async fn upgrade(&self, request: Request) -> Result<Upgrade, Unreachable> {
        let response = self
            .builder(request)
            .header(reqwest::header::CONNECTION, "Upgrade")
            .header(reqwest::header::UPGRADE, "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header(
                "Sec-WebSocket-Key",
                tokio_tungstenite::tungstenite::handshake::client::generate_key(),
            )
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            return Ok(Upgrade::Refused(Response {
                status,
                body,
                etag: None,
            }));
        }
        let stream = response.upgrade().await.map_err(|e| self.unreachable(&e))?;
        Ok(Upgrade::Switched(Box::new(stream)))
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn is_remote(&self) -> bool {
        self.socket.is_none()
    }

    fn shares_this_host(&self) -> bool {
        self.socket.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_key_others_can_read_is_refused_and_says_how_to_fix_it() {
        let dir = std::env::temp_dir().join(format!("lxpack-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("client.key");
        std::fs::write(&key, b"not really a key").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = check_key_mode(&key).unwrap_err();
        assert!(error.to_string().contains("chmod 600"), "{error}");
        assert!(error.to_string().contains("644"), "{error}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_key_mode(&key).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
