//! A deploy's copies are made before its instance starts, so they go into the job's
//! profile with the checkout and appear at once, on a cold start and on a claimed
//! standby alike.

use crate::domain::{
    AppKey, CacheKey, CacheMark, CacheVolume, DiskMount, ExecRequest, InstanceName, JobId,
    MountSource, Owner, current_generation,
};
use crate::events::{Event, Step};
use crate::ports::{RuntimeError, VolumeSpec};
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;

use super::JobCaches;

/// How often a copy is tried again when the generation it copies was replaced (and
/// pruned) between the listing and the copy.
const COPY_ATTEMPTS: usize = 3;

/// One job's copy of one cache, from its creation until it is saved or dropped.
#[derive(Debug, Clone)]
pub(crate) struct CacheCopy {
    /// The copy's mark (its volume, its cache, its job).
    pub(crate) mark: CacheMark,
    /// The cache had no generation: the copy is new and empty, its root the
    /// container root's until handed to the build user.
    pub(crate) fresh: bool,
    /// The bytes it holds, measured after a successful buildpack.
    pub(crate) size: Option<u64>,
}

impl JobCaches {
    /// Creates the job's own copy of each cache `module` of `app` declares, and returns
    /// their mounts. Each copy is recorded before its create is tried, so whatever
    /// fails, the job's conclusion drops exactly what may exist.
    pub(crate) async fn restore(
        &mut self,
        job: &JobContext<'_>,
        app: &AppKey,
        module: &str,
        id: &JobId,
    ) -> Result<Vec<DiskMount>, WorkflowError> {
        let (workflows, runner) = (job.workflows, &job.runner);
        let paths = workflows.settings.cache.paths_of(app, module);
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let volumes_port = workflows.volume_port()?;
        let copies = &mut self.copies;
        let list = || async {
            volumes_port
                .list_volumes()
                .await
                .map_err(|e| runner.failed(Step::RestoreCache, e))
        };
        runner
            .run(Step::RestoreCache, async {
                let mut volumes = list().await?;
                let mut mounts = Vec::with_capacity(paths.len());
                for (index, path) in paths.iter().enumerate() {
                    let key = CacheKey {
                        app: app.clone(),
                        module: module.to_owned(),
                        path: path.clone(),
                    };
                    let mark = CacheMark::copy(&key, id);
                    copies.push(CacheCopy {
                        mark: mark.clone(),
                        fresh: true,
                        size: None,
                    });
                    let mut attempt = 1;
                    let from = loop {
                        let source = generation_of(&volumes, &key);
                        let spec = VolumeSpec {
                            name: mark.volume(),
                            copy_of: source.as_ref().map(|(name, _)| name.clone()),
                            mark: mark.clone(),
                            quota: workflows.settings.cache.quota,
                        };
                        match volumes_port.create_volume(&spec).await {
                            Ok(()) => break source.map(|(_, job)| job),
                            Err(RuntimeError::NotFound { .. })
                                if source.is_some() && attempt < COPY_ATTEMPTS =>
                            {
                                attempt += 1;
                                volumes = list().await?;
                            }
                            Err(error) => return Err(runner.failed(Step::RestoreCache, error)),
                        }
                    };
                    if let Some(copy) = copies.last_mut() {
                        copy.fresh = from.is_none();
                    }
                    runner.events.emit(Event::CacheRestored {
                        path: path.clone(),
                        from,
                    });
                    mounts.push(DiskMount {
                        device: format!("lxpack-cache-{index}"),
                        source: MountSource::Volume(mark.volume()),
                        target: path.clone(),
                        read_only: false,
                        owner: None,
                    });
                }
                Ok(mounts)
            })
            .await
    }

    /// Gives the build user the root of each new, empty copy (a copy of a generation
    /// keeps the owners its files had).
    pub(crate) async fn hand_over(
        &self,
        job: &JobContext<'_>,
        instance: &InstanceName,
        owner: Owner,
    ) -> Result<(), WorkflowError> {
        let fresh: Vec<String> = self
            .copies
            .iter()
            .filter(|copy| copy.fresh)
            .map(|copy| copy.mark.key.path.to_string())
            .collect();
        if fresh.is_empty() || owner == Owner::ROOT {
            return Ok(());
        }
        let mut command = vec!["chown".to_owned(), format!("{}:{}", owner.uid, owner.gid)];
        command.extend(fresh);
        let request = ExecRequest::new(command, job.settings().timeouts.hook);
        job.runner
            .exec(job.runtime(), Step::RestoreCache, instance, &request)
            .await
    }
}

/// The current generation of `key`, by volume and job.
fn generation_of(
    volumes: &[CacheVolume],
    key: &CacheKey,
) -> Option<(crate::domain::VolumeName, JobId)> {
    let volume = current_generation(volumes, key)?;
    Some((volume.name.clone(), volume.mark.as_ref()?.job.clone()))
}
