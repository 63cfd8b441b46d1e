//! A cluster of daemons places instances itself; lxpack only says where it may, and
//! must then say where a job ran and which members it could not reach. Names and the
//! target rule live here so the config, the doctor and the sweep read them alike.

use std::fmt;

use super::ValidationError;

/// The name of a cluster member, as the daemon knows it (`m2`, `build-host-3`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberName(String);

/// The longest member or group name accepted: a host name's length.
const MAX_LEN: usize = 253;

/// Why `text` is not a member or group name, if it is not.
fn name_problem(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        Some("it is empty")
    } else if text.len() > MAX_LEN {
        Some("it is longer than 253 characters")
    } else if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        Some("only ASCII letters, digits, -, . and _ are allowed")
    } else {
        None
    }
}

impl MemberName {
    /// Parses a member name.
    ///
    /// # Errors
    /// [`ValidationError::PlacementTarget`] when it is empty, too long, or holds other
    /// characters than ASCII letters, digits, `-`, `.` and `_`.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match name_problem(text) {
            Some(reason) => Err(ValidationError::PlacementTarget {
                input: text.to_owned(),
                reason,
            }),
            None => Ok(Self(text.to_owned())),
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemberName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where new instances may go on a cluster (`lxpack.runtime.target`): one member, or
/// any member of a cluster group (written `@group`). Without one, the daemon places.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlacementTarget {
    /// This member.
    Member(MemberName),
    /// Any member of this cluster group.
    Group(String),
}

