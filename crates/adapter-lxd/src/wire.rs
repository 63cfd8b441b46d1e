//! The JSON bodies lxpack sends, built from domain values by pure functions: what the
//! daemon receives can be read and tested here, without one.

use lxpack_core::domain::{
    CacheMark, DiskMount, ImageRef, ImageSelector, Isolation, LabelKey, Labels, LaunchSpec,
    MountSource, Owner, ProfileSpec, StandbyMark, StepKey,
};
use lxpack_core::ports::{PublishRequest, VolumeSpec};
use serde_json::{Map, Value, json};

/// How writable mounts keep their host owner in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// `shift=true` on the disk (idmapped mounts).
    Shift,
    /// `raw.idmap` on the profile.
    Idmap,
}

/// The prefix of every mark lxpack keeps on the daemon's objects (instances,
/// profiles, volumes): a `user.` config key, which the daemon stores without
/// interpreting it.
const MARK_PREFIX: &str = "user.lxpack.";

/// The config key of the mark called `name`: a job label ([`LabelKey`]), a standby's
/// ([`StandbyLabel`](lxpack_core::domain::StandbyLabel)) or a cache's
/// ([`CacheLabel`](lxpack_core::domain::CacheLabel)) label, [`KEPT_UNTIL`] or
/// [`STEPS`]. Every mark is written and read through this one key.
pub(crate) fn mark_key(name: impl std::fmt::Display) -> String {
    format!("{MARK_PREFIX}{name}")
}

/// The value of the mark called `name` in a config read back from the daemon.
fn mark_of(
    config: &std::collections::BTreeMap<String, String>,
    name: impl std::fmt::Display,
) -> Option<&str> {
    config.get(&mark_key(name)).map(String::as_str)
}

/// The mark of an instance kept for inspection: its expiry, in Unix seconds.
const KEPT_UNTIL: &str = "kept_until";

/// The config that marks an instance kept until `until`.
pub(crate) fn kept_config(until: std::time::SystemTime) -> Map<String, Value> {
    let seconds = until
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let mut config = Map::new();
    config.insert(mark_key(KEPT_UNTIL), Value::String(seconds.to_string()));
    config
}

/// The expiry of an instance kept for inspection, from its config; `None` when it is
/// not marked (or the mark does not read as Unix seconds).
pub(crate) fn kept_until_of(
    config: &std::collections::BTreeMap<String, String>,
) -> Option<std::time::SystemTime> {
    let seconds: u64 = mark_of(config, KEPT_UNTIL)?.parse().ok()?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(seconds))
}

/// The mark of a step holder: the keys of its step snapshots.
const STEPS: &str = "steps";

/// The step snapshot keys of a step holder, from its config.
pub(crate) fn steps_of(config: &std::collections::BTreeMap<String, String>) -> Vec<StepKey> {
    mark_of(config, STEPS).map_or_else(Vec::new, StepKey::split)
}

/// `PATCH /1.0/instances/NAME` that keeps an instance as a step holder: only the base
/// profiles (its own can then be deleted), and its keys.
pub(crate) fn step_holder(base_profiles: &[String], keys: &[StepKey]) -> Value {
    let mut config = Map::new();
    config.insert(mark_key(STEPS), Value::String(StepKey::join(keys)));
    json!({ "profiles": base_profiles, "config": config })
}

/// A standby's mark as config keys, its app under the job labels' app key.
pub(crate) fn standby_config(mark: &StandbyMark) -> Map<String, Value> {
    let mut config: Map<String, Value> = mark
        .pairs()
        .into_iter()
        .map(|(label, value)| (mark_key(label), Value::String(value)))
        .collect();
    config.insert(mark_key(LabelKey::App), Value::String(mark.app.to_string()));
    config
}

/// The standby mark in an instance's config, read back from the daemon.
pub(crate) fn standby_of(
    config: &std::collections::BTreeMap<String, String>,
) -> Option<StandbyMark> {
    StandbyMark::read(
        |label| mark_of(config, label),
        mark_of(config, LabelKey::App),
    )
}

