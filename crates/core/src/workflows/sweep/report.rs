//! What a sweep found and did, for the caller to render.

use std::time::SystemTime;

use super::super::cache::CachePurge;
use crate::domain::text::text_enum;
use crate::domain::{ClusterMember, JobId};
use crate::ports::Resource;

text_enum! {
    /// Why the sweep left one of lxpack's resources in place.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum SpareReason as "spare reason" {
        /// Its job is recorded as running.
        Running = "running",
        /// This history does not know its job, which started recently enough to be
        /// running still, on another host that shares the daemon with its own history
        /// (for as long as a job can last); in a history several hosts share, which
        /// knows every job of theirs, only for one lease after the job's id time.
        UnknownJob = "unknown_job",
        /// It is on a cluster member the cluster cannot reach now; a sweep once the
        /// member is back removes it.
        MemberUnreachable = "member_unreachable",
        /// It was kept for inspection (keep, debug, keep-on-failure) and has not
        /// expired yet.
        Kept = "kept",
        /// A standby of a pool, waiting for a deploy (or starting), and not stale.
        Standby = "standby",
        /// Its job released it without waiting for its stop, a moment ago: it is
        /// stopping, and the next look confirms it went (or records that the stop
        /// failed, and removes it).
        Releasing = "releasing",
        /// A buildimage's step snapshots, kept while its image is: the next build of
        /// the app may start from them.
        StepSnapshots = "step_snapshots",
    }
}

/// A resource the sweep left in place, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spared {
    /// The resource.
    pub resource: Resource,
    /// Why.
    pub reason: SpareReason,
    /// For [`SpareReason::Kept`]: when it expires.
    pub kept_until: Option<SystemTime>,
}

/// What the sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SweepReport {
    /// Removed (or, in a dry run, that would be).
    pub removed: Vec<Resource>,
    /// lxpack's, left in place because their job may be alive.
    pub spared: Vec<Spared>,
    /// Named like lxpack's resources but without its labels: not lxpack's, left
    /// alone.
    pub foreign: Vec<Resource>,
    /// Jobs the history lists as running whose process died without saying (killed,
    /// crashed, host rebooted): the probe saw it gone, or its lease expired, or (a
    /// record without a lease) it has run for longer than any job can last. They are
    /// recorded as lost (except in a dry run), and their leftovers go.
    pub lost_jobs: Vec<JobId>,
    /// Removals that failed.
    pub failures: Vec<String>,
    /// Cluster members the cluster cannot reach: what they hold was not judged.
    pub unreachable_members: Vec<ClusterMember>,
    /// The cache volumes removed (older generations, finished jobs' copies, evictions
    /// past the budget) and those left because an instance mounts them.
    pub caches: CachePurge,
}
