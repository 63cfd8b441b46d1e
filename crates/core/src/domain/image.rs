//! Container images: how lxpack names them, points at them, and recognises the ones
//! it published (retention must never touch anything else).

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use super::text::text_enum;
use super::{AmiId, AppKey, Color, JobId, ValidationError};

/// An image alias. lxpack publishes each image under its job id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageAlias(String);

impl ImageAlias {
    /// Parses an alias: 1 to 255 characters, no `/`, `:`, whitespace or control
    /// characters.
    ///
    /// # Errors
    /// [`ValidationError::ImageAlias`] otherwise.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let reason = if text.is_empty() {
            Some("it is empty")
        } else if text.len() > 255 {
            Some("it is longer than 255 bytes")
        } else if text
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        {
            Some("it must not contain /, :, spaces or control characters")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ValidationError::ImageAlias {
                input: text.to_owned(),
                reason,
            }),
            None => Ok(Self(text.to_owned())),
        }
    }

    /// The alias of the image a job publishes: the job id itself.
    #[must_use]
    pub fn for_job(job: &JobId) -> Self {
        Self(job.as_str().to_owned())
    }

    /// The alias as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageAlias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image fingerprint: the SHA-256 of the image, 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Parses a full fingerprint.
    ///
    /// # Errors
    /// [`ValidationError::Fingerprint`] unless `text` is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if text.len() == 64 && is_lower_hex(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::Fingerprint {
                input: text.to_owned(),
            })
        }
    }

    /// The fingerprint as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, as LXD shows them.
    #[must_use]
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Which image on one server: by alias, or by a fingerprint or a prefix of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageSelector {
    /// By alias.
    Alias(ImageAlias),
    /// By fingerprint, or a unique prefix of at least 12 digits.
    Fingerprint(String),
}

impl ImageSelector {
    /// Parses `alias:NAME`, `fingerprint:HEX`, a bare 64-digit fingerprint, or a bare
    /// alias. A bare shorter hex string is an alias (job ids are hex aliases).
    ///
    /// # Errors
    /// [`ValidationError::ImageRef`] or [`ValidationError::ImageAlias`] when the part
    /// after the prefix is not valid.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        if let Some(hex) = text.strip_prefix("fingerprint:") {
            if (12..=64).contains(&hex.len()) && is_lower_hex(hex) {
                return Ok(Self::Fingerprint(hex.to_owned()));
            }
            return Err(ValidationError::ImageRef {
                input: text.to_owned(),
                reason: "a fingerprint has 12 to 64 lowercase hex digits",
            });
        }
        if let Some(alias) = text.strip_prefix("alias:") {
            return ImageAlias::parse(alias).map(Self::Alias);
        }
        if text.len() == 64 && is_lower_hex(text) {
            return Ok(Self::Fingerprint(text.to_owned()));
        }
        ImageAlias::parse(text).map(Self::Alias)
    }

    /// The shortest text that [`ImageSelector::parse`] reads back as this selector: the
    /// bare alias or fingerprint where that is unambiguous, as people write them
    /// (`debian-stretch`), with its `alias:`/`fingerprint:` prefix otherwise.
    #[must_use]
    pub fn spelling(&self) -> String {
        let bare = match self {
            Self::Alias(alias) => alias.to_string(),
            Self::Fingerprint(fingerprint) => fingerprint.clone(),
        };
        if Self::parse(&bare).as_ref() == Ok(self) {
            return bare;
        }
        match self {
            Self::Alias(alias) => format!("alias:{alias}"),
            Self::Fingerprint(fingerprint) => format!("fingerprint:{fingerprint}"),
        }
    }
}

impl fmt::Display for ImageSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alias(alias) => write!(f, "alias {alias}"),
            Self::Fingerprint(fingerprint) => write!(f, "fingerprint {fingerprint}"),
        }
    }
}

text_enum! {
    /// The protocol of a remote image server.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum RemoteProtocol as "image server protocol" {
        /// The LXD REST API.
        Lxd = "lxd",
        /// The Incus REST API (Incus servers only).
        Incus = "incus",
        /// A simplestreams index.
        Simplestreams = "simplestreams",
    }
}

/// A remote image server that source images are pulled from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteServer {
    /// Its `https://` URL.
    pub url: String,
    /// Its protocol.
    pub protocol: RemoteProtocol,
}

/// Where an instance's image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// The local image store of the daemon.
    Local(ImageSelector),
    /// Pulled from a remote server.
    Remote {
        /// The server.
        server: RemoteServer,
        /// The image on it.
        image: ImageSelector,
    },
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(image) => write!(f, "local {image}"),
            Self::Remote { server, image } => {
                write!(
                    f,
                    "{image} on {} ({})",
                    server.url,
                    server.protocol.as_str()
                )
            }
        }
    }
}

