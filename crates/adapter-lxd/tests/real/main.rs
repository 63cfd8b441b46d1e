//! The adapter against the real daemons this machine runs (scripts/daemons-up), LXD 5.0
//! then Incus 6.0 in each test: the shared contract suite, the core's workflows end to
//! end, and streaming and publish. When a daemon cannot be reached the tests fail and
//! say how to start it, unless LXPACK_SKIP_REAL=1 is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod helpers;

mod attacks;

mod contract;
mod disk;
mod https;
mod network;
mod resources;
mod secrets;
mod streaming;
mod workflows;
