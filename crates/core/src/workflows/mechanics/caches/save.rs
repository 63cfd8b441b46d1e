//! Saving runs after cleanup, when no instance mounts the copies any more: a copy made
//! current can no longer change. Making one current is a single write of its mark, so
//! a cache is never half-saved; what a failure leaves (a copy, an older generation) is
//! waste that the next save or `gc` removes, never a cache in doubt.

use crate::domain::{CacheVolume, ReplaceDecision, evictions, promotion, wasted_volumes};
use crate::events::{Event, EventSink, Step};
use crate::ports::{CacheVolumes, ResourceKind, RuntimeError};
use crate::workflows::error::{CleanupFailure, PortError, WorkflowError};
use crate::workflows::mechanics::job::JobContext;

use super::{CacheCopy, JobCaches};

/// What became of one copy.
enum Saved {
    /// It is the cache now.
    Current,
    /// Dropped; why, for people.
    Dropped(String),
}

impl JobCaches {
    /// Saves the job's copies when its instance is gone: a successful job's become the
    /// caches unless a newer job's already are; a failed job's are dropped; a kept
    /// job's stay mounted in its instance, for `gc` once that goes. A failure to save
    /// or drop is reported like a cleanup failure, keeping the job's own error.
    pub(crate) async fn save<T>(
        &self,
        job: &JobContext<'_>,
        kept: bool,
        outcome: Result<T, WorkflowError>,
    ) -> Result<T, WorkflowError> {
        let (events, copies) = (job.events(), self.copies.as_slice());
        if copies.is_empty() {
            return outcome;
        }
        if kept {
            for copy in copies {
                events.emit(Event::CacheSaved {
                    path: copy.mark.key.path.clone(),
                    saved: false,
                    detail: format!(
                        "not saved: {} stays with the kept instance (gc removes it after the instance)",
                        copy.mark.volume()
                    ),
                });
            }
            return outcome;
        }
        events.emit(Event::StepStarted {
            step: Step::SaveCache,
        });
        let started = tokio::time::Instant::now();
        // Copies exist only where the runtime has volumes (restore made them).
        let runtime = match job.workflows.volume_port() {
            Ok(volumes) => volumes,
            Err(missing) => return outcome.and(Err(missing)),
        };
        let mut failures = Vec::new();
        if outcome.is_ok() {
            let budget = job.settings().cache.budget;
            promote(runtime, events, copies, budget, &mut failures).await;
        } else {
            for copy in copies {
                match drop_copy(runtime, copy).await {
                    Ok(()) => events.emit(Event::CacheSaved {
                        path: copy.mark.key.path.clone(),
                        saved: false,
                        detail: "dropped: the job did not succeed".to_owned(),
                    }),
                    Err(failure) => failures.push(failure),
                }
            }
        }
        events.emit(Event::StepFinished {
            step: Step::SaveCache,
            duration: started.elapsed(),
            succeeded: failures.is_empty(),
        });
        merge_failures(outcome, failures)
    }
}

/// Makes each copy current unless a newer job's generation is; prunes what that
/// supersedes; evicts past the `budget`.
async fn promote(
    runtime: &dyn CacheVolumes,
    events: &dyn EventSink,
    copies: &[CacheCopy],
    budget: Option<u64>,
    failures: &mut Vec<CleanupFailure>,
) {
    let mut volumes = match runtime.list_volumes().await {
        Ok(volumes) => volumes,
        Err(error) => {
            // Without a listing, no copy can be judged: none is saved.
            failures.push(CleanupFailure {
                kind: ResourceKind::Volume,
                name: "the cache volumes (listing them, to save this job's copies)".to_owned(),
                error: PortError::Runtime(error),
            });
            for copy in copies {
                if let Err(failure) = drop_copy(runtime, copy).await {
                    failures.push(failure);
                }
            }
            return;
        }
    };
    for copy in copies {
        match promote_one(runtime, &mut volumes, copy).await {
            Ok(Saved::Current) => events.emit(Event::CacheSaved {
                path: copy.mark.key.path.clone(),
                saved: true,
                detail: format!("saved as {}", copy.mark.volume()),
            }),
            Ok(Saved::Dropped(why)) => events.emit(Event::CacheSaved {
                path: copy.mark.key.path.clone(),
                saved: false,
                detail: why,
            }),
            Err(failure) => failures.push(failure),
        }
    }
    // Older generations of these caches: no deploy starts from them any more.
    let keys: Vec<_> = copies.iter().map(|copy| &copy.mark.key).collect();
    for (volume, _) in wasted_volumes(&volumes, |_| true) {
        let Some(mark) = &volume.mark else { continue };
        if !keys.contains(&&mark.key) {
            continue;
        }
        match runtime.delete_volume(&volume.name).await {
            Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
            Err(error) => failures.push(CleanupFailure {
                kind: ResourceKind::Volume,
                name: volume.name.to_string(),
                error: PortError::Runtime(error),
            }),
        }
    }
    if let Some(budget) = budget {
        evict(runtime, events, &volumes, budget, copies).await;
    }
}

