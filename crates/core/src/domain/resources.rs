//! The description of what a workflow asks the daemon to create: one profile with
//! disk mounts, and one instance that uses it. Adapters translate these; they add no
//! rules of their own except how to map ownership, which depends on the daemon.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{GuestPath, ImageRef, InstanceName, Owner};

/// A host directory mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskMount {
    /// The device name in the profile.
    pub device: String,
    /// The directory on the host.
    pub source: PathBuf,
    /// Where it appears in the container.
    pub target: GuestPath,
    /// Mounted read-only when true.
    pub read_only: bool,
    /// For a writable mount: the host owner of `source`. The adapter maps this owner
    /// into the container (shift, idmap or privileged) so that files written there keep
    /// belonging to it on the host.
    pub owner: Option<Owner>,
}

/// A profile to create, named like its instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// The profile name.
    pub name: InstanceName,
    /// A description shown by `lxc profile list`.
    pub description: String,
    /// The mounts.
    pub mounts: Vec<DiskMount>,
}

/// How isolated the container is from the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// An unprivileged container (the default): container root is not host root.
    #[default]
    Unprivileged,
    /// `security.privileged=true`: container root is host root. Only on explicit
    /// request, with a warning.
    Privileged,
}

/// CPU and memory caps for an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// `limits.cpu`, e.g. `2`.
    pub cpu: Option<String>,
    /// `limits.memory`, e.g. `2GiB`.
    pub memory: Option<String>,
}

/// An instance to create and start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Its name (also its profile's name).
    pub name: InstanceName,
    /// The image to create it from.
    pub image: ImageRef,
    /// Profiles in order; the default profile comes first.
    pub profiles: Vec<String>,
    /// Deleted by the daemon as soon as it stops (deploy containers).
    pub ephemeral: bool,
    /// Privileged or not.
    pub isolation: Isolation,
    /// CPU and memory caps.
    pub limits: ResourceLimits,
    /// `user.lxpack.*` labels, used to find leftovers.
    pub labels: BTreeMap<String, String>,
    /// How long creating (including any image download) and starting may take.
    pub timeout: Duration,
}

/// Config keys lxpack puts on its instances.
pub mod label {
    /// The job id.
    pub const JOB: &str = "user.lxpack.job";
    /// The job command.
    pub const COMMAND: &str = "user.lxpack.command";
    /// The app, as `name/env/role`.
    pub const APP: &str = "user.lxpack.app";
}
