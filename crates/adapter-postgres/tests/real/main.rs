//! The PostgreSQL store against a real server: the contract suites, races between
//! handles, migrations, turns (advisory locks), and each connection error.
//!
//! The tests need `scripts/postgres-up` (`eval "$(scripts/postgres-up)"` sets
//! LXPACK_TEST_POSTGRES_URL, LXPACK_TEST_POSTGRES_PASSWORD_FILE and
//! LXPACK_TEST_POSTGRES_CA); they fail when those are missing, unless LXPACK_SKIP_REAL=1.
//! Each test makes its own database (`lxpack_t_<random>`) and drops it at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod helpers;

mod concurrency;
mod connection;
mod contract;
mod schema;
mod turns;