async fn promote_one(
    runtime: &dyn CacheVolumes,
    volumes: &mut [CacheVolume],
    copy: &CacheCopy,
) -> Result<Saved, CleanupFailure> {
    let name = copy.mark.volume();
    if let ReplaceDecision::Superseded { current } =
        promotion(volumes, &copy.mark.key, &copy.mark.job)
    {
        drop_copy(runtime, copy).await?;
        return Ok(Saved::Dropped(format!(
            "dropped: job {current}, newer, saved this cache first"
        )));
    }
    let promoted = copy.mark.promoted(copy.size);
    if let Err(error) = runtime.mark_volume(&name, &promoted).await {
        return Err(dropped_after(runtime, copy, error).await);
    }
    if let Some(listed) = volumes.iter_mut().find(|v| v.name == name) {
        listed.mark = Some(promoted);
    }
    Ok(Saved::Current)
}

/// Evicts the least recently saved caches past `budget`, never the ones this job
/// saved; a failure is a warning (`gc` evicts again).
async fn evict(
    runtime: &dyn CacheVolumes,
    events: &dyn EventSink,
    volumes: &[CacheVolume],
    budget: u64,
    copies: &[CacheCopy],
) {
    let saved: Vec<_> = copies.iter().map(|copy| copy.mark.volume()).collect();
    for volume in evictions(volumes, budget, None) {
        if saved.contains(&volume.name) {
            continue;
        }
        let message = match runtime.delete_volume(&volume.name).await {
            Ok(()) | Err(RuntimeError::NotFound { .. }) => format!(
                "evicted the cache volume {} (lxpack.cache.budget is {budget} bytes; it was the least recently saved)",
                volume.name
            ),
            Err(error) => format!(
                "could not evict the cache volume {} past lxpack.cache.budget: {error} (`lxpack gc` tries again)",
                volume.name
            ),
        };
        events.emit(Event::Warning { message });
    }
}

/// Deletes a job's copy; one already gone counts as deleted.
async fn drop_copy(runtime: &dyn CacheVolumes, copy: &CacheCopy) -> Result<(), CleanupFailure> {
    match runtime.delete_volume(&copy.mark.volume()).await {
        Ok(()) | Err(RuntimeError::NotFound { .. }) => Ok(()),
        Err(error) => Err(volume_failure(copy, error)),
    }
}

/// The failure to save `copy`, after dropping it: the cache stays what it was, and
/// nothing is left for `gc` unless the drop fails too.
async fn dropped_after(
    runtime: &dyn CacheVolumes,
    copy: &CacheCopy,
    error: RuntimeError,
) -> CleanupFailure {
    if let Err(also) = drop_copy(runtime, copy).await {
        tracing::warn!(volume = %also.name, error = %also.error, "dropping a copy that could not be saved failed too; gc removes it");
    }
    volume_failure(copy, error)
}

fn volume_failure(copy: &CacheCopy, error: RuntimeError) -> CleanupFailure {
    CleanupFailure {
        kind: ResourceKind::Volume,
        name: copy.mark.volume().to_string(),
        error: PortError::Runtime(error),
    }
}

/// The job's outcome with `failures` added, the job's own error kept.
fn merge_failures<T>(
    outcome: Result<T, WorkflowError>,
    mut failures: Vec<CleanupFailure>,
) -> Result<T, WorkflowError> {
    if failures.is_empty() {
        return outcome;
    }
    match outcome {
        Ok(_) => Err(WorkflowError::Cleanup {
            original: None,
            failures,
        }),
        Err(WorkflowError::Cleanup {
            original,
            failures: mut earlier,
        }) => {
            earlier.append(&mut failures);
            Err(WorkflowError::Cleanup {
                original,
                failures: earlier,
            })
        }
        Err(original) => Err(WorkflowError::Cleanup {
            original: Some(Box::new(original)),
            failures,
        }),
    }
}
