//! Diagnostics (tracing) go to stderr, quiet unless asked: `-v`, `-vv` or `RUST_LOG`.
//! User-facing progress is not here: it is the workflows' events.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `verbose` counts `-v` flags.
pub fn install(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "lxpack=debug,lxpack_core=debug,lxpack_lxd=debug,lxpack_aws=debug,lxpack_sqlite=debug,warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
