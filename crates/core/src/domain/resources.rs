//! The description of what a workflow asks the daemon to create: one profile with
//! disk mounts, and one instance that uses it, both labelled with their job. Adapters
//! translate these; they add no rules of their own except how to map ownership, which
//! depends on the daemon, and where a label is kept.

use std::path::PathBuf;
use std::time::Duration;

use super::text::text_enum;
use super::{
    AppKey, GuestPath, ImageRef, InstanceName, JobCommand, JobId, NetworkAttachment, Owner,
    ProfileName, StandbyMark, VolumeName,
};

/// What a disk mount shows in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountSource {
    /// A directory on the host.
    Host(PathBuf),
    /// A storage volume of the daemon's (a cache), in the pool the adapter keeps
    /// them in.
    Volume(VolumeName),
}

impl std::fmt::Display for MountSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Host(path) => write!(f, "{}", path.display()),
            Self::Volume(name) => write!(f, "volume {name}"),
        }
    }
}

/// A host directory or a volume mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskMount {
    /// The device name in the profile.
    pub device: String,
    /// The host directory or volume.
    pub source: MountSource,
    /// Where it appears in the container.
    pub target: GuestPath,
    /// Mounted read-only when true.
    pub read_only: bool,
    /// For a writable host directory: its host owner. The adapter maps this owner
    /// into the container (shift, idmap or privileged) so that files written there keep
    /// belonging to it on the host. A volume's files belong to the container's ids,
    /// whatever this says.
    pub owner: Option<Owner>,
}

/// A profile to create, named like its instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// The profile name.
    pub name: ProfileName,
    /// A description for people listing the daemon's profiles.
    pub description: String,
    /// The mounts.
    pub mounts: Vec<DiskMount>,
    /// Whose profile it is (lxpack's workflows always label what they create).
    pub labels: Option<Labels>,
    /// For the lock a retirement takes on a standby: the standby's mark, retiring, so
    /// a sweep finishes what an interrupted retirement left.
    pub standby: Option<StandbyMark>,
}

text_enum! {
    /// How isolated the container is from the host.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub enum Isolation as "isolation" {
        /// An unprivileged container (the default): container root is not host root.
        #[default]
        Unprivileged = "unprivileged",
        /// Container root is host root. Only on explicit request, with a warning.
        Privileged = "privileged",
    }
}

/// The caps of an instance (its resource class's): CPU and memory in the daemon's own
/// notation, checked against the host when the config is wired; processes and root
/// disk as numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResourceLimits {
    /// CPUs: a count (`2`) or a set of CPUs (`0-3`).
    pub cpu: Option<String>,
    /// Memory: a size with its unit (`2GiB`) or a share of the host's (`50%`).
    pub memory: Option<String>,
    /// The most processes (and threads) the instance may run at once.
    pub processes: Option<u64>,
    /// The size of the instance's root disk, in bytes (enforced where the storage
    /// pool can: btrfs, zfs, lvm; a dir pool cannot).
    pub root_size: Option<u64>,
}

/// An instance to create and start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Its name (also its profile's name).
    pub name: InstanceName,
    /// The image to create it from.
    pub image: ImageRef,
    /// The job's own profile, if any. The adapter applies its daemon's base profile
    /// (the one that gives a root disk) before it.
    pub profile: Option<ProfileName>,
    /// Deleted by the daemon as soon as it stops (deploy containers).
    pub ephemeral: bool,
    /// Privileged or not.
    pub isolation: Isolation,
    /// The caps of its resource class.
    pub limits: ResourceLimits,
    /// How it is connected to the network.
    pub network: NetworkAttachment,
    /// Whose instance it is: how a sweep tells lxpack's leftovers from anything else
    /// (lxpack's workflows always label what they create).
    pub labels: Option<Labels>,
    /// For a standby: the mark of its pool (then `labels` is `None` until a deploy
    /// claims it).
    pub standby: Option<StandbyMark>,
    /// An owner whose ids the instance maps from its start, so that a writable mount
    /// of theirs attached later keeps their ownership without remapping (a standby,
    /// on a daemon without idmapped mounts).
    pub map_owner: Option<Owner>,
    /// Create it as a copy of this snapshot of another instance instead of from
    /// `image` (a buildimage that resumes after its unchanged steps).
    pub from_snapshot: Option<SnapshotSource>,
    /// How long creating (including any image download) and starting may take.
    pub timeout: Duration,
}

/// A snapshot of an instance, to create another from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSource {
    /// The instance that holds it.
    pub instance: InstanceName,
    /// The snapshot's name.
    pub snapshot: String,
}

text_enum! {
    /// One of the labels lxpack puts on what it creates. Each adapter decides where a
    /// label is kept (LXD: a `user.` config key).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum LabelKey as "label" {
        /// The job id.
        Job = "job",
        /// The job command.
        Command = "command",
        /// The app, as `name/env/role`.
        App = "app",
    }
}

/// What lxpack labels its instances and profiles with: the job that made them. A
/// resource without valid labels is never lxpack's, whatever its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    /// The job.
    pub job: JobId,
    /// Its command.
    pub command: JobCommand,
    /// Its app.
    pub app: AppKey,
}

impl Labels {
    /// The labels as (key, value) pairs, to be stored by an adapter.
    #[must_use]
    pub fn pairs(&self) -> [(LabelKey, String); 3] {
        [
            (LabelKey::Job, self.job.to_string()),
            (LabelKey::Command, self.command.to_string()),
            (LabelKey::App, self.app.to_string()),
        ]
    }

    /// Reads labels back from what an adapter stored, `value` giving each key's value.
    /// `None` unless every label is present and valid: a resource whose labels are
    /// missing or damaged is not treated as lxpack's.
    pub fn read<'a>(value: impl Fn(LabelKey) -> Option<&'a str>) -> Option<Self> {
        let job = JobId::parse(value(LabelKey::Job)?).ok()?;
        let command = JobCommand::parse(value(LabelKey::Command)?).ok()?;
        let mut app = value(LabelKey::App)?.splitn(3, '/');
        let (name, env, role) = (app.next()?, app.next()?, app.next()?);
        if [name, env, role].iter().any(|part| part.is_empty()) {
            return None;
        }
        Some(Self {
            job,
            command,
            app: AppKey::new(name, env, role),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn labels() -> Labels {
        Labels {
            job: JobId::generate(7, [1; 8]),
            command: JobCommand::Deploy,
            app: AppKey::new("web", "prod", "webfront"),
        }
    }

    #[test]
    fn labels_read_back_from_their_pairs() {
        let stored: BTreeMap<LabelKey, String> = labels().pairs().into_iter().collect();
        let read = Labels::read(|key| stored.get(&key).map(String::as_str));
        assert_eq!(read, Some(labels()));
    }

    #[test]
    fn missing_or_damaged_labels_read_as_none() {
        let stored: BTreeMap<LabelKey, String> = labels().pairs().into_iter().collect();
        for broken in LabelKey::ALL {
            let mut missing = stored.clone();
            missing.remove(broken);
            assert_eq!(
                Labels::read(|key| missing.get(&key).map(String::as_str)),
                None
            );
            let mut damaged = stored.clone();
            damaged.insert(*broken, "x/".into());
            assert_eq!(
                Labels::read(|key| damaged.get(&key).map(String::as_str)),
                None
            );
        }
    }
}