/// The job's labels as config keys, for a claim.
pub(crate) fn labels_config(labels: &Labels) -> Map<String, Value> {
    let mut config = Map::new();
    label_config(Some(labels), &mut config);
    config
}

/// `raw.idmap` lines mapping `owner`'s ids to themselves (root is never mapped).
fn idmap_lines(owner: Owner) -> Vec<String> {
    if owner.uid == 0 {
        return Vec::new();
    }
    vec![
        format!("uid {} {}", owner.uid, owner.uid),
        format!("gid {} {}", owner.gid, owner.gid),
    ]
}

/// `labels` as config keys.
fn label_config(labels: Option<&Labels>, config: &mut Map<String, Value>) {
    for (key, value) in labels.into_iter().flat_map(Labels::pairs) {
        config.insert(mark_key(key), Value::String(value));
    }
}

/// The labels in an instance's or profile's config, read back from the daemon.
pub(crate) fn labels_of(config: &std::collections::BTreeMap<String, String>) -> Option<Labels> {
    Labels::read(|key| mark_of(config, key))
}

/// A cache mark as config keys, its job and app under the job labels' keys.
pub(crate) fn cache_config(mark: &CacheMark) -> Map<String, Value> {
    let mut config: Map<String, Value> = mark
        .pairs()
        .into_iter()
        .map(|(label, value)| (mark_key(label), Value::String(value)))
        .collect();
    config.insert(mark_key(LabelKey::Job), Value::String(mark.job.to_string()));
    config.insert(
        mark_key(LabelKey::App),
        Value::String(mark.key.app.to_string()),
    );
    config
}

/// The cache mark in a volume's config, read back from the daemon.
pub(crate) fn cache_mark_of(
    config: &std::collections::BTreeMap<String, String>,
) -> Option<CacheMark> {
    CacheMark::read(
        |label| mark_of(config, label),
        mark_of(config, LabelKey::Job),
        mark_of(config, LabelKey::App),
    )
}

/// `POST /1.0/storage-pools/POOL/volumes/custom`: an empty volume, or a copy of one
/// in the same pool; with its mark, and its quota as `size` (in bytes).
///
/// A copy carries `inherited`: the source's keys that say how its files are stored
/// (`volatile.idmap.*`, `security.shifted`…). Without them the daemon would take the
/// copy's files as unshifted, and an instance would see them owned by nobody.
pub(crate) fn volume(
    spec: &VolumeSpec,
    pool: &str,
    inherited: &std::collections::BTreeMap<String, String>,
) -> Value {
    let mut config: Map<String, Value> = inherited
        .iter()
        .filter(|(key, _)| key.starts_with("volatile.") || key.starts_with("security."))
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    config.extend(cache_config(&spec.mark));
    if let Some(quota) = spec.quota {
        config.insert("size".into(), Value::String(quota.to_string()));
    }
    let mut body = json!({
        "name": spec.name.as_str(),
        "type": "custom",
        "content_type": "filesystem",
        "config": config,
    });
    if let Some(source) = &spec.copy_of {
        body["source"] = json!({
            "type": "copy",
            "pool": pool,
            "name": source.as_str(),
            "volume_only": true,
        });
    }
    body
}

/// `POST /1.0/profiles`; `pool` is where cache volumes are (needed when a mount is
/// one).
pub(crate) fn profile(spec: &ProfileSpec, ownership: Ownership, pool: Option<&str>) -> Value {
    let mut devices = Map::new();
    let mut idmap = Vec::new();
    for mount in &spec.mounts {
        devices.insert(mount.device.clone(), disk(mount, ownership, pool));
        if let (Ownership::Idmap, Some(owner), false) = (ownership, mount.owner, mount.read_only) {
            idmap.extend(idmap_lines(owner));
        }
    }
    let mut config = Map::new();
    label_config(spec.labels.as_ref(), &mut config);
    if let Some(mark) = &spec.standby {
        config.extend(standby_config(mark));
    }
    if !idmap.is_empty() {
        idmap.dedup();
        config.insert("raw.idmap".into(), Value::String(idmap.join("\n")));
    }
    json!({
        "name": spec.name.as_str(),
        "description": spec.description,
        "config": config,
        "devices": devices,
    })
}

