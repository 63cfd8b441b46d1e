//! A cache is a custom volume, which lives on one cluster member, and a container
//! mounts only its own member's volumes. So a deploy that keeps caches on a cluster
//! must know its member before anything is made: the target must name one
//! ([`volumes_reach_instances`]). Otherwise the deploy is refused at once, as a
//! config error, rather than failing at the launch on most members.

use crate::domain::{AppKey, PlacementTarget, volumes_reach_instances};
use crate::events::Step;
use crate::workflows::Workflows;
use crate::workflows::error::{PortError, WorkflowError};

impl Workflows {
    /// Refuses a deploy of `module` of `app` that keeps caches on a cluster where its
    /// container could go to another member than its caches. Asks the daemon for its
    /// members only when the module keeps caches and no member is named.
    ///
    /// # Errors
    /// [`WorkflowError::CachesNeedOneMember`]; `StepFailed` (restore cache) when the
    /// members cannot be listed.
    pub(crate) async fn check_cache_placement(
        &self,
        app: &AppKey,
        module: &str,
    ) -> Result<(), WorkflowError> {
        let target = self.settings.placement.as_ref();
        if self.settings.cache.paths_of(app, module).is_empty()
            || matches!(target, Some(PlacementTarget::Member(_)))
        {
            return Ok(());
        }
        // A runtime without cluster membership is taken as not clustered.
        let Some(member_port) = self.member_port() else {
            return Ok(());
        };
        let members =
            member_port
                .cluster_members()
                .await
                .map_err(|error| WorkflowError::StepFailed {
                    step: Step::RestoreCache,
                    instance: None,
                    source: Box::new(PortError::Runtime(error)),
                })?;
        if volumes_reach_instances(target, &members) {
            return Ok(());
        }
        Err(WorkflowError::CachesNeedOneMember {
            app: app.clone(),
            module: module.to_owned(),
            target: target.cloned().map(Box::new),
            members: members.into_iter().map(|m| m.name).collect(),
        })
    }
}
