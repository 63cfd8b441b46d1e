//! lxpack-aws against EC2 stand-ins: moto's server (seeded through the EC2 API) for
//! behaviour, and a tiny scripted HTTP endpoint on loopback for what moto cannot do
//! (several pages, throttling, denials, hangs, assumed-role signing).
//!
//! The moto tests need `scripts/moto-up` (or LXPACK_TEST_MOTO_URL pointing at a moto
//! on loopback); they fail when moto is unreachable, unless LXPACK_SKIP_REAL=1 is set.
//! Every test works under its own random Cloud Deploy environment name, so the tests
//! run in parallel against one moto without seeing each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod contract;
mod credentials;
mod describe;
mod errors;
mod helpers;
mod listing;
mod logs;
mod retention;
mod stub;
