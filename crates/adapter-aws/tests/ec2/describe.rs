//! describe_ami on moto: ids, names, dates, states and OS identities of AMIs seeded the
//! way Packer and operators make them, and of the public AMIs moto ships.

use std::time::{Duration, SystemTime};

use lxpack_core::domain::{AmiId, AmiState, OsIdentity, OsType};
use lxpack_core::ports::{AmiCatalog, AmiCatalogError};

use crate::helpers::{REGION, moto_or_skip};

#[tokio::test]
async fn ami_built_from_an_instance_has_its_name_date_state_and_architecture() {
    let moto = moto_or_skip!();
    let source = moto
        .public_ami("amzn2-ami-hvm-2.0.20260930.0-arm64-gp2")
        .await;
    let name = format!("debian-12-arm64-20240201-1644-{}", moto.env);
    let before = SystemTime::now() - Duration::from_secs(5);
    let id = moto
        .create_from(&source, &name, "Debian 12 (20240201-1644)", &[])
        .await;

    let ami = moto.catalog().describe_ami(REGION, &id).await.unwrap();
    assert_eq!(ami.id, id);
    assert_eq!(ami.name, name);
    assert_eq!(ami.state, AmiState::Available);
    assert!(
        ami.created_at >= before && ami.created_at <= SystemTime::now() + Duration::from_secs(5),
        "{:?}",
        ami.created_at
    );
    assert_eq!(
        ami.os,
        OsIdentity::new(OsType::Linux, "debian", "12", "aarch64")
    );
}

#[tokio::test]
async fn os_comes_from_tags_then_name_then_description() {
    let moto = moto_or_skip!();
    let catalog = moto.catalog();
    let web = moto.app("web", None);
    struct Case {
        name: String,
        description: &'static str,
        tags: &'static [(&'static str, &'static str)],
        family: &'static str,
        release: &'static str,
    }
    let cases = [
        Case {
            name: format!(
                "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240207-{}",
                moto.env
            ),
            description: "",
            tags: &[],
            family: "ubuntu",
            release: "22.04",
        },
        Case {
            name: format!(
                "al2023-ami-2023.3.20240205.2-kernel-6.1-x86_64-{}",
                moto.env
            ),
            description: "",
            tags: &[],
            family: "amazonlinux",
            release: "2023",
        },
        Case {
            name: format!(
                "amzn2-ami-kernel-5.10-hvm-2.0.20240131.0-x86_64-gp2-{}",
                moto.env
            ),
            description: "",
            tags: &[],
            family: "amazonlinux",
            release: "2",
        },
        // Cloud Deploy's names carry no OS: the description tells it…
        Case {
            name: crate::helpers::Moto::ami_name(&web, 1),
            description: "Amazon Linux 2023 AMI 2023.3.20240205.2 x86_64 HVM kernel-6.1",
            tags: &[],
            family: "amazonlinux",
            release: "2023",
        },
        // …and tags win over everything.
        Case {
            name: crate::helpers::Moto::ami_name(&web, 2),
            description: "Debian 12 (20240201-1644)",
            tags: &[("os_family", "ubuntu"), ("os_release", "24.04")],
            family: "ubuntu",
            release: "24.04",
        },
    ];
    for Case {
        name,
        description,
        tags,
        family,
        release,
    } in cases
    {
        let id = moto.register(&name, description, tags).await;
        let ami = catalog.describe_ami(REGION, &id).await.unwrap();
        assert_eq!(
            (
                ami.os.os_type,
                ami.os.family.as_str(),
                ami.os.release.as_str()
            ),
            (OsType::Linux, family, release),
            "{name}"
        );
        assert_eq!(ami.name, name);
    }
}

#[tokio::test]
async fn windows_ami_built_from_a_windows_instance_is_windows() {
    let moto = moto_or_skip!();
    let source = moto
        .public_ami("Windows_Server-2016-English-Full-Base-2017.10.13")
        .await;
    let web = moto.app("win", None);
    let id = moto
        .create_from(&source, &crate::helpers::Moto::ami_name(&web, 1), "", &[])
        .await;
    let ami = moto.catalog().describe_ami(REGION, &id).await.unwrap();
    assert_eq!(
        ami.os,
        OsIdentity::new(OsType::Windows, "windows", "", "x86_64")
    );
}