fn disk(mount: &DiskMount, ownership: Ownership, pool: Option<&str>) -> Value {
    let mut device = Map::new();
    device.insert("type".into(), json!("disk"));
    match &mount.source {
        MountSource::Host(path) => {
            device.insert("source".into(), json!(path.to_string_lossy()));
        }
        // The daemon maps a custom volume's files to the instance's ids itself.
        MountSource::Volume(name) => {
            device.insert("pool".into(), json!(pool.unwrap_or("default")));
            device.insert("source".into(), json!(name.as_str()));
        }
        _ => {}
    }
    device.insert("path".into(), json!(mount.target.as_str()));
    if mount.read_only {
        device.insert("readonly".into(), json!("true"));
    }
    let host_directory = matches!(mount.source, MountSource::Host(_));
    if ownership == Ownership::Shift && host_directory && mount.owner.is_some() && !mount.read_only
    {
        device.insert("shift".into(), json!("true"));
    }
    Value::Object(device)
}

/// `POST /1.0/instances`, with `base_profiles` before the instance's own. `start` asks
/// the daemon to start it in the same call (extension `instance_create_start`).
/// `ownership` says whether an owner to map from the start (`map_owner`) needs
/// `raw.idmap` (with shifted mounts it needs nothing). `devices` are the instance's
/// own (its network's NICs, `network::wire::nic_devices`), over its profiles'.
/// `root_pool` is the pool of the base profile's root disk, which a root size
/// overrides on the instance.
pub(crate) fn instance(
    spec: &LaunchSpec,
    base_profiles: &[String],
    start: bool,
    ownership: Ownership,
    mut devices: Map<String, Value>,
    root_pool: Option<&str>,
) -> Value {
    let mut config = Map::new();
    label_config(spec.labels.as_ref(), &mut config);
    if let Some(mark) = &spec.standby {
        config.extend(standby_config(mark));
    }
    if let (Ownership::Idmap, Some(owner)) = (ownership, spec.map_owner) {
        let lines = idmap_lines(owner);
        if !lines.is_empty() {
            config.insert("raw.idmap".into(), Value::String(lines.join("\n")));
        }
    }
    if spec.isolation == Isolation::Privileged {
        config.insert("security.privileged".into(), json!("true"));
    }
    if let Some(cpu) = &spec.limits.cpu {
        config.insert("limits.cpu".into(), json!(cpu));
    }
    if let Some(memory) = &spec.limits.memory {
        config.insert("limits.memory".into(), json!(memory));
    }
    if let Some(processes) = spec.limits.processes {
        config.insert("limits.processes".into(), json!(processes.to_string()));
    }
    let source = match &spec.from_snapshot {
        // A copy takes the holder's config where the request sets none: its keep mark
        // and its step keys are not the new instance's.
        Some(snapshot) => {
            config.insert(mark_key(KEPT_UNTIL), json!(""));
            config.insert(mark_key(STEPS), json!(""));
            json!({
                "type": "copy",
                "source": format!("{}/{}", snapshot.instance, snapshot.snapshot),
                "instance_only": true,
            })
        }
        None => source(&spec.image),
    };
    let mut body = json!({
        "name": spec.name.as_str(),
        "type": "container",
        "profiles": base_profiles
            .iter()
            .map(String::as_str)
            .chain(spec.profile.as_ref().map(|profile| profile.as_str()))
            .collect::<Vec<_>>(),
        "ephemeral": spec.ephemeral,
        "config": config,
        "source": source,
    });
    if let (Some(size), Some(pool)) = (spec.limits.root_size, root_pool) {
        devices.insert(
            "root".into(),
            json!({"type": "disk", "path": "/", "pool": pool, "size": size.to_string()}),
        );
    }
    if start {
        body["start"] = json!(true);
    }
    if !devices.is_empty() {
        body["devices"] = Value::Object(devices);
    }
    body
}

