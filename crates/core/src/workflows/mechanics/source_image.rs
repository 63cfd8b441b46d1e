//! Which image a buildimage container starts from: the app's explicit choice, or the
//! newest local image whose `os`/`release`/`architecture` match the AMI. Images lxpack
//! published for apps are never candidates: they are outputs, not bases.

use crate::domain::{Image, ImageSelector, OsIdentity, OsType, property};
use crate::workflows::error::WorkflowError;

/// The newest image matching `wanted`.
pub(crate) fn match_source_image<'a>(
    images: &'a [Image],
    wanted: &OsIdentity,
) -> Result<&'a Image, WorkflowError> {
    let bases: Vec<&Image> = images.iter().filter(|i| i.provenance().is_none()).collect();
    bases
        .iter()
        .copied()
        .filter(|image| matches(image, wanted))
        .max_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| b.fingerprint.cmp(&a.fingerprint))
        })
        .ok_or_else(|| WorkflowError::NoMatchingSourceImage {
            wanted: wanted.clone(),
            candidates: describe(&bases),
        })
}

/// The selector of an image, by its first alias or its fingerprint.
pub(crate) fn selector_of(image: &Image) -> ImageSelector {
    image.aliases.first().map_or_else(
        || ImageSelector::Fingerprint(image.fingerprint.as_str().to_owned()),
        |alias| ImageSelector::Alias(alias.clone()),
    )
}

fn matches(image: &Image, wanted: &OsIdentity) -> bool {
    if wanted.os_type != OsType::Linux {
        return false;
    }
    let prop = |key: &str| {
        image
            .properties
            .get(key)
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let architecture = if image.architecture.is_empty() {
        prop(property::ARCHITECTURE)
    } else {
        image.architecture.to_ascii_lowercase()
    };
    let architecture = OsIdentity::new(OsType::Linux, "", "", &architecture).architecture;
    let family_ok = canonical_family(&prop(property::OS)) == canonical_family(&wanted.family);
    let release_ok = wanted.release.is_empty()
        || canonical_release(&prop(property::RELEASE))
            == canonical_release(&wanted.release.to_ascii_lowercase());
    // An unknown architecture (a catalog that does not say) constrains nothing, like an
    // unknown release.
    let architecture_ok = wanted.architecture.is_empty() || architecture == wanted.architecture;
    family_ok && release_ok && architecture_ok
}

fn canonical_family(family: &str) -> String {
    match family {
        "amazon" | "amzn" | "amazon linux" | "amazonlinux" => "amazonlinux".to_owned(),
        "rhel" | "redhat" | "red hat" => "rhel".to_owned(),
        "rocky" | "rockylinux" => "rockylinux".to_owned(),
        "alma" | "almalinux" => "almalinux".to_owned(),
        "suse" | "sles" | "opensuse" => "suse".to_owned(),
        other => other.to_owned(),
    }
}

/// Release numbers, with Debian and Ubuntu code names mapped to them.
fn canonical_release(release: &str) -> &str {
    match release {
        "buster" => "10",
        "bullseye" => "11",
        "bookworm" => "12",
        "trixie" => "13",
        "bionic" => "18.04",
        "focal" => "20.04",
        "jammy" => "22.04",
        "noble" => "24.04",
        other => other,
    }
}

fn describe(images: &[&Image]) -> String {
    if images.is_empty() {
        return "none (the image store holds no base image; import one with os, release and architecture properties)".to_owned();
    }
    images
        .iter()
        .map(|image| {
            let get = |key| image.properties.get(key).map_or("?", String::as_str);
            format!(
                "{} (os={} release={} architecture={})",
                image
                    .aliases
                    .first()
                    .map_or_else(|| image.fingerprint.short().to_owned(), ToString::to_string),
                get(property::OS),
                get(property::RELEASE),
                image.architecture
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::domain::{Fingerprint, ImageAlias};

    fn image(n: u8, os: &str, release: &str, arch: &str, age: u64) -> Image {
        Image {
            fingerprint: Fingerprint::parse(&format!("{n:02x}").repeat(32)).unwrap(),
            aliases: vec![ImageAlias::parse(&format!("base-{n}")).unwrap()],
            properties: BTreeMap::from([
                ("os".to_owned(), os.to_owned()),
                ("release".to_owned(), release.to_owned()),
            ]),
            architecture: arch.into(),
            created_at: SystemTime::UNIX_EPOCH + Duration::from_secs(age),
            size_bytes: 1,
        }
    }

    #[test]
    fn picks_the_newest_match_with_code_names() {
        let images = [
            image(1, "Debian", "bookworm", "x86_64", 10),
            image(2, "debian", "12", "x86_64", 20),
            image(3, "debian", "12", "aarch64", 30),
            image(4, "ubuntu", "22.04", "x86_64", 40),
        ];
        let wanted = OsIdentity::new(OsType::Linux, "debian", "12", "amd64");
        assert_eq!(
            match_source_image(&images, &wanted).unwrap().aliases[0].as_str(),
            "base-2"
        );
        let any_release = OsIdentity::new(OsType::Linux, "ubuntu", "", "x86_64");
        assert_eq!(
            match_source_image(&images, &any_release).unwrap().aliases[0].as_str(),
            "base-4"
        );
        let any_architecture = OsIdentity::new(OsType::Linux, "debian", "12", "");
        assert_eq!(
            match_source_image(&images, &any_architecture)
                .unwrap()
                .aliases[0]
                .as_str(),
            "base-3"
        );
    }

    #[test]
    fn no_match_lists_candidates() {
        let images = [image(1, "debian", "11", "x86_64", 10)];
        let wanted = OsIdentity::new(OsType::Linux, "debian", "12", "x86_64");
        let err = match_source_image(&images, &wanted)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("base-1 (os=debian release=11 architecture=x86_64)"),
            "{err}"
        );
        let err = match_source_image(&[], &wanted).unwrap_err().to_string();
        assert!(err.contains("import one"), "{err}");
    }
}
