//! The state of one fake daemon, shared by `FakeRuntime` and `FakeImageRegistry`
//! because a real daemon has one store for both: publish reads the runtime's stopped
//! instance, and launch reads the registry's images. Every rule of the two ports
//! lives here as a plain synchronous method, so it runs under a single lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use lxpack_core::domain::{
    ClusterMember, FileSpec, Fingerprint, GuestPath, Image, ImageRef, ImageSelector, InstanceName,
    Isolation, Labels, LaunchSpec, MemberName, MountSource, Owner, ProfileName, ProfileSpec,
    ResourceLimits, SessionInput, StandbyMark, unchanged_standby,
};
use lxpack_core::ports::{
    PublishRequest, RegistryError, Resource, ResourceKind, RuntimeError, ServerInfo,
};

use crate::exec::{ExecHandler, ExecScript, Signalled};
use crate::faults::FaultPlan;
use crate::harness::Harness;
use crate::image::{fingerprint_of, select};
use crate::registry::RegistryCall;
use crate::runtime::{RuntimeCall, RuntimeOp};

/// The profile every daemon has, which cannot be created or deleted.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// Whether an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceStatus {
    /// Running: it accepts files and commands.
    Running,
    /// Stopped: it can be published.
    Stopped,
}

/// An instance of the fake daemon, as a test can inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FakeInstance {
    /// Its name.
    pub name: InstanceName,
    /// The image reference it was launched from.
    pub image: ImageRef,
    /// The image it was created from, when that image was known.
    pub source: Option<Image>,
    /// Its profiles, in order: `default`, then its own, if any.
    pub profiles: Vec<String>,
    /// Whether it vanishes when stopped.
    pub ephemeral: bool,
    /// Privileged or not.
    pub isolation: Isolation,
    /// Its CPU and memory caps.
    pub limits: ResourceLimits,
    /// Its labels.
    pub labels: Option<Labels>,
    /// Until when it is kept ([`ContainerRuntime::mark_kept`]).
    ///
    /// [`ContainerRuntime::mark_kept`]: lxpack_core::ports::ContainerRuntime::mark_kept
    pub kept_until: Option<SystemTime>,
    /// Running or stopped.
    pub status: InstanceStatus,
    /// The files pushed into it, by path.
    pub files: BTreeMap<GuestPath, FileSpec>,
    /// The cluster member it runs on, on a fake cluster.
    pub member: Option<MemberName>,
    /// Its standby mark, when it was started as one.
    pub standby: Option<StandbyMark>,
    /// The owner it maps from its start ([`LaunchSpec::map_owner`]).
    pub map_owner: Option<Owner>,
    /// Its snapshots, in the order taken: name and the files at that point.
    pub snapshots: Vec<(String, BTreeMap<GuestPath, FileSpec>)>,
    /// The keys of its step snapshots, once kept as a step holder.
    pub steps: Vec<lxpack_core::domain::StepKey>,
    /// Its limit counters: quiet (no kill, no refusal, one process) until a scripted
    /// command hits a cap ([`crate::ExecScript::hits`]).
    pub counters: lxpack_core::domain::LimitReadings,
    /// How it is connected ([`LaunchSpec::network`]).
    pub network: lxpack_core::domain::NetworkAttachment,
}

/// When the fake clock starts: 2023-11-14T22:13:20Z.
const CLOCK_START: Duration = Duration::from_secs(1_700_000_000);

