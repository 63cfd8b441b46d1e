//! The fake daemon's instance snapshots: what a real daemon does for buildimage's step
//! snapshots (take one, launch a copy of one, keep the instance as their holder).

use lxpack_core::domain::{InstanceName, LaunchSpec, SnapshotSource, StepKey};
use lxpack_core::ports::RuntimeError;

use crate::daemon::{DEFAULT_PROFILE, Daemon, InstanceStatus, instance_from};

impl Daemon {
    pub(crate) fn snapshot_instance(
        &mut self,
        name: &InstanceName,
        snapshot: &str,
    ) -> Result<(), RuntimeError> {
        let instance = self.instance_mut(name)?;
        if instance
            .snapshots
            .iter()
            .any(|(taken, _)| taken == snapshot)
        {
            return Err(RuntimeError::AlreadyExists {
                what: "snapshot",
                name: format!("{name}/{snapshot}"),
            });
        }
        let files = instance.files.clone();
        instance.snapshots.push((snapshot.to_owned(), files));
        Ok(())
    }

    /// A new instance holding the files of `from`, with the spec's own profile and
    /// labels, from the image its source was made from.
    pub(crate) fn create_from_snapshot(
        &mut self,
        spec: &LaunchSpec,
        from: &SnapshotSource,
        status: InstanceStatus,
    ) -> Result<(), RuntimeError> {
        let missing = || RuntimeError::NotFound {
            what: "snapshot",
            name: format!("{}/{}", from.instance, from.snapshot),
        };
        let source = self
            .instances
            .get(from.instance.as_str())
            .ok_or_else(missing)?;
        let files = source
            .snapshots
            .iter()
            .find(|(name, _)| *name == from.snapshot)
            .map(|(_, files)| files.clone())
            .ok_or_else(missing)?;
        let mut instance = instance_from(spec, source.source.clone(), status);
        instance.files = files;
        instance.member = self.place();
        self.instances.insert(spec.name.to_string(), instance);
        Ok(())
    }

    pub(crate) fn keep_as_step_holder(
        &mut self,
        name: &InstanceName,
        keys: &[StepKey],
    ) -> Result<(), RuntimeError> {
        let instance = self.instance_mut(name)?;
        instance.profiles.retain(|p| p == DEFAULT_PROFILE);
        instance.steps = keys.to_vec();
        Ok(())
    }
}
