//! The shared `AmiCatalog` contract suite, the one the fake passes, against EC2 on moto.

use lxpack_contract::{AmiFixture, ami_catalog_contract};
use lxpack_core::domain::{AmiId, Color};

use crate::helpers::{Moto, moto_or_skip};

const DEBIAN: &[(&str, &str)] = &[("os_family", "debian"), ("os_release", "12")];

#[tokio::test]
async fn ec2_on_moto_honours_the_ami_catalog_contract() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    let mut owned = Vec::new();
    for n in 1..=3 {
        owned.push(moto.register(&Moto::ami_name(&web, n), "", DEBIAN).await);
    }
    let mut foreign = Vec::new();
    for other in [
        moto.app("web2", None),
        moto.app("web", Some(Color::Blue)),
        moto.app("we", None),
    ] {
        foreign.push(moto.register(&Moto::ami_name(&other, 1), "", DEBIAN).await);
    }
    foreign.push(
        moto.register(&format!("{}-old", web.ami_name_prefix()), "", DEBIAN)
            .await,
    );
    let gone = moto.register(&Moto::ami_name(&web, 4), "", DEBIAN).await;
    moto.deregister(&gone).await;
    foreign.push(gone);

    let fixture = AmiFixture::new(
        web,
        owned,
        foreign,
        AmiId::parse("ami-0fedcba9876543210").unwrap(),
    );
    ami_catalog_contract(&moto.catalog(), &fixture)
        .await
        .assert_passed();
}