pub(crate) struct Daemon {
    pub(crate) info: ServerInfo,
    /// What the fake host has: 8 CPUs and 16 GiB unless set.
    pub(crate) host: lxpack_core::ports::HostResources,
    pub(crate) profiles: BTreeMap<String, ProfileSpec>,
    pub(crate) instances: BTreeMap<String, FakeInstance>,
    /// The local image store, in insertion order.
    pub(crate) images: Vec<Image>,
    /// Images that remote servers offer, by server URL.
    pub(crate) remote_images: Vec<(String, Image)>,
    /// The creation time of the next published image.
    pub(crate) clock: SystemTime,
    /// How many images were published, which seeds their fingerprints.
    published: u64,
    sequence: u64,
    pub(crate) runtime: Harness<RuntimeCall, RuntimeError>,
    pub(crate) registry: Harness<RegistryCall, RegistryError>,
    pub(crate) exec_scripts: FaultPlan<RuntimeOp, ExecScript>,
    pub(crate) exec_handlers: Vec<ExecHandler>,
    pub(crate) signals: Vec<Signalled>,
    pub(crate) session_inputs: Vec<SessionInput>,
    pub(crate) leave_failed_launches: bool,
    /// A background release detaches and deletes the profile, but the instance's stop
    /// fails: it stays, running.
    pub(crate) failing_stops: bool,
    /// The members of a fake cluster; empty when the daemon is not clustered.
    pub(crate) members: Vec<ClusterMember>,
    /// The storage volumes (caches), by name.
    pub(crate) volumes: BTreeMap<String, crate::volumes::FakeVolume>,
    /// Whether the storage tells a volume's usage (a dir pool does not).
    pub(crate) volume_usage_known: bool,
    /// The bridges, by name.
    pub(crate) networks: BTreeMap<String, crate::networks::FakeNetwork>,
    /// The network ACLs, by name.
    pub(crate) acls: BTreeMap<String, crate::networks::FakeAcl>,
    /// The host's own addresses.
    pub(crate) host_addresses: Vec<std::net::IpAddr>,
}

pub(crate) type Shared = Arc<Mutex<Daemon>>;

/// Locks the daemon. A panic in a test thread must not hide the state from the
/// assertions that follow, so a poisoned lock is used as is.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Daemon> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn new_shared() -> Shared {
    Arc::new(Mutex::new(Daemon::new()))
}

impl Daemon {
    fn new() -> Self {
        Self {
            info: ServerInfo {
                product: "fake".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                can_shift_mounts: true,
            },
            host: lxpack_core::ports::HostResources {
                cpus: Some(8),
                memory: Some(16 << 30),
            },
            profiles: BTreeMap::new(),
            instances: BTreeMap::new(),
            images: Vec::new(),
            remote_images: Vec::new(),
            clock: SystemTime::UNIX_EPOCH + CLOCK_START,
            published: 0,
            sequence: 0,
            runtime: Harness::default(),
            registry: Harness::default(),
            exec_scripts: FaultPlan::new(),
            exec_handlers: Vec::new(),
            signals: Vec::new(),
            session_inputs: Vec::new(),
            leave_failed_launches: false,
            failing_stops: false,
            members: Vec::new(),
            volumes: BTreeMap::new(),
            volume_usage_known: true,
            networks: BTreeMap::new(),
            acls: BTreeMap::new(),
            host_addresses: vec![
                std::net::IpAddr::from([203, 0, 113, 7]),
                std::net::IpAddr::from([127, 0, 0, 1]),
            ],
        }
    }

    /// The next number in the order of calls across the runtime and the registry.
    pub(crate) fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    pub(crate) fn create_profile(&mut self, profile: &ProfileSpec) -> Result<(), RuntimeError> {
        let name = profile.name.as_str();
        if name == DEFAULT_PROFILE || self.profiles.contains_key(name) {
            return Err(RuntimeError::AlreadyExists {
                what: "profile",
                name: name.to_owned(),
            });
        }
        let rejected = |message: String| RuntimeError::Rejected {
            operation: format!("create profile {name}"),
            message,
        };
        for (index, mount) in profile.mounts.iter().enumerate() {
            match &mount.source {
                MountSource::Host(path) if !path.is_absolute() => {
                    return Err(rejected(format!(
                        "device {}: source {} is not an absolute host path",
                        mount.device,
                        path.display()
                    )));
                }
                MountSource::Volume(volume) if !self.volumes.contains_key(volume.as_str()) => {
                    return Err(rejected(format!(
                        "device {}: volume {volume} does not exist",
                        mount.device
                    )));
                }
                _ => {}
            }
            if profile.mounts[..index]
                .iter()
                .any(|other| other.device == mount.device)
            {
                return Err(rejected(format!(
                    "device {} is defined twice",
                    mount.device
                )));
            }
        }
        self.profiles.insert(name.to_owned(), profile.clone());
        Ok(())
    }

    pub(crate) fn delete_profile(&mut self, name: &ProfileName) -> Result<(), RuntimeError> {
        let name = name.as_str();
        if name == DEFAULT_PROFILE {
            return Err(RuntimeError::Rejected {
                operation: format!("delete profile {name}"),
                message: "the default profile cannot be deleted".to_owned(),
            });
        }
        if !self.profiles.contains_key(name) {
            return Err(RuntimeError::NotFound {
                what: "profile",
                name: name.to_owned(),
            });
        }
        if self
            .instances
            .values()
            .any(|instance| instance.profiles.iter().any(|used| used == name))
        {
            return Err(RuntimeError::InUse {
                what: "profile",
                name: name.to_owned(),
            });
        }
        self.profiles.remove(name);
        Ok(())
    }

