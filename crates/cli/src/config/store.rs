//! `lxpack.store`: a SQLite file on this host (the default, nothing to install), or a
//! PostgreSQL server that several build hosts share. The password of a server is never
//! in the config: `lxpack.store_password` names an environment variable or a file that
//! holds it, so the config can be shown, copied and committed; a URL that carries one
//! is refused without repeating it.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::raw::RawStorePassword;

/// Where the apps and the job history live.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A SQLite file on this host.
    File(PathBuf),
    /// A PostgreSQL server.
    Postgres(PostgresLocation),
}

/// A PostgreSQL store, as the config names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresLocation {
    /// `postgres://USER@HOST:PORT/DATABASE?…`, without a password.
    pub url: String,
    /// How lxpack proves who it is, and whom it trusts.
    pub access: ServerAccess,
}

/// `lxpack.store_password` and `lxpack.store_ca`: what a server store needs beside its
/// URL, kept apart so that a `--store` URL gets them too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerAccess {
    /// Where its password is, when the server asks for one.
    pub password: Option<PasswordSource>,
    /// The certificate authority that signed the server's certificate, when it is not
    /// one the system trusts.
    pub ca_file: Option<PathBuf>,
}

impl ServerAccess {
    fn is_empty(&self) -> bool {
        self.password.is_none() && self.ca_file.is_none()
    }
}

/// Where a store password is read from, when the store is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordSource {
    /// An environment variable of the lxpack process.
    Env(String),
    /// A file (its first line).
    File(PathBuf),
}

impl StoreLocation {
    /// What `text` names (`lxpack.store` or `--store`): a server for a `postgres://` or
    /// `postgresql://` URL, with `access`; else a SQLite file.
    ///
    /// # Errors
    /// What is wrong with the text, and the fix; never the text itself, which may hold
    /// a password.
    pub fn parse(text: &str, access: &ServerAccess) -> Result<Self, String> {
        match scheme_of(text) {
            Some("postgres" | "postgresql") => {
                check_server_url(text)?;
                Ok(Self::Postgres(PostgresLocation {
                    url: text.to_owned(),
                    access: access.clone(),
                }))
            }
            Some(scheme) => Err(format!(
                "{scheme}:// is not a store lxpack knows: give a SQLite file's path, or a postgres:// URL"
            )),
            None => Ok(Self::File(PathBuf::from(text))),
        }
    }
}

impl std::fmt::Display for StoreLocation {
    /// The file's path, or the server's URL (which holds no password: [`Self::parse`]
    /// refuses one).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Postgres(server) => f.write_str(&server.url),
        }
    }
}

