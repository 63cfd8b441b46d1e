//! [`PostgresStoreError`]: every way the store fails, each naming what it was doing and
//! with a [`hint`](PostgresStoreError::hint) the CLI prints. No variant ever holds the
//! password: the URL may not carry one, and the driver's errors do not repeat it.
//!
//! The driver's errors are sorted here: by SQLSTATE when the server answered (a refused
//! login, a missing database, a retryable conflict), by their cause when it did not
//! (a TLS failure, or an unreachable server).

use std::path::PathBuf;

use deadpool_postgres::{PoolError, tokio_postgres};
use tokio_postgres::error::SqlState;

use crate::settings::Target;

/// A boxed cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An error of the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresStoreError {
    /// The settings are wrong (the URL, mostly); nothing was sent.
    #[error("bad PostgreSQL store settings: {problem}")]
    Settings {
        /// What is wrong.
        problem: String,
    },
    /// The root certificate file cannot be read or holds no certificate.
    #[error("cannot use the root certificate file {path}")]
    RootCertificate {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// No connection to the server (refused, timed out, no route, unknown host).
    #[error("the PostgreSQL server {server} is unreachable")]
    Unreachable {
        /// `host:port`.
        server: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed (an unverified certificate, or no TLS on the server).
    #[error("TLS with the PostgreSQL server {server} failed")]
    Tls {
        /// `host:port`.
        server: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The server refused the login (SQLSTATE 28P01 or 28000).
    #[error("the PostgreSQL server {server} refused the login of user {user}")]
    LoginRefused {
        /// The role.
        user: String,
        /// `host:port`.
        server: String,
        /// The server's answer.
        #[source]
        source: BoxError,
    },
    /// The database does not exist (SQLSTATE 3D000).
    #[error("the database {database} does not exist on the PostgreSQL server {server}")]
    DatabaseMissing {
        /// The database.
        database: String,
        /// `host:port`.
        server: String,
    },
    /// The store's schema was written by a newer lxpack; nothing was changed.
    #[error(
        "the store {database} has schema version {found}, newer than this lxpack knows ({supported})"
    )]
    NewerSchema {
        /// The database.
        database: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A migration failed; it was rolled back with every other of that start.
    #[error("cannot upgrade the store {database} to schema version {version}")]
    Migrate {
        /// The database.
        database: String,
        /// The version being applied.
        version: i64,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A transaction kept conflicting with others' (serialization failures or
    /// deadlocks) past the retry bound.
    #[error("{operation} kept conflicting with other writers ({attempts} attempts)")]
    Contended {
        /// What was being done.
        operation: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last conflict.
        #[source]
        source: BoxError,
    },
    /// The turn of a name was not granted in time: another holder kept it.
    #[error("waited {waited:?} for the turn of {name} in the store, in vain")]
    TurnTimeout {
        /// The turn's name.
        name: String,
        /// How long was waited.
        waited: std::time::Duration,
    },
    /// A query failed.
    #[error("{operation} failed")]
    Query {
        /// What was being done.
        operation: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A stored value does not read back.
    #[error("corrupt {what} in the store: {problem}")]
    Corrupt {
        /// What was read.
        what: String,
        /// What is wrong.
        problem: String,
    },
}

impl PostgresStoreError {
    /// What the user can do about it, one line.
    #[must_use]
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Settings { .. } => {
                "write the store as postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full and give the password separately"
            }
            Self::RootCertificate { .. } => {
                "give a readable PEM file holding the certificate of the CA that signed the server's certificate"
            }
            Self::Unreachable { .. } => {
                "check that PostgreSQL runs and listens on that host and port (listen_addresses, port) and that nothing blocks the way"
            }
            Self::Tls { .. } => {
                "check that the server has TLS on and that its certificate, for the host name in the URL, is signed by the root certificate given (or a system root); sslmode=disable turns TLS off"
            }
            Self::LoginRefused { .. } => {
                "check the user name in the URL, its password (from the environment variable or file the config names) and the server's pg_hba.conf"
            }
            Self::DatabaseMissing { .. } => {
                "create it (createdb -O USER DATABASE) or fix the database name in the store URL"
            }
            Self::NewerSchema { .. } => {
                "upgrade lxpack on this host: a newer lxpack has already upgraded this store"
            }
            Self::Migrate { .. } => {
                "the store is unchanged; check that the user may create tables in the database, and the server's log"
            }
            Self::Contended { .. } => "the store is very busy; run the command again",
            Self::TurnTimeout { .. } => {
                "another process (on this host or another sharing the store) kept the turn that long; see what it does (pg_locks, its log) and run the command again"
            }
            Self::Query { .. } => "check the PostgreSQL server's log",
            Self::Corrupt { .. } => {
                "the row was not written by lxpack or was changed by hand; fix or remove it"
            }
        }
    }
}

/// What a SQLSTATE means to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlClass {
    /// 28P01, 28000: the login was refused.
    LoginRefused,
    /// 3D000: no such database.
    DatabaseMissing,
    /// 40001, 40P01: the transaction lost a race; run it again.
    Retryable,
    /// Anything else.
    Other,
}

