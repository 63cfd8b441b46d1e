//! Caches are custom storage volumes, kept in the pool of the instances' root disk
//! (so a copy is a copy-on-write snapshot wherever that pool's driver can make one:
//! btrfs, zfs, lvm-thin; a dir pool copies the files). The core's cache mark is kept
//! in `user.` config keys, as instance labels are.

use lxpack_core::domain::{CacheMark, CacheVolume, MemberName, VolumeName};
use lxpack_core::ports::{RuntimeError, VolumeSpec};

use crate::client::LxdClient;
use crate::errors::{CallError, runtime_error};
use crate::reply::{Profile, Volume, VolumeState};
use crate::wire::{self, cache_mark_of};

/// How long copying a volume may take: on a dir pool it copies every file.
const COPY_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The name an instance or profile URL in `used_by` ends with, kind first
/// (`/1.0/instances/web?project=p` is `instance web`).
fn user_of(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    let kind = if path.contains("/profiles/") {
        "profile"
    } else {
        "instance"
    };
    format!("{kind} {}", path.rsplit('/').next().unwrap_or(path))
}

/// A listed volume, as the core reads it.
pub(crate) fn cache_volume(volume: &Volume) -> CacheVolume {
    CacheVolume {
        name: VolumeName::new(volume.name.clone()),
        mark: cache_mark_of(&volume.config),
        used_by: volume.used_by.iter().map(|url| user_of(url)).collect(),
        member: crate::reply::member_of(&volume.location).and_then(|m| MemberName::parse(m).ok()),
    }
}

impl LxdClient {
    /// The pool caches live in: the root disk's pool of the last base profile that
    /// has a root disk, read once per client.
    pub(crate) async fn cache_pool(&self) -> Result<&str, RuntimeError> {
        self.inner_cache_pool()
            .get_or_try_init(|| async {
                let mut pool = None;
                for name in &self.options().base_profiles {
                    let profile: Profile = self.sync(self.api().profile(name)).await.map_err(|e| {
                        runtime_error(&format!("read profile {name}"), "profile", name, e)
                    })?;
                    if let Some(found) = profile.root_disk_pool() {
                        pool = Some(found.to_owned());
                    }
                }
                pool.ok_or_else(|| RuntimeError::Unsupported {
                    what: format!(
                        "no root disk in the base profiles ({}): lxpack keeps caches in the root disk's storage pool",
                        self.options().base_profiles.join(", ")
                    ),
                    hint: "give the base profile a root disk (`lxc profile device add default root disk path=/ pool=default`)".to_owned(),
                })
            })
            .await
            .map(String::as_str)
    }

    pub(crate) async fn volumes(&self) -> Result<Vec<CacheVolume>, RuntimeError> {
        let pool = self.cache_pool().await?;
        let volumes: Vec<Volume> = self
            .sync(self.api().volumes(pool))
            .await
            .map_err(|e| runtime_error("list the cache volumes", "pool", pool, e))?;
        Ok(volumes.iter().map(cache_volume).collect())
    }

    pub(crate) async fn new_volume(&self, spec: &VolumeSpec) -> Result<(), RuntimeError> {
        let pool = self.cache_pool().await?;
        let operation = match &spec.copy_of {
            Some(source) => format!("copy cache volume {source} to {}", spec.name),
            None => format!("create cache volume {}", spec.name),
        };
        let inherited = match &spec.copy_of {
            Some(source) => {
                let volume: Volume = self
                    .sync(self.api().volume(pool, source.as_str()))
                    .await
                    .map_err(|e| runtime_error(&operation, "volume", source.as_str(), e))?;
                volume.config
            }
            None => std::collections::BTreeMap::new(),
        };
        let request = self
            .api()
            .create_volume(pool, &wire::volume(spec, pool, &inherited));
        match self.operation(request, COPY_LIMIT).await {
            Ok(_) => Ok(()),
            // A missing source is the volume to copy, not the one to create.
            Err(error) if error.is_gone() => Err(RuntimeError::NotFound {
                what: "volume",
                name: spec.copy_of.as_ref().unwrap_or(&spec.name).to_string(),
            }),
            Err(error) => Err(runtime_error(
                &operation,
                "volume",
                spec.name.as_str(),
                error,
            )),
        }
    }

    pub(crate) async fn remark_volume(
        &self,
        name: &VolumeName,
        mark: &CacheMark,
    ) -> Result<(), RuntimeError> {
        let pool = self.cache_pool().await?;
        let request =
            self.api()
                .patch_volume_config(pool, name.as_str(), &wire::cache_config(mark));
        self.ack(request).await.map_err(|e| {
            runtime_error(
                &format!("mark cache volume {name}"),
                "volume",
                name.as_str(),
                e,
            )
        })
    }

    pub(crate) async fn remove_volume(&self, name: &VolumeName) -> Result<(), RuntimeError> {
        let pool = self.cache_pool().await?;
        let request = self.api().delete_volume(pool, name.as_str());
        self.operation(request, COPY_LIMIT)
            .await
            .map(drop)
            .map_err(|e| {
                runtime_error(
                    &format!("delete cache volume {name}"),
                    "volume",
                    name.as_str(),
                    e,
                )
            })
    }

    pub(crate) async fn usage(&self, name: &VolumeName) -> Result<Option<u64>, RuntimeError> {
        let pool = self.cache_pool().await?;
        match self
            .sync::<VolumeState>(self.api().volume_state(pool, name.as_str()))
            .await
        {
            Ok(state) => Ok(state.usage.map(|usage| usage.used)),
            // LXD's dir driver answers "Not supported"; Incus's, a null usage.
            Err(CallError::Daemon(error))
                if error.message.eq_ignore_ascii_case("not supported") =>
            {
                Ok(None)
            }
            // LXD 5.0 in a cluster answers "not found" for a volume held by another
            // member than the one asked, with or without `?target=`: the volume is
            // there, its usage unknown.
            Err(error)
                if error.is_gone()
                    && self
                        .sync::<Volume>(self.api().volume(pool, name.as_str()))
                        .await
                        .is_ok() =>
            {
                Ok(None)
            }
            Err(error) => Err(runtime_error(
                &format!("read the usage of cache volume {name}"),
                "volume",
                name.as_str(),
                error,
            )),
        }
    }
}

#[cfg(test)]
mod tests;
