//! # lxpack-sqlite
//!
//! lxpack's [`AppStore`](lxpack_core::ports::AppStore) and
//! [`JobHistory`](lxpack_core::ports::JobHistory) on an embedded SQLite file: the
//! operator's default store, with no server to run.
//!
//! Apps are kept as their Cloud Deploy document (the core's own
//! [`app_to_document`](lxpack_core::document::app_to_document)) next to indexed key
//! columns; the current container image has a column of its own, because it is the
//! one value that changes under concurrency. Every update runs in an `IMMEDIATE`
//! transaction in WAL mode, so the "an older job never replaces a newer job's image"
//! rule holds across processes, not just threads.
//!
//! ## Layout
//! - `schema`: the versioned schema and its migrations (`PRAGMA user_version`).
//! - `store`: [`SqliteAppStore`] and its two ports.
//! - `rows`: mapping between rows and domain values.
//! - `error`: [`SqliteStoreError`].
//! - `paths`: the default database path.

mod error;
mod paths;
mod rows;
mod schema;
mod store;

pub use error::SqliteStoreError;
pub use paths::default_path;
pub use store::SqliteAppStore;
