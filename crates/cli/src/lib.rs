//! # lxpack-cli
//!
//! The `lxpack` command: it reads the config, wires the adapters, runs the core's
//! workflows and renders their events. It holds no rule about apps, images or names:
//! those live in `lxpack-core`.
//!
//! ## Layout
//! - [`config`]: Cloud Deploy's `config.yml`, plus lxpack's own section.

pub mod config;