/// `lxpack.store`, with `access` (from [`server_access`]).
pub(super) fn store_location(
    store: &str,
    access: &ServerAccess,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<StoreLocation, ConfigError> {
    let location =
        StoreLocation::parse(store, access).map_err(|problem| invalid("lxpack.store", problem))?;
    if let StoreLocation::File(path) = &location {
        super::host_path(invalid, "lxpack.store", path)?;
        if !access.is_empty() {
            let key = if access.password.is_some() {
                "lxpack.store_password"
            } else {
                "lxpack.store_ca"
            };
            return Err(invalid(
                key,
                "is only for a postgres:// store, and lxpack.store is a file".to_owned(),
            ));
        }
    }
    Ok(location)
}

/// `lxpack.store_password` and `lxpack.store_ca`.
pub(super) fn server_access(
    password: &RawStorePassword,
    ca_file: Option<&Path>,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<ServerAccess, ConfigError> {
    if let Some(ca) = ca_file {
        absolute_file(invalid, "lxpack.store_ca", ca)?;
    }
    Ok(ServerAccess {
        password: password_source(password, invalid)?,
        ca_file: ca_file.map(Path::to_path_buf),
    })
}

fn password_source(
    raw: &RawStorePassword,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<Option<PasswordSource>, ConfigError> {
    match (&raw.env, &raw.file) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(invalid(
            "lxpack.store_password",
            "give either env or file, not both".to_owned(),
        )),
        (Some(name), None) => {
            if !is_env_name(name) {
                return Err(invalid(
                    "lxpack.store_password.env",
                    format!(
                        "{name:?} is not an environment variable's name (letters, digits and _, not starting with a digit)"
                    ),
                ));
            }
            Ok(Some(PasswordSource::Env(name.clone())))
        }
        (None, Some(file)) => {
            absolute_file(invalid, "lxpack.store_password.file", file)?;
            Ok(Some(PasswordSource::File(file.clone())))
        }
    }
}

/// A file every lxpack command reads, from whatever directory it runs in.
fn absolute_file(
    invalid: &dyn Fn(&str, String) -> ConfigError,
    key: &str,
    path: &Path,
) -> Result<(), ConfigError> {
    super::host_path(invalid, key, path)?;
    if path.is_absolute() {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "{} is relative: give an absolute path (every lxpack command reads it, from any directory)",
                path.display()
            ),
        ))
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The scheme of `text` when it reads as `SCHEME://…`.
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// A server URL lxpack can use: a host and a database, and no password (which would
/// then be in the config and in every place the config is shown). The problem never
/// repeats the URL: it may hold the password.
fn check_server_url(url: &str) -> Result<(), String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, path_and_query) = rest
        .find(['/', '?'])
        .map_or((rest, ""), |at| rest.split_at(at));
    let (userinfo, host) = authority
        .rsplit_once('@')
        .map_or((None, authority), |(user, host)| (Some(user), host));
    if userinfo.is_some_and(|user| user.contains(':')) {
        return Err(
            "holds a password (USER:PASSWORD@): remove it from the URL and name where it is in lxpack.store_password (env: NAME or file: PATH)"
                .to_owned(),
        );
    }
    let query = path_and_query
        .split_once('?')
        .map_or("", |(_, query)| query);
    if query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("password"))
    {
        return Err(
            "holds a password (?password=): remove it from the URL and name where it is in lxpack.store_password (env: NAME or file: PATH)"
                .to_owned(),
        );
    }
    if host.is_empty() {
        return Err("names no host: postgres://USER@HOST:PORT/DATABASE".to_owned());
    }
    let database = path_and_query
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_start_matches('/');
    if database.is_empty() {
        return Err("names no database: postgres://USER@HOST:PORT/DATABASE".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(key: &str, problem: String) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            problem,
            origin: super::super::ConfigOrigin::Defaults,
        }
    }

    fn location(store: &str, password: RawStorePassword) -> Result<StoreLocation, ConfigError> {
        let access = server_access(&password, None, &invalid)?;
        store_location(store, &access, &invalid)
    }

    fn refused(store: &str, password: RawStorePassword) -> (String, String) {
        match location(store, password) {
            Err(ConfigError::Invalid { key, problem, .. }) => (key, problem),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn env(name: &str) -> RawStorePassword {
        RawStorePassword {
            env: Some(name.into()),
            file: None,
        }
    }

    #[test]
    fn a_path_is_a_sqlite_file() {
        assert_eq!(
            location("/var/lib/lxpack/lxpack.db", RawStorePassword::default()).unwrap(),
            StoreLocation::File("/var/lib/lxpack/lxpack.db".into())
        );
    }

    #[test]
    fn a_postgres_url_is_a_server_with_its_password_source() {
        let url = "postgres://lxpack@db.internal:5432/lxpack?sslmode=verify-full";
        assert_eq!(
            location(url, env("LXPACK_STORE_PASSWORD")).unwrap(),
            StoreLocation::Postgres(PostgresLocation {
                url: url.into(),
                access: ServerAccess {
                    password: Some(PasswordSource::Env("LXPACK_STORE_PASSWORD".into())),
                    ca_file: None,
                },
            })
        );
        assert!(matches!(
            location("postgresql://u@h/d", RawStorePassword::default()).unwrap(),
            StoreLocation::Postgres(PostgresLocation { access, .. }) if access.is_empty()
        ));
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_repeating_it() {
        for url in [
            "postgres://lxpack:s3cr3t-pw@db/lxpack",
            "postgres://lxpack@db/lxpack?sslmode=require&password=s3cr3t-pw",
        ] {
            let (key, problem) = refused(url, RawStorePassword::default());
            assert_eq!(key, "lxpack.store");
            assert!(problem.contains("holds a password"), "{problem}");
            assert!(!problem.contains("s3cr3t-pw"), "{problem}");
        }
    }

    #[test]
    fn bad_urls_and_password_sources_name_their_key() {
        let (key, problem) = refused("mysql://u@h/d", RawStorePassword::default());
        assert_eq!(key, "lxpack.store");
        assert!(problem.contains("mysql://"), "{problem}");
        let (_, problem) = refused("postgres://u@h", RawStorePassword::default());
        assert!(problem.contains("no database"), "{problem}");
        let (_, problem) = refused("postgres:///d", RawStorePassword::default());
        assert!(problem.contains("no host"), "{problem}");
        let (key, _) = refused("postgres://u@h/d", env("1BAD"));
        assert_eq!(key, "lxpack.store_password.env");
        let both = RawStorePassword {
            env: Some("A".into()),
            file: Some("/etc/pw".into()),
        };
        let (key, problem) = refused("postgres://u@h/d", both);
        assert_eq!(key, "lxpack.store_password");
        assert!(problem.contains("not both"), "{problem}");
        let (key, problem) = refused("/var/lib/lxpack.db", env("A"));
        assert_eq!(key, "lxpack.store_password");
        assert!(
            problem.contains("only for a postgres:// store"),
            "{problem}"
        );
        let relative = RawStorePassword {
            env: None,
            file: Some("pw.txt".into()),
        };
        let (key, _) = refused("postgres://u@h/d", relative);
        assert_eq!(key, "lxpack.store_password.file");
    }
}
