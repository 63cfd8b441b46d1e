//! Crashed or killed runs leave instances and profiles behind. Each carries the labels
//! of the job that made it, so the sweep removes exactly what lxpack made and no live
//! job still uses, and never anything else, whatever its name: on a shared host or a
//! shared daemon, other people's containers are not ours to judge.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

mod held;
mod judge;
mod report;

use judge::{Verdict, kept_until_by_job};
pub use report::{SpareReason, Spared, SweepReport};

use super::Workflows;
use super::error::{PortError, WorkflowError};
use super::mechanics::release::Look;
use crate::domain::{AppKey, ClusterMember, InstanceName, JobId, NAME_PREFIX, ProfileName};
use crate::events::{Event, EventSink, Step};
use crate::ports::{Resource, ResourceKind, RuntimeError};

/// What one sweep knows while it judges resources one by one.
struct Pass<'a> {
    dry_run: bool,
    events: &'a dyn EventSink,
    /// The workflows' clock, read once.
    now: SystemTime,
    /// The longest any job can last under the settings.
    longest: Duration,
    /// Until when each job's kept instances are kept.
    marked: HashMap<JobId, SystemTime>,
    /// Each app's current image job, read once (`sweep_standby`).
    apps: HashMap<AppKey, Option<Option<JobId>>>,
    /// The registry's images, listed once (`image_of_job_exists`).
    images: Option<Option<Vec<crate::domain::Image>>>,
}

/// A listing the sweep needs failed: nothing can be judged.
fn listing_failed(source: PortError) -> WorkflowError {
    WorkflowError::StepFailed {
        step: Step::Cleanup,
        instance: None,
        source: Box::new(source),
    }
}

impl Spared {
    fn for_reason(resource: Resource, reason: SpareReason) -> Self {
        Self {
            resource,
            reason,
            kept_until: None,
        }
    }
}

impl Workflows {
    /// Removes the instances and profiles lxpack made whose job is over. Instances go
    /// before profiles, since a profile in use cannot be deleted.
    ///
    /// A resource is lxpack's only when it carries valid labels; one merely named like
    /// lxpack's is reported in `foreign` and left alone. Of lxpack's, those whose job
    /// the history records as ended go. Those whose job is recorded as running stay
    /// while the job may run: when the [`RunnerProbe`](crate::ports::RunnerProbe) is
    /// sure the job's process is gone, or (the probe cannot see it: another host) the
    /// job's lease is older than [`LEASE_EXPIRY`](crate::domain::LEASE_EXPIRY), or (a
    /// record without a lease) the job has been running, by the workflows' clock, for
    /// longer than any job can last under these settings' limits
    /// ([`Timeouts::longest_job`](super::Timeouts::longest_job)), the job is recorded
    /// as lost and they go. Those whose job the history does not know (made from
    /// another host sharing the daemon) stay while that job is younger than the
    /// longest a job can last; in a history several hosts share
    /// ([`JobHistory::is_shared`](crate::ports::JobHistory::is_shared)), which knows
    /// every job of theirs, only for one lease. On a cluster, what a member the
    /// cluster cannot reach holds stays, and the member is reported.
    ///
    /// # Errors
    /// `StepFailed` when the resources or the jobs cannot be listed.
    pub async fn sweep(
        &self,
        dry_run: bool,
        events: &dyn EventSink,
    ) -> Result<SweepReport, WorkflowError> {
        if !dry_run {
            self.confirm_releases(Look::All, events).await;
        }
        let mut resources = (self.ports.runtime.list_resources().await)
            .map_err(|e| listing_failed(PortError::Runtime(e)))?;
        let mut report = SweepReport {
            unreachable_members: self.unreachable_members(events).await?,
            ..SweepReport::default()
        };
        let mut pass = Pass {
            dry_run,
            events,
            now: self.clock.now(),
            longest: (self.settings.timeouts).longest_job(self.settings.provisioners.len()),
            marked: kept_until_by_job(&resources),
            apps: HashMap::new(),
            images: None,
        };
        self.record_lost_jobs(dry_run, pass.now, pass.longest, events, &mut report)
            .await
            .map_err(listing_failed)?;
        // Instances first: a profile is judged after the instance that uses it.
        resources.sort_by(|a, b| {
            (a.kind == ResourceKind::Profile, &a.name)
                .cmp(&(b.kind == ResourceKind::Profile, &b.name))
        });
        for resource in resources {
            self.sweep_resource(resource, &mut pass, &mut report)
                .await?;
        }
        report.caches = self
            .sweep_cache_volumes(
                dry_run,
                pass.now,
                pass.longest,
                &report.lost_jobs,
                &pass.marked,
            )
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

    /// The cluster members the cluster cannot reach, each reported as a warning; none
    /// off a cluster, or on a runtime without cluster membership.
    async fn unreachable_members(
        &self,
        events: &dyn EventSink,
    ) -> Result<Vec<ClusterMember>, WorkflowError> {
        let Some(port) = self.member_port() else {
            return Ok(Vec::new());
        };
        let members =
            (port.cluster_members().await).map_err(|e| listing_failed(PortError::Runtime(e)))?;
        let unreachable: Vec<ClusterMember> = members
            .into_iter()
            .filter(|member| !member.is_reachable())
            .collect();
        for member in &unreachable {
            events.emit(Event::Warning {
                message: format!(
                    "cluster member {} is {} ({}): what it holds is left for a later gc",
                    member.name,
                    member.status.to_lowercase(),
                    member.message
                ),
            });
        }
        Ok(unreachable)
    }

    /// Judges one resource: spared (and why), removed, or not lxpack's.
    async fn sweep_resource(
        &self,
        resource: Resource,
        pass: &mut Pass<'_>,
        report: &mut SweepReport,
    ) -> Result<(), WorkflowError> {
        // What an unreachable member holds is not judged (the cluster cannot even
        // read an instance's labels there): what may be lxpack's is reported.
        if on_unreachable_member(&resource, report) {
            if resource.name.starts_with(NAME_PREFIX) {
                report
                    .spared
                    .push(Spared::for_reason(resource, SpareReason::MemberUnreachable));
            }
            return Ok(());
        }
        if let (Some(mark), None) = (&resource.standby, &resource.labels) {
            let mark = mark.clone();
            let (dry_run, events) = (pass.dry_run, pass.events);
            return (self.sweep_standby(mark, resource, dry_run, events, &mut pass.apps, report))
                .await;
        }
        let Some(labels) = &resource.labels else {
            if resource.name.starts_with(NAME_PREFIX) {
                report.foreign.push(resource);
            }
            return Ok(());
        };
        if resource.kind == ResourceKind::Instance
            && !resource.steps.is_empty()
            && self
                .image_of_job_exists(&labels.job, &mut pass.images)
                .await
        {
            report
                .spared
                .push(Spared::for_reason(resource, SpareReason::StepSnapshots));
            return Ok(());
        }
        let (verdict, kept_until) = self
            .verdict(
                &labels.job,
                pass.now,
                pass.longest,
                &report.lost_jobs,
                &pass.marked,
            )
            .await
            .map_err(listing_failed)?;
        if let Verdict::Spare(reason) = verdict {
            report.spared.push(Spared {
                resource,
                reason,
                kept_until,
            });
            return Ok(());
        }
        if !pass.dry_run
            && let Err(message) = remove(self.ports.runtime.as_ref(), &resource).await
        {
            pass.events.emit(Event::Warning {
                message: message.clone(),
            });
            report.failures.push(message);
            return Ok(());
        }
        report.removed.push(resource);
        Ok(())
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
