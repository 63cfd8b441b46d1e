//! Workflow tests on the fakes: every rule of buildimage, deploy, retention and sweep,
//! with a fault injected at every step, and one test per defect of Cloud Deploy's
//! original implementation (docs: original-behaviour.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod build_image;
mod cache;
mod capabilities;
mod cleanup_and_faults;
mod cluster;
mod defects;
mod deploy;
mod events;
mod jobs;
mod keep;
mod leases;
mod network;
mod pool;
mod resources;
mod retention;
mod secrets;
mod step_snapshots;
mod store_copy;
mod sweep;
mod sweep_leases;
mod timeouts;
