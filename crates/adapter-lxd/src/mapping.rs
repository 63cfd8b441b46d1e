//! The daemon's replies read as the runtime port's types: what the server is and can
//! do, and every instance and profile with the labels it carries. Small on purpose:
//! whose a resource is, is the core's decision.

use lxpack_core::ports::{Resource, ResourceKind, ServerInfo};

use lxpack_core::domain::MemberName;

use crate::reply::{Instance, Profile, Server, member_of};
use crate::wire::{kept_until_of, labels_of, standby_of};

/// `GET /1.0` as the port's [`ServerInfo`].
pub(crate) fn parse_server_info(server: &Server) -> ServerInfo {
    let product = match server.environment.server.as_str() {
        "lxd" => "LXD".to_owned(),
        "incus" => "Incus".to_owned(),
        other => other.to_owned(),
    };
    // LXD 5.0 reports idmapped mounts yet cannot start shifted disks: only trust Incus.
    let idmapped = server.environment.kernel_features.idmapped_mounts == "true";
    ServerInfo {
        can_shift_mounts: server.environment.server == "incus" && idmapped,
        product,
        version: server.environment.server_version.clone(),
    }
}

/// Every instance, then every profile, with its labels.
pub(crate) fn resources(instances: &[Instance], profiles: &[Profile]) -> Vec<Resource> {
    let instances = instances.iter().map(|i| Resource {
        kind: ResourceKind::Instance,
        name: i.name.clone(),
        labels: labels_of(&i.config),
        member: member_of(&i.location).and_then(|m| MemberName::parse(m).ok()),
        kept_until: kept_until_of(&i.config),
        standby: standby_of(&i.config),
        steps: crate::wire::steps_of(&i.config),
    });
    let profiles = profiles.iter().map(|p| Resource {
        kind: ResourceKind::Profile,
        name: p.name.clone(),
        labels: labels_of(&p.config),
        member: None,
        kept_until: None,
        standby: standby_of(&p.config),
        steps: Vec::new(),
    });
    instances.chain(profiles).collect()
}

#[cfg(test)]
mod tests {
    use lxpack_core::domain::{AppKey, JobCommand, JobId, Labels};

    use super::*;
    use crate::testing::{Daemon, metadata_of};

    fn server(daemon: Daemon) -> Server {
        serde_json::from_value(metadata_of(daemon, "server", 0)).unwrap()
    }

    #[test]
    fn server_info_trusts_shift_only_on_incus() {
        let lxd = parse_server_info(&server(Daemon::Lxd));
        assert_eq!(lxd.product, "LXD");
        assert_eq!(lxd.version, "5.0.2");
        assert!(!lxd.can_shift_mounts);
        let incus = parse_server_info(&server(Daemon::Incus));
        assert_eq!(incus.product, "Incus");
        assert_eq!(incus.version, "6.0.4");
        let mut idmapped = server(Daemon::Incus);
        idmapped.environment.kernel_features.idmapped_mounts = "true".into();
        assert!(parse_server_info(&idmapped).can_shift_mounts);
        let mut lxd = server(Daemon::Lxd);
        lxd.environment.kernel_features.idmapped_mounts = "true".into();
        assert!(!parse_server_info(&lxd).can_shift_mounts);
    }

    #[test]
    fn every_resource_is_listed_with_its_labels() {
        let labels = Labels {
            job: JobId::generate(1_700_000_000, [1, 2, 3, 4, 5, 6, 7, 8]),
            command: JobCommand::Deploy,
            app: AppKey::new("web", "prod", "front"),
        };
        let config: std::collections::BTreeMap<String, String> = labels
            .pairs()
            .into_iter()
            .map(|(key, value)| (crate::wire::mark_key(key), value))
            .collect();
        let instance = |name: &str, labelled: bool| Instance {
            name: name.into(),
            config: if labelled {
                config.clone()
            } else {
                Default::default()
            },
            ..Instance::default()
        };
        let found = resources(
            &[instance("web", false), instance("renamed", true)],
            &[
                Profile {
                    name: "default".into(),
                    ..Profile::default()
                },
                Profile {
                    name: "lxpack-fixture-p".into(),
                    config: config.clone(),
                    ..Profile::default()
                },
            ],
        );
        let listed: Vec<(ResourceKind, &str, bool)> = found
            .iter()
            .map(|r| (r.kind, r.name.as_str(), r.labels.as_ref() == Some(&labels)))
            .collect();
        assert_eq!(
            listed,
            [
                (ResourceKind::Instance, "web", false),
                (ResourceKind::Instance, "renamed", true),
                (ResourceKind::Profile, "default", false),
                (ResourceKind::Profile, "lxpack-fixture-p", true),
            ]
        );
    }
}
