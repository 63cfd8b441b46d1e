use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn key(module: &str) -> CacheKey {
    CacheKey {
        app: AppKey::new("web", "prod", "front"),
        module: module.to_owned(),
        path: GuestPath::parse("/root/.cache/pip").unwrap(),
    }
}

fn job(seconds: u32) -> JobId {
    JobId::generate(seconds, [0; 8])
}

fn volume(mark: CacheMark) -> CacheVolume {
    CacheVolume {
        name: mark.volume(),
        mark: Some(mark),
        used_by: Vec::new(),
        member: None,
    }
}

fn generation(module: &str, seconds: u32, size: u64) -> CacheVolume {
    volume(CacheMark::copy(&key(module), &job(seconds)).promoted(Some(size)))
}

fn copy(module: &str, seconds: u32) -> CacheVolume {
    volume(CacheMark::copy(&key(module), &job(seconds)))
}

#[test]
fn a_mark_reads_back_from_its_pairs() {
    let mark = CacheMark::copy(&key("api"), &job(5)).promoted(Some(42));
    let stored: BTreeMap<CacheLabel, String> = mark.pairs().into_iter().collect();
    let read = CacheMark::read(
        |label| stored.get(&label).map(String::as_str),
        Some(job(5).as_str()),
        Some("web/prod/front"),
    );
    assert_eq!(read, Some(mark));
}

#[test]
fn a_mark_whose_id_does_not_match_its_parts_is_not_lxpacks() {
    let mark = CacheMark::copy(&key("api"), &job(5));
    let mut stored: BTreeMap<CacheLabel, String> = mark.pairs().into_iter().collect();
    stored.insert(CacheLabel::Module, "other".into());
    let read = CacheMark::read(
        |label| stored.get(&label).map(String::as_str),
        Some(job(5).as_str()),
        Some("web/prod/front"),
    );
    assert_eq!(read, None);
    for missing in [
        CacheLabel::Cache,
        CacheLabel::Module,
        CacheLabel::Path,
        CacheLabel::State,
    ] {
        let mut broken: BTreeMap<CacheLabel, String> = mark.pairs().into_iter().collect();
        broken.remove(&missing);
        let read = CacheMark::read(
            |label| broken.get(&label).map(String::as_str),
            Some(job(5).as_str()),
            Some("web/prod/front"),
        );
        assert_eq!(read, None, "{missing} missing");
    }
}

#[test]
fn volume_names_are_per_cache_and_job() {
    let a = VolumeName::for_cache(&key("api").id(), &job(1));
    assert!(a.as_str().starts_with(VolumeName::PREFIX));
    assert_ne!(a, VolumeName::for_cache(&key("web").id(), &job(1)));
    assert_ne!(a, VolumeName::for_cache(&key("api").id(), &job(2)));
    assert!(a.as_str().len() <= 63, "{a}");
}

#[test]
fn the_cache_is_the_newest_generation_and_copies_never_count() {
    let volumes = vec![
        generation("api", 1, 10),
        generation("api", 3, 10),
        copy("api", 5),
        generation("web", 9, 1),
    ];
    let current = current_generation(&volumes, &key("api")).unwrap();
    assert_eq!(current.mark.as_ref().unwrap().job, job(3));
    assert_eq!(current_generation(&[copy("api", 5)], &key("api")), None);
}

#[test]
fn an_older_job_never_replaces_a_newer_jobs_cache() {
    let volumes = vec![generation("api", 3, 10)];
    assert_eq!(
        promotion(&volumes, &key("api"), &job(2)),
        ReplaceDecision::Superseded { current: job(3) }
    );
    assert_eq!(
        promotion(&volumes, &key("api"), &job(4)),
        ReplaceDecision::Replace {
            previous: Some(job(3))
        }
    );
    assert_eq!(
        promotion(&[], &key("api"), &job(4)),
        ReplaceDecision::Replace { previous: None }
    );
}

