//! lxpack on the real test clusters of scripts/cluster-up (a 3-member Incus 6.0 and
//! a 3-member LXD 5.0, on loopback addresses): placement on a member or a group,
//! buildimage on one member and deploy on another, a member lost mid-job, gc around an
//! unreachable member, doctor, dependency caches. The tests stop and freeze members, so they run one at
//! a time under the clusters' test lock; they fail, saying how to start the clusters,
//! when those do not answer, unless LXPACK_SKIP_REAL=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "../cli/harness.rs"]
#[allow(dead_code)]
mod harness;

#[path = "../shared/turn.rs"]
mod turn;

mod clusters;

mod caches;
mod doctor;
mod member_lost;
mod placement;
