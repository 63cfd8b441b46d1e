//! The `lxpack` binary, run as an operator runs it: against the real LXD and Incus
//! daemons (started by scripts/daemons-up) and a SQLite store in a temporary directory.
//! Error cases check the documented exit code and that the message names the thing
//! and the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod harness;

#[cfg(feature = "aws")]
mod aws;
mod cache;
mod errors;
mod jobs;
mod lease;
mod offline;
mod pool;
mod postgres;
mod postgres_harness;
mod remote;
mod secrets;
mod shell;
mod step_snapshots;
mod store_outage;
mod two_hosts;