#[tokio::test]
async fn public_amis_moto_ships_are_recognised() {
    let moto = moto_or_skip!();
    let catalog = moto.catalog();
    for (name, expected) in [
        (
            "amzn2-ami-hvm-2.0.20260930.0-arm64-gp2",
            OsIdentity::new(OsType::Linux, "amazonlinux", "2", "aarch64"),
        ),
        (
            "al2023-ami-2023.12.20260930.0-kernel-6.12-x86_64",
            OsIdentity::new(OsType::Linux, "amazonlinux", "2023", "x86_64"),
        ),
        (
            "Windows_Server-2016-English-Full-Base-2017.10.13",
            OsIdentity::new(OsType::Windows, "windows", "2016", "x86_64"),
        ),
        (
            "suse-sles-12-sp3-v20170907-hvm-ssd-x86_64",
            OsIdentity::new(OsType::Linux, "sles", "12.3", "x86_64"),
        ),
        (
            "RHEL-7.4_HVM_GA-20170808-x86_64-2-Hourly2-GP2",
            OsIdentity::new(OsType::Linux, "rhel", "7", "x86_64"),
        ),
        (
            "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-20170721",
            OsIdentity::new(OsType::Linux, "ubuntu", "16.04", "x86_64"),
        ),
    ] {
        let id = moto.public_ami(name).await;
        let ami = catalog.describe_ami(REGION, &id).await.unwrap();
        assert_eq!(ami.os, expected, "{name}");
    }
}

#[tokio::test]
async fn an_ami_whose_os_cannot_be_told_says_what_was_seen_and_which_tag_to_set() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let name = crate::helpers::Moto::ami_name(&web, 3);
    let id = moto.register(&name, "built by packer", &[]).await;
    let error = moto.catalog().describe_ami(REGION, &id).await.unwrap_err();
    let AmiCatalogError::UnknownOs { ami, seen, hint } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(ami, &id);
    assert!(seen.contains(&name), "{seen}");
    assert!(seen.contains("built by packer"), "{seen}");
    assert!(seen.contains("no os_family tag"), "{seen}");
    assert!(
        hint.contains(&format!(
            "--resources {id} --tags Key=os_family,Value=debian"
        )),
        "{hint}"
    );
    assert_eq!(
        error.to_string(),
        format!("cannot tell the OS family of AMI {id} (saw {seen})")
    );
}

#[tokio::test]
async fn custom_tag_keys_are_read() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let id = moto
        .register(
            &crate::helpers::Moto::ami_name(&web, 4),
            "",
            &[("Distro", "rocky"), ("DistroVersion", "9")],
        )
        .await;
    let catalog = lxpack_aws::Ec2AmiCatalog::new(
        crate::helpers::moto_config(&moto.url)
            .os_tags(lxpack_aws::OsTagKeys {
                family: "Distro".into(),
                release: "DistroVersion".into(),
            })
            .build()
            .unwrap(),
    );
    let ami = catalog.describe_ami(REGION, &id).await.unwrap();
    assert_eq!(
        (ami.os.family.as_str(), ami.os.release.as_str()),
        ("rockylinux", "9")
    );
}

#[tokio::test]
async fn missing_and_deregistered_amis_are_not_found() {
    let moto = moto_or_skip!();
    let catalog = moto.catalog();
    let missing = AmiId::parse("ami-0fedcba9876543210").unwrap();
    let error = catalog.describe_ami(REGION, &missing).await.unwrap_err();
    assert!(
        matches!(&error, AmiCatalogError::NotFound { ami, region } if *ami == missing && region == REGION),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "AMI ami-0fedcba9876543210 was not found in eu-west-1"
    );

    let web = moto.app("web", None);
    let id = moto
        .register(
            &crate::helpers::Moto::ami_name(&web, 5),
            "",
            &[("os_family", "debian")],
        )
        .await;
    assert!(catalog.describe_ami(REGION, &id).await.is_ok());
    moto.deregister(&id).await;
    let error = catalog.describe_ami(REGION, &id).await.unwrap_err();
    assert!(
        matches!(error, AmiCatalogError::NotFound { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_ami_is_looked_up_in_the_region_given() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let id = moto
        .register(
            &crate::helpers::Moto::ami_name(&web, 6),
            "",
            &[("os_family", "debian")],
        )
        .await;
    let catalog = moto.catalog();
    assert!(catalog.describe_ami(REGION, &id).await.is_ok());
    let error = catalog.describe_ami("us-east-1", &id).await.unwrap_err();
    assert!(
        matches!(&error, AmiCatalogError::NotFound { region, .. } if region == "us-east-1"),
        "{error:?}"
    );
}
