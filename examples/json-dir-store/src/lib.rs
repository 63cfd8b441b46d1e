//! # lxpack-example-json-store
//!
//! An example of an integrator's own [`AppStore`](lxpack_core::ports::AppStore):
//! [`JsonDirAppStore`] keeps each app as its Cloud Deploy JSON document (written and
//! read with [`lxpack_core::document`]) in a directory, and each job record as a small
//! JSON file next to it. It passes the shared contract suite of `lxpack-contract`
//! (see `tests/json_store/`), and `src/main.rs` wires it into the workflows with the
//! fakes of `lxpack-fake`.
//!
//! What it shows, beyond the file format:
//! - **The newer-job rule.** `record_container_image` reads the app, compares job ids
//!   ([`JobId::is_newer_than`](lxpack_core::domain::JobId::is_newer_than)) and writes
//!   the app while holding an exclusive lock on the directory's `lock` file
//!   ([`std::fs::File::lock`]), so the check and the write happen together across
//!   threads and processes. An older job gets `Superseded` and changes nothing.
//! - **Atomic writes.** Every file is written to a temporary file, synced, and renamed
//!   over the old one, so a reader never sees half a document.
//! - **No blocking on the async runtime.** File I/O runs on tokio's blocking pool.
//! - **Errors.** [`JsonStoreError`] names the file; the port wraps it as
//!   `AppStoreError::Other` with the operation, keeping it as the source.
//!
//! ## Layout on disk
//! ```text
//! <root>/lock                          the lock file (empty)
//! <root>/apps/<name>,<env>,<role>.json one Cloud Deploy app document each
//! <root>/jobs/<job id>.json            one job record each
//! ```
//! Characters other than ASCII letters, digits, `-`, `_` and `.` in the key are
//! written `%XX`, so any key makes a valid file name.
//!
//! ## Layout of the crate
//! - `store`: [`JsonDirAppStore`] and its `AppStore` implementation.
//! - `files`: the directory layout, the lock and atomic writes.
//! - `jobs`: job records to JSON and back.

mod files;
mod jobs;
mod store;

use std::path::PathBuf;

pub use store::JsonDirAppStore;

/// An error of the adapter's own machinery, boxed so no foreign type is in a signature.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of the store's own calls.
pub type Result<T, E = JsonStoreError> = std::result::Result<T, E>;

/// An error of the JSON directory store, naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonStoreError {
    /// A file or directory could not be read or written.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done: `read`, `write`, `lock`, …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file does not hold what the store writes there.
    #[error("{path} is not a valid {what}: fix or remove it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What it should hold: `app document`, `job record`.
        what: &'static str,
        /// Why it does not read back.
        #[source]
        source: BoxError,
    },
    /// The blocking task that did the I/O panicked or was cancelled.
    #[error("the store's blocking task failed")]
    Worker {
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
}
