//! # lxpack-cli
//!
//! The `lxpack` command: it reads the config, wires the adapters, runs the core's
//! workflows and renders their events. It holds no rule about apps, images or names:
//! those live in `lxpack-core`.
//!
//! ## Layout
//! - [`args`]: the command line (clap derive; doc comments are the help).
//! - [`config`]: Cloud Deploy's `config.yml`, plus lxpack's own section.
//! - [`commands`]: one module per subcommand.
//! - [`wiring`]: the adapters the config asks for, built and connected.
//! - [`exit`]: exit codes per class of failure, and hints.
//! - [`render`]: events to a live terminal, plain lines, JSON lines and job logs.
//! - [`manual`]: the manual pages and shell completions, generated from [`args`].

pub mod args;
pub mod commands;
pub mod config;
pub mod exit;
pub mod manual;
pub mod render;
pub mod wiring;

use std::io::Write as _;
use std::process::ExitCode;

use args::Cli;
use exit::{CliError, ExitClass};

/// Runs one command line to completion and returns the process's exit code. Errors are
/// printed on stderr with their causes and a hint (or as JSON with `--json`).
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(cli.verbose);
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return report(
                &CliError::new(ExitClass::Failure, error)
                    .with_hint("the async runtime could not start"),
                json,
            );
        }
    };
    let outcome = runtime.block_on(commands::dispatch(cli));
    // Blocking store threads may still be finishing a write; give them a moment, never
    // forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => report(&error, json),
    }
}

fn report(error: &CliError, json: bool) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    if json {
        let mut causes = Vec::new();
        let mut source = error.error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        let value = serde_json::json!({
            "event": "error",
            "exit_code": error.class.code(),
            "class": error.class.name(),
            "message": error.error.to_string(),
            "causes": causes,
            "hint": error.hint,
        });
        let _ = writeln!(std::io::stdout().lock(), "{value}");
    }
    let _ = writeln!(stderr, "error: {}", error.error);
    let mut source = error.error.source();
    while let Some(cause) = source {
        let _ = writeln!(stderr, "  caused by: {cause}");
        source = cause.source();
    }
    if let Some(hint) = &error.hint {
        let _ = writeln!(stderr, "hint: {hint}");
    }
    error.class.exit_code()
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => {
            "lxpack=debug,lxpack_core=debug,lxpack_lxd=debug,lxpack_sqlite=debug,lxpack_postgres=debug,lxpack_aws=debug,lxpack_cli=debug,warn"
        }
        _ => "trace",
    };
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let mut filter = from_env
        .as_deref()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // The PostgreSQL driver and its pool warn of every dropped connection in their own
    // words; lxpack says what a store failure means to the job (a lease not renewed,
    // an end not recorded), so theirs show only when asked for.
    if verbose == 0 && from_env.is_none() {
        for directive in [
            "tokio_postgres=error",
            "deadpool_postgres=error",
            "deadpool=error",
        ] {
            if let Ok(directive) = directive.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    #[cfg(feature = "aws")]
    {
        // A directive sets its target's level, lowering as well as raising it: the SDK's
        // quiet caps only when nothing was asked for, the secret-safe caps (at DEBUG)
        // only when TRACE may be on.
        let asked = verbose > 0 || from_env.is_some();
        let tracing_all = verbose > 1 || from_env.as_deref().is_some_and(|v| v.contains("trace"));
        let directives: &[&str] = if !asked {
            lxpack_aws::QUIET_LOG_DIRECTIVES
        } else if tracing_all {
            lxpack_aws::SECRET_SAFE_LOG_DIRECTIVES
        } else {
            &[]
        };
        for directive in directives {
            if let Ok(directive) = directive.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 0)
        .try_init();
}
