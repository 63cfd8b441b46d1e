//! Real faults, on LXD 5.0 and Incus 6.0: the daemon killed mid-buildpack, the app's
//! image deleted under a job, the storage pool full, lxpack killed mid-job, the HTTPS
//! connection cut mid-exec, jobs and `gc` at once, two build hosts (stores) on one
//! daemon, and containers named like lxpack's that are not lxpack's.
//!
//! Each runs the real `lxpack` binary against the dedicated fault daemons of
//! scripts/fault-daemons-up (never the default daemons other tests share: these are
//! killed, restarted and filled), and checks the exit code's class, that the error
//! names what failed, that the store ends with no job `running`, and that once the
//! documented path has run (`lxpack gc`, and the daemon started again where it was
//! killed) the daemon holds no instance, profile or image the test did not find there.
//! docs/reliability.md ("Faults") tells each outcome and why it is the right one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[allow(dead_code)]
#[path = "../cli/harness.rs"]
mod harness;

#[path = "../shared/turn.rs"]
mod turn;

mod daemon;
mod job;
mod proxy;

mod concurrent;
mod daemon_killed;
mod foreign;
mod https_cut;
mod image_deleted;
mod lxpack_killed;
mod pool_full;

/// One `#[test]` per daemon for a scenario `fn(&'static str)`, so a report names the
/// daemon it failed on.
macro_rules! on_both_daemons {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn lxd() {
                super::$scenario("lxd");
            }
            #[test]
            fn incus() {
                super::$scenario("incus");
            }
        }
    };
}
pub(crate) use on_both_daemons;
