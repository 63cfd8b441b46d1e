//! `AmiCatalog` in memory: AMIs per region, deregistration, and the app-ownership and
//! newest-first rules of the port, so retention can be tested without EC2.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use lxpack_core::domain::{Ami, AmiId, AmiState, App, AppKey, OsIdentity, UtcDateTime};
use lxpack_core::ports::{AmiCatalog, AmiCatalogError};
use tracing::instrument;

use crate::faults::{FakeFailure, Fault, InjectedFault, When, strike};
use crate::harness::{Port, Recorded};

/// The operations of [`AmiCatalog`], to pick calls for faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogOp {
    /// `describe_ami`.
    DescribeAmi,
    /// `list_app_amis`.
    ListAppAmis,
}

/// One call received by a [`FakeAmiCatalog`], with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatalogCall {
    /// `describe_ami`.
    DescribeAmi {
        /// The region asked.
        region: String,
        /// The AMI.
        ami: AmiId,
    },
    /// `list_app_amis`.
    ListAppAmis {
        /// The app's key.
        app: AppKey,
        /// The app's region.
        region: String,
    },
}

impl Recorded for CatalogCall {
    type Op = CatalogOp;

    fn op(&self) -> CatalogOp {
        match self {
            Self::DescribeAmi { .. } => CatalogOp::DescribeAmi,
            Self::ListAppAmis { .. } => CatalogOp::ListAppAmis,
        }
    }
}

impl CatalogCall {
    fn injected(&self, kind: FakeFailure) -> AmiCatalogError {
        let operation = match self {
            Self::DescribeAmi { region, ami } => format!("describe {ami} in {region}"),
            Self::ListAppAmis { app, region } => format!("list the AMIs of {app} in {region}"),
        };
        match (kind, self) {
            (FakeFailure::Unreachable, _) => {
                AmiCatalogError::Unreachable(crate::faults::unreachable("fake EC2"))
            }
            (FakeFailure::NotFound, Self::DescribeAmi { region, ami }) => {
                AmiCatalogError::NotFound {
                    ami: ami.clone(),
                    region: region.clone(),
                }
            }
            (FakeFailure::Rejected, _) => AmiCatalogError::AccessDenied {
                message: InjectedFault.to_string(),
            },
            _ => AmiCatalogError::Other {
                operation,
                source: Box::new(InjectedFault),
            },
        }
    }
}

/// An in-memory [`AmiCatalog`]. Clones share the same AMIs.
///
/// `describe_ami` fails with `UnknownOs` for an AMI whose OS family is empty; such an
/// AMI is still listed, as the port requires.
#[derive(Clone)]
pub struct FakeAmiCatalog {
    port: Port<Vec<(String, Ami)>, CatalogCall, AmiCatalogError>,
}

impl Default for FakeAmiCatalog {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeAmiCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAmiCatalog")
            .field("amis", &self.amis().len())
            .finish_non_exhaustive()
    }
}

impl FakeAmiCatalog {
    /// A catalog with no AMI.
    #[must_use]
    pub fn new() -> Self {
        Self {
            port: Port::new(Vec::new()),
        }
    }

    /// An AMI named for `app` as Cloud Deploy names them
    /// (`ami.{env}.{region}.{role}.{name}[.{color}]YYYYmmdd-HHMMSS`, UTC), available.
    #[must_use]
    pub fn app_ami(app: &App, id: AmiId, created_at: SystemTime, os: OsIdentity) -> Ami {
        Ami {
            id,
            name: format!("{}{}", app.ami_name_prefix(), ami_timestamp(created_at)),
            created_at,
            state: AmiState::Available,
            os,
        }
    }

    /// Adds an AMI in `region`, replacing one with the same id there.
    pub fn insert_ami(&self, region: &str, ami: Ami) {
        self.port.with(|amis| {
            amis.retain(|(known_region, known)| !(known_region == region && known.id == ami.id));
            amis.push((region.to_owned(), ami));
        });
    }

    /// Marks the AMI deregistered (state `Gone`) in every region; returns whether it
    /// was known.
    pub fn deregister(&self, id: &AmiId) -> bool {
        self.port.with(|amis| {
            let mut found = false;
            for (_, ami) in amis.iter_mut().filter(|(_, ami)| ami.id == *id) {
                ami.state = AmiState::Gone;
                found = true;
            }
            found
        })
    }

