use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::domain::JobCommand;

fn key() -> PoolKey {
    PoolKey {
        app: AppKey::new("web", "prod", "front"),
        image: JobId::generate(1_700_000_000, [1; 8]),
        isolation: Isolation::Unprivileged,
        limits: ResourceLimits::default(),
        target: None,
        owner: Some(Owner {
            uid: 1000,
            gid: 1000,
        }),
    }
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

fn stored(mark: &StandbyMark) -> BTreeMap<StandbyLabel, String> {
    mark.pairs().into_iter().collect()
}

fn read(stored: &BTreeMap<StandbyLabel, String>, app: Option<&str>) -> Option<StandbyMark> {
    StandbyMark::read(|label| stored.get(&label).map(String::as_str), app)
}

#[test]
fn a_mark_reads_back_from_its_labels() {
    let mark = StandbyMark::new(&key(), at(1_700_000_100));
    assert_eq!(
        read(&stored(&mark), Some("web/prod/front")),
        Some(mark.clone())
    );
    let ready = mark.readied();
    assert_eq!(read(&stored(&ready), Some("web/prod/front")), Some(ready));
    let retiring = mark.retired();
    assert_eq!(
        read(&stored(&retiring), Some("web/prod/front")),
        Some(retiring)
    );
    let shifted = StandbyMark::new(
        &PoolKey {
            owner: None,
            ..key()
        },
        at(5),
    );
    assert_eq!(
        read(&stored(&shifted), Some("web/prod/front")),
        Some(shifted)
    );
}

#[test]
fn a_damaged_or_partial_mark_reads_as_none() {
    let mark = stored(&StandbyMark::new(&key(), at(9)));
    assert_eq!(read(&mark, None), None);
    assert_eq!(read(&mark, Some("web/prod")), None);
    for required in [StandbyLabel::Pool, StandbyLabel::Image, StandbyLabel::Since] {
        let mut missing = mark.clone();
        missing.remove(&required);
        assert_eq!(read(&missing, Some("web/prod/front")), None, "{required}");
        let mut damaged = mark.clone();
        damaged.insert(required, "x".into());
        assert_eq!(read(&damaged, Some("web/prod/front")), None, "{required}");
    }
    let mut owner = mark;
    owner.insert(StandbyLabel::Owner, "1000".into());
    assert_eq!(read(&owner, Some("web/prod/front")), None);
}

#[test]
fn every_part_of_the_key_changes_the_pool() {
    let base = key().id();
    let variants = [
        PoolKey {
            app: AppKey::new("web", "prod", "back"),
            ..key()
        },
        PoolKey {
            image: JobId::generate(1_700_000_001, [1; 8]),
            ..key()
        },
        PoolKey {
            isolation: Isolation::Privileged,
            ..key()
        },
        PoolKey {
            limits: ResourceLimits {
                cpu: Some("1".into()),
                ..ResourceLimits::default()
            },
            ..key()
        },
        PoolKey {
            limits: ResourceLimits {
                processes: Some(100),
                ..ResourceLimits::default()
            },
            ..key()
        },
        PoolKey {
            limits: ResourceLimits {
                root_size: Some(1 << 30),
                ..ResourceLimits::default()
            },
            ..key()
        },
        PoolKey {
            target: Some(PlacementTarget::parse("m2").unwrap()),
            ..key()
        },
        PoolKey {
            owner: None,
            ..key()
        },
        PoolKey {
            owner: Some(Owner {
                uid: 1000,
                gid: 1001,
            }),
            ..key()
        },
    ];
    for variant in variants {
        assert_ne!(variant.id(), base, "{variant:?}");
    }
    assert_eq!(key().id(), base);
    assert!(PoolId::parse(base.as_str()).is_some());
}

#[test]
fn the_network_policy_changes_the_pool() {
    use crate::domain::{EgressRule, NetworkMode, NetworkName, NetworkPolicy, StandbyPool};
    let base = StandbyPool::new(key());
    assert_eq!(base.id(), key().id());
    let allow = |text: &str| NetworkPolicy {
        mode: NetworkMode::Egress,
        allow: vec![EgressRule::parse_allow(text).unwrap()],
    };
    let variants = [
        StandbyPool {
            network: NetworkPolicy {
                mode: NetworkMode::None,
                allow: Vec::new(),
            },
            ..base.clone()
        },
        StandbyPool {
            network: NetworkPolicy {
                mode: NetworkMode::Open,
                allow: Vec::new(),
            },
            ..base.clone()
        },
        StandbyPool {
            network: allow("10.9.0.5 tcp:3128"),
            ..base.clone()
        },
        StandbyPool {
            network: allow("10.9.0.5 tcp:3129"),
            ..base.clone()
        },
        StandbyPool {
            bridge: super::super::DefaultBridge::Operator(NetworkName::parse("br-builds").unwrap()),
            ..base.clone()
        },
    ];
    let ids: std::collections::BTreeSet<String> =
        variants.iter().map(|v| v.id().to_string()).collect();
    assert_eq!(ids.len(), variants.len());
    assert!(!ids.contains(base.id().as_str()));
    let mark = StandbyMark::of_pool(&variants[2], at(9));
    assert_eq!(mark.pool, variants[2].id());
}

#[test]
fn only_an_unclaimed_standby_equal_to_what_was_read_may_change() {
    let mark = StandbyMark::new(&key(), at(9)).readied();
    let labels = Labels {
        job: JobId::generate(10, [2; 8]),
        command: JobCommand::Deploy,
        app: key().app,
    };
    assert!(unchanged_standby(&mark, Some(&mark), None));
    assert!(!unchanged_standby(&mark, Some(&mark), Some(&labels)));
    assert!(!unchanged_standby(&mark, Some(&mark.retired()), None));
    assert!(!unchanged_standby(
        &mark.retired(),
        Some(&mark.retired()),
        None
    ));
    assert!(!unchanged_standby(&mark, None, None));
    let other = StandbyMark::new(&key(), at(10)).readied();
    assert!(!unchanged_standby(&mark, Some(&other), None));
    assert!(claimable(&mark));
    assert!(!claimable(&StandbyMark::new(&key(), at(9))));
    assert!(!claimable(&mark.retired()));
    assert_eq!(
        StandbyState::of(&StandbyMark::new(&key(), at(9)), None),
        StandbyState::Starting
    );
    assert_eq!(StandbyState::of(&mark, None), StandbyState::Ready);
    assert_eq!(
        StandbyState::of(&mark, Some(&labels)),
        StandbyState::Claimed
    );
    assert_eq!(
        StandbyState::of(&mark.retired(), None),
        StandbyState::Retiring
    );
}

#[test]
fn a_standby_is_stale_when_its_image_is_replaced_or_it_is_too_old() {
    let mark = StandbyMark::new(&key(), at(100));
    let image = key().image;
    let hour = Duration::from_secs(3600);
    assert_eq!(staleness(&mark, Some(&image), hour, at(200)), None);
    let newer = JobId::generate(1_800_000_000, [3; 8]);
    assert_eq!(
        staleness(&mark, Some(&newer), hour, at(200)),
        Some(RetireReason::ImageReplaced)
    );
    assert_eq!(
        staleness(&mark, None, hour, at(200)),
        Some(RetireReason::ImageReplaced)
    );
    assert_eq!(
        staleness(&mark, Some(&image), hour, at(100 + 3601)),
        Some(RetireReason::TooOld)
    );
}

proptest! {
    #[test]
    fn marks_round_trip(
        uid in any::<u32>(), gid in any::<u32>(), owned in any::<bool>(),
        seconds in 0_u64..4_000_000_000, retiring in any::<bool>(), ready in any::<bool>(),
    ) {
        let key = PoolKey { owner: owned.then_some(Owner { uid, gid }), ..key() };
        let mark = StandbyMark { retiring, ready, ..StandbyMark::new(&key, at(seconds)) };
        prop_assert_eq!(read(&stored(&mark), Some("web/prod/front")), Some(mark));
    }

    #[test]
    fn claim_order_is_a_permutation_fixed_per_job(
        names in proptest::collection::btree_set("[a-z]{1,8}", 0..12),
        entropy in any::<[u8; 8]>(),
    ) {
        let job = JobId::generate(1, entropy);
        let items: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), n.as_str())).collect();
        let first = claim_order(&job, items.clone());
        let again = claim_order(&job, items.into_iter().rev());
        prop_assert_eq!(&first, &again);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, names.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn the_labels_keep_the_names_daemons_already_hold() {
    assert_eq!(
        StandbyLabel::SPELLINGS,
        [
            "standby",
            "standby_image",
            "standby_owner",
            "standby_since",
            "standby_ready",
            "standby_retiring",
        ]
    );
    for label in StandbyLabel::ALL {
        assert_eq!(StandbyLabel::parse(&label.to_string()), Ok(*label));
    }
}