    /// Creates an instance with every check of a real create: name, profiles, image.
    pub(crate) fn create_instance(
        &mut self,
        spec: &LaunchSpec,
        status: InstanceStatus,
    ) -> Result<(), RuntimeError> {
        let name = spec.name.as_str();
        if self.instances.contains_key(name) {
            return Err(RuntimeError::AlreadyExists {
                what: "instance",
                name: name.to_owned(),
            });
        }
        if let Some(missing) = spec
            .profile
            .as_ref()
            .filter(|profile| !self.profiles.contains_key(profile.as_str()))
        {
            return Err(RuntimeError::NotFound {
                what: "profile",
                name: missing.to_string(),
            });
        }
        self.check_attachment(&spec.network)?;
        if let Some(from) = &spec.from_snapshot {
            return self.create_from_snapshot(spec, from, status);
        }
        let Some(source) = self.find_source(&spec.image) else {
            return Err(RuntimeError::ImageNotFound {
                image: spec.image.to_string(),
            });
        };
        if let ImageRef::Remote { .. } = spec.image {
            self.cache_pulled(&source);
        }
        let mut instance = instance_from(spec, Some(source), status);
        instance.member = self.place();
        self.instances.insert(name.to_owned(), instance);
        Ok(())
    }

    /// Where a cluster puts a new instance: its first online member.
    pub(crate) fn place(&self) -> Option<MemberName> {
        self.members
            .iter()
            .find(|member| member.is_online())
            .map(|member| member.name.clone())
    }

    /// `Unreachable`, naming the member, when `instance` is on a member the cluster
    /// cannot reach: what a real cluster answers for a call forwarded there.
    pub(crate) fn check_member(&self, instance: &str) -> Result<(), RuntimeError> {
        let Some(member) = self
            .instances
            .get(instance)
            .and_then(|found| found.member.as_ref())
        else {
            return Ok(());
        };
        match self.members.iter().find(|m| &m.name == member) {
            Some(down) if !down.is_reachable() => {
                Err(RuntimeError::Unreachable(lxpack_core::ports::Unreachable {
                    endpoint: format!("cluster member {member} (holding {instance})"),
                    reason: format!("it is {}: {}", down.status.to_lowercase(), down.message),
                    hint: format!("start the daemon on {member}, then run `lxpack gc`"),
                }))
            }
            _ => Ok(()),
        }
    }

    /// Seeds an instance without checks, replacing any of the same name.
    pub(crate) fn seed_instance(&mut self, spec: &LaunchSpec, status: InstanceStatus) {
        let source = self.find_source(&spec.image);
        self.instances.insert(
            spec.name.as_str().to_owned(),
            instance_from(spec, source, status),
        );
    }

    fn find_source(&self, image: &ImageRef) -> Option<Image> {
        match image {
            ImageRef::Local(selector) => select(self.images.iter(), selector).cloned(),
            ImageRef::Remote { server, image } => select(
                self.remote_images
                    .iter()
                    .filter(|(url, _)| *url == server.url)
                    .map(|(_, image)| image),
                image,
            )
            .cloned(),
        }
    }

    /// A real daemon keeps a pulled image in its local store, without aliases.
    fn cache_pulled(&mut self, pulled: &Image) {
        if !self
            .images
            .iter()
            .any(|image| image.fingerprint == pulled.fingerprint)
        {
            let mut cached = pulled.clone();
            cached.aliases.clear();
            self.images.push(cached);
        }
    }

    pub(crate) fn push_file(
        &mut self,
        name: &InstanceName,
        file: &FileSpec,
    ) -> Result<(), RuntimeError> {
        let instance = self.instance_mut(name)?;
        if instance.status != InstanceStatus::Running {
            return Err(RuntimeError::Rejected {
                operation: format!("push {} to {name}", file.path),
                message: "the instance is not running".to_owned(),
            });
        }
        instance.files.insert(file.path.clone(), file.clone());
        Ok(())
    }

