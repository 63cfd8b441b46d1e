//! The container daemon: a unix socket found the way `lxc` and `incus` find theirs, a
//! socket named in the config, or a remote daemon or cluster over pinned HTTPS.

use std::sync::Arc;

use lxpack_core::ports::{NetworkPolicies, RuntimeCapabilities, RuntimeError};
use lxpack_lxd::{ConnectError, LxdClient, LxdOptions, Readiness, discover_socket};

use crate::config::{RuntimeConfig, RuntimeEndpoint};
use crate::exit::{CliError, ExitClass};

/// Connects to the daemon the config names.
///
/// # Errors
/// `Daemon` (exit 5) with the daemon's hint when it cannot be reached; `Config` when a
/// certificate file is unusable.
pub(super) fn connect_runtime(config: &RuntimeConfig) -> Result<LxdClient, CliError> {
    let options = LxdOptions {
        request_timeout: config.request_timeout,
        project: config.project.clone(),
        target: config.target.as_ref().map(ToString::to_string),
        ..LxdOptions::default()
    };
    let connected = match &config.endpoint {
        RuntimeEndpoint::Discover => {
            let (path, _kind) =
                discover_socket(&|name| std::env::var(name).ok()).map_err(|unreachable| {
                    let hint = unreachable.hint.clone();
                    CliError::new(ExitClass::Daemon, unreachable.to_string()).with_hint(hint)
                })?;
            LxdClient::connect_unix(&path, options)
        }
        RuntimeEndpoint::Socket(path) => LxdClient::connect_unix(path, options),
        RuntimeEndpoint::Https {
            url,
            client_cert,
            client_key,
            server_cert,
        } => LxdClient::connect_https(url, client_cert, client_key, server_cert, options),
    };
    connected.map_err(|error| match error {
        ConnectError::Unreachable(unreachable) => {
            let hint = unreachable.hint.clone();
            CliError::new(ExitClass::Daemon, unreachable.to_string()).with_hint(hint)
        }
        ConnectError::KeyExposed { .. } => CliError::new(ExitClass::Config, error).with_hint(
            "the client key proves lxpack's identity to the daemon: only its owner may read it",
        ),
        ConnectError::Certificate { .. } => CliError::new(ExitClass::Config, error).with_hint(
            "check lxpack.runtime.client_cert, client_key and server_cert in the config",
        ),
        other => CliError::new(ExitClass::Daemon, other),
    })
}

/// The capabilities the daemon's client offers beyond every job's needs: the one
/// place that says which capability ports the LXD adapter serves.
pub(super) fn capabilities_of(client: &LxdClient) -> RuntimeCapabilities {
    RuntimeCapabilities::all_of(client)
}

/// The network policies port of the daemon the config names, when its adapter
/// offers one (for `lxpack doctor`).
///
/// # Errors
/// As [`connect_runtime`].
pub fn network_policies(
    config: &RuntimeConfig,
) -> Result<Option<Arc<dyn NetworkPolicies>>, CliError> {
    let client = connect_runtime(config)?;
    Ok(capabilities_of(&client).network_policies)
}

/// What `lxpack doctor` learns of the daemon beyond the ports.
#[derive(Debug, Clone)]
pub struct DaemonReadiness {
    /// Its storage, extensions and server.
    pub readiness: Readiness,
    /// Where it was reached.
    pub endpoint: String,
}

/// Connects to the daemon the config names and reads its fitness to run jobs.
///
/// # Errors
/// As [`connect_runtime`]; `Daemon` with the daemon's own hint when it cannot be read.
pub async fn daemon_readiness(config: &RuntimeConfig) -> Result<DaemonReadiness, CliError> {
    let client = connect_runtime(config)?;
    let readiness = client.readiness().await.map_err(|error| {
        // An unreachable daemon says why and what to do (trust, pinning, address);
        // anything else points at the daemon itself.
        let hint = match &error {
            RuntimeError::Unreachable(unreachable) => unreachable.hint.clone(),
            _ => "start the daemon and check its log".to_owned(),
        };
        CliError::new(ExitClass::Daemon, error).with_hint(hint)
    })?;
    Ok(DaemonReadiness {
        readiness,
        endpoint: client.endpoint().to_owned(),
    })
}
