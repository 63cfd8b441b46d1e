//! What the sweep looks after beside job resources: standbys, cache volumes, and the
//! images that keep step holders alive.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::super::Workflows;
use super::super::cache::CachePurge;
use super::super::error::WorkflowError;
use super::super::pool::Standby;
use super::judge::Verdict;
use super::{SpareReason, Spared, SweepReport, remove};
use crate::domain::{AppKey, CacheState, InstanceName, JobId, StandbyMark, StandbyState};
use crate::events::{Event, EventSink, Step};
use crate::ports::Resource;

impl Workflows {
    /// Whether `job` published an image that still exists (listed once per sweep, in
    /// `images`); a listing that fails says yes, so nothing is removed on a doubt.
    pub(super) async fn image_of_job_exists(
        &self,
        job: &JobId,
        images: &mut Option<Option<Vec<crate::domain::Image>>>,
    ) -> bool {
        if images.is_none() {
            *images = Some(self.ports.registry.list_images().await.ok());
        }
        let alias = crate::domain::ImageAlias::for_job(job);
        match images.as_ref().and_then(Option::as_ref) {
            Some(list) => list.iter().any(|image| image.aliases.contains(&alias)),
            None => true,
        }
    }

    /// Removes the cache volumes no job needs: a copy stays while its job may run,
    /// by the same verdict as the job's instance.
    pub(super) async fn sweep_cache_volumes(
        &self,
        dry_run: bool,
        now: SystemTime,
        longest: Duration,
        lost: &[JobId],
        marked: &HashMap<JobId, SystemTime>,
    ) -> Result<CachePurge, WorkflowError> {
        let volumes = self.cache_volumes().await?;
        let mut live = HashSet::new();
        for volume in &volumes {
            let Some(mark) = &volume.mark else { continue };
            if mark.state != CacheState::Copy || live.contains(&mark.job) {
                continue;
            }
            let (verdict, _) = self
                .verdict(&mark.job, now, longest, lost, marked)
                .await
                .map_err(|source| WorkflowError::StepFailed {
                    step: Step::Cleanup,
                    instance: None,
                    source: Box::new(source),
                })?;
            if matches!(verdict, Verdict::Spare(_)) {
                live.insert(mark.job.clone());
            }
        }
        Ok(self
            .sweep_caches(volumes, dry_run, |job| live.contains(job))
            .await)
    }

    /// Retires an unclaimed standby that no deploy should get (its app's image
    /// replaced, older than its pool's max age, never ready, or already being
    /// retired), and spares one that waits. A standby of an app this store does not
    /// know may be another host's, so it goes only by age.
    pub(super) async fn sweep_standby(
        &self,
        mark: StandbyMark,
        resource: Resource,
        dry_run: bool,
        events: &dyn EventSink,
        apps: &mut HashMap<AppKey, Option<Option<JobId>>>,
        report: &mut SweepReport,
    ) -> Result<(), WorkflowError> {
        let Ok(name) = InstanceName::parse(&resource.name) else {
            report.foreign.push(resource);
            return Ok(());
        };
        let standby = Standby {
            name,
            mark,
            labels: None,
            member: resource.member.clone(),
        };
        if standby.state() == StandbyState::Retiring {
            // Its retirement was interrupted: nothing may claim it; finish it.
            if !dry_run && let Err(message) = remove(self.ports.runtime.as_ref(), &resource).await {
                events.emit(Event::Warning {
                    message: message.clone(),
                });
                report.failures.push(message);
            } else {
                report.removed.push(resource);
            }
            return Ok(());
        }
        if !apps.contains_key(&standby.mark.app) {
            let app = self.app_if_known(&standby.mark.app).await?;
            let known = app.map(|app| app.build_infos.container_image);
            apps.insert(standby.mark.app.clone(), known);
        }
        // An app this store does not know may be another host's (hosts that share a
        // daemon keep their own stores): its standbys go by age only.
        let current = match apps.get(&standby.mark.app).cloned().flatten() {
            Some(current) => current,
            None => Some(standby.mark.image.clone()),
        };
        let reason = self.stale_reason(&standby, current.as_ref());
        let Some(reason) = reason else {
            report.spared.push(Spared {
                resource,
                reason: SpareReason::Standby,
                kept_until: None,
            });
            return Ok(());
        };
        let retired = self.retire(vec![(standby, reason)], dry_run, events).await;
        if retired.retired.is_empty() {
            report.failures.extend(retired.failures);
        } else {
            report.removed.push(resource);
        }
        Ok(())
    }
}
