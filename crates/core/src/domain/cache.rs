//! A module's dependency cache (what its buildpack downloads and compiles) is kept
//! between deploys as generations of a storage volume. A deploy never writes to the
//! cache itself: it works on its own copy-on-write copy, and only a successful job's
//! copy may become the next generation, by the newest-job-wins rule of images
//! ([`decide_replacement`]). So concurrent deploys of one module never see each
//! other's writes, a failed deploy's writes never reach the cache, and an older job
//! never replaces a newer one's cache, whatever order they finish in.
//!
//! The daemon holds all of it: each generation and each copy is a volume whose mark
//! says which cache it belongs to, which job wrote it and whether it is current, so no
//! lxpack process has to stay up between deploys. Making a copy current is one write
//! of its mark; the rules that read the marks back (which generation is current,
//! which are superseded, what a sweep removes, what to evict past a budget) live here,
//! so the adapters only store and list them.

use std::fmt;

use sha2::{Digest, Sha256};

use super::digest_id::digest_id;
use super::newest_job::{ReplaceDecision, decide_replacement};
use super::text::text_enum;
use super::{AppKey, GuestPath, JobId, MemberName};

/// What one cache is for: one path of one module of one app.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey {
    /// The app.
    pub app: AppKey,
    /// The module.
    pub module: String,
    /// The path in the container that the cache is mounted at.
    pub path: GuestPath,
}

digest_id! {
    /// A cache's identity on the daemon: 16 hex digits of a SHA-256 over its
    /// [`CacheKey`], short enough for a label and a volume name.
    CacheId
}

impl CacheKey {
    /// The cache's id: equal keys give equal ids, and any difference another.
    #[must_use]
    pub fn id(&self) -> CacheId {
        let mut hasher = Sha256::new();
        // Length-prefixed parts: an injective encoding.
        for part in [
            self.app.name.as_str(),
            self.app.env.as_str(),
            self.app.role.as_str(),
            self.module.as_str(),
            self.path.as_str(),
        ] {
            hasher.update(part.len().to_be_bytes());
            hasher.update(part.as_bytes());
        }
        CacheId::of_digest(&hasher.finalize())
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} module {} {}", self.app, self.module, self.path)
    }
}

/// The name of a volume holding one generation or one job's copy of a cache: the
/// prefix, the cache id and the job that made it, so every job's copy has a name of
/// its own and a name alone never makes a volume lxpack's (its mark does).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VolumeName(String);

impl VolumeName {
    /// The prefix of every cache volume's name.
    pub const PREFIX: &'static str = "lxpack-cache-";

    /// The volume of `job`'s copy of cache `id` (which becomes a generation when it is
    /// made current: it keeps its name).
    #[must_use]
    pub fn for_cache(id: &CacheId, job: &JobId) -> Self {
        Self(format!("{}{id}-{job}", Self::PREFIX))
    }

    /// A volume name as the daemon lists it.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VolumeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_enum! {
    /// Whether a cache volume is a job's working copy or a generation of the cache.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum CacheState as "cache state" {
        /// A job's copy, mounted in its instance; discarded unless the job succeeds.
        Copy = "copy",
        /// A generation: what a successful job left. The newest is the cache.
        Current = "current",
    }
}

text_enum! {
    /// One of the labels of a cache volume (beside the job's and the app's,
    /// [`super::LabelKey`]), named as adapters store it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum CacheLabel as "cache label" {
        /// The cache id.
        Cache = "cache",
        /// The module.
        Module = "cache_module",
        /// The path in the container.
        Path = "cache_path",
        /// [`CacheState`].
        State = "cache_state",
        /// The bytes it holds, once measured.
        Size = "cache_size",
    }
}

/// What a cache volume is labelled with: whose cache it is, which job wrote it and
/// whether it is current.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheMark {
    /// The cache.
    pub key: CacheKey,
    /// The job whose copy it is (or was, for a generation).
    pub job: JobId,
    /// Copy or generation.
    pub state: CacheState,
    /// The bytes it holds, when measured.
    pub size: Option<u64>,
}

impl CacheMark {
    /// The mark of `job`'s new copy of `key`.
    #[must_use]
    pub fn copy(key: &CacheKey, job: &JobId) -> Self {
        Self {
            key: key.clone(),
            job: job.clone(),
            state: CacheState::Copy,
            size: None,
        }
    }

    /// The same volume as a generation of the cache, holding `size` bytes when known.
    #[must_use]
    pub fn promoted(&self, size: Option<u64>) -> Self {
        Self {
            state: CacheState::Current,
            size,
            ..self.clone()
        }
    }

    /// The volume the mark belongs on.
    #[must_use]
    pub fn volume(&self) -> VolumeName {
        VolumeName::for_cache(&self.key.id(), &self.job)
    }

    /// The cache labels as (name, value) pairs; the job and the app go under the
    /// job labels' keys ([`super::LabelKey::Job`], [`super::LabelKey::App`]).
    #[must_use]
    pub fn pairs(&self) -> Vec<(CacheLabel, String)> {
        let mut pairs = vec![
            (CacheLabel::Cache, self.key.id().to_string()),
            (CacheLabel::Module, self.key.module.clone()),
            (CacheLabel::Path, self.key.path.to_string()),
            (CacheLabel::State, self.state.to_string()),
        ];
        if let Some(size) = self.size {
            pairs.push((CacheLabel::Size, size.to_string()));
        }
        pairs
    }

