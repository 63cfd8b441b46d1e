//! # lxpack-cli
//!
//! The `lxpack` command: it reads the config, wires the adapters, runs the core's
//! workflows and renders their events. It holds no rule about apps, images or names:
//! those live in `lxpack-core`.
//!
//! ## Layout
//! - [`args`]: the command line (clap derive; doc comments are the help).
//! - [`config`]: Cloud Deploy's `config.yml`, plus lxpack's own section.
//! - [`exit`]: exit codes per class of failure, and hints.
//! - [`render`]: events to a live terminal, plain lines, JSON lines and job logs.

pub mod args;
pub mod config;
pub mod exit;
pub mod render;
