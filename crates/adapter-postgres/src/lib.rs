//! # lxpack-postgres
//!
//! lxpack's [`AppStore`](lxpack_core::ports::AppStore) and
//! [`JobHistory`](lxpack_core::ports::JobHistory) on a PostgreSQL server (13 or later):
//! one store that several build hosts share, where the embedded SQLite store
//! (lxpack-sqlite) serves one host. Its schema, row mapping and rules are SQLite's:
//! apps are their Cloud Deploy document next to indexed key columns and a
//! `container_image` column; the core decides ([`decide_replacement`], [`newest_image`]);
//! the store runs each decision inside one transaction whose isolation level is named
//! where it starts. Transactions that lose a race (SQLSTATE 40001, 40P01) run again
//! inside the store, bounded in count and time.
//!
//! ```no_run
//! # async fn run() -> Result<(), lxpack_postgres::PostgresStoreError> {
//! use lxpack_postgres::{PostgresAppStore, PostgresSettings, SecretString};
//! let settings = PostgresSettings::new("postgres://lxpack@db.internal:5432/lxpack?sslmode=verify-full")
//!     .with_password(SecretString::from(std::env::var("LXPACK_STORE_PASSWORD").unwrap_or_default()))
//!     .with_root_certificate("/etc/lxpack/db-ca.pem");
//! let store = PostgresAppStore::connect(&settings).await?; // migrates
//! # drop(store); Ok(()) }
//! ```
//!
//! ## Why tokio-postgres (with deadpool-postgres and tokio-postgres-rustls)
//! - **Build time**: no procedural macros checking queries against a live database at
//!   compile time (sqlx's `query!` needs a server or an offline cache on every build
//!   host), and none of sqlx's multi-database layers; the driver is plain async Rust.
//! - **Maturity**: tokio-postgres is the long-standing reference driver of the
//!   `rust-postgres` project (the `postgres` crate is built on it); deadpool-postgres
//!   is its most used pool.
//! - **TLS on rustls with ring**: tokio-postgres takes its TLS as a plug-in;
//!   tokio-postgres-rustls (feature `ring`) plugs in the rustls and ring the tree already
//!   builds for lxpack-lxd and lxpack-aws, so neither OpenSSL nor native-tls comes in.
//!   It also gives SCRAM channel binding (`tls-server-end-point`).
//!
//! ## Layout
//! - `settings`: [`PostgresSettings`] and the URL's parsing, pure.
//! - `store`: [`PostgresAppStore`], connecting, the pool and retries.
//! - `app_store`, `job_history`: the two ports.
//! - `schema`: the versioned migrations, applied under an advisory lock.
//! - `rows`: mapping between rows and domain values.
//! - `tls`: the rustls connector.
//! - `turn`: [`StoreTurn`], a named turn (a session advisory lock) every host sees.
//! - `retry`: the bound on running a transaction again.
//! - `error`: [`PostgresStoreError`], its hints, and sorting the driver's errors.
//!
//! [`decide_replacement`]: lxpack_core::domain::decide_replacement
//! [`newest_image`]: lxpack_core::domain::newest_image

mod app_store;
mod error;
mod job_history;
mod retry;
mod rows;
mod schema;
mod settings;
mod store;
mod tls;
mod turn;

pub use error::{BoxError, PostgresStoreError};
pub use secrecy::SecretString;
pub use settings::{DEFAULT_POOL_SIZE, PostgresSettings};
pub use store::PostgresAppStore;
pub use turn::StoreTurn;
