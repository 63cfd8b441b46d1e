//! EC2's image records into the domain's [`Ami`]: the id checked, the creation date
//! parsed, the state folded into the three the workflows care about, and the OS told by
//! [`crate::os_identity`]. Pure, so it is tested on built records.

use std::time::SystemTime;

use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ec2::types::{Image, ImageState};
use lxpack_core::domain::{Ami, AmiId, AmiState, OsIdentity};

use crate::os_identity::{self, AmiFacts, OsTagKeys, Unidentified};

/// An image record, its OS told or not.
pub(crate) struct Converted {
    /// The AMI; its family is empty when `unidentified` is set.
    pub(crate) ami: Ami,
    /// Why the OS could not be told, if it could not.
    pub(crate) unidentified: Option<Unidentified>,
}

/// Converts an image record. `None` when the record has no usable AMI id.
pub(crate) fn convert(image: &Image, keys: &OsTagKeys) -> Option<Converted> {
    let id = AmiId::parse(image.image_id()?).ok()?;
    let tags: Vec<(String, String)> = image
        .tags()
        .iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let facts = AmiFacts {
        name: image.name().unwrap_or_default(),
        description: image.description().unwrap_or_default(),
        platform: image.platform().map(|p| p.as_str()).unwrap_or_default(),
        platform_details: image.platform_details().unwrap_or_default(),
        architecture: image.architecture().map(|a| a.as_str()).unwrap_or_default(),
        tags: &tags,
    };
    let (os, unidentified) = match os_identity::identify(&facts, keys) {
        Ok(os) => (os, None),
        Err(why) => (
            OsIdentity::new(os_identity::os_type(&facts), "", "", facts.architecture),
            Some(why),
        ),
    };
    Some(Converted {
        ami: Ami {
            id,
            name: facts.name.to_owned(),
            created_at: image
                .creation_date()
                .and_then(parse_creation_date)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            state: state(image.state()),
            os,
        },
        unidentified,
    })
}

/// EC2 writes creation dates as RFC 3339 (`2024-02-01T16:44:00.000Z`).
pub(crate) fn parse_creation_date(text: &str) -> Option<SystemTime> {
    let date = DateTime::from_str(text, DateTimeFormat::DateTime).ok()?;
    SystemTime::try_from(date).ok()
}

/// EC2's image states, as the workflows see them. Only deregistered and broken AMIs
/// are `Gone`: a disabled AMI still exists and can be re-enabled, so its image twin is
/// kept; a state this code does not know is not taken for gone either.
pub(crate) fn state(state: Option<&ImageState>) -> AmiState {
    match state {
        Some(ImageState::Available | ImageState::Disabled) => AmiState::Available,
        Some(
            ImageState::Deregistered | ImageState::Failed | ImageState::Error | ImageState::Invalid,
        ) => AmiState::Gone,
        _ => AmiState::Pending,
    }
}

/// An EC2 filter value matching names that start with `prefix`: `*` and `?` are EC2's
/// wildcards, so they (and the backslash that escapes them) are escaped.
pub(crate) fn name_prefix_filter(prefix: &str) -> String {
    let mut value = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '\\') {
            value.push('\\');
        }
        value.push(c);
    }
    value.push('*');
    value
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_ec2::types::{ArchitectureValues, PlatformValues, Tag};
    use lxpack_core::domain::OsType;

    use super::*;

    fn image(id: &str, name: &str) -> aws_sdk_ec2::types::builders::ImageBuilder {
        Image::builder()
            .image_id(id)
            .name(name)
            .creation_date("2024-02-01T16:44:00.000Z")
            .state(ImageState::Available)
            .architecture(ArchitectureValues::Arm64)
    }

    #[test]
    fn a_public_ami_converts_with_its_os() {
        let record = image("ami-0123456789abcdef0", "debian-12-arm64-20240201-1644").build();
        let converted = convert(&record, &OsTagKeys::default()).unwrap();
        assert!(converted.unidentified.is_none());
        let ami = converted.ami;
        assert_eq!(ami.id.as_str(), "ami-0123456789abcdef0");
        assert_eq!(ami.state, AmiState::Available);
        assert_eq!(
            ami.created_at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_706_805_840)
        );
        assert_eq!(
            ami.os,
            OsIdentity::new(OsType::Linux, "debian", "12", "aarch64")
        );
    }

    #[test]
    fn tags_and_platform_reach_the_rules() {
        let record = image(
            "ami-0123abcd",
            "ami.prod.eu-west-1.webfront.web20240102-030405",
        )
        .tags(Tag::builder().key("os_family").value("ubuntu").build())
        .tags(Tag::builder().key("os_release").value("22.04").build())
        .build();
        let ami = convert(&record, &OsTagKeys::default()).unwrap().ami;
        assert_eq!(
            (ami.os.family.as_str(), ami.os.release.as_str()),
            ("ubuntu", "22.04")
        );

        let windows = image(
            "ami-0123abce",
            "ami.prod.eu-west-1.webfront.win20240102-030405",
        )
        .platform(PlatformValues::Windows)
        .build();
        let ami = convert(&windows, &OsTagKeys::default()).unwrap().ami;
        assert_eq!(ami.os.os_type, OsType::Windows);
    }

    #[test]
    fn an_unknown_os_keeps_the_ami_with_an_empty_family() {
        let record = image(
            "ami-0123abcd",
            "ami.prod.eu-west-1.webfront.web20240102-030405",
        )
        .build();
        let converted = convert(&record, &OsTagKeys::default()).unwrap();
        assert_eq!(converted.ami.os.family, "");
        assert_eq!(converted.ami.os.architecture, "aarch64");
        assert!(
            converted
                .unidentified
                .unwrap()
                .seen
                .contains("web20240102-030405")
        );
    }

    #[test]
    fn records_without_a_valid_id_are_dropped() {
        assert!(convert(&Image::builder().name("x").build(), &OsTagKeys::default()).is_none());
        assert!(convert(&image("ami-ekswin", "x").build(), &OsTagKeys::default()).is_none());
    }

    #[test]
    fn states() {
        assert_eq!(state(Some(&ImageState::Available)), AmiState::Available);
        assert_eq!(state(Some(&ImageState::Disabled)), AmiState::Available);
        assert_eq!(state(Some(&ImageState::Pending)), AmiState::Pending);
        assert_eq!(state(Some(&ImageState::Transient)), AmiState::Pending);
        for gone in [
            ImageState::Deregistered,
            ImageState::Failed,
            ImageState::Error,
            ImageState::Invalid,
        ] {
            assert_eq!(state(Some(&gone)), AmiState::Gone, "{gone:?}");
        }
        assert_eq!(
            state(Some(&ImageState::from("future-state"))),
            AmiState::Pending
        );
        assert_eq!(state(None), AmiState::Pending);
    }

    #[test]
    fn creation_dates() {
        assert_eq!(
            parse_creation_date("1970-01-01T00:00:01.000Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1))
        );
        assert_eq!(parse_creation_date("yesterday"), None);
        let record = image("ami-0123abcd", "x").creation_date("garbage").build();
        assert_eq!(
            convert(&record, &OsTagKeys::default())
                .unwrap()
                .ami
                .created_at,
            SystemTime::UNIX_EPOCH
        );
    }

    #[test]
    fn name_filters_escape_wildcards() {
        assert_eq!(
            name_prefix_filter("ami.prod.eu-west-1.webfront.web"),
            "ami.prod.eu-west-1.webfront.web*"
        );
        assert_eq!(name_prefix_filter(r"a*b?c\d"), r"a\*b\?c\\d*");
    }
}