    /// Removes the AMI from every region, as EC2 forgets deregistered AMIs after a
    /// while; returns whether it was known.
    pub fn remove_ami(&self, id: &AmiId) -> bool {
        self.port.with(|amis| {
            let before = amis.len();
            amis.retain(|(_, ami)| ami.id != *id);
            amis.len() != before
        })
    }

    /// Every AMI with its region, in insertion order.
    #[must_use]
    pub fn amis(&self) -> Vec<(String, Ami)> {
        self.port.with(|amis| amis.clone())
    }

    /// The calls, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<CatalogCall> {
        self.port.calls()
    }

    /// Each call as (operation, occurrence), in order.
    #[must_use]
    pub fn call_points(&self) -> Vec<(CatalogOp, u32)> {
        self.port.call_points()
    }

    /// Forgets the recorded calls; occurrences count from 1 again.
    pub fn clear_calls(&self) {
        self.port.clear_calls();
    }

    /// Makes the calls of `op` chosen by `when` fail or hang. A [`FakeFailure`]
    /// becomes:
    /// - `Unreachable`: `AmiCatalogError::Unreachable`;
    /// - `NotFound`: `NotFound` for describe (`Other` for list);
    /// - `Rejected`: `AccessDenied`;
    /// - anything else: `Other`.
    pub fn inject(&self, op: CatalogOp, when: When, fault: Fault<AmiCatalogError>) {
        self.port.inject(op, when, fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.port.clear_faults();
    }
}

