//! list_app_amis: exactly the app's AMIs, newest first, across pages, with the prefix
//! traps Cloud Deploy's naming sets (web and web2, coloured variants, other regions).

use std::collections::BTreeSet;
use std::time::Duration;

use lxpack_aws::Ec2AmiCatalog;
use lxpack_core::domain::{AmiId, AmiState, Color};
use lxpack_core::ports::AmiCatalog;

use crate::helpers::{Moto, app, moto_config, moto_or_skip, unique_token};
use crate::stub::{Reply, Stub, StubImage, images_page};

const DEBIAN: &[(&str, &str)] = &[("os_family", "debian"), ("os_release", "12")];

fn ids(amis: &[lxpack_core::domain::Ami]) -> BTreeSet<AmiId> {
    amis.iter().map(|ami| ami.id.clone()).collect()
}

#[tokio::test]
async fn each_app_sees_only_its_own_amis() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let web2 = moto.app("web2", None);
    let blue = moto.app("web", Some(Color::Blue));
    let green = moto.app("web", Some(Color::Green));

    let mut web_ids = BTreeSet::new();
    for n in 1..=3 {
        web_ids.insert(moto.register(&Moto::ami_name(&web, n), "", DEBIAN).await);
    }
    let mut web2_ids = BTreeSet::new();
    for n in 1..=2 {
        web2_ids.insert(moto.register(&Moto::ami_name(&web2, n), "", DEBIAN).await);
    }
    let blue_id = moto.register(&Moto::ami_name(&blue, 1), "", DEBIAN).await;
    let green_id = moto.register(&Moto::ami_name(&green, 1), "", DEBIAN).await;
    // Names that start like web's but are not web's AMIs.
    let prefix = web.ami_name_prefix();
    for trap in [
        prefix.clone(),
        format!("{prefix}-old"),
        format!("{prefix}.2024"),
        format!("{prefix}{}-extra", crate::helpers::stamp(9)),
    ] {
        moto.register(&trap, "", DEBIAN).await;
    }
    // web2's, without the dot: `web2` + timestamp reads as `web` + `2…` to a bare prefix
    // match.
    web2_ids.insert(
        moto.register(
            &format!("{prefix}2{}", crate::helpers::stamp(9)),
            "",
            DEBIAN,
        )
        .await,
    );

    let catalog = moto.catalog();
    let listed = catalog.list_app_amis(&web).await.unwrap();
    assert_eq!(ids(&listed), web_ids);
    assert!(listed.iter().all(|ami| web.owns_ami_name(&ami.name)));
    assert!(listed.iter().all(|ami| ami.state == AmiState::Available));
    assert!(listed.iter().all(|ami| ami.os.family == "debian"));
    assert_eq!(ids(&catalog.list_app_amis(&web2).await.unwrap()), web2_ids);
    assert_eq!(
        ids(&catalog.list_app_amis(&blue).await.unwrap()),
        BTreeSet::from([blue_id])
    );
    assert_eq!(
        ids(&catalog.list_app_amis(&green).await.unwrap()),
        BTreeSet::from([green_id])
    );
    let nobody = moto.app("nobody", None);
    assert!(catalog.list_app_amis(&nobody).await.unwrap().is_empty());
}

#[tokio::test]
async fn newest_first_by_creation_time_then_name() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    // Created first, but with the latest name: creation time wins.
    let first = moto.register(&Moto::ami_name(&web, 9), "", DEBIAN).await;
    let same_second = moto.register(&Moto::ami_name(&web, 8), "", DEBIAN).await;
    // EC2 (and moto) keep creation dates to the second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let last = moto.register(&Moto::ami_name(&web, 1), "", DEBIAN).await;

    let listed = moto.catalog().list_app_amis(&web).await.unwrap();
    let order: Vec<&AmiId> = listed.iter().map(|ami| &ami.id).collect();
    assert_eq!(order.len(), 3);
    assert_eq!(order[0], &last);
    assert!(listed[0].created_at > listed[1].created_at);
    assert_eq!(
        BTreeSet::from([order[1], order[2]]),
        BTreeSet::from([&first, &same_second])
    );
    // The other two were most likely made in the same second: then the later name
    // comes first.
    if listed[1].created_at == listed[2].created_at {
        assert_eq!(order[1..], [&first, &same_second]);
    } else {
        assert!(listed[1].created_at > listed[2].created_at);
    }
}

