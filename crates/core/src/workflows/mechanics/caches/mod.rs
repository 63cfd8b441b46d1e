//! A deploy's dependency caches ([`crate::domain::CacheKey`]): before the buildpack,
//! each declared path gets the job's own copy of its cache's current generation; after
//! the job, a successful job's copies become the caches (unless a newer job's already
//! did) and any other job's are dropped. Between the two, cleanup has unmounted them,
//! so a copy is never made current while an instance can still write to it.

mod measure;
mod placement;
mod restore;
mod save;

use restore::CacheCopy;

/// One job's copies of its caches, from their creation (`restore`) until they are
/// saved or dropped (`save`).
#[derive(Debug, Default)]
pub(crate) struct JobCaches {
    copies: Vec<CacheCopy>,
}
