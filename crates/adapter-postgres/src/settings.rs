//! What the store connects to: [`PostgresSettings`] as the caller gives them, and
//! their parsed, checked form ([`Target`]). Parsing is pure so that the CLI can refuse
//! a bad URL at config time, and so that it is unit-tested without a server.
//!
//! The URL is lxpack's own subset of libpq's: `postgres://USER@HOST[:PORT][/DB][?…]`
//! with `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`),
//! `connect_timeout` (seconds) and `application_name`. A password in the URL is refused:
//! it would end up in config files and process listings; it is given separately.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::error::PostgresStoreError;

/// The pool size when none is given.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How long one connection attempt may take when the URL does not say.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the PostgreSQL store: the URL, the password (separately), an optional
/// root certificate for TLS and the pool size. `Debug` never shows the password.
#[derive(Clone)]
pub struct PostgresSettings {
    url: String,
    password: Option<SecretString>,
    root_certificate: Option<PathBuf>,
    pool_size: usize,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &redacted(&self.url))
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("root_certificate", &self.root_certificate)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl PostgresSettings {
    /// Settings for `url` (`postgres://user@host:port/db?sslmode=…`), with no password,
    /// the system's trust roots and [`DEFAULT_POOL_SIZE`] connections.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            password: None,
            root_certificate: None,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    /// The role's password (read by the caller from an environment variable or a file).
    #[must_use]
    pub fn with_password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// A PEM file of the certificates that may sign the server's: TLS trusts these
    /// instead of the system's roots.
    #[must_use]
    pub fn with_root_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_certificate = Some(path.into());
        self
    }

    /// The most connections the store's pool opens (at least 1).
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The URL as given.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The root certificate file, when one is set.
    #[must_use]
    pub fn root_certificate(&self) -> Option<&Path> {
        self.root_certificate.as_deref()
    }

    /// The pool size.
    #[must_use]
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    pub(crate) fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// Checks the URL without connecting, so a caller can refuse it at config time.
    ///
    /// # Errors
    /// [`PostgresStoreError::Settings`] naming what is wrong.
    pub fn check(&self) -> Result<(), PostgresStoreError> {
        Target::parse(&self.url).map(|_| ())
    }
}

/// The TLS mode. lxpack never connects with TLS it has not verified: every mode that
/// uses TLS checks the server's chain and host name (stricter than libpq's `require`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    /// TLS or no connection (`require`, `verify-ca`, `verify-full`).
    Require,
}

/// A parsed, checked URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) user: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
    pub(crate) tls: TlsMode,
    pub(crate) connect_timeout: Duration,
    pub(crate) application_name: String,
}

impl Target {
    /// `host:port`, for messages.
    pub(crate) fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses `url`. Errors never repeat the URL whole (it might hold a password).
    pub(crate) fn parse(url: &str) -> Result<Self, PostgresStoreError> {
        let bad = |problem: &str| PostgresStoreError::Settings {
            problem: problem.to_owned(),
        };
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("the store URL must start with postgres:// or postgresql://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority.rsplit_once('@').ok_or_else(|| {
            bad("the store URL names no user: write postgres://USER@HOST:PORT/DATABASE")
        })?;
        if userinfo.contains(':') {
            return Err(bad(
                "the store URL holds a password: remove it from the URL and give it separately \
                 (from an environment variable or a file)",
            ));
        }
        let user = decode(userinfo)
            .ok_or_else(|| bad("the user in the store URL is not valid percent-encoded UTF-8"))?;
        if user.is_empty() {
            return Err(bad(
                "the store URL names no user: write postgres://USER@HOST:PORT/DATABASE",
            ));
        }
        let (host, port) = split_host_port(hostport).map_err(|problem| bad(&problem))?;
        let database = decode(path).ok_or_else(|| {
            bad("the database in the store URL is not valid percent-encoded UTF-8")
        })?;
        let mut target = Self {
            database: if database.is_empty() {
                user.clone()
            } else {
                database
            },
            user,
            host,
            port,
            tls: TlsMode::Prefer,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            application_name: "lxpack".to_owned(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            target.apply(key, value).map_err(|problem| bad(&problem))?;
        }
        Ok(target)
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "sslmode" => {
                self.tls = match value {
                    "disable" => TlsMode::Disable,
                    "prefer" => TlsMode::Prefer,
                    "require" | "verify-ca" | "verify-full" => TlsMode::Require,
                    other => {
                        return Err(format!(
                            "sslmode={other} in the store URL is not one of disable, prefer, require, verify-ca, verify-full"
                        ));
                    }
                };
            }
            "connect_timeout" => {
                let seconds: u64 = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| {
                        format!(
                            "connect_timeout={value} in the store URL must be 1 to 3600 seconds"
                        )
                    })?;
                self.connect_timeout = Duration::from_secs(seconds);
            }
            "application_name" => {
                self.application_name = decode(value).ok_or_else(|| {
                    "application_name in the store URL is not valid percent-encoded UTF-8"
                        .to_owned()
                })?;
            }
            "password" => {
                return Err("the store URL holds a password: remove it from the URL and give it separately (from an environment variable or a file)".to_owned());
            }
            other => {
                return Err(format!(
                    "{other} in the store URL is not a setting lxpack knows (sslmode, connect_timeout, application_name)"
                ));
            }
        }
        Ok(())
    }
}

