//! Attacks on what lxpack isolates, from inside a build: `local` holds what they
//! share, each other module one kind of attack.

mod deploys;
pub(crate) mod local;
mod network;
