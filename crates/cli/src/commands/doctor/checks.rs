//! The checks, in the order a new host needs them: config, install, socket, access,
//! daemon, storage, extensions, mounts, isolation (network and privileges), AWS, store. A check whose prerequisite failed is
//! skipped with the reason, rather than failing again with a confusing message.

use std::path::PathBuf;

use lxpack_core::domain::AmiId;
use lxpack_core::ports::AmiCatalogError;
use lxpack_lxd::{access_hint, discover_socket, not_a_socket, socket_group};

use super::daemon::daemon_and_cluster_checks;
use super::host::{current_user, installed_daemons, socket_gid_and_mode, writable_dir};
use super::isolation::isolation_checks;
use super::{Check, Verdict};
use crate::args::Cli;
use crate::config::StoreLocation;
use crate::config::{
    Config, ConfigOrigin, EMBEDDED_DEFAULTS, RuntimeConfig, RuntimeEndpoint, locate,
};
use crate::wiring::{ami_catalog, host_dir, job_log_dir, open_store, store_location};

/// A check's result under its name.
pub(super) fn check(name: &'static str, verdict: Verdict) -> Check {
    Check { name, verdict }
}

/// A failed check: what is wrong and how to fix it.
pub(super) fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Verdict {
    Verdict::Fail {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// Runs every check.
pub(super) async fn run_all(cli: &Cli) -> Vec<Check> {
    let (config_verdict, config) = load_config(cli);
    let mut checks = vec![check("config", config_verdict)];
    if let Some(config) = &config {
        checks.push(check("secrets", secrets(config)));
        checks.push(check("resource classes", resource_classes(config)));
    }
    let runtime = runtime_config(config.as_ref());
    checks.push(check("daemon installed", installed(&runtime.endpoint)));
    let (socket_verdict, socket) = socket(&runtime.endpoint);
    checks.push(check("socket", socket_verdict));
    if let Some(path) = &socket {
        checks.push(check("socket access", access(path)));
    }
    daemon_and_cluster_checks(&runtime, config.as_ref(), &mut checks).await;
    if let Some(config) = &config {
        isolation_checks(config, &mut checks).await;
    }
    checks.push(aws_check(config.as_ref()).await);
    checks.push(store_check(cli, config.as_ref()).await);
    checks
}

/// The default resource class and its caps, and the other classes by name.
fn resource_classes(config: &Config) -> Verdict {
    let resources = &config.settings.resources;
    let default = resources.default_class();
    let others: Vec<String> = resources
        .classes
        .iter()
        .filter(|(name, _)| **name != default.name)
        .map(|(name, limits)| format!("{name} ({})", crate::config::describe_class(limits)))
        .collect();
    let mut detail = format!(
        "every instance runs under class {} ({}) unless lxpack.resources.apps names another",
        default.name,
        crate::config::describe_class(&default.limits)
    );
    if !others.is_empty() {
        detail.push_str(&format!("; other classes: {}", others.join(", ")));
    }
    Verdict::Pass(detail)
}

/// The config the command line, the environment or XDG names, and whether it loads.
fn load_config(cli: &Cli) -> (Verdict, Option<Config>) {
    let choice = locate(
        cli.config.clone(),
        |n| std::env::var(n).ok(),
        std::path::Path::exists,
    );
    match Config::load(&choice) {
        Ok(config) => {
            let detail = if config.warnings.is_empty() {
                format!("{} (valid)", config.origin)
            } else {
                format!("{} (valid); {}", config.origin, config.warnings.join("; "))
            };
            (Verdict::Pass(detail), Some(config))
        }
        Err(error) => (
            fail(
                error.to_string(),
                "fix the key named; docs/operator-guide.md lists every key",
            ),
            None,
        ),
    }
}

/// How many secrets the config names: an operator checks here that the masking they
/// configured is in force.
fn secrets(config: &Config) -> Verdict {
    let secrets = &config.settings.secrets;
    match secrets.configured() {
        0 => Verdict::Pass(
            "none configured (lxpack.secrets): app env values show as the build prints them".into(),
        ),
        count => Verdict::Pass(format!(
            "{count} configured (lxpack.secrets): {} pattern(s) for every app, {} name(s) and pattern(s) for {} app(s); their values show as ***",
            secrets.patterns.len(),
            count - secrets.patterns.len(),
            secrets.apps.len()
        )),
    }
}

/// The runtime settings of `config`, or, when it is broken, the defaults': the daemon
/// checks still help with a broken config.
fn runtime_config(config: Option<&Config>) -> RuntimeConfig {
    config.map(|c| c.runtime.clone()).unwrap_or_else(|| {
        Config::parse(EMBEDDED_DEFAULTS, ConfigOrigin::Defaults)
            .map(|c| c.runtime)
            .unwrap_or(RuntimeConfig {
                endpoint: RuntimeEndpoint::Discover,
                project: None,
                target: None,
                request_timeout: std::time::Duration::from_secs(10),
            })
    })
}

/// Whether a daemon is installed here, when one is needed here.
fn installed(endpoint: &RuntimeEndpoint) -> Verdict {
    if matches!(endpoint, RuntimeEndpoint::Https { .. }) {
        return Verdict::Pass("a remote daemon is configured; none is needed here".into());
    }
    let installed = installed_daemons();
    if installed.is_empty() {
        fail(
            "neither lxd nor incusd was found",
            "install one: `apt install lxd` (Debian 12) or `apt install -t bookworm-backports incus`",
        )
    } else {
        Verdict::Pass(
            installed
                .iter()
                .map(|(name, path)| format!("{name} at {}", path.display()))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// The daemon's endpoint, and the local socket to check access to, if any.
fn socket(endpoint: &RuntimeEndpoint) -> (Verdict, Option<PathBuf>) {
    match endpoint {
        RuntimeEndpoint::Https { url, .. } => {
            (Verdict::Pass(format!("remote endpoint {url}")), None)
        }
        RuntimeEndpoint::Socket(path) if path.exists() => match not_a_socket(path) {
            Some(kind) => (
                fail(
                    format!(
                        "{} (lxpack.runtime.socket) is {kind}, not a socket",
                        path.display()
                    ),
                    "point lxpack.runtime.socket at the daemon's unix socket, e.g. /var/lib/lxd/unix.socket",
                ),
                None,
            ),
            None => (
                Verdict::Pass(path.display().to_string()),
                Some(path.clone()),
            ),
        },
        RuntimeEndpoint::Socket(path) => (
            fail(
                format!("{} (lxpack.runtime.socket) does not exist", path.display()),
                "start the daemon, or fix lxpack.runtime.socket",
            ),
            None,
        ),
        RuntimeEndpoint::Discover => match discover_socket(&|n| std::env::var(n).ok()) {
            Ok((path, _)) => (Verdict::Pass(path.display().to_string()), Some(path)),
            Err(unreachable) => (fail(unreachable.reason, unreachable.hint), None),
        },
    }
}

fn access(path: &std::path::Path) -> Verdict {
    let group = socket_group(path).unwrap_or_else(|| "unknown".into());
    let Some((gid, mode)) = socket_gid_and_mode(path) else {
        return fail(format!("cannot read {}", path.display()), "check the path");
    };
    let Some((uid, groups)) = current_user() else {
        return Verdict::Warn("cannot read this process's groups from /proc".into());
    };
    let connects = std::os::unix::net::UnixStream::connect(path).is_ok();
    let detail = format!("owned by group {group} (mode {mode:o})");
    if uid == 0 {
        if connects {
            Verdict::Pass(format!("{detail}; running as root"))
        } else {
            fail(format!("{detail}; root cannot connect"), "start the daemon")
        }
    } else if groups.contains(&gid) {
        if connects {
            Verdict::Pass(format!("{detail}; you are in it"))
        } else {
            fail(
                format!("{detail}; you are in it, yet the connection fails"),
                "start the daemon",
            )
        }
    } else {
        fail(
            format!("{detail}; you are not in group {group}"),
            access_hint(&group),
        )
    }
}

async fn aws_check(config: Option<&Config>) -> Check {
    let name = "aws credentials";
    let Some(config) = config else {
        return check(name, Verdict::Skipped("the config is invalid".into()));
    };
    let catalog = match ami_catalog(config.aws.as_ref()) {
        Ok(Some(catalog)) => catalog,
        Ok(None) => {
            return check(
                name,
                Verdict::Pass(
                    "AWS is not configured: buildimage takes --os, retention only counts".into(),
                ),
            );
        }
        Err(error) => {
            return check(
                name,
                fail(error.error.to_string(), error.hint.unwrap_or_default()),
            );
        }
    };
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".to_owned());
    let Ok(probe) = AmiId::parse("ami-00000000") else {
        return check(name, Verdict::Skipped("no probe AMI id".into()));
    };
    match catalog.describe_ami(&region, &probe).await {
        Ok(_) | Err(AmiCatalogError::NotFound { .. }) => check(
            name,
            Verdict::Pass(format!("EC2 DescribeImages answers in {region}")),
        ),
        Err(AmiCatalogError::MissingCredentials { hint }) => {
            check(name, fail("no AWS credentials were found", hint))
        }
        Err(AmiCatalogError::AccessDenied { message }) => check(
            name,
            fail(
                format!("access denied: {message}"),
                "grant ec2:DescribeImages (and sts:AssumeRole in cross-account mode)",
            ),
        ),
        Err(other) => check(
            name,
            fail(other.to_string(), "check lxpack.aws and the network"),
        ),
    }
}

/// A store that does not exist yet: fine if the first job can make it.
fn not_yet_created(path: &std::path::Path) -> Verdict {
    let existing = path.ancestors().skip(1).find(|dir| dir.exists());
    match existing {
        Some(dir) if dir.is_dir() => Verdict::Pass(format!(
            "{} does not exist yet: the first command that needs it creates it (under {})",
            path.display(),
            dir.display()
        )),
        Some(other) => fail(
            format!(
                "{} cannot be created: {} is not a directory",
                path.display(),
                other.display()
            ),
            "pass --store with a file in a writable directory",
        ),
        None => fail(
            format!("{} has no existing parent directory", path.display()),
            "pass --store with a file in a writable directory",
        ),
    }
}

async fn store_check(cli: &Cli, config: Option<&Config>) -> Check {
    let name = "store";
    let location = match store_location(cli.store.as_deref(), config) {
        Ok(location) => location,
        Err(error) => {
            return check(
                name,
                fail(error.error.to_string(), error.hint.unwrap_or_default()),
            );
        }
    };
    // A check must not create: a store file that does not exist yet is only looked for
    // a place to be made in.
    if let StoreLocation::File(path) = &location
        && !path.exists()
    {
        return check(name, not_yet_created(path));
    }
    if let Err(error) = open_store(&location).await {
        return check(
            name,
            fail(error.error.to_string(), error.hint.unwrap_or_default()),
        );
    }
    let logs = match host_dir(&location) {
        Ok(dir) => job_log_dir(&dir),
        Err(error) => {
            return check(
                name,
                fail(error.error.to_string(), error.hint.unwrap_or_default()),
            );
        }
    };
    match writable_dir(&logs) {
        Ok(()) => check(
            name,
            Verdict::Pass(format!(
                "{location} is open; job logs go to {}",
                logs.display()
            )),
        ),
        Err(problem) => check(name, fail(problem, "pass --store in a writable directory")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_check_counts_what_is_configured() {
        let parse = |text| Config::parse(text, ConfigOrigin::Defaults).unwrap();
        let none = secrets(&parse(""));
        assert!(matches!(&none, Verdict::Pass(d) if d.starts_with("none configured")));
        let some = secrets(&parse(
            "lxpack:\n  secrets:\n    patterns: ['*_TOKEN']\n    apps:\n      web/prod/front: {names: [A, B]}\n",
        ));
        assert!(
            matches!(&some, Verdict::Pass(d) if d.starts_with("3 configured (lxpack.secrets): 1 pattern(s) for every app, 2 name(s) and pattern(s) for 1 app(s)")),
            "{some:?}"
        );
    }
}