/// Sorts a SQLSTATE.
pub(crate) fn classify(code: &SqlState) -> SqlClass {
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        SqlClass::LoginRefused
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        SqlClass::DatabaseMissing
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        SqlClass::Retryable
    } else {
        SqlClass::Other
    }
}

/// Whether a driver error is a lost race that running the transaction again fixes.
pub(crate) fn is_retryable(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| classify(code) == SqlClass::Retryable)
}

/// Sorts a driver error met while connecting to `target` or talking to it.
pub(crate) fn from_driver(
    operation: &str,
    target: &Target,
    error: tokio_postgres::Error,
) -> PostgresStoreError {
    let server = target.server();
    match error.code().map(classify) {
        Some(SqlClass::LoginRefused) => PostgresStoreError::LoginRefused {
            user: target.user.clone(),
            server,
            source: Box::new(error),
        },
        Some(SqlClass::DatabaseMissing) => PostgresStoreError::DatabaseMissing {
            database: target.database.clone(),
            server,
        },
        Some(_) => query(operation, error),
        None if is_tls_failure(&error) => PostgresStoreError::Tls {
            server,
            source: Box::new(error),
        },
        None if is_io_failure(&error) => PostgresStoreError::Unreachable {
            server,
            source: Box::new(error),
        },
        None => query(operation, error),
    }
}

/// Sorts a pool error: a connection that could not be made is the driver's error; a
/// connection attempt that timed out is an unreachable server.
pub(crate) fn from_pool(operation: &str, target: &Target, error: PoolError) -> PostgresStoreError {
    match error {
        PoolError::Backend(error) => from_driver(operation, target, error),
        PoolError::Timeout(deadpool_postgres::TimeoutType::Create) => {
            PostgresStoreError::Unreachable {
                server: target.server(),
                source: Box::new(PoolError::Timeout(deadpool_postgres::TimeoutType::Create)),
            }
        }
        other => query(operation, other),
    }
}

fn query(
    operation: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> PostgresStoreError {
    PostgresStoreError::Query {
        operation: operation.to_owned(),
        source: Box::new(error),
    }
}

/// The causes of `error`, itself first.
fn chain(
    error: &tokio_postgres::Error,
) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
}

fn is_tls_failure(error: &tokio_postgres::Error) -> bool {
    // The driver reports a server without TLS as its own TLS error; rustls's errors
    // come wrapped in an io::Error.
    error.to_string().contains("TLS")
        || chain(error).any(|cause| {
            cause.is::<rustls::Error>()
                || cause
                    .downcast_ref::<std::io::Error>()
                    .and_then(|io| io.get_ref())
                    .is_some_and(|inner| inner.is::<rustls::Error>())
        })
}

fn is_io_failure(error: &tokio_postgres::Error) -> bool {
    chain(error).any(|cause| cause.is::<std::io::Error>()) || error.to_string().contains("timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_sorted() {
        let class = |code: &str| classify(&SqlState::from_code(code));
        assert_eq!(class("28P01"), SqlClass::LoginRefused);
        assert_eq!(class("28000"), SqlClass::LoginRefused);
        assert_eq!(class("3D000"), SqlClass::DatabaseMissing);
        assert_eq!(class("40001"), SqlClass::Retryable);
        assert_eq!(class("40P01"), SqlClass::Retryable);
        for other in ["23505", "42P01", "57P01", "53300", "40002"] {
            assert_eq!(class(other), SqlClass::Other, "{other}");
        }
    }

    #[test]
    fn every_error_has_a_distinct_hint() {
        let boxed = || -> BoxError { "cause".into() };
        let errors = [
            PostgresStoreError::Settings {
                problem: "p".into(),
            },
            PostgresStoreError::RootCertificate {
                path: "/ca".into(),
                source: boxed(),
            },
            PostgresStoreError::Unreachable {
                server: "h:1".into(),
                source: boxed(),
            },
            PostgresStoreError::Tls {
                server: "h:1".into(),
                source: boxed(),
            },
            PostgresStoreError::LoginRefused {
                user: "u".into(),
                server: "h:1".into(),
                source: boxed(),
            },
            PostgresStoreError::DatabaseMissing {
                database: "d".into(),
                server: "h:1".into(),
            },
            PostgresStoreError::NewerSchema {
                database: "d".into(),
                found: 9,
                supported: 1,
            },
            PostgresStoreError::Migrate {
                database: "d".into(),
                version: 1,
                source: boxed(),
            },
            PostgresStoreError::Contended {
                operation: "o".into(),
                attempts: 3,
                source: boxed(),
            },
            PostgresStoreError::Query {
                operation: "o".into(),
                source: boxed(),
            },
            PostgresStoreError::TurnTimeout {
                name: "n".into(),
                waited: std::time::Duration::from_secs(1),
            },
            PostgresStoreError::Corrupt {
                what: "w".into(),
                problem: "p".into(),
            },
        ];
        let hints: std::collections::BTreeSet<&str> =
            errors.iter().map(PostgresStoreError::hint).collect();
        assert_eq!(hints.len(), errors.len());
        let newer = &errors[6];
        assert!(
            newer.to_string().contains("version 9") && newer.to_string().contains("(1)"),
            "{newer}"
        );
        assert!(errors[4].to_string().contains("user u") && errors[4].to_string().contains("h:1"));
    }
}
