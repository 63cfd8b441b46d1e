//! The contract of `AmiCatalog`. Retention deletes images whose AMI twin is gone, so a
//! catalog that lists another app's AMIs, or misses one of the app's, deletes the
//! wrong images: the suite checks the listing exactly against AMIs the caller made.

use std::collections::BTreeSet;
use std::time::Duration;

use lxpack_core::domain::{Ami, AmiId, App};
use lxpack_core::ports::{AmiCatalog, AmiCatalogError};

use crate::report::{Checker, ContractReport};
use crate::unwind::CatchUnwind;

/// How long any single catalog call may take.
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// AMIs the caller made in the app's region before running the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AmiFixture {
    /// The app whose AMIs are listed.
    pub app: App,
    /// The app's available AMIs in its region, with known OS families.
    pub owned: Vec<AmiId>,
    /// AMIs in the same region that are not the app's (another app, a name that only
    /// starts like the app's, another colour): none may be listed.
    pub foreign: Vec<AmiId>,
    /// An id that does not exist in the region.
    pub missing: AmiId,
}

impl AmiFixture {
    /// A fixture.
    #[must_use]
    pub fn new(app: App, owned: Vec<AmiId>, foreign: Vec<AmiId>, missing: AmiId) -> Self {
        Self {
            app,
            owned,
            foreign,
            missing,
        }
    }
}

/// Runs the contract of [`AmiCatalog`] against `catalog`. It checks that
/// `list_app_amis` returns exactly the app's AMIs, newest first, each named for the
/// app; that `describe_ami` agrees with the listing; and that a missing AMI is
/// `NotFound`. It creates nothing.
pub async fn ami_catalog_contract(
    catalog: &dyn AmiCatalog,
    fixture: &AmiFixture,
) -> ContractReport {
    let mut checker = Checker::new("AMI catalog", CALL_LIMIT);
    let outcome = CatchUnwind::new(run(catalog, fixture, &mut checker)).await;
    checker.ran_to_the_end(outcome);
    checker.finish()
}

async fn run(catalog: &dyn AmiCatalog, fixture: &AmiFixture, checker: &mut Checker) {
    let app = &fixture.app;
    if let Some(listed) = checker
        .ok("list_app_amis", catalog.list_app_amis(app))
        .await
    {
        let ids: BTreeSet<&AmiId> = listed.iter().map(|ami| &ami.id).collect();
        let owned: BTreeSet<&AmiId> = fixture.owned.iter().collect();
        checker.equal("list_app_amis lists exactly the app's AMIs", &owned, &ids);
        let foreign: Vec<&AmiId> = fixture
            .foreign
            .iter()
            .filter(|id| ids.contains(id))
            .collect();
        checker.that(
            "list_app_amis lists no other app's AMI",
            foreign.is_empty(),
            "none of the foreign AMIs",
            foreign,
        );
        let mut ordered = listed.clone();
        Ami::sort_newest_first(&mut ordered);
        let order = |amis: &[Ami]| {
            amis.iter()
                .map(|ami| ami.id.to_string())
                .collect::<Vec<_>>()
        };
        checker.that(
            "list_app_amis is newest first",
            order(&listed) == order(&ordered),
            format!(
                "the core's order (Ami::sort_newest_first): {:?}",
                order(&ordered)
            ),
            listed
                .iter()
                .map(|ami| (&ami.id, &ami.name, ami.created_at))
                .collect::<Vec<_>>(),
        );
        let strangers: Vec<&str> = listed
            .iter()
            .map(|ami| ami.name.as_str())
            .filter(|name| !app.owns_ami_name(name))
            .collect();
        checker.that(
            "list_app_amis lists only AMIs named for the app",
            strangers.is_empty(),
            format!("names starting with {}", app.ami_name_prefix()),
            strangers,
        );
        for ami in &listed {
            let check = format!("describe_ami {}", ami.id);
            if let Some(described) = checker
                .ok(&check, catalog.describe_ami(&app.region, &ami.id))
                .await
            {
                checker.equal(&format!("{check} agrees with the listing"), ami, &described);
            }
        }
    }
    checker
        .err(
            "describe_ami of a missing AMI",
            "NotFound",
            catalog.describe_ami(&app.region, &fixture.missing),
            |e| matches!(e, AmiCatalogError::NotFound { .. }),
        )
        .await;
}
