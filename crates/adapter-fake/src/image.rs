//! Seed images for tests, and the image lookup rules the fake daemon shares between
//! launch and resolve (alias, or a fingerprint prefix that must be unambiguous).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use lxpack_core::domain::{Fingerprint, Image, ImageAlias, ImageSelector, property};
use sha2::{Digest, Sha256};

/// The image `selector` names among `images`: the one with the alias, or the only
/// one whose fingerprint starts with the prefix (`None` when several do).
pub(crate) fn select<'a>(
    images: impl Iterator<Item = &'a Image>,
    selector: &ImageSelector,
) -> Option<&'a Image> {
    match selector {
        ImageSelector::Alias(alias) => images.into_iter().find(|image| image.has_alias(alias)),
        ImageSelector::Fingerprint(prefix) => {
            let mut matching =
                images.filter(|image| image.fingerprint.as_str().starts_with(prefix));
            let first = matching.next()?;
            matching.next().is_none().then_some(first)
        }
    }
}

/// A deterministic fingerprint: the SHA-256 of the parts, each length-prefixed.
pub(crate) fn fingerprint_of(parts: &[&[u8]]) -> Fingerprint {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_be_bytes());
        hasher.update(part);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    #[allow(clippy::expect_used)]
    // A SHA-256 digest in lower-case hex is 64 lower-case hex digits: a fingerprint.
    Fingerprint::parse(&hex).expect("a SHA-256 hex digest is a valid fingerprint")
}

/// Builds an [`Image`] to seed a fake registry with: a deterministic fingerprint
/// derived from `seed`, architecture `x86_64`, 1 MiB, created at
/// 2020-09-13T12:26:40Z unless told otherwise.
///
/// ```
/// use lxpack_core::domain::ImageAlias;
/// use lxpack_fake::ImageBuilder;
///
/// let debian = ImageBuilder::new("debian-12")
///     .alias(ImageAlias::parse("debian-12").unwrap())
///     .os("debian", "12")
///     .build();
/// assert_eq!(debian.properties["os"], "debian");
/// assert_eq!(debian.fingerprint, ImageBuilder::new("debian-12").build().fingerprint);
/// ```
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    seed: String,
    aliases: Vec<ImageAlias>,
    properties: BTreeMap<String, String>,
    architecture: String,
    created_at: SystemTime,
    size_bytes: u64,
}

impl ImageBuilder {
    /// An image whose fingerprint is derived from `seed`: equal seeds give equal
    /// fingerprints.
    #[must_use]
    pub fn new(seed: &str) -> Self {
        Self {
            seed: seed.to_owned(),
            aliases: Vec::new(),
            properties: BTreeMap::new(),
            architecture: "x86_64".to_owned(),
            created_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000),
            size_bytes: 1 << 20,
        }
    }

    /// Adds an alias.
    #[must_use]
    pub fn alias(mut self, alias: ImageAlias) -> Self {
        self.aliases.push(alias);
        self
    }

    /// Sets a property.
    #[must_use]
    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.properties.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets the `os` and `release` properties that source-image matching reads.
    #[must_use]
    pub fn os(self, family: &str, release: &str) -> Self {
        self.property(property::OS, family)
            .property(property::RELEASE, release)
    }

    /// Sets the architecture, in LXD's spelling (`x86_64`, `aarch64`), and the
    /// `architecture` property.
    #[must_use]
    pub fn architecture(mut self, architecture: &str) -> Self {
        architecture.clone_into(&mut self.architecture);
        self.property(property::ARCHITECTURE, architecture)
    }

    /// Sets the creation time.
    #[must_use]
    pub fn created_at(mut self, created_at: SystemTime) -> Self {
        self.created_at = created_at;
        self
    }

    /// Sets the size.
    #[must_use]
    pub fn size_bytes(mut self, size_bytes: u64) -> Self {
        self.size_bytes = size_bytes;
        self
    }

    /// The image.
    #[must_use]
    pub fn build(self) -> Image {
        Image {
            fingerprint: fingerprint_of(&[b"lxpack-fake image", self.seed.as_bytes()]),
            aliases: self.aliases,
            properties: self.properties,
            architecture: self.architecture,
            created_at: self.created_at,
            size_bytes: self.size_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(text: &str) -> ImageAlias {
        ImageAlias::parse(text).unwrap()
    }

    #[test]
    fn selects_by_alias_or_unique_prefix() {
        let a = ImageBuilder::new("a").alias(alias("first")).build();
        let b = ImageBuilder::new("b").build();
        let images = [a.clone(), b.clone()];
        let by_alias = ImageSelector::Alias(alias("first"));
        assert_eq!(select(images.iter(), &by_alias), Some(&a));
        let by_prefix = ImageSelector::Fingerprint(b.fingerprint.short().to_owned());
        assert_eq!(select(images.iter(), &by_prefix), Some(&b));
        let missing = ImageSelector::Alias(alias("missing"));
        assert_eq!(select(images.iter(), &missing), None);
    }

    #[test]
    fn an_ambiguous_prefix_selects_nothing() {
        let mut a = ImageBuilder::new("a").build();
        let mut b = ImageBuilder::new("b").build();
        a.fingerprint =
            Fingerprint::parse(&format!("{}{}", "ab".repeat(6), "0".repeat(52))).unwrap();
        b.fingerprint =
            Fingerprint::parse(&format!("{}{}", "ab".repeat(6), "1".repeat(52))).unwrap();
        let images = [a, b];
        let prefix = ImageSelector::Fingerprint("ab".repeat(6));
        assert_eq!(select(images.iter(), &prefix), None);
    }

    #[test]
    fn builder_is_deterministic_and_sets_properties() {
        let image = ImageBuilder::new("x")
            .architecture("aarch64")
            .os("debian", "12")
            .size_bytes(7)
            .build();
        assert_eq!(image.architecture, "aarch64");
        assert_eq!(image.properties[property::ARCHITECTURE], "aarch64");
        assert_eq!(image.properties[property::RELEASE], "12");
        assert_eq!(image.size_bytes, 7);
        assert_eq!(
            image.fingerprint,
            ImageBuilder::new("x").build().fingerprint
        );
        assert_ne!(
            image.fingerprint,
            ImageBuilder::new("y").build().fingerprint
        );
    }
}
