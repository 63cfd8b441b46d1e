//! # lxpack-fake
//!
//! In-memory implementations of lxpack's four ports, for tests: the core's workflow
//! tests, the shared contract suite (`lxpack-contract`), and integrators' own tests.
//! They keep real state and honour the same `# Errors` contracts as the real adapters,
//! so a workflow that passes against them has only the real daemon's quirks left to
//! meet. They are deterministic: no wall clock, no randomness, and waits use tokio
//! time, so `tokio::time::pause` makes timeouts instant.
//!
//! Every fake:
//! - records each call with its arguments (`calls()`), and each call's operation and
//!   occurrence (`call_points()`), which is what a test needs to fail each call in turn;
//! - injects faults into the calls chosen by operation and occurrence
//!   (`inject(op, When::Nth(n), fault)`): a failure of a [`FakeFailure`] kind mapped to
//!   the port's error, an error of the test's choosing ([`Fault::fail_with`]), or a
//!   hang ([`Fault::Hang`]) that ends with the call's own timeout or cancellation, or
//!   never for calls that have neither. An injected failure has no effect on state.
//!
//! [`FakeRuntime`] and [`FakeImageRegistry`] share one daemon
//! ([`FakeRuntime::image_registry`]): publish needs the runtime's stopped instance and
//! launch needs the registry's images. Commands exit 0 with no output unless a fault,
//! a script for that exec ([`FakeRuntime::script_exec`]) or a handler
//! ([`FakeRuntime::on_exec`], [`FakeRuntime::on_command`]) says otherwise. A command
//! interrupted by its timeout or its token is recorded as signalled with SIGTERM then
//! SIGKILL ([`FakeRuntime::signals`]).
//!
//! ## Layout
//! - `faults`: [`When`], [`Fault`], [`FakeFailure`] and the one [`FaultPlan`] type all
//!   fakes use.
//! - `harness`: call recording and fault lookup shared by the fakes ([`Recorded`]).
//! - `daemon`: the state of the fake daemon and every rule of the runtime and registry
//!   ports, as synchronous methods run under one lock.
//! - `runtime`, `registry`: [`FakeRuntime`] and [`FakeImageRegistry`] over it.
//! - `exec`: [`ExecScript`], what a command prints and how it ends, and [`Signalled`].
//! - `image`: [`ImageBuilder`], to seed images.
//! - `ami_catalog`, `app_store`: [`FakeAmiCatalog`] and [`FakeAppStore`] (which is
//!   also the `JobHistory`, with leases; not shared by several hosts until a test
//!   says so, `set_shared`).
//! - `clock`: [`FakeClock`], the time of job records and sweeps; `runners`:
//!   [`FakeRunners`], which job processes are alive.
//! - [`fixtures`]: the apps and job ids tests start from, for every crate's tests.
//! - `sinks`: [`RecordingEvents`] and [`RecordingOutput`].
//!
//! ## Example: injecting faults
//! ```
//! use std::time::Duration;
//!
//! use lxpack_core::domain::{
//!     ExecRequest, ImageAlias, ImageRef, ImageSelector, InstanceName, LaunchSpec,
//! };
//! use lxpack_core::ports::{ContainerRuntime, RuntimeError};
//! use lxpack_fake::{
//!     FakeFailure, FakeRuntime, Fault, ImageBuilder, RecordingOutput, RuntimeOp, Signal, When,
//! };
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = FakeRuntime::new();
//! let base = ImageAlias::parse("debian-12")?;
//! runtime.add_image(ImageBuilder::new("debian-12").alias(base.clone()).build());
//!
//! let name = InstanceName::parse("lxpack-example")?;
//! let spec = LaunchSpec {
//!     name: name.clone(),
//!     image: ImageRef::Local(ImageSelector::Alias(base)),
//!     profile: None,
//!     ephemeral: false,
//!     isolation: Default::default(),
//!     limits: Default::default(),
//!     network: Default::default(),
//!     labels: None,
//!     standby: None,
//!     map_owner: None,
//!     from_snapshot: None,
//!     timeout: Duration::from_secs(60),
//! };
//! let cancel = CancellationToken::new();
//! runtime.launch_instance(&spec, &cancel).await?;
//!
//! // The 2nd exec fails as if the daemon went away; the 3rd hangs until its timeout.
//! runtime.inject(RuntimeOp::Exec, When::Nth(2), Fault::fail(FakeFailure::Unreachable));
//! runtime.inject(RuntimeOp::Exec, When::Nth(3), Fault::Hang);
//!
//! let output = RecordingOutput::new();
//! let request = ExecRequest::new(["make"], Duration::from_secs(600));
//! assert_eq!(runtime.exec(&name, &request, &output, &cancel).await?, 0);
//! let second = runtime.exec(&name, &request, &output, &cancel).await;
//! assert!(matches!(second, Err(RuntimeError::Unreachable(_))));
//! let third = runtime.exec(&name, &request, &output, &cancel).await;
//! assert!(matches!(third, Err(RuntimeError::TimedOut { .. })));
//! assert_eq!(runtime.signals()[0].signals, [Signal::Term, Signal::Kill]);
//! # Ok(())
//! # }
//! ```

mod ami_catalog;
mod app_store;
mod clock;
mod daemon;
mod exec;
mod faults;
mod harness;
mod image;
mod networks;
mod registry;
mod runners;
mod runtime;
mod sinks;
mod snapshots;
mod volumes;

pub mod fixtures;

pub use ami_catalog::{CatalogCall, CatalogOp, FakeAmiCatalog};
pub use app_store::{FakeAppStore, StoreCall, StoreOp};
pub use clock::FakeClock;
pub use daemon::{FakeInstance, InstanceStatus};
pub use exec::{ExecEnd, ExecHandler, ExecScript, ExecStep, Signal, Signalled};
pub use faults::{FakeFailure, Fault, FaultPlan, InjectedFault, Interruption, When};
pub use harness::Recorded;
pub use image::ImageBuilder;
pub use networks::{FakeAcl, FakeNetwork};
pub use registry::{FakeImageRegistry, RegistryCall, RegistryOp};
pub use runners::FakeRunners;
pub use runtime::{DaemonCall, FakeRuntime, RuntimeCall, RuntimeOp};
pub use sinks::{RecordingEvents, RecordingOutput, ScriptedInput};
pub use volumes::FakeVolume;
