//! The fake daemon's storage volumes: what a real daemon's custom volumes do for
//! caches (copy, mark, delete, usage, refusal while mounted), with files a test can
//! write and read, so a workflow test can follow a cache from job to job.

use std::collections::BTreeMap;

use lxpack_core::domain::{CacheMark, CacheVolume, MountSource, VolumeName};
use lxpack_core::ports::{RuntimeError, VolumeSpec};

use crate::daemon::Daemon;

/// A volume of the fake daemon, as a test can inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeVolume {
    /// Its name.
    pub name: VolumeName,
    /// Its mark.
    pub mark: CacheMark,
    /// Its quota, in bytes.
    pub quota: Option<u64>,
    /// The volume it was copied from.
    pub copied_from: Option<VolumeName>,
    /// Its files, by path relative to its root.
    pub files: BTreeMap<String, Vec<u8>>,
}

fn not_found(name: &VolumeName) -> RuntimeError {
    RuntimeError::NotFound {
        what: "volume",
        name: name.to_string(),
    }
}

impl Daemon {
    pub(crate) fn create_volume(&mut self, spec: &VolumeSpec) -> Result<(), RuntimeError> {
        if self.volumes.contains_key(spec.name.as_str()) {
            return Err(RuntimeError::AlreadyExists {
                what: "volume",
                name: spec.name.to_string(),
            });
        }
        let files = match &spec.copy_of {
            None => BTreeMap::new(),
            Some(source) => self
                .volumes
                .get(source.as_str())
                .ok_or_else(|| not_found(source))?
                .files
                .clone(),
        };
        self.volumes.insert(
            spec.name.to_string(),
            FakeVolume {
                name: spec.name.clone(),
                mark: spec.mark.clone(),
                quota: spec.quota,
                copied_from: spec.copy_of.clone(),
                files,
            },
        );
        Ok(())
    }

    pub(crate) fn mark_volume(
        &mut self,
        name: &VolumeName,
        mark: &CacheMark,
    ) -> Result<(), RuntimeError> {
        let volume = self
            .volumes
            .get_mut(name.as_str())
            .ok_or_else(|| not_found(name))?;
        volume.mark = mark.clone();
        Ok(())
    }

    pub(crate) fn delete_volume(&mut self, name: &VolumeName) -> Result<(), RuntimeError> {
        if !self.volumes.contains_key(name.as_str()) {
            return Err(not_found(name));
        }
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(RuntimeError::InUse {
                what: "volume",
                name: name.to_string(),
            });
        }
        self.volumes.remove(name.as_str());
        Ok(())
    }

    pub(crate) fn volume_usage(&self, name: &VolumeName) -> Result<Option<u64>, RuntimeError> {
        let volume = self
            .volumes
            .get(name.as_str())
            .ok_or_else(|| not_found(name))?;
        if !self.volume_usage_known {
            return Ok(None);
        }
        Ok(Some(
            volume
                .files
                .values()
                .map(|bytes| u64::try_from(bytes.len()).unwrap_or(u64::MAX))
                .sum(),
        ))
    }

    pub(crate) fn cache_volumes(&self) -> Vec<CacheVolume> {
        self.volumes
            .values()
            .map(|volume| CacheVolume {
                name: volume.name.clone(),
                mark: Some(volume.mark.clone()),
                used_by: self.volume_users(&volume.name),
                member: None,
            })
            .collect()
    }

    /// The instances whose profiles mount `name`.
    pub(crate) fn volume_users(&self, name: &VolumeName) -> Vec<String> {
        self.instances
            .values()
            .filter(|instance| {
                instance.profiles.iter().any(|profile| {
                    self.profiles.get(profile).is_some_and(|spec| {
                        spec.mounts
                            .iter()
                            .any(|m| m.source == MountSource::Volume(name.clone()))
                    })
                })
            })
            .map(|instance| instance.name.to_string())
            .collect()
    }
}
