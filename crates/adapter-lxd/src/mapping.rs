//! The daemon's replies read as the runtime port's types: what the server is and can
//! do, and which instances and profiles are lxpack's leftovers. Small on purpose: the
//! port's shape of these changes, the replies do not.

use lxpack_core::domain::{InstanceName, JobId, NAME_PREFIX, label};
use lxpack_core::ports::{Leftover, LeftoverKind, ServerInfo, ServerKind};

use crate::reply::{Instance, Profile, Server};

/// `GET /1.0` as the port's [`ServerInfo`].
pub(crate) fn parse_server_info(server: &Server) -> ServerInfo {
    let kind = match server.environment.server.as_str() {
        "lxd" => ServerKind::Lxd,
        "incus" => ServerKind::Incus,
        other => ServerKind::Other(other.to_owned()),
    };
    // LXD 5.0 reports idmapped mounts yet cannot start shifted disks: only trust Incus.
    let idmapped = server.environment.kernel_features.idmapped_mounts == "true";
    ServerInfo {
        can_shift_mounts: kind == ServerKind::Incus && idmapped,
        kind,
        version: server.environment.server_version.clone(),
        extensions: server.api_extensions.iter().cloned().collect(),
    }
}

/// The instances and profiles lxpack made: named `lxpack-...`, or (instances)
/// labelled with a job.
pub(crate) fn leftovers(instances: &[Instance], profiles: &[Profile]) -> Vec<Leftover> {
    let instances = instances
        .iter()
        .map(|i| (LeftoverKind::Instance, i.name.as_str(), &i.config));
    let profiles = profiles
        .iter()
        .map(|p| (LeftoverKind::Profile, p.name.as_str(), &p.config));
    instances
        .chain(profiles)
        .filter_map(|(kind, name, config)| {
            let labelled = config.get(label::JOB);
            if !name.starts_with(NAME_PREFIX) && labelled.is_none() {
                return None;
            }
            let name = InstanceName::parse(name).ok()?;
            let job = labelled
                .and_then(|j| JobId::parse(j).ok())
                .or_else(|| name.job());
            Some(Leftover { kind, name, job })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Daemon, metadata_of};

    fn server(daemon: Daemon) -> Server {
        serde_json::from_value(metadata_of(daemon, "server", 0)).unwrap()
    }

    #[test]
    fn server_info_trusts_shift_only_on_incus() {
        let lxd = parse_server_info(&server(Daemon::Lxd));
        assert_eq!(lxd.kind, ServerKind::Lxd);
        assert_eq!(lxd.version, "5.0.2");
        assert!(!lxd.can_shift_mounts);
        assert!(lxd.extensions.contains("container_exec_user_group_cwd"));
        let incus = parse_server_info(&server(Daemon::Incus));
        assert_eq!(incus.kind, ServerKind::Incus);
        assert_eq!(incus.version, "6.0.4");
        let mut idmapped = server(Daemon::Incus);
        idmapped.environment.kernel_features.idmapped_mounts = "true".into();
        assert!(parse_server_info(&idmapped).can_shift_mounts);
        let mut lxd = server(Daemon::Lxd);
        lxd.environment.kernel_features.idmapped_mounts = "true".into();
        assert!(!parse_server_info(&lxd).can_shift_mounts);
    }

    #[test]
    fn leftovers_are_named_or_labelled() {
        let instance = |name: &str, job: Option<&str>| Instance {
            name: name.into(),
            config: job
                .map(|j| [(label::JOB.to_owned(), j.to_owned())].into())
                .unwrap_or_default(),
            ..Instance::default()
        };
        let job = JobId::generate(1_700_000_000, [1, 2, 3, 4, 5, 6, 7, 8]);
        let found = leftovers(
            &[
                instance("web", None),
                instance("lxpack-fixture-l", None),
                instance("renamed", Some(job.as_str())),
            ],
            &[
                Profile {
                    name: "default".into(),
                    ..Profile::default()
                },
                Profile {
                    name: "lxpack-fixture-p".into(),
                    ..Profile::default()
                },
            ],
        );
        let names: Vec<(LeftoverKind, &str, Option<&JobId>)> = found
            .iter()
            .map(|l| (l.kind, l.name.as_str(), l.job.as_ref()))
            .collect();
        assert_eq!(
            names,
            [
                (LeftoverKind::Instance, "lxpack-fixture-l", None),
                (LeftoverKind::Instance, "renamed", Some(&job)),
                (LeftoverKind::Profile, "lxpack-fixture-p", None),
            ]
        );
    }
}