/// `url` with any password in it (which [`Target::parse`] refuses) masked, for `Debug`.
fn redacted(url: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest
                .split_once('/')
                .map_or((rest, None), |(a, p)| (a, Some(p)));
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) if userinfo.contains(':') => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{user}:[REDACTED]@{host}")
                }
                _ => authority.to_owned(),
            };
            let path = path.map(|p| format!("/{p}")).unwrap_or_default();
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=[REDACTED]".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "the IPv6 host in the store URL has no closing ]".to_owned())?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(
            "the store URL names no host: write postgres://USER@HOST:PORT/DATABASE".to_owned(),
        );
    }
    let port = match port {
        None => 5432,
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("the port {text} in the store URL is not a port number"))?,
    };
    Ok((host.to_owned(), port))
}

/// Percent-decodes `text`; `None` when it is malformed or not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn problem(url: &str) -> String {
        match Target::parse(url).unwrap_err() {
            PostgresStoreError::Settings { problem } => problem,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_url_parses() {
        let target = Target::parse(
            "postgres://lxpack@127.0.0.1:55432/store?sslmode=require&connect_timeout=3&application_name=ci%20host",
        )
        .unwrap();
        assert_eq!(
            target,
            Target {
                user: "lxpack".into(),
                host: "127.0.0.1".into(),
                port: 55432,
                database: "store".into(),
                tls: TlsMode::Require,
                connect_timeout: Duration::from_secs(3),
                application_name: "ci host".into(),
            }
        );
        assert_eq!(target.server(), "127.0.0.1:55432");
    }

    #[test]
    fn defaults_follow_libpq() {
        let target = Target::parse("postgresql://build@db.example").unwrap();
        assert_eq!((target.port, target.database.as_str()), (5432, "build"));
        assert_eq!(target.tls, TlsMode::Prefer);
        let v6 = Target::parse("postgres://u@[::1]:6000/d?sslmode=verify-full").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.tls),
            ("::1", 6000, TlsMode::Require)
        );
        assert_eq!(v6.server(), "[::1]:6000");
        assert_eq!(
            Target::parse("postgres://u@h/d?sslmode=disable")
                .unwrap()
                .tls,
            TlsMode::Disable
        );
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_repeating_it() {
        for url in [
            "postgres://lxpack:hunter2secret@h/d",
            "postgres://lxpack@h/d?password=hunter2secret",
        ] {
            let error = Target::parse(url).unwrap_err();
            assert!(error.to_string().contains("password"), "{error}");
            assert!(!error.to_string().contains("hunter2secret"), "{error}");
            assert!(!format!("{error:?}").contains("hunter2secret"), "{error:?}");
        }
    }

    #[test]
    fn bad_urls_name_the_fix() {
        assert!(problem("mysql://u@h/d").contains("postgres://"));
        assert!(problem("postgres://h/d").contains("no user"));
        assert!(problem("postgres://u@:5/d").contains("no host"));
        assert!(problem("postgres://u@h:99999/d").contains("99999"));
        assert!(problem("postgres://u@h/d?sslmode=allow").contains("sslmode=allow"));
        assert!(problem("postgres://u@h/d?connect_timeout=0").contains("connect_timeout"));
        assert!(problem("postgres://u@h/d?sslrootcert=/x").contains("sslrootcert"));
        assert!(problem("postgres://u%zz@h/d").contains("percent"));
    }

    #[test]
    fn settings_never_show_the_password() {
        let settings = PostgresSettings::new("postgres://u@h/d")
            .with_password(SecretString::from("hunter2secret"))
            .with_pool_size(0);
        assert!(!format!("{settings:?}").contains("hunter2secret"));
        for url in [
            "postgres://u:hunter2secret@h:5/d?sslmode=require",
            "postgres://u@h/d?password=hunter2secret&sslmode=disable",
        ] {
            let debug = format!("{:?}", PostgresSettings::new(url));
            assert!(
                !debug.contains("hunter2secret") && debug.contains("[REDACTED]"),
                "{debug}"
            );
            assert!(debug.contains("sslmode="), "{debug}");
        }
        assert_eq!(
            redacted("postgres://u@h:5/d?sslmode=require"),
            "postgres://u@h:5/d?sslmode=require"
        );
        assert_eq!(settings.pool_size(), 1);
        assert!(settings.check().is_ok());
        assert!(PostgresSettings::new("postgres://h").check().is_err());
    }
}