    /// Checks that a command can run: the instance exists and runs.
    pub(crate) fn check_exec(
        &self,
        name: &InstanceName,
        command: &[String],
    ) -> Result<(), RuntimeError> {
        match self.instances.get(name.as_str()) {
            Some(instance) if instance.status == InstanceStatus::Running => {}
            _ => {
                return Err(RuntimeError::NotFound {
                    what: "instance",
                    name: name.as_str().to_owned(),
                });
            }
        }
        if command.is_empty() {
            return Err(RuntimeError::Rejected {
                operation: format!("exec in {name}"),
                message: "the command is empty".to_owned(),
            });
        }
        Ok(())
    }

    pub(crate) fn stop_instance(&mut self, name: &InstanceName) -> Result<(), RuntimeError> {
        let instance = self.instance_mut(name)?;
        instance.status = InstanceStatus::Stopped;
        if instance.ephemeral {
            self.instances.remove(name.as_str());
        }
        Ok(())
    }

    pub(crate) fn delete_instance(&mut self, name: &InstanceName) -> Result<(), RuntimeError> {
        self.instance_mut(name)?;
        self.instances.remove(name.as_str());
        Ok(())
    }

    /// The compare-and-set of a claim: the job's labels, only on the unclaimed
    /// standby `expected` describes.
    pub(crate) fn claim_standby(
        &mut self,
        name: &InstanceName,
        expected: &StandbyMark,
        labels: &Labels,
    ) -> Result<(), RuntimeError> {
        self.unchanged_standby(name, expected)?.labels = Some(labels.clone());
        Ok(())
    }

    /// The compare-and-set of a mark's change.
    pub(crate) fn update_standby(
        &mut self,
        name: &InstanceName,
        expected: &StandbyMark,
        mark: &StandbyMark,
    ) -> Result<(), RuntimeError> {
        self.unchanged_standby(name, expected)?.standby = Some(mark.clone());
        Ok(())
    }

    /// The standby `name`, if it is still the one `expected` describes, unclaimed.
    fn unchanged_standby(
        &mut self,
        name: &InstanceName,
        expected: &StandbyMark,
    ) -> Result<&mut FakeInstance, RuntimeError> {
        let instance = self.instance_mut(name)?;
        if unchanged_standby(
            expected,
            instance.standby.as_ref(),
            instance.labels.as_ref(),
        ) {
            Ok(instance)
        } else {
            Err(changed(name))
        }
    }

    /// Adds a profile to a running instance (a hot-plug of its disks).
    pub(crate) fn attach_profile(
        &mut self,
        name: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        if !self.profiles.contains_key(profile.as_str()) {
            return Err(RuntimeError::NotFound {
                what: "profile",
                name: profile.to_string(),
            });
        }
        let instance = self.instance_mut(name)?;
        if instance.status != InstanceStatus::Running {
            return Err(RuntimeError::Rejected {
                operation: format!("add profile {profile} to {name}"),
                message: "the instance is not running".to_owned(),
            });
        }
        if !instance.profiles.iter().any(|p| p == profile.as_str()) {
            instance.profiles.push(profile.to_string());
        }
        Ok(())
    }

    pub(crate) fn mark_kept(
        &mut self,
        name: &InstanceName,
        until: SystemTime,
    ) -> Result<(), RuntimeError> {
        self.instance_mut(name)?.kept_until = Some(until);
        Ok(())
    }

    pub(crate) fn instance_mut(
        &mut self,
        name: &InstanceName,
    ) -> Result<&mut FakeInstance, RuntimeError> {
        self.instances
            .get_mut(name.as_str())
            .ok_or_else(|| RuntimeError::NotFound {
                what: "instance",
                name: name.as_str().to_owned(),
            })
    }

    /// Every instance, then every profile but `default`, each by name, with its
    /// labels.
    pub(crate) fn resources(&self) -> Vec<Resource> {
        let instances = self.instances.values().map(|instance| Resource {
            kind: ResourceKind::Instance,
            name: instance.name.to_string(),
            labels: instance.labels.clone(),
            member: instance.member.clone(),
            kept_until: instance.kept_until,
            standby: instance.standby.clone(),
            steps: instance.steps.clone(),
        });
        let profiles = self.profiles.values().map(|profile| Resource {
            kind: ResourceKind::Profile,
            name: profile.name.to_string(),
            labels: profile.labels.clone(),
            member: None,
            kept_until: None,
            standby: profile.standby.clone(),
            steps: Vec::new(),
        });
        instances.chain(profiles).collect()
    }

