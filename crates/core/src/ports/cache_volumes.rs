//! The storage volumes that hold deploys' dependency caches. Every cache rule
//! (generations, promotion, eviction) is the core's; this port only creates, marks,
//! measures and deletes volumes.

use async_trait::async_trait;

use super::RuntimeError;
use crate::domain::{CacheMark, CacheVolume, VolumeName};

/// A cache volume to create: empty, or a copy of another (copy-on-write where the
/// daemon's storage can).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// Its name (the mark's [`CacheMark::volume`]).
    pub name: VolumeName,
    /// The volume to copy; `None` for an empty one.
    pub copy_of: Option<VolumeName>,
    /// Its mark.
    pub mark: CacheMark,
    /// The most it may hold, in bytes, where the daemon's storage can enforce it.
    pub quota: Option<u64>,
}

/// Creates, lists, marks, measures and deletes cache volumes.
#[async_trait]
pub trait CacheVolumes: Send + Sync {
    /// Lists the storage volumes where the runtime keeps caches, each with its cache
    /// mark when it carries a valid one ([`CacheMark::read`]). Nothing is filtered:
    /// the workflows decide what is lxpack's.
    ///
    /// # Errors
    /// `Unreachable` when the daemon cannot be reached.
    async fn list_volumes(&self) -> Result<Vec<CacheVolume>, RuntimeError>;

    /// Creates a cache volume, empty or as a copy of `spec.copy_of`, with its mark and
    /// quota; mounted through a [`MountSource::Volume`](crate::domain::MountSource)
    /// disk.
    ///
    /// # Errors
    /// `AlreadyExists` when a volume of that name exists; `NotFound` when the volume
    /// to copy is gone.
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<(), RuntimeError>;

    /// Replaces a cache volume's mark (a copy made current).
    ///
    /// # Errors
    /// `NotFound` when it is gone.
    async fn mark_volume(&self, name: &VolumeName, mark: &CacheMark) -> Result<(), RuntimeError>;

    /// Deletes a cache volume.
    ///
    /// # Errors
    /// `NotFound` when it is gone; `InUse` while an instance (or a profile) mounts it.
    async fn delete_volume(&self, name: &VolumeName) -> Result<(), RuntimeError>;

    /// The bytes a volume holds, when the daemon's storage can tell (btrfs, zfs, lvm:
    /// yes; a dir pool: `None`).
    ///
    /// # Errors
    /// `NotFound` when it is gone.
    async fn volume_usage(&self, name: &VolumeName) -> Result<Option<u64>, RuntimeError>;
}
