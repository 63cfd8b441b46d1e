//! Crashed or killed runs leave instances and profiles behind. Each carries the labels
//! of the job that made it, so the sweep removes exactly what lxpack made and no live
//! job still uses, and never anything else, whatever its name: on a shared host or a
//! shared daemon, other people's containers are not ours to judge.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::Workflows;
use super::cache::CachePurge;
use super::error::{PortError, WorkflowError};
use super::pool::Standby;
use super::release::{Look, RELEASE_GRACE};
use crate::domain::text::text_enum;
use crate::domain::{
    AppKey, CacheState, ClusterMember, InstanceName, JobId, JobStatus, NAME_PREFIX, ProfileName,
    ReleaseState, StandbyMark, StandbyState,
};
use crate::events::{Event, EventSink, Step};
use crate::ports::{Resource, ResourceKind, RuntimeError};

text_enum! {
    /// Why the sweep left one of lxpack's resources in place.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum SpareReason as "spare reason" {
        /// Its job is recorded as running.
        Running = "running",
        /// This history does not know its job, which started recently enough to be
        /// running still, on another host that shares the daemon with its own history.
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
    /// Jobs the history lists as running for longer than any job can last: their
    /// process died without saying (killed, crashed, host rebooted). They are
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

/// What the sweep does with one resource of lxpack's.
enum Verdict {
    Remove,
    Spare(SpareReason),
}

/// Until when each job's resources are kept: the latest of what its record says and
/// what its instances are marked with (a job from another host has no record here).
fn kept_until_by_job(resources: &[Resource]) -> HashMap<JobId, SystemTime> {
    let mut kept = HashMap::new();
    for resource in resources {
        if let (Some(labels), Some(until)) = (&resource.labels, resource.kept_until) {
            kept.entry(labels.job.clone())
                .and_modify(|known: &mut SystemTime| *known = (*known).max(until))
                .or_insert(until);
        }
    }
    kept
}

impl Workflows {
    /// Removes the instances and profiles lxpack made whose job is over. Instances go
    /// before profiles, since a profile in use cannot be deleted.
    ///
    /// A resource is lxpack's only when it carries valid labels; one merely named like
    /// lxpack's is reported in `foreign` and left alone. Of lxpack's, those whose job
    /// the history records as ended go. Those whose job is recorded as running stay,
    /// unless it has been running, by the workflows' clock, for longer than any job can
    /// last under these settings' limits
    /// ([`Timeouts::longest_job`](super::Timeouts::longest_job)): then its process is
    /// gone, the job is recorded as lost, and they go; so do they at once when the
    /// [`RunnerProbe`](crate::ports::RunnerProbe) is sure the job's process is gone.
    /// Those whose job the history does not know (made from another host sharing the
    /// daemon) stay while that job is younger than the longest a job can last. On a
    /// cluster, what a member the cluster cannot reach holds stays, and the member is
    /// reported.
    ///
    /// # Errors
    /// `StepFailed` when the resources or the jobs cannot be listed.
    pub async fn sweep(
        &self,
        dry_run: bool,
        events: &dyn EventSink,
    ) -> Result<SweepReport, WorkflowError> {
        let now = self.clock.now();
        let failed = |source: PortError| WorkflowError::StepFailed {
            step: Step::Cleanup,
            instance: None,
            source: Box::new(source),
        };
        let runtime = self.ports.runtime.as_ref();
        if !dry_run {
            self.confirm_releases(Look::All, events).await;
        }
        let mut resources = runtime
            .list_resources()
            .await
            .map_err(|e| failed(PortError::Runtime(e)))?;
        let longest = self
            .settings
            .timeouts
            .longest_job(self.settings.provisioners.len());
        let mut report = SweepReport {
            unreachable_members: match self.member_port() {
                Some(members) => members
                    .cluster_members()
                    .await
                    .map_err(|e| failed(PortError::Runtime(e)))?,
                None => Vec::new(),
            }
            .into_iter()
            .filter(|member| !member.is_reachable())
            .collect(),
            ..SweepReport::default()
        };
        for member in &report.unreachable_members {
            events.emit(Event::Warning {
                message: format!(
                    "cluster member {} is {} ({}): what it holds is left for a later gc",
                    member.name,
                    member.status.to_lowercase(),
                    member.message
                ),
            });
        }
        self.record_lost_jobs(dry_run, now, longest, events, &mut report)
            .await
            .map_err(failed)?;
        let marked = kept_until_by_job(&resources);
        let mut apps = HashMap::new();
        let mut images = None;
        resources.sort_by(|a, b| {
            (a.kind == ResourceKind::Profile, &a.name)
                .cmp(&(b.kind == ResourceKind::Profile, &b.name))
        });
        for resource in resources {
            // What an unreachable member holds is not judged (the cluster cannot even
            // read an instance's labels there): what may be lxpack's is reported.
            if on_unreachable_member(&resource, &report) {
                if resource.name.starts_with(NAME_PREFIX) {
                    report.spared.push(Spared {
                        resource,
                        reason: SpareReason::MemberUnreachable,
                        kept_until: None,
                    });
                }
                continue;
            }
            if let (Some(mark), None) = (&resource.standby, &resource.labels) {
                self.sweep_standby(
                    mark.clone(),
                    resource,
                    dry_run,
                    events,
                    &mut apps,
                    &mut report,
                )
                .await?;
                continue;
            }
            let Some(labels) = &resource.labels else {
                if resource.name.starts_with(NAME_PREFIX) {
                    report.foreign.push(resource);
                }
                continue;
            };
            if resource.kind == ResourceKind::Instance
                && !resource.steps.is_empty()
                && self.image_of_job_exists(&labels.job, &mut images).await
            {
                report.spared.push(Spared {
                    resource,
                    reason: SpareReason::StepSnapshots,
                    kept_until: None,
                });
                continue;
            }
            let (verdict, kept_until) = self
                .verdict(&labels.job, now, longest, &report.lost_jobs, &marked)
                .await
                .map_err(failed)?;
            if let Verdict::Spare(reason) = verdict {
                report.spared.push(Spared {
                    resource,
                    reason,
                    kept_until,
                });
                continue;
            }
            if !dry_run && let Err(message) = remove(runtime, &resource).await {
                events.emit(Event::Warning {
                    message: message.clone(),
                });
                report.failures.push(message);
                continue;
            }
            report.removed.push(resource);
        }
        report.caches = self
            .sweep_cache_volumes(dry_run, now, longest, &report.lost_jobs, &marked)
            .await?;
        for failure in &report.caches.failures {
            events.emit(Event::Warning {
                message: failure.clone(),
            });
        }
        report
            .failures
            .extend(report.caches.failures.iter().cloned());
        Ok(report)
    }

    /// Whether `job` published an image that still exists (listed once per sweep, in
    /// `images`); a listing that fails says yes, so nothing is removed on a doubt.
    async fn image_of_job_exists(
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
    async fn sweep_cache_volumes(
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
    async fn sweep_standby(
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

    /// Records as lost the jobs recorded as running for longer than `longest`.
    async fn record_lost_jobs(
        &self,
        dry_run: bool,
        now: SystemTime,
        longest: Duration,
        events: &dyn EventSink,
        report: &mut SweepReport,
    ) -> Result<(), PortError> {
        let history = self.ports.jobs.as_ref();
        let running = history.running_jobs().await.map_err(PortError::History)?;
        for mut job in running {
            let age = now.duration_since(job.started_at).unwrap_or_default();
            let gone = job
                .runner
                .as_ref()
                .filter(|runner| self.runners.is_alive(runner) == Some(false));
            let message = if let Some(runner) = gone {
                format!(
                    "job {} is recorded as running, but its process ({} on {}) is gone: it \
                     is lost and its leftovers go",
                    job.id, runner.pid, runner.host
                )
            } else if age > longest {
                format!(
                    "job {} is recorded as running since {} h ago, longer than any job can \
                     last with these limits ({} h): its process is gone, so it is lost and \
                     its leftovers go",
                    job.id,
                    age.as_secs() / 3600,
                    longest.as_secs().div_ceil(3600)
                )
            } else {
                continue;
            };
            events.emit(Event::Warning { message });
            report.lost_jobs.push(job.id.clone());
            if !dry_run {
                job.end(
                    JobStatus::Lost,
                    Some("its process ended without recording how the job ended".into()),
                    now,
                );
                history.record_job(&job).await.map_err(PortError::History)?;
            }
        }
        Ok(())
    }

    /// What to do with a resource of `job`, and, when it is kept, until when. A kept
    /// job's resources stay until the later of its record's and its marks' expiry,
    /// then go like any ended job's.
    async fn verdict(
        &self,
        job: &JobId,
        now: SystemTime,
        longest: Duration,
        lost: &[JobId],
        marked: &HashMap<JobId, SystemTime>,
    ) -> Result<(Verdict, Option<SystemTime>), PortError> {
        if lost.contains(job) {
            return Ok((Verdict::Remove, None));
        }
        let record = self
            .ports
            .jobs
            .get_job(job)
            .await
            .map_err(PortError::History)?;
        let kept_until = record
            .as_ref()
            .and_then(|record| record.kept.as_ref().map(|kept| kept.until))
            .into_iter()
            .chain(marked.get(job).copied())
            .max();
        if let Some(until) = kept_until.filter(|until| now < *until) {
            return Ok((Verdict::Spare(SpareReason::Kept), Some(until)));
        }
        let releasing = record.as_ref().is_some_and(|record| {
            let pending = record
                .release
                .as_ref()
                .is_some_and(|release| release.state == ReleaseState::Pending);
            let ended = record.ended_at.unwrap_or(record.started_at);
            pending && now.duration_since(ended).unwrap_or_default() <= RELEASE_GRACE
        });
        let verdict = match record {
            _ if releasing => Verdict::Spare(SpareReason::Releasing),
            Some(record) if record.status == JobStatus::Running => {
                Verdict::Spare(SpareReason::Running)
            }
            Some(_) => Verdict::Remove,
            None => {
                let started =
                    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(job.unix_seconds()));
                if now.duration_since(started).unwrap_or_default() <= longest {
                    Verdict::Spare(SpareReason::UnknownJob)
                } else {
                    Verdict::Remove
                }
            }
        };
        Ok((verdict, None))
    }
}

/// Whether `resource` is an instance on a member the cluster cannot reach, or the
/// profile of one (they share the name), which that instance still uses.
fn on_unreachable_member(resource: &Resource, report: &SweepReport) -> bool {
    let member_down = resource.member.as_ref().is_some_and(|member| {
        report
            .unreachable_members
            .iter()
            .any(|down| &down.name == member)
    });
    member_down
        || (resource.kind == ResourceKind::Profile
            && report.spared.iter().any(|spared| {
                spared.reason == SpareReason::MemberUnreachable
                    && spared.resource.name == resource.name
            }))
}

/// Deletes `resource`; one already gone counts as removed.
async fn remove(
    runtime: &dyn crate::ports::ContainerRuntime,
    resource: &Resource,
) -> Result<(), String> {
    let result = match resource.kind {
        ResourceKind::Instance => match InstanceName::parse(&resource.name) {
            Ok(name) => runtime.delete_instance(&name).await,
            Err(error) => return Err(format!("could not remove instance: {error}")),
        },
        ResourceKind::Profile => match ProfileName::parse(&resource.name) {
            Ok(name) => runtime.delete_profile(&name).await,
            Err(error) => return Err(format!("could not remove profile: {error}")),
        },
        // Volumes are judged by their cache marks (`sweep_caches`), never listed here.
        ResourceKind::Volume => return Ok(()),
    };
    match result {
        Ok(()) | Err(RuntimeError::NotFound { .. }) => Ok(()),
        Err(error) => Err(format!(
            "could not remove {} {}: {error}",
            resource.kind, resource.name
        )),
    }
}
