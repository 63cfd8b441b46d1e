//! The caches as an operator sees them: `lxpack cache list` and `purge`, and the part
//! of `gc` that removes what no job needs. A deploy's own use of its caches (restore,
//! measure, save) is a mechanic of its own, in `mechanics::caches`.

mod manage;

pub use manage::{CacheEntry, CachePurge, PurgedCache};
