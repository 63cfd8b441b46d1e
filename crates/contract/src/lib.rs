//! # lxpack-contract
//!
//! The `# Errors` sections of lxpack's ports are contracts; this crate checks them,
//! against any implementation. The same suite runs against the in-memory fakes of
//! `lxpack-fake`, the LXD and Incus adapter, the SQLite store and an integrator's own
//! adapters, so the fakes cannot drift from the real thing unnoticed.
//!
//! Each suite is an async function that takes the implementation (as a trait object)
//! and a fixture, runs every check even after one fails, bounds every call so a hung
//! implementation fails a check instead of hanging the suite, cleans up what it
//! created (even after a panic inside the implementation) and returns a
//! [`ContractReport`]: which check, what was expected, what came. Call
//! [`ContractReport::assert_passed`] in a test.
//!
//! ## Layout
//! - `runtime`: [`container_runtime_contract`] for `ContainerRuntime` and
//!   `ImageRegistry` together, plus a part per capability the runtime offers, a
//!   module each: `runtime/standbys` for standby pools (claims and attaches under
//!   concurrency), `runtime/snapshots` for step snapshots, `runtime/volumes` for
//!   cache volumes, and the placement checks for cluster membership; its
//!   [`RuntimeFixture`] and the [`commands`] it runs.
//! - `app_store`: [`app_store_contract`], the newer-job rule above all.
//! - `job_history`: [`job_history_contract`], what the sweep trusts.
//! - `ami_catalog`: [`ami_catalog_contract`] and its [`AmiFixture`].
//! - `report`: [`ContractReport`], [`Check`], [`Outcome`].
//! - `unwind`: running checks so that a panic still leads to cleanup.
//!
//! ## Example
//! ```
//! use lxpack_contract::app_store_contract;
//! use lxpack_contract::job_history_contract;
//! use lxpack_core::domain::{App, AppKey};
//! use lxpack_fake::FakeAppStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let key = AppKey::new("web", "prod", "webfront");
//! let store = FakeAppStore::new();
//! store.insert_app(App::new(key.clone(), "eu-west-1"));
//! app_store_contract(&store, &key).await.assert_passed();
//! job_history_contract(&store, &key).await.assert_passed();
//! # }
//! ```
//!
//! Against a real daemon, pick a prefix unique to the run and an image that supports
//! [`commands`]:
//! ```no_run
//! # async fn against(runtime: &dyn lxpack_core::ports::ContainerRuntime,
//! #                  capabilities: &lxpack_core::ports::RuntimeCapabilities,
//! #                  registry: &dyn lxpack_core::ports::ImageRegistry) {
//! use lxpack_contract::{container_runtime_contract, RuntimeFixture};
//! use lxpack_core::domain::{ImageRef, ImageSelector};
//!
//! let image = ImageRef::Local(ImageSelector::parse("lxpack-test-busybox").unwrap());
//! let fixture = RuntimeFixture::new(image, &format!("lxpack-ct-{}", std::process::id()));
//! container_runtime_contract(runtime, capabilities, registry, &fixture)
//!     .await
//!     .assert_passed();
//! # }
//! ```

mod ami_catalog;
mod app_store;
mod job_history;
mod report;
mod runtime;
mod unwind;

pub use ami_catalog::{AmiFixture, ami_catalog_contract};
pub use app_store::app_store_contract;
pub use job_history::job_history_contract;
pub use report::{Check, ContractReport, Outcome};
pub use runtime::{RuntimeFixture, commands, container_runtime_contract, network_made};