#[async_trait]
impl AmiCatalog for FakeAmiCatalog {
    #[instrument(skip_all, fields(ami = %ami, region = %region))]
    async fn describe_ami(&self, region: &str, ami: &AmiId) -> Result<Ami, AmiCatalogError> {
        let call = CatalogCall::DescribeAmi {
            region: region.to_owned(),
            ami: ami.clone(),
        };
        let entered = self.port.enter(&call, |amis| {
            let found = amis
                .iter()
                .find(|(known_region, known)| known_region == region && known.id == *ami)
                .map(|(_, known)| known.clone());
            match found {
                None => Err(AmiCatalogError::NotFound {
                    ami: ami.clone(),
                    region: region.to_owned(),
                }),
                Some(found) if found.os.family.is_empty() => Err(AmiCatalogError::UnknownOs {
                    ami: ami.clone(),
                    seen: format!("name {:?}", found.name),
                    hint: "tag the AMI with its OS family".to_owned(),
                }),
                Some(found) => Ok(found),
            }
        });
        match entered {
            Ok(result) => result,
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }

    #[instrument(skip_all, fields(app = %app.key, region = %app.region))]
    async fn list_app_amis(&self, app: &App) -> Result<Vec<Ami>, AmiCatalogError> {
        let call = CatalogCall::ListAppAmis {
            app: app.key.clone(),
            region: app.region.clone(),
        };
        let entered = self.port.enter(&call, |amis| {
            let mut owned: Vec<Ami> = amis
                .iter()
                .filter(|(region, ami)| *region == app.region && app.owns_ami_name(&ami.name))
                .map(|(_, ami)| ami.clone())
                .collect();
            Ami::sort_newest_first(&mut owned);
            owned
        });
        match entered {
            Ok(amis) => Ok(amis),
            Err(fault) => Err(strike(fault, None, |kind| call.injected(kind)).await),
        }
    }
}

/// `YYYYmmdd-HHMMSS` in UTC; times before 1970 count as 1970-01-01.
fn ami_timestamp(time: SystemTime) -> String {
    let t = UtcDateTime::of(time);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use lxpack_core::domain::{Color, OsType};

    use super::*;
    use crate::fixtures::bare_app;

    fn app(name: &str, color: Option<Color>) -> App {
        match color {
            Some(color) => bare_app(name).with_color(color),
            None => bare_app(name),
        }
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn debian() -> OsIdentity {
        OsIdentity::new(OsType::Linux, "debian", "12", "x86_64")
    }

    fn id(n: u32) -> AmiId {
        AmiId::parse(&format!("ami-{n:08x}")).unwrap()
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(ami_timestamp(at(0)), "19700101-000000");
        assert_eq!(ami_timestamp(at(1_700_000_000)), "20231114-221320");
        assert_eq!(ami_timestamp(at(951_782_400)), "20000229-000000");
        let web = app("web", None);
        let ami = FakeAmiCatalog::app_ami(&web, id(1), at(1_700_000_000), debian());
        assert!(web.owns_ami_name(&ami.name), "{}", ami.name);
    }

    #[tokio::test]
    async fn lists_only_the_apps_amis_in_its_region_newest_first() {
        let catalog = FakeAmiCatalog::new();
        let web = app("web", None);
        let web2 = app("web2", None);
        let blue = app("web", Some(Color::Blue));
        catalog.insert_ami(
            "eu-west-1",
            FakeAmiCatalog::app_ami(&web, id(1), at(10), debian()),
        );
        catalog.insert_ami(
            "eu-west-1",
            FakeAmiCatalog::app_ami(&web, id(2), at(30), debian()),
        );
        catalog.insert_ami(
            "eu-west-1",
            FakeAmiCatalog::app_ami(&web2, id(3), at(40), debian()),
        );
        catalog.insert_ami(
            "eu-west-1",
            FakeAmiCatalog::app_ami(&blue, id(4), at(50), debian()),
        );
        catalog.insert_ami(
            "us-east-1",
            FakeAmiCatalog::app_ami(&web, id(5), at(60), debian()),
        );
        let listed: Vec<AmiId> = catalog
            .list_app_amis(&web)
            .await
            .unwrap()
            .into_iter()
            .map(|ami| ami.id)
            .collect();
        assert_eq!(listed, vec![id(2), id(1)]);

        assert!(catalog.deregister(&id(2)));
        let listed = catalog.list_app_amis(&web).await.unwrap();
        assert_eq!(listed[0].state, AmiState::Gone);
        assert!(catalog.remove_ami(&id(2)));
        assert!(!catalog.remove_ami(&id(2)));
        assert_eq!(catalog.list_app_amis(&web).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn describe_finds_by_region_and_id() {
        let catalog = FakeAmiCatalog::new();
        let web = app("web", None);
        let ami = FakeAmiCatalog::app_ami(&web, id(1), at(10), debian());
        catalog.insert_ami("eu-west-1", ami.clone());
        assert_eq!(
            catalog.describe_ami("eu-west-1", &id(1)).await.unwrap(),
            ami
        );
        let error = catalog.describe_ami("us-east-1", &id(1)).await.unwrap_err();
        assert!(
            matches!(error, AmiCatalogError::NotFound { .. }),
            "{error:?}"
        );

        let mut unknown = FakeAmiCatalog::app_ami(&web, id(2), at(20), debian());
        unknown.os.family.clear();
        catalog.insert_ami("eu-west-1", unknown);
        let error = catalog.describe_ami("eu-west-1", &id(2)).await.unwrap_err();
        assert!(
            matches!(error, AmiCatalogError::UnknownOs { .. }),
            "{error:?}"
        );
        assert_eq!(catalog.list_app_amis(&web).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn faults_map_to_catalog_errors_and_calls_are_recorded() {
        let catalog = FakeAmiCatalog::new();
        let web = app("web", None);
        catalog.inject(
            CatalogOp::ListAppAmis,
            When::Nth(1),
            Fault::fail(FakeFailure::Unreachable),
        );
        catalog.inject(
            CatalogOp::DescribeAmi,
            When::Every,
            Fault::fail(FakeFailure::Rejected),
        );
        let error = catalog.list_app_amis(&web).await.unwrap_err();
        assert!(
            matches!(error, AmiCatalogError::Unreachable(_)),
            "{error:?}"
        );
        assert!(catalog.list_app_amis(&web).await.is_ok());
        let error = catalog.describe_ami("eu-west-1", &id(1)).await.unwrap_err();
        assert!(
            matches!(error, AmiCatalogError::AccessDenied { .. }),
            "{error:?}"
        );
        assert_eq!(
            catalog.call_points(),
            vec![
                (CatalogOp::ListAppAmis, 1),
                (CatalogOp::ListAppAmis, 2),
                (CatalogOp::DescribeAmi, 1)
            ]
        );
        assert_eq!(
            catalog.calls()[2],
            CatalogCall::DescribeAmi {
                region: "eu-west-1".into(),
                ami: id(1)
            }
        );
        catalog.clear_faults();
        catalog.clear_calls();
        assert!(catalog.calls().is_empty());
    }
}
