//! An AMI and its operating system: buildimage needs the OS to pick a matching
//! container image, and retention needs the list of AMIs to find their image twins.

use std::fmt;
use std::time::SystemTime;

use super::ValidationError;

/// An EC2 image id, `ami-` followed by 8 or 17 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmiId(String);

impl AmiId {
    /// Parses an AMI id.
    ///
    /// # Errors
    /// [`ValidationError::AmiId`] unless `text` is `ami-` and 8 or 17 lowercase hex
    /// digits.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let valid = text.strip_prefix("ami-").is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::AmiId {
                input: text.to_owned(),
            })
        }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AmiId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The operating system type of an AMI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OsType {
    /// Linux and other Unix-likes.
    Linux,
    /// Windows: no container image can match it.
    Windows,
}

impl OsType {
    /// `linux` or `windows`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
        }
    }
}

/// What an image must match to stand in for an AMI: its OS type, family (`debian`,
/// `ubuntu`, `amazonlinux`…), release (`12`, `22.04`…) and architecture.
///
/// Families and architectures are kept lower-case so that comparisons are exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OsIdentity {
    /// Linux or Windows.
    pub os_type: OsType,
    /// The distribution family, lower-case.
    pub family: String,
    /// The release, e.g. `12` or `22.04`; empty when unknown.
    pub release: String,
    /// The architecture in LXD's spelling: `x86_64` or `aarch64`.
    pub architecture: String,
}

impl OsIdentity {
    /// Builds an identity, trimming each part and normalising family and architecture
    /// the way LXD spells them (`amd64` becomes `x86_64`, `arm64` becomes `aarch64`).
    #[must_use]
    pub fn new(os_type: OsType, family: &str, release: &str, architecture: &str) -> Self {
        let architecture = match architecture.trim().to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x64" => "x86_64".to_owned(),
            "arm64" | "aarch64" | "arm64_mac" => "aarch64".to_owned(),
            other => other.to_owned(),
        };
        Self {
            os_type,
            family: family.trim().to_ascii_lowercase(),
            release: release.trim().to_owned(),
            architecture,
        }
    }

    /// Parses `FAMILY/RELEASE[/ARCH]`, the way an operator states an AMI's OS without an
    /// AMI catalog (`debian/12`, `ubuntu/22.04/arm64`). The OS type is Linux, since
    /// Windows AMIs have no container twin; the architecture defaults to
    /// `default_architecture`.
    ///
    /// # Errors
    /// [`ValidationError::OsSpec`] for any other shape or an empty part.
    pub fn parse_spec(text: &str, default_architecture: &str) -> Result<Self, ValidationError> {
        let parts: Vec<&str> = text.trim().split('/').map(str::trim).collect();
        let invalid = || ValidationError::OsSpec {
            input: text.to_owned(),
        };
        if parts.iter().any(|part| part.is_empty()) {
            return Err(invalid());
        }
        match parts.as_slice() {
            [family, release] => Ok(Self::new(
                OsType::Linux,
                family,
                release,
                default_architecture,
            )),
            [family, release, arch] => Ok(Self::new(OsType::Linux, family, release, arch)),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for OsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} ({})",
            self.os_type.as_str(),
            self.family,
            if self.release.is_empty() {
                "(any release)"
            } else {
                &self.release
            },
            self.architecture
        )
    }
}

/// The lifecycle state of an AMI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmiState {
    /// Usable.
    Available,
    /// Still being built.
    Pending,
    /// Deregistered or failed: its image twin may go.
    Gone,
}

/// One AMI, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ami {
    /// Its id.
    pub id: AmiId,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// Its state.
    pub state: AmiState,
    /// Its operating system.
    pub os: OsIdentity,
}

impl Ami {
    /// Sorts `amis` newest first, the order every [`AmiCatalog`] lists them in:
    /// by creation time, then, for AMIs created in the same second, by name descending
    /// (Cloud Deploy's names end with their timestamp), then by id, so the order is
    /// total.
    ///
    /// [`AmiCatalog`]: crate::ports::AmiCatalog
    pub fn sort_newest_first(amis: &mut [Self]) {
        amis.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.name.cmp(&a.name))
                .then_with(|| a.id.cmp(&b.id))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_then_by_name_then_by_id() {
        let at = |seconds: u64, name: &str, id: &str| Ami {
            id: AmiId::parse(id).unwrap(),
            name: name.into(),
            created_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds),
            state: AmiState::Available,
            os: OsIdentity::new(OsType::Linux, "debian", "12", "x86_64"),
        };
        let mut amis = vec![
            at(1, "web1", "ami-00000001"),
            at(2, "web2", "ami-00000003"),
            at(2, "web2", "ami-00000002"),
            at(2, "web3", "ami-00000004"),
        ];
        Ami::sort_newest_first(&mut amis);
        let ids: Vec<&str> = amis.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ami-00000004",
                "ami-00000002",
                "ami-00000003",
                "ami-00000001"
            ]
        );
    }

    #[test]
    fn os_specs() {
        let os = OsIdentity::parse_spec("Debian/12", "amd64").unwrap();
        assert_eq!(os, OsIdentity::new(OsType::Linux, "debian", "12", "x86_64"));
        let os = OsIdentity::parse_spec("ubuntu/22.04/arm64", "x86_64").unwrap();
        assert_eq!(os.architecture, "aarch64");
        for bad in ["", "debian", "debian/", "/12", "a/b/c/d", "debian//x86_64"] {
            assert!(OsIdentity::parse_spec(bad, "x86_64").is_err(), "{bad:?}");
        }
    }

    /// Found by the os_spec fuzz target: the default architecture kept its spaces, so
    /// the identity read from `debian/12` with `"amd64 "` was not the one read from
    /// `debian/12/amd64 `.
    #[test]
    fn every_part_is_trimmed_the_architecture_too() {
        let os = OsIdentity::new(OsType::Linux, " Debian ", " 12 ", " AMD64\t");
        assert_eq!(os, OsIdentity::new(OsType::Linux, "debian", "12", "x86_64"));
        assert_eq!(
            OsIdentity::parse_spec("debian/12", "mips64 "),
            OsIdentity::parse_spec("debian/12/mips64", "x86_64")
        );
    }

    #[test]
    fn ami_ids() {
        assert!(AmiId::parse("ami-0123abcd").is_ok());
        assert!(AmiId::parse("ami-0123456789abcdef0").is_ok());
        for bad in [
            "ami-0123",
            "AMI-0123abcd",
            "ami-0123ABCD",
            "ami-0123abcdx",
            "i-0123abcd",
        ] {
            assert!(AmiId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identity_normalises_architecture_and_family() {
        let os = OsIdentity::new(OsType::Linux, " Debian ", "12", "amd64");
        assert_eq!(os.family, "debian");
        assert_eq!(os.architecture, "x86_64");
        assert_eq!(
            OsIdentity::new(OsType::Linux, "x", "", "arm64").architecture,
            "aarch64"
        );
    }
}