    /// Reads a mark back: `value` gives each cache label's value, `job` and `app` the
    /// job labels'. `None` unless all are there and valid and the cache id matches
    /// the app, module and path (a damaged or hand-edited mark is not lxpack's).
    pub fn read<'a>(
        value: impl Fn(CacheLabel) -> Option<&'a str>,
        job: Option<&'a str>,
        app: Option<&'a str>,
    ) -> Option<Self> {
        let mut parts = app?.splitn(3, '/');
        let (name, env, role) = (parts.next()?, parts.next()?, parts.next()?);
        if [name, env, role].iter().any(|part| part.is_empty()) {
            return None;
        }
        let module = value(CacheLabel::Module)?;
        if module.is_empty() {
            return None;
        }
        let key = CacheKey {
            app: AppKey::new(name, env, role),
            module: module.to_owned(),
            path: GuestPath::parse(value(CacheLabel::Path)?).ok()?,
        };
        if key.id() != CacheId::parse(value(CacheLabel::Cache)?)? {
            return None;
        }
        let size = match value(CacheLabel::Size) {
            None => None,
            Some(text) => Some(text.parse().ok()?),
        };
        Some(Self {
            key,
            job: JobId::parse(job?).ok()?,
            state: CacheState::parse(value(CacheLabel::State)?).ok()?,
            size,
        })
    }
}

/// A storage volume on the daemon, with its cache mark when it carries a valid one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheVolume {
    /// Its name.
    pub name: VolumeName,
    /// Its mark, read with [`CacheMark::read`]; `None` for a volume that is not
    /// lxpack's, which nothing here touches.
    pub mark: Option<CacheMark>,
    /// The instances that mount it.
    pub used_by: Vec<String>,
    /// The cluster member that holds it; `None` when the daemon is not clustered.
    pub member: Option<MemberName>,
}

impl CacheVolume {
    fn generation_of(&self, key: &CacheKey) -> Option<&CacheMark> {
        self.mark
            .as_ref()
            .filter(|m| m.state == CacheState::Current && &m.key == key)
    }
}

/// The cache of `key`: its newest generation, if it has any.
#[must_use]
pub fn current_generation<'a>(
    volumes: &'a [CacheVolume],
    key: &CacheKey,
) -> Option<&'a CacheVolume> {
    volumes
        .iter()
        .filter_map(|v| v.generation_of(key).map(|mark| (v, mark)))
        .max_by(|(_, a), (_, b)| a.job.cmp(&b.job))
        .map(|(volume, _)| volume)
}

/// Whether `job`'s copy of `key` may become the cache: only if no newer job's
/// generation is current already (the rule of images, [`decide_replacement`]).
#[must_use]
pub fn promotion(volumes: &[CacheVolume], key: &CacheKey, job: &JobId) -> ReplaceDecision {
    let current = current_generation(volumes, key).and_then(|v| v.mark.as_ref());
    decide_replacement(current.map(|m| &m.job), job)
}

/// Why a cache volume is no longer needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheWaste {
    /// A generation older than its cache's current one.
    Superseded,
    /// A job's copy whose job is over without making it current (it failed, was
    /// cancelled, or its process died).
    Orphaned,
}

impl CacheWaste {
    /// Why, for people.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Superseded => "a newer generation of its cache is current",
            Self::Orphaned => "the job that copied it is over",
        }
    }
}

/// The cache volumes that can go: generations older than their cache's current one,
/// and copies of jobs that are over (`job_running` says which still run), never one an
/// instance still mounts.
#[must_use]
pub fn wasted_volumes(
    volumes: &[CacheVolume],
    job_running: impl Fn(&JobId) -> bool,
) -> Vec<(&CacheVolume, CacheWaste)> {
    volumes
        .iter()
        .filter(|v| v.used_by.is_empty())
        .filter_map(|v| {
            let mark = v.mark.as_ref()?;
            match mark.state {
                CacheState::Copy => (!job_running(&mark.job)).then_some((v, CacheWaste::Orphaned)),
                CacheState::Current => {
                    let current = current_generation(volumes, &mark.key)?;
                    (current.name != v.name).then_some((v, CacheWaste::Superseded))
                }
            }
        })
        .collect()
}

/// The caches to evict so that the current generations fit in `budget` bytes: the
/// least recently written first (the oldest job), never `keep` (the one a job has just
/// made current). A generation whose size is unknown counts as empty.
#[must_use]
pub fn evictions<'a>(
    volumes: &'a [CacheVolume],
    budget: u64,
    keep: Option<&VolumeName>,
) -> Vec<&'a CacheVolume> {
    let mut current: Vec<(&CacheVolume, &CacheMark)> = volumes
        .iter()
        .filter_map(|v| {
            let mark = v.mark.as_ref()?;
            let newest = current_generation(volumes, &mark.key)?;
            (newest.name == v.name).then_some((v, mark))
        })
        .collect();
    let mut total: u64 = current.iter().map(|(_, m)| m.size.unwrap_or(0)).sum();
    current.sort_by(|(_, a), (_, b)| a.job.cmp(&b.job));
    let mut evicted = Vec::new();
    for (volume, mark) in current {
        if total <= budget {
            break;
        }
        if Some(&volume.name) == keep || !volume.used_by.is_empty() {
            continue;
        }
        total = total.saturating_sub(mark.size.unwrap_or(0));
        evicted.push(volume);
    }
    evicted
}

#[cfg(test)]
mod tests;