#[test]
fn superseded_generations_and_finished_jobs_copies_are_waste_unless_mounted() {
    let mut mounted = generation("api", 2, 1);
    mounted.used_by.push("lxpack-x".into());
    let volumes = vec![
        generation("api", 1, 1),
        mounted,
        generation("api", 3, 1),
        copy("api", 4),
        copy("api", 5),
        CacheVolume {
            name: VolumeName::new("someone-elses"),
            mark: None,
            used_by: Vec::new(),
            member: None,
        },
    ];
    let waste: Vec<(String, CacheWaste)> = wasted_volumes(&volumes, |j| *j == job(5))
        .into_iter()
        .map(|(v, why)| (v.mark.as_ref().unwrap().job.to_string(), why))
        .collect();
    assert_eq!(
        waste,
        vec![
            (job(1).to_string(), CacheWaste::Superseded),
            (job(4).to_string(), CacheWaste::Orphaned),
        ]
    );
}

#[test]
fn eviction_takes_the_least_recently_written_caches_until_the_rest_fit() {
    let volumes = vec![
        generation("a", 1, 100),
        generation("b", 2, 100),
        generation("c", 3, 100),
        generation("c", 2, 500), // superseded: not counted
    ];
    let evicted: Vec<&str> = evictions(&volumes, 150, None)
        .iter()
        .map(|v| v.mark.as_ref().unwrap().key.module.as_str())
        .collect();
    assert_eq!(evicted, vec!["a", "b"]);
    let keep = volumes[0].name.clone();
    let evicted: Vec<&str> = evictions(&volumes, 150, Some(&keep))
        .iter()
        .map(|v| v.mark.as_ref().unwrap().key.module.as_str())
        .collect();
    assert_eq!(evicted, vec!["b", "c"]);
    assert!(evictions(&volumes, 300, None).is_empty());
}

proptest! {
    /// Whatever order deploys finish and promote in (each checking, then marking), the
    /// cache ends as the newest successful job's copy.
    #[test]
    fn whatever_order_deploys_promote_in_the_newest_wins(order in proptest::collection::vec(0_u32..40, 1..10)) {
        let mut volumes: Vec<CacheVolume> = Vec::new();
        for seconds in &order {
            if let ReplaceDecision::Replace { .. } = promotion(&volumes, &key("api"), &job(*seconds)) {
                volumes.push(generation("api", *seconds, 1));
            }
        }
        let newest = order.iter().copied().max().map(job);
        let current = current_generation(&volumes, &key("api")).and_then(|v| v.mark.as_ref()).map(|m| m.job.clone());
        prop_assert_eq!(current, newest);
    }

    #[test]
    fn eviction_leaves_the_caches_within_budget(sizes in proptest::collection::vec(0_u64..1000, 0..12), budget in 0_u64..5000) {
        let volumes: Vec<CacheVolume> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| generation(&format!("m{i}"), u32::try_from(i).unwrap(), *size))
            .collect();
        let evicted = evictions(&volumes, budget, None);
        let left: u64 = volumes
            .iter()
            .filter(|v| !evicted.iter().any(|e| e.name == v.name))
            .map(|v| v.mark.as_ref().unwrap().size.unwrap())
            .sum();
        prop_assert!(left <= budget);
        // Only as many as needed: putting back the last evicted breaks the budget.
        if let Some(last) = evicted.last() {
            prop_assert!(left + last.mark.as_ref().unwrap().size.unwrap() > budget);
        }
    }
}

#[test]
fn the_labels_keep_the_names_daemons_already_hold() {
    assert_eq!(
        CacheLabel::SPELLINGS,
        [
            "cache",
            "cache_module",
            "cache_path",
            "cache_state",
            "cache_size",
        ]
    );
    for label in CacheLabel::ALL {
        assert_eq!(CacheLabel::parse(&label.to_string()), Ok(*label));
    }
}