fn source(image: &ImageRef) -> Value {
    let selector = |selector: &ImageSelector| match selector {
        ImageSelector::Alias(alias) => ("alias", alias.as_str().to_owned()),
        ImageSelector::Fingerprint(fingerprint) => ("fingerprint", fingerprint.clone()),
    };
    match image {
        ImageRef::Local(image) => {
            let (key, value) = selector(image);
            json!({ "type": "image", key: value })
        }
        ImageRef::Remote { server, image } => {
            let (key, value) = selector(image);
            json!({
                "type": "image",
                "mode": "pull",
                "server": server.url,
                "protocol": server.protocol.as_str(),
                key: value,
            })
        }
    }
}

/// `POST /1.0/images` from an instance.
pub(crate) fn publish(request: &PublishRequest, with_compression: bool) -> Value {
    let mut body = json!({
        "source": { "type": "instance", "name": request.instance.as_str() },
        "aliases": [{ "name": request.alias.as_str(), "description": "lxpack" }],
        "properties": request.properties,
    });
    if with_compression {
        body["compression_algorithm"] = json!(request.compression.as_str());
    }
    body
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lxpack_core::domain::{
        AppKey, GuestPath, ImageAlias, InstanceName, JobCommand, JobId, Owner, ProfileName,
        RemoteProtocol, RemoteServer, ResourceLimits,
    };

    use super::*;

    fn labels() -> Labels {
        Labels {
            job: JobId::generate(1, [2; 8]),
            command: JobCommand::Deploy,
            app: AppKey::new("web", "prod", "front"),
        }
    }

    fn mounts() -> ProfileSpec {
        ProfileSpec {
            name: ProfileName::parse("lxpack-deploy-x").unwrap(),
            description: "d".into(),
            labels: Some(labels()),
            standby: None,
            mounts: vec![
                DiskMount {
                    device: "checkout".into(),
                    source: MountSource::Host("/home/ci/api".into()),
                    target: GuestPath::parse("/srv/api").unwrap(),
                    read_only: false,
                    owner: Some(Owner {
                        uid: 1000,
                        gid: 1001,
                    }),
                },
                DiskMount {
                    device: "formulas".into(),
                    source: MountSource::Host("/srv/salt".into()),
                    target: GuestPath::parse("/srv/salt").unwrap(),
                    read_only: true,
                    owner: None,
                },
            ],
        }
    }

    #[test]
    fn profiles_shift_or_map_the_owner() {
        let shifted = profile(&mounts(), Ownership::Shift, None);
        assert_eq!(shifted["devices"]["checkout"]["shift"], "true");
        assert!(shifted["devices"]["formulas"].get("shift").is_none());
        assert_eq!(shifted["devices"]["formulas"]["readonly"], "true");
        assert!(shifted["config"].get("raw.idmap").is_none());
        let mapped = profile(&mounts(), Ownership::Idmap, None);
        assert_eq!(
            mapped["config"]["raw.idmap"],
            "uid 1000 1000\ngid 1001 1001"
        );
        assert!(mapped["devices"]["checkout"].get("shift").is_none());
    }

    #[test]
    fn every_mark_is_a_user_lxpack_key() {
        let until = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_764_748_800);
        assert_eq!(kept_config(until)["user.lxpack.kept_until"], "1764748800");
        let config = [("user.lxpack.kept_until".to_owned(), "1764748800".to_owned())].into();
        assert_eq!(kept_until_of(&config), Some(until));
        let keys = StepKey::split("0123456789abcdef");
        let body = step_holder(&["default".to_owned()], &keys);
        assert_eq!(body["config"]["user.lxpack.steps"], "0123456789abcdef");
        let config = [(
            "user.lxpack.steps".to_owned(),
            "0123456789abcdef".to_owned(),
        )]
        .into();
        assert_eq!(steps_of(&config), keys);
        assert_eq!(mark_key(LabelKey::Job), "user.lxpack.job");
    }

    #[test]
    fn labels_are_user_keys_and_read_back() {
        let body = profile(&mounts(), Ownership::Shift, None);
        assert_eq!(body["config"]["user.lxpack.job"], labels().job.as_str());
        assert_eq!(body["config"]["user.lxpack.command"], "deploy");
        assert_eq!(body["config"]["user.lxpack.app"], "web/prod/front");
        let config: std::collections::BTreeMap<String, String> =
            serde_json::from_value(body["config"].clone()).unwrap();
        assert_eq!(labels_of(&config), Some(labels()));
        let damaged = [("user.lxpack.job".to_owned(), "x".to_owned())].into();
        assert_eq!(labels_of(&damaged), None);
    }

    #[test]
    fn instances_from_local_and_remote_images() {
        let mut spec = LaunchSpec {
            name: InstanceName::parse("lxpack-build-x").unwrap(),
            image: ImageRef::Local(ImageSelector::Alias(ImageAlias::parse("base").unwrap())),
            profile: Some(ProfileName::parse("lxpack-build-x").unwrap()),
            ephemeral: false,
            isolation: Isolation::Unprivileged,
            limits: ResourceLimits {
                cpu: Some("2".into()),
                processes: Some(500),
                root_size: Some(1 << 30),
                ..ResourceLimits::default()
            },
            network: Default::default(),
            labels: Some(labels()),
            standby: None,
            map_owner: None,
            from_snapshot: None,
            timeout: Duration::from_secs(1),
        };
        let body = instance(
            &spec,
            &["default".to_owned()],
            false,
            Ownership::Idmap,
            Map::new(),
            Some("p1"),
        );
        assert_eq!(body["config"]["limits.processes"], "500");
        assert_eq!(
            body["devices"]["root"],
            json!({"type": "disk", "path": "/", "pool": "p1", "size": "1073741824"})
        );
        let body = instance(
            &spec,
            &["default".to_owned()],
            false,
            Ownership::Idmap,
            Map::new(),
            None,
        );
        assert!(body.get("devices").is_none());
        assert_eq!(body["profiles"], json!(["default", "lxpack-build-x"]));
        assert_eq!(body["config"]["user.lxpack.app"], "web/prod/front");
        assert_eq!(body["source"], json!({"type": "image", "alias": "base"}));
        assert_eq!(body["config"]["limits.cpu"], "2");
        assert!(body["config"].get("security.privileged").is_none());
        assert!(body.get("start").is_none());
        spec.isolation = Isolation::Privileged;
        spec.image = ImageRef::Remote {
            server: RemoteServer {
                url: "https://img:8443".into(),
                protocol: RemoteProtocol::Simplestreams,
            },
            image: ImageSelector::Fingerprint("abcdef012345".into()),
        };
        spec.profile = None;
        let body = instance(
            &spec,
            &["default".to_owned()],
            true,
            Ownership::Idmap,
            Map::new(),
            None,
        );
        assert_eq!(body["profiles"], json!(["default"]));
        assert_eq!(body["config"]["security.privileged"], "true");
        assert_eq!(body["start"], true);
        assert_eq!(
            body["source"],
            json!({"type": "image", "mode": "pull", "server": "https://img:8443", "protocol": "simplestreams", "fingerprint": "abcdef012345"})
        );
    }

    #[test]
    fn a_standby_mark_reads_back_from_the_config_it_writes() {
        use lxpack_core::domain::{AppKey, JobId, PoolKey, ResourceLimits};
        let key = PoolKey {
            app: AppKey::new("web", "prod", "front"),
            image: JobId::generate(1_700_000_000, [4; 8]),
            isolation: Isolation::Unprivileged,
            limits: ResourceLimits::default(),
            target: None,
            owner: Some(Owner {
                uid: 1000,
                gid: 1000,
            }),
        };
        let mark = StandbyMark::new(&key, std::time::SystemTime::now()).readied();
        let config: std::collections::BTreeMap<String, String> = standby_config(&mark)
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(standby_of(&config), Some(mark));
        assert_eq!(
            labels_of(&config),
            None,
            "a standby is no job's until claimed"
        );
    }
}
