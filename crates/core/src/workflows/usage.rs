//! What lxpack holds on the daemon, for monitoring (`lxpack metrics`): the images it
//! published, per app, and the containers jobs kept. Which image is lxpack's and which
//! container is kept (and until when) are the core's rules, so they are counted here.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::Workflows;
use super::error::{PortError, WorkflowError};
use crate::domain::{AppKey, InstanceName, JobCommand, JobId};
use crate::events::Step;
use crate::ports::ResourceKind;

/// The images lxpack published for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppImages {
    /// The app.
    pub app: AppKey,
    /// How many.
    pub count: usize,
    /// Their size together, in bytes.
    pub bytes: u64,
}

/// A container a job kept for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptContainer {
    /// The job.
    pub job: JobId,
    /// Its command.
    pub command: JobCommand,
    /// The instance.
    pub instance: InstanceName,
    /// When it expires.
    pub until: SystemTime,
    /// Whether it has expired at the time asked about (the next sweep removes it).
    pub expired: bool,
}

impl Workflows {
    /// The images lxpack published (those whose properties name an app and a job),
    /// counted per app.
    ///
    /// # Errors
    /// `StepFailed` (step `list images`) when the images cannot be listed.
    pub async fn images_by_app(&self) -> Result<Vec<AppImages>, WorkflowError> {
        let images =
            self.ports
                .registry
                .list_images()
                .await
                .map_err(|e| WorkflowError::StepFailed {
                    step: Step::ListImages,
                    instance: None,
                    source: Box::new(PortError::Registry(e)),
                })?;
        let mut by_app: BTreeMap<AppKey, AppImages> = BTreeMap::new();
        for image in images {
            let Some(provenance) = image.provenance() else {
                continue;
            };
            let entry = by_app
                .entry(provenance.app.clone())
                .or_insert_with(|| AppImages {
                    app: provenance.app,
                    count: 0,
                    bytes: 0,
                });
            entry.count += 1;
            entry.bytes = entry.bytes.saturating_add(image.size_bytes);
        }
        Ok(by_app.into_values().collect())
    }

    /// The containers jobs kept that still exist, with their expiry as of now (by the
    /// workflows' clock): an instance carrying lxpack's labels whose job's record, or
    /// whose own mark, says it is kept.
    ///
    /// # Errors
    /// `StepFailed` (step `shell`) when the daemon or the history cannot be read.
    pub async fn kept_containers(&self) -> Result<Vec<KeptContainer>, WorkflowError> {
        let now = self.clock.now();
        let failed = |source: PortError| WorkflowError::StepFailed {
            step: Step::Shell,
            instance: None,
            source: Box::new(source),
        };
        let resources = self
            .ports
            .runtime
            .list_resources()
            .await
            .map_err(|e| failed(PortError::Runtime(e)))?;
        let mut kept = Vec::new();
        for resource in resources {
            let (ResourceKind::Instance, Some(labels)) = (resource.kind, &resource.labels) else {
                continue;
            };
            let Ok(instance) = InstanceName::parse(&resource.name) else {
                continue;
            };
            let record = self
                .ports
                .jobs
                .get_job(&labels.job)
                .await
                .map_err(|e| failed(PortError::History(e)))?;
            let recorded = record
                .and_then(|record| record.kept)
                .filter(|kept| kept.instance == instance)
                .map(|kept| kept.until);
            let Some(until) = recorded.into_iter().chain(resource.kept_until).max() else {
                continue;
            };
            kept.push(KeptContainer {
                job: labels.job.clone(),
                command: labels.command,
                instance,
                until,
                expired: now >= until,
            });
        }
        Ok(kept)
    }
}
