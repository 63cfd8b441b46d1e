//! What an operator does with the caches: see them, purge an app's or a module's, and
//! (through `gc`) remove what no job needs and evict past the budget. A volume whose
//! mark does not read as lxpack's is never listed, purged or removed here.

use crate::domain::{
    AppKey, CacheKey, CacheState, CacheVolume, CacheWaste, JobId, MemberName, VolumeName,
    current_generation, evictions, wasted_volumes,
};
use crate::events::Step;
use crate::ports::RuntimeError;
use crate::workflows::Workflows;
use crate::workflows::capabilities::refused;
use crate::workflows::error::{PortError, WorkflowError};

/// One cache, as its current generation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// Whose cache, and of which path.
    pub key: CacheKey,
    /// The volume of its current generation.
    pub volume: VolumeName,
    /// The job that saved it.
    pub job: JobId,
    /// The bytes it holds, when the daemon's storage can tell.
    pub size: Option<u64>,
    /// The cluster member holding it, on a cluster.
    pub member: Option<MemberName>,
    /// Running jobs' copies of it.
    pub copies_in_use: usize,
}

/// One cache volume purged or removed (or, in a dry run, that would be), or left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedCache {
    /// The volume.
    pub volume: VolumeName,
    /// Its cache.
    pub key: CacheKey,
    /// The job that made it.
    pub job: JobId,
    /// A generation or a job's copy.
    pub state: CacheState,
    /// Why it went (or stays), for people.
    pub why: String,
}

/// What a purge or a sweep of the caches did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachePurge {
    /// Removed (or, in a dry run, that would be).
    pub removed: Vec<PurgedCache>,
    /// Left in place: a running job's instance mounts them.
    pub spared: Vec<PurgedCache>,
    /// Removals that failed.
    pub failures: Vec<String>,
}

impl PurgedCache {
    fn of(volume: &CacheVolume, why: impl Into<String>) -> Option<Self> {
        let mark = volume.mark.as_ref()?;
        Some(Self {
            volume: volume.name.clone(),
            key: mark.key.clone(),
            job: mark.job.clone(),
            state: mark.state,
            why: why.into(),
        })
    }
}

impl Workflows {
    /// Every cache, with its current generation, sorted by app, module and path.
    ///
    /// # Errors
    /// `StepFailed` when the volumes cannot be listed.
    pub async fn list_caches(&self) -> Result<Vec<CacheEntry>, WorkflowError> {
        let volumes = self.cache_volumes().await?;
        let mut keys: Vec<&CacheKey> = volumes
            .iter()
            .filter_map(|v| v.mark.as_ref().map(|m| &m.key))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys
            .into_iter()
            .filter_map(|key| {
                let current = current_generation(&volumes, key)?;
                let mark = current.mark.as_ref()?;
                Some(CacheEntry {
                    key: key.clone(),
                    volume: current.name.clone(),
                    job: mark.job.clone(),
                    size: mark.size,
                    member: current.member.clone(),
                    copies_in_use: volumes
                        .iter()
                        .filter(|v| {
                            v.mark
                                .as_ref()
                                .is_some_and(|m| &m.key == key && m.state == CacheState::Copy)
                                && !v.used_by.is_empty()
                        })
                        .count(),
                })
            })
            .collect())
    }

    /// Removes every cache of `app` (of its `module` only, when given): all their
    /// generations and the copies no instance mounts. The next deploy starts with an
    /// empty cache. A copy a running job's instance mounts is left, and reported.
    ///
    /// # Errors
    /// `StepFailed` when the volumes cannot be listed.
    pub async fn purge_caches(
        &self,
        app: &AppKey,
        module: Option<&str>,
        dry_run: bool,
    ) -> Result<CachePurge, WorkflowError> {
        let volumes = self.cache_volumes().await?;
        let mut purge = CachePurge::default();
        for volume in &volumes {
            let Some(mark) = &volume.mark else { continue };
            if &mark.key.app != app || module.is_some_and(|m| m != mark.key.module) {
                continue;
            }
            if !volume.used_by.is_empty() {
                purge.spared.extend(PurgedCache::of(
                    volume,
                    format!("mounted by {}", volume.used_by.join(", ")),
                ));
                continue;
            }
            self.remove_volume(volume, "purged", dry_run, &mut purge)
                .await;
        }
        Ok(purge)
    }

    /// Removes the cache volumes no job needs (older generations, the copies of jobs
    /// that are over: `job_running` says which are not), then evicts past the budget.
    pub(crate) async fn sweep_caches(
        &self,
        mut volumes: Vec<CacheVolume>,
        dry_run: bool,
        job_running: impl Fn(&JobId) -> bool,
    ) -> CachePurge {
        let mut purge = CachePurge::default();
        let wasted: Vec<(CacheVolume, CacheWaste)> = wasted_volumes(&volumes, &job_running)
            .into_iter()
            .map(|(volume, why)| (volume.clone(), why))
            .collect();
        for (volume, why) in &wasted {
            self.remove_volume(volume, why.describe(), dry_run, &mut purge)
                .await;
        }
        volumes.retain(|v| !wasted.iter().any(|(gone, _)| gone.name == v.name));
        if let Some(budget) = self.settings.cache.budget {
            let evicted: Vec<CacheVolume> = evictions(&volumes, budget, None)
                .into_iter()
                .cloned()
                .collect();
            for volume in &evicted {
                let why = format!(
                    "evicted: the caches hold more than lxpack.cache.budget ({budget} bytes), and it was the least recently saved"
                );
                self.remove_volume(volume, why, dry_run, &mut purge).await;
            }
        }
        purge
    }

    /// Every cache volume; none on a runtime without volumes.
    pub(crate) async fn cache_volumes(&self) -> Result<Vec<CacheVolume>, WorkflowError> {
        let Ok(volumes) = self.volume_port() else {
            return Ok(Vec::new());
        };
        volumes
            .list_volumes()
            .await
            .map_err(|error| WorkflowError::StepFailed {
                step: Step::Caches,
                instance: None,
                source: Box::new(PortError::Runtime(error)),
            })
    }

    async fn remove_volume(
        &self,
        volume: &CacheVolume,
        why: impl Into<String>,
        dry_run: bool,
        purge: &mut CachePurge,
    ) {
        let Some(entry) = PurgedCache::of(volume, why) else {
            return;
        };
        if !dry_run {
            let deleted = match self.volume_port() {
                Ok(volumes) => volumes.delete_volume(&volume.name).await,
                Err(missing) => Err(refused(
                    format!("delete the cache volume {}", volume.name),
                    &missing,
                )),
            };
            match deleted {
                Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
                Err(error) => {
                    purge.failures.push(format!(
                        "could not remove the cache volume {}: {error}",
                        volume.name
                    ));
                    return;
                }
            }
        }
        purge.removed.push(entry);
    }
}