    pub(crate) fn publish(&mut self, request: &PublishRequest) -> Result<Image, RegistryError> {
        let Some(instance) = self.instances.get(request.instance.as_str()) else {
            return Err(RegistryError::InstanceNotFound {
                instance: request.instance.clone(),
            });
        };
        if instance.status == InstanceStatus::Running {
            return Err(RegistryError::InstanceRunning {
                instance: request.instance.clone(),
            });
        }
        if self
            .images
            .iter()
            .any(|image| image.has_alias(&request.alias))
        {
            return Err(RegistryError::AliasExists {
                alias: request.alias.clone(),
            });
        }
        let mut properties = instance
            .source
            .as_ref()
            .map(|source| source.properties.clone())
            .unwrap_or_default();
        properties.extend(request.properties.clone());
        let files: u64 = instance
            .files
            .values()
            .map(|file| u64::try_from(file.contents.len()).unwrap_or(u64::MAX))
            .sum();
        let source_size = instance
            .source
            .as_ref()
            .map_or(0, |source| source.size_bytes);
        let architecture = instance
            .source
            .as_ref()
            .map_or_else(|| "x86_64".to_owned(), |source| source.architecture.clone());
        self.published += 1;
        let image = Image {
            fingerprint: fingerprint_of(&[
                request.instance.as_str().as_bytes(),
                &self.published.to_be_bytes(),
            ]),
            aliases: vec![request.alias.clone()],
            properties,
            architecture,
            created_at: self.tick(),
            size_bytes: source_size.saturating_add(files),
        };
        self.images.push(image.clone());
        Ok(image)
    }

    /// The fake clock's time, which then moves on by one second so that successive
    /// images are ordered.
    fn tick(&mut self) -> SystemTime {
        let now = self.clock;
        self.clock = now + Duration::from_secs(1);
        now
    }

    pub(crate) fn resolve(&self, selector: &ImageSelector) -> Result<Image, RegistryError> {
        select(self.images.iter(), selector)
            .cloned()
            .ok_or_else(|| RegistryError::NotFound {
                image: selector_text(selector),
            })
    }

    pub(crate) fn delete_image(&mut self, fingerprint: &Fingerprint) -> Result<(), RegistryError> {
        let before = self.images.len();
        self.images
            .retain(|image| image.fingerprint != *fingerprint);
        if self.images.len() == before {
            return Err(RegistryError::NotFound {
                image: fingerprint.to_string(),
            });
        }
        Ok(())
    }

    /// Adds an image, replacing one with the same fingerprint; its aliases move to it.
    pub(crate) fn add_image(&mut self, image: Image) {
        self.images
            .retain(|known| known.fingerprint != image.fingerprint);
        for known in &mut self.images {
            known.aliases.retain(|alias| !image.aliases.contains(alias));
        }
        self.images.push(image);
    }
}

pub(crate) fn instance_from(
    spec: &LaunchSpec,
    source: Option<Image>,
    status: InstanceStatus,
) -> FakeInstance {
    FakeInstance {
        name: spec.name.clone(),
        image: spec.image.clone(),
        source,
        profiles: std::iter::once(DEFAULT_PROFILE.to_owned())
            .chain(spec.profile.as_ref().map(ToString::to_string))
            .collect(),
        ephemeral: spec.ephemeral,
        isolation: spec.isolation,
        limits: spec.limits.clone(),
        labels: spec.labels.clone(),
        kept_until: None,
        status,
        files: BTreeMap::new(),
        member: None,
        standby: spec.standby.clone(),
        map_owner: spec.map_owner,
        snapshots: Vec::new(),
        steps: Vec::new(),
        counters: lxpack_core::domain::LimitReadings {
            oom_kills: Some(0),
            memory_peak: None,
            process_refusals: Some(0),
            processes: Some(1),
            disk_used: None,
        },
        network: spec.network.clone(),
    }
}

fn changed(name: &InstanceName) -> RuntimeError {
    RuntimeError::Changed {
        name: name.to_string(),
        reason: "it is no longer the standby it was (another job claimed it, or its mark changed)"
            .into(),
    }
}

/// The alias or fingerprint a selector looks for, as `NotFound` reports it.
pub(crate) fn selector_text(selector: &ImageSelector) -> String {
    match selector {
        ImageSelector::Alias(alias) => alias.to_string(),
        ImageSelector::Fingerprint(prefix) => prefix.clone(),
    }
}
