//! The container daemon: a unix socket found the way `lxc` and `incus` find theirs, a
//! socket named in the config, or a remote daemon or cluster over pinned HTTPS.

use lxpack_lxd::{ConnectError, LxdClient, LxdOptions, discover_socket};

use crate::config::{RuntimeConfig, RuntimeEndpoint};
use crate::exit::{CliError, ExitClass};

/// Connects to the daemon the config names.
///
/// # Errors
/// `Daemon` (exit 5) with the daemon's hint when it cannot be reached; `Config` when a
/// certificate file is unusable.
pub fn connect_runtime(config: &RuntimeConfig) -> Result<LxdClient, CliError> {
    let options = LxdOptions {
        request_timeout: config.request_timeout,
        project: config.project.clone(),
        target: config.target.clone(),
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
        ConnectError::Certificate { .. } => CliError::new(ExitClass::Config, error).with_hint(
            "check lxpack.runtime.client_cert, client_key and server_cert in the config",
        ),
        other => CliError::new(ExitClass::Daemon, other),
    })
}
