//! # lxpack-core
//!
//! The domain, the ports and the workflows of lxpack, which runs the two container
//! steps of a Cloud Deploy pipeline (buildimage and the buildpack part of deploy)
//! inside throwaway LXD or Incus system containers.
//!
//! This crate performs no I/O of its own: it talks to the world only through the
//! ports in [`ports`], so that every rule can be tested against the in-memory fakes
//! of `lxpack-fake`, and integrators can bring their own adapters.
//!
//! ## Layout
//! - [`domain`]: validated values (job ids, names, paths, images, AMIs) and pure rules
//!   (resource naming, hook environment, AMI ownership, retention).
//! - [`document`]: Cloud Deploy's app document (JSON or YAML) into [`domain::App`].
//! - [`ports`]: the traits adapters implement, one file each: the container daemon
//!   (`ContainerRuntime` and the capabilities it is made of), its image store
//!   (`ImageRegistry`), the AMI catalog (`AmiCatalog`), the apps and the job history
//!   (`AppStore`, `JobHistory`), and the host (`Clock`, `RunnerProbe`,
//!   `PoolRefill`).
//! - [`workflows`]: buildimage, deploy, standby pools, dependency caches, kept
//!   containers (shell), image inventory and retention, sweep of leftovers.
//! - [`events`]: the typed progress events workflows emit.

pub mod document;
pub mod domain;
pub mod events;
pub mod ports;
pub mod workflows;