#[tokio::test]
async fn deregistered_amis_drop_out_of_the_list() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let kept = moto.register(&Moto::ami_name(&web, 1), "", DEBIAN).await;
    let gone = moto.register(&Moto::ami_name(&web, 2), "", DEBIAN).await;
    let catalog = moto.catalog();
    assert_eq!(catalog.list_app_amis(&web).await.unwrap().len(), 2);
    moto.deregister(&gone).await;
    assert_eq!(
        ids(&catalog.list_app_amis(&web).await.unwrap()),
        BTreeSet::from([kept])
    );
}

#[tokio::test]
async fn an_ami_whose_os_cannot_be_told_is_listed_with_an_empty_family() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let id = moto.register(&Moto::ami_name(&web, 1), "", &[]).await;
    let listed = moto.catalog().list_app_amis(&web).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].os.family, "");
}

#[tokio::test]
async fn more_amis_than_a_page_are_all_listed() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let mut seeded = BTreeSet::new();
    for n in 1..=12 {
        seeded.insert(moto.register(&Moto::ami_name(&web, n), "", DEBIAN).await);
    }
    let catalog = Ec2AmiCatalog::new(moto_config(&moto.url).page_size(5).build().unwrap());
    assert_eq!(ids(&catalog.list_app_amis(&web).await.unwrap()), seeded);
}

/// Moto answers DescribeImages in one page whatever MaxResults says, so the paging is
/// proven against the stub: three pages, each asked for with the previous token.
#[tokio::test]
async fn pages_are_followed_to_the_end() {
    let env = unique_token();
    let web = app(&env, "web", None);
    let prefix = web.ami_name_prefix();
    let names: Vec<String> = (1..=5)
        .map(|n| format!("{prefix}{}", crate::helpers::stamp(n)))
        .collect();
    let trap = format!("{}2{}", prefix, crate::helpers::stamp(7));
    let pages = {
        let names = names.clone();
        move |token: Option<&str>| -> Reply {
            match token {
                None => images_page(
                    &[
                        StubImage::debian("ami-00000001", &names[0], "2024-01-01T00:00:00.000Z"),
                        StubImage::debian("ami-00000007", &trap, "2024-01-07T00:00:00.000Z"),
                    ],
                    Some("page-2"),
                ),
                Some("page-2") => images_page(
                    &[
                        StubImage::debian("ami-00000003", &names[2], "2024-01-03T00:00:00.000Z"),
                        StubImage::debian("ami-00000002", &names[1], "2024-01-02T00:00:00.000Z"),
                    ],
                    Some("page-3"),
                ),
                Some("page-3") => images_page(
                    &[
                        StubImage::debian("ami-00000005", &names[4], "2024-01-05T00:00:00.000Z"),
                        StubImage {
                            state: "disabled",
                            ..StubImage::debian(
                                "ami-00000004",
                                &names[3],
                                "2024-01-04T00:00:00.000Z",
                            )
                        },
                    ],
                    None,
                ),
                Some(other) => panic!("unexpected token {other}"),
            }
        }
    };
    let stub = Stub::start(move |request| pages(request.param("NextToken"))).await;
    let catalog = Ec2AmiCatalog::new(moto_config(&stub.url).page_size(5).build().unwrap());

    let listed = catalog.list_app_amis(&web).await.unwrap();
    let order: Vec<&str> = listed.iter().map(|ami| ami.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "ami-00000005",
            "ami-00000004",
            "ami-00000003",
            "ami-00000002",
            "ami-00000001"
        ]
    );
    // A disabled AMI still exists: its image twin must be kept.
    assert_eq!(listed[1].state, AmiState::Available);

    let requests = stub.requests_for("DescribeImages");
    let tokens: Vec<Option<&str>> = requests.iter().map(|r| r.param("NextToken")).collect();
    assert_eq!(tokens, [None, Some("page-2"), Some("page-3")]);
    for request in &requests {
        assert_eq!(request.param("Owner.1"), Some("self"));
        assert_eq!(request.param("Filter.1.Name"), Some("name"));
        assert_eq!(
            request.param("Filter.1.Value.1"),
            Some(format!("{prefix}*").as_str())
        );
        assert_eq!(request.param("MaxResults"), Some("5"));
        assert_eq!(request.param("IncludeDisabled"), Some("true"));
    }
}