/// Image property keys lxpack writes when it publishes, and reads back for retention
/// and source-image matching.
pub mod property {
    /// The OS family (`debian`…): the key LXD's own images use.
    pub const OS: &str = "os";
    /// The OS release (`12`, `bookworm`…).
    pub const RELEASE: &str = "release";
    /// The architecture.
    pub const ARCHITECTURE: &str = "architecture";
    /// A free-form description.
    pub const DESCRIPTION: &str = "description";
    /// The app name.
    pub const APP: &str = "lxpack.app";
    /// The app environment.
    pub const ENV: &str = "lxpack.env";
    /// The app role.
    pub const ROLE: &str = "lxpack.role";
    /// The app colour, empty without one.
    pub const COLOR: &str = "lxpack.color";
    /// The job that published the image.
    pub const JOB: &str = "lxpack.job";
    /// The AMI whose twin the image is.
    pub const AMI: &str = "lxpack.ami";
}

/// An image in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// Its aliases.
    pub aliases: Vec<ImageAlias>,
    /// Its properties.
    pub properties: BTreeMap<String, String>,
    /// Its architecture, in LXD's spelling.
    pub architecture: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// Its size in bytes.
    pub size_bytes: u64,
}

/// The identity of an image that lxpack published, read back from its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The app it was built for.
    pub app: AppKey,
    /// The app colour.
    pub color: Option<Color>,
    /// The buildimage job.
    pub job: JobId,
    /// Its AMI twin.
    pub ami: Option<AmiId>,
}

impl Image {
    /// What lxpack recorded about this image, or `None` when lxpack did not publish it
    /// (its properties lack a valid job id or the app identity).
    #[must_use]
    pub fn provenance(&self) -> Option<Provenance> {
        let get = |key: &str| self.properties.get(key).map(String::as_str);
        let job = JobId::parse(get(property::JOB)?).ok()?;
        let app = AppKey {
            name: get(property::APP)?.to_owned(),
            env: get(property::ENV)?.to_owned(),
            role: get(property::ROLE)?.to_owned(),
        };
        let color = match get(property::COLOR).unwrap_or("") {
            "" => None,
            text => Some(Color::parse(text).ok()?),
        };
        let ami = get(property::AMI).and_then(|text| AmiId::parse(text).ok());
        Some(Provenance {
            app,
            color,
            job,
            ami,
        })
    }

    /// True when the image has `alias`.
    #[must_use]
    pub fn has_alias(&self, alias: &ImageAlias) -> bool {
        self.aliases.contains(alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let fp = "a".repeat(64);
        assert_eq!(
            ImageSelector::parse(&fp).unwrap(),
            ImageSelector::Fingerprint(fp.clone())
        );
        assert_eq!(
            ImageSelector::parse("5f1e3c2a9b8d7e6f5a4b3c2d").unwrap(),
            ImageSelector::Alias(ImageAlias::parse("5f1e3c2a9b8d7e6f5a4b3c2d").unwrap())
        );
        assert_eq!(
            ImageSelector::parse("fingerprint:abcdef012345").unwrap(),
            ImageSelector::Fingerprint("abcdef012345".into())
        );
        assert!(ImageSelector::parse("fingerprint:abc").is_err());
        assert!(ImageSelector::parse("debian/12").is_err());
        assert!(ImageSelector::parse("").is_err());
    }

    #[test]
    fn spellings_are_bare_unless_the_prefix_is_needed() {
        for (text, spelled) in [
            ("debian-stretch", "debian-stretch"),
            ("alias:debian-stretch", "debian-stretch"),
            ("5f1e3c2a9b8d7e6f5a4b3c2d", "5f1e3c2a9b8d7e6f5a4b3c2d"),
            ("fingerprint:abcdef012345", "fingerprint:abcdef012345"),
        ] {
            let selector = ImageSelector::parse(text).unwrap();
            assert_eq!(selector.spelling(), spelled);
            assert_eq!(
                ImageSelector::parse(&selector.spelling()).unwrap(),
                selector
            );
        }
        let full = "a".repeat(64);
        assert_eq!(ImageSelector::parse(&full).unwrap().spelling(), full);
        let alias_like_fingerprint =
            ImageSelector::Alias(ImageAlias::parse(&"b".repeat(64)).unwrap());
        assert_eq!(
            alias_like_fingerprint.spelling(),
            format!("alias:{}", "b".repeat(64))
        );
    }

    #[test]
    fn fingerprints() {
        assert!(Fingerprint::parse(&"0".repeat(64)).is_ok());
        assert!(Fingerprint::parse(&"0".repeat(63)).is_err());
        assert!(Fingerprint::parse(&"A".repeat(64)).is_err());
    }
}