impl PlacementTarget {
    /// Parses `member` or `@group`.
    ///
    /// # Errors
    /// [`ValidationError::PlacementTarget`] when the name is not a valid member or
    /// group name.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        match text.strip_prefix('@') {
            Some(group) => match name_problem(group) {
                Some(reason) => Err(ValidationError::PlacementTarget {
                    input: text.to_owned(),
                    reason,
                }),
                None => Ok(Self::Group(group.to_owned())),
            },
            None => MemberName::parse(text).map(Self::Member),
        }
    }

    /// Whether the cluster `members` can honour this target; `Err` says why not and
    /// what the cluster has instead. A daemon that is not clustered (no members) can
    /// honour none.
    ///
    /// # Errors
    /// The problem, in a sentence that names the target and what exists.
    pub fn check(&self, members: &[ClusterMember]) -> Result<(), String> {
        if members.is_empty() {
            return Err(format!(
                "target {self} is set, but the daemon is not part of a cluster: remove lxpack.runtime.target"
            ));
        }
        let names = || {
            members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::Member(name) => match members.iter().find(|m| &m.name == name) {
                None => Err(format!(
                    "target {name} is not a member of the cluster (its members: {})",
                    names()
                )),
                Some(member) if !member.is_online() => Err(format!(
                    "target {name} is {}: {}",
                    member.status.to_lowercase(),
                    member.message
                )),
                Some(_) => Ok(()),
            },
            Self::Group(group) => {
                let in_group: Vec<&ClusterMember> = members
                    .iter()
                    .filter(|m| m.groups.iter().any(|g| g == group))
                    .collect();
                if in_group.is_empty() {
                    let mut groups: Vec<&str> = members
                        .iter()
                        .flat_map(|m| m.groups.iter().map(String::as_str))
                        .collect();
                    groups.sort_unstable();
                    groups.dedup();
                    Err(format!(
                        "target @{group} is not a cluster group with members (groups: {})",
                        groups.join(", ")
                    ))
                } else if !in_group.iter().any(|m| m.is_online()) {
                    Err(format!("no member of @{group} is online"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Whether storage volumes made for a job (its dependency caches) are on the member
/// its instance runs on. A custom volume lives on one member, and an instance reaches
/// only that member's volumes: so off a cluster (no `members`) always, and on a
/// cluster only when `target` names one member, where both the volume and the
/// instance are made. Without a target, or with a `@group`, the cluster places the
/// instance itself, on any member.
#[must_use]
pub fn volumes_reach_instances(
    target: Option<&PlacementTarget>,
    members: &[ClusterMember],
) -> bool {
    members.is_empty() || matches!(target, Some(PlacementTarget::Member(_)))
}

impl fmt::Display for PlacementTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Member(name) => write!(f, "{name}"),
            Self::Group(group) => write!(f, "@{group}"),
        }
    }
}

/// A member of the daemon's cluster, as the daemon reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMember {
    /// Its name.
    pub name: MemberName,
    /// Its API address, for people.
    pub url: String,
    /// The daemon's word for its state: `Online`, `Offline`, `Evacuated`…
    pub status: String,
    /// The daemon's detail (`Fully operational`, `No heartbeat for 38s`).
    pub message: String,
    /// The cluster groups it belongs to.
    pub groups: Vec<String>,
}

impl ClusterMember {
    /// Whether the cluster reaches it: online, or evacuated (it runs nothing new, but
    /// its leftovers can still be removed).
    #[must_use]
    pub fn is_reachable(&self) -> bool {
        matches!(self.status.as_str(), "Online" | "Evacuated")
    }

    /// Whether it takes new instances.
    #[must_use]
    pub fn is_online(&self) -> bool {
        self.status == "Online"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(name: &str, status: &str, groups: &[&str]) -> ClusterMember {
        ClusterMember {
            name: MemberName::parse(name).unwrap(),
            url: format!("https://{name}:8443"),
            status: status.to_owned(),
            message: if status == "Online" {
                "Fully operational".into()
            } else {
                "No heartbeat for 38s".into()
            },
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn cluster() -> Vec<ClusterMember> {
        vec![
            member("m1", "Online", &["default", "odd"]),
            member("m2", "Offline", &["default"]),
            member("m3", "Online", &["default", "odd"]),
            member("m4", "Offline", &["gone"]),
        ]
    }

    #[test]
    fn a_target_is_a_member_or_an_at_group() {
        assert_eq!(
            PlacementTarget::parse("m2").unwrap(),
            PlacementTarget::Member(MemberName::parse("m2").unwrap())
        );
        assert_eq!(
            PlacementTarget::parse("@odd").unwrap(),
            PlacementTarget::Group("odd".into())
        );
        assert_eq!(PlacementTarget::parse("@odd").unwrap().to_string(), "@odd");
        for bad in ["", "@", "m 2", "@a/b", "m2?x=1", "m2&target=m3"] {
            let error = PlacementTarget::parse(bad).unwrap_err().to_string();
            assert!(error.contains("cluster target"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_check_names_what_the_cluster_has() {
        let members = cluster();
        assert!(
            PlacementTarget::parse("m1")
                .unwrap()
                .check(&members)
                .is_ok()
        );
        assert!(
            PlacementTarget::parse("@odd")
                .unwrap()
                .check(&members)
                .is_ok()
        );
        let unknown = PlacementTarget::parse("m9")
            .unwrap()
            .check(&members)
            .unwrap_err();
        assert!(unknown.contains("m1, m2, m3, m4"), "{unknown}");
        let offline = PlacementTarget::parse("m2")
            .unwrap()
            .check(&members)
            .unwrap_err();
        assert!(offline.contains("m2 is offline: No heartbeat"), "{offline}");
        let group = PlacementTarget::parse("@even")
            .unwrap()
            .check(&members)
            .unwrap_err();
        assert!(group.contains("groups: default, gone, odd"), "{group}");
        let dead = PlacementTarget::parse("@gone")
            .unwrap()
            .check(&members)
            .unwrap_err();
        assert!(dead.contains("no member of @gone is online"), "{dead}");
        let alone = PlacementTarget::parse("m1")
            .unwrap()
            .check(&[])
            .unwrap_err();
        assert!(alone.contains("not part of a cluster"), "{alone}");
    }

    #[test]
    fn volumes_reach_instances_off_a_cluster_or_on_one_named_member_only() {
        let members = cluster();
        let member = PlacementTarget::parse("m1").unwrap();
        let group = PlacementTarget::parse("@odd").unwrap();
        assert!(volumes_reach_instances(None, &[]));
        assert!(volumes_reach_instances(Some(&group), &[]));
        assert!(volumes_reach_instances(Some(&member), &members));
        assert!(!volumes_reach_instances(Some(&group), &members));
        assert!(!volumes_reach_instances(None, &members));
    }

    #[test]
    fn evacuated_members_are_reachable_but_take_nothing_new() {
        let evacuated = member("m1", "Evacuated", &[]);
        assert!(evacuated.is_reachable());
        assert!(!evacuated.is_online());
        assert!(!member("m1", "Offline", &[]).is_reachable());
    }

    proptest! {
        #[test]
        fn a_parsed_target_reads_back_as_written(text in "@?[a-zA-Z0-9._-]{1,40}") {
            let target = PlacementTarget::parse(&text).unwrap();
            prop_assert_eq!(target.to_string(), text);
        }

        #[test]
        fn a_target_never_carries_url_syntax(text in "\\PC{0,40}") {
            if PlacementTarget::parse(&text).is_ok() {
                prop_assert!(!text.contains(['?', '&', '/', '#', ' ', '%']));
            }
        }
    }
}
