//! Image retention is a pure decision over three lists (images, AMIs, the app), so it
//! can be proven with property tests; the workflow only feeds it and carries it out.
//! Cloud Deploy kept the newest N images of the whole store, and so deleted other
//! apps' images: here only the app's own published images are ever candidates.

use std::collections::BTreeSet;

use super::{Ami, AmiId, AmiState, App, Fingerprint, Image, JobId};

/// How many of an app's images to keep. Cloud Deploy's `ami_retention`, default 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep at most this many of the app's images (the current one always counts and
    /// is always kept).
    pub keep_latest: usize,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { keep_latest: 5 }
    }
}

/// Why an image is to be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionReason {
    /// Its AMI twin was deregistered or no longer exists.
    AmiGone,
    /// The app has more images than the policy keeps, and this is among the oldest.
    BeyondRetention,
}

/// One image to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    /// The image.
    pub fingerprint: Fingerprint,
    /// The job that published it.
    pub job: JobId,
    /// Its AMI twin, if it had one.
    pub ami: Option<AmiId>,
    /// Why it goes.
    pub reason: DeletionReason,
}

/// What retention decided for one app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    /// The app's images to delete, oldest first.
    pub delete: Vec<Doomed>,
    /// The app's images kept, newest first.
    pub keep: Vec<Fingerprint>,
}

/// What is known about the app's AMIs.
#[derive(Debug, Clone, Copy)]
pub enum AmiKnowledge<'a> {
    /// The app's AMIs, as listed by the catalog: an image whose twin is not here (or is
    /// gone) is deleted.
    Listed(&'a [Ami]),
    /// No catalog is configured: only the count rule applies.
    Unknown,
}

/// Decides which of `app`'s images to delete.
///
/// Only images whose provenance names `app` (name, env, role and colour) are
/// candidates. The app's current image (`build_infos.container_image`) and
/// `just_published` are never deleted. Images whose AMI twin is gone are deleted; of
/// the rest, the newest `policy.keep_latest` are kept.
#[must_use]
pub fn plan_retention(
    app: &App,
    images: &[Image],
    amis: AmiKnowledge<'_>,
    policy: RetentionPolicy,
    just_published: Option<&JobId>,
) -> RetentionPlan {
    let live_amis: Option<BTreeSet<&AmiId>> = match amis {
        AmiKnowledge::Listed(list) => Some(
            list.iter()
                .filter(|ami| ami.state != AmiState::Gone)
                .map(|ami| &ami.id)
                .collect(),
        ),
        AmiKnowledge::Unknown => None,
    };
    let protected: BTreeSet<&JobId> = app
        .build_infos
        .container_image
        .iter()
        .chain(just_published)
        .collect();

    let mut own: Vec<(JobId, Option<AmiId>, Fingerprint)> = images
        .iter()
        .filter_map(|image| {
            let provenance = image.provenance()?;
            (provenance.app == app.key && provenance.color == app.color)
                .then(|| (provenance.job, provenance.ami, image.fingerprint.clone()))
        })
        .collect();
    // Newest first; the fingerprint breaks ties so the order is total.
    own.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));

    let mut plan = RetentionPlan::default();
    // Protected images count towards the policy, so the app keeps
    // max(keep_latest, protected) images in all.
    let mut kept = own
        .iter()
        .filter(|(job, ..)| protected.contains(job))
        .count();
    for (job, ami, fingerprint) in own {
        let is_protected = protected.contains(&job);
        let twin_gone = match (&live_amis, &ami) {
            (Some(live), Some(ami)) => !live.contains(ami),
            _ => false,
        };
        let reason = if is_protected {
            None
        } else if twin_gone {
            Some(DeletionReason::AmiGone)
        } else if kept >= policy.keep_latest {
            Some(DeletionReason::BeyondRetention)
        } else {
            None
        };
        match reason {
            Some(reason) => plan.delete.push(Doomed {
                fingerprint,
                job,
                ami,
                reason,
            }),
            None => {
                if !is_protected {
                    kept += 1;
                }
                plan.keep.push(fingerprint);
            }
        }
    }
    plan.delete.reverse();
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use proptest::prelude::*;

    use super::*;
    use crate::domain::{AppKey, BuildInfos, Color, LifecycleHooks, OsIdentity, OsType, property};

    fn app(name: &str, color: Option<Color>, current: Option<JobId>) -> App {
        App {
            key: AppKey {
                name: name.into(),
                env: "prod".into(),
                role: "front".into(),
            },
            region: "eu-west-1".into(),
            color,
            env_vars: vec![],
            features: vec![],
            lifecycle_hooks: LifecycleHooks::default(),
            modules: vec![],
            build_infos: BuildInfos {
                container_image: current,
                ..BuildInfos::default()
            },
        }
    }

    fn ami_id(n: u8) -> AmiId {
        AmiId::parse(&format!("ami-{n:08x}")).unwrap()
    }

    fn ami(n: u8, state: AmiState) -> Ami {
        Ami {
            id: ami_id(n),
            name: format!("ami-{n}"),
            created_at: SystemTime::UNIX_EPOCH,
            state,
            os: OsIdentity::new(OsType::Linux, "debian", "12", "x86_64"),
        }
    }

    /// Who an image belongs to.
    #[derive(Debug, Clone, Copy)]
    enum Owner {
        ThisApp,
        OtherApp,
        OtherEnv,
        OtherColor,
        Base,
        Foreign,
    }

    fn image(index: usize, owner: Owner, job: &JobId, ami: Option<u8>) -> Image {
        let mut properties = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            properties.insert(k.to_owned(), v.to_owned());
        };
        let (name, env, color) = match owner {
            Owner::ThisApp => ("web", "prod", ""),
            Owner::OtherApp => ("web2", "prod", ""),
            Owner::OtherEnv => ("web", "staging", ""),
            Owner::OtherColor => ("web", "prod", "blue"),
            Owner::Base | Owner::Foreign => ("", "", ""),
        };
        match owner {
            Owner::Base => set(property::OS, "debian"),
            // Half of lxpack's properties, e.g. an image someone copied by hand.
            Owner::Foreign => set(property::APP, "web"),
            _ => {
                set(property::APP, name);
                set(property::ENV, env);
                set(property::ROLE, "front");
                set(property::COLOR, color);
                set(property::JOB, job.as_str());
                if let Some(ami) = ami {
                    set(property::AMI, ami_id(ami).as_str());
                }
            }
        }
        Image {
            fingerprint: Fingerprint::parse(&format!("{index:064x}")).unwrap(),
            aliases: vec![],
            properties,
            architecture: "x86_64".into(),
            created_at: SystemTime::UNIX_EPOCH + Duration::from_secs(index as u64),
            size_bytes: 1,
        }
    }

    fn owner() -> impl Strategy<Value = Owner> {
        prop_oneof![
            4 => Just(Owner::ThisApp),
            1 => Just(Owner::OtherApp),
            1 => Just(Owner::OtherEnv),
            1 => Just(Owner::OtherColor),
            1 => Just(Owner::Base),
            1 => Just(Owner::Foreign),
        ]
    }

    type Case = (Vec<Image>, Vec<Ami>, Option<JobId>, usize);

    fn case() -> impl Strategy<Value = Case> {
        (
            proptest::collection::vec(
                (owner(), any::<u32>(), proptest::option::of(0_u8..8)),
                0..25,
            ),
            proptest::collection::vec((0_u8..8, any::<bool>()), 0..8),
            any::<prop::sample::Index>(),
            any::<bool>(),
            0_usize..6,
        )
            .prop_map(|(specs, ami_specs, pick, has_current, keep)| {
                let images: Vec<Image> = specs
                    .iter()
                    .enumerate()
                    .map(|(i, (owner, time, ami))| {
                        let mut entropy = [0_u8; 8];
                        entropy[..8].copy_from_slice(&(i as u64).to_be_bytes());
                        image(i, *owner, &JobId::generate(*time, entropy), *ami)
                    })
                    .collect();
                let amis = ami_specs
                    .iter()
                    .map(|(n, gone)| {
                        ami(
                            *n,
                            if *gone {
                                AmiState::Gone
                            } else {
                                AmiState::Available
                            },
                        )
                    })
                    .collect();
                let own: Vec<JobId> = images
                    .iter()
                    .filter_map(Image::provenance)
                    .filter(|p| p.app.name == "web" && p.app.env == "prod" && p.color.is_none())
                    .map(|p| p.job)
                    .collect();
                let current = (has_current && !own.is_empty()).then(|| pick.get(&own).clone());
                (images, amis, current, keep)
            })
    }

    fn is_own(image: &Image, app: &App) -> bool {
        image
            .provenance()
            .is_some_and(|p| p.app == app.key && p.color == app.color)
    }

    proptest! {
        #[test]
        fn retention_rules_hold((images, amis, current, keep) in case(), listed in any::<bool>()) {
            let web = app("web", None, current.clone());
            let knowledge = if listed { AmiKnowledge::Listed(&amis) } else { AmiKnowledge::Unknown };
            let policy = RetentionPolicy { keep_latest: keep };
            let plan = plan_retention(&web, &images, knowledge, policy, None);
            let by_fp = |fp: &Fingerprint| images.iter().find(|i| &i.fingerprint == fp).unwrap();
            let live: BTreeSet<AmiId> = amis.iter().filter(|a| a.state != AmiState::Gone).map(|a| a.id.clone()).collect();

            // Only the app's own images are ever touched, and never the current one.
            for doomed in &plan.delete {
                let image = by_fp(&doomed.fingerprint);
                prop_assert!(is_own(image, &web), "deleted a foreign image {:?}", image.properties);
                prop_assert_ne!(Some(&doomed.job), current.as_ref());
                if !listed {
                    prop_assert_eq!(doomed.reason, DeletionReason::BeyondRetention);
                }
            }
            // Every own image is either kept or deleted, exactly once.
            let own = images.iter().filter(|i| is_own(i, &web)).count();
            prop_assert_eq!(own, plan.keep.len() + plan.delete.len());
            // Images whose twin is gone are deleted (unless current).
            if listed {
                for image in images.iter().filter(|i| is_own(i, &web)) {
                    let p = image.provenance().unwrap();
                    if let Some(ami) = &p.ami
                        && !live.contains(ami)
                        && Some(&p.job) != current.as_ref()
                    {
                        prop_assert!(plan.delete.iter().any(|d| d.fingerprint == image.fingerprint));
                    }
                }
            }
            // At most max(keep, protected) are kept.
            prop_assert!(plan.keep.len() <= keep.max(usize::from(current.is_some())));
            // What the count rule deletes is older than every kept unprotected image.
            for doomed in plan.delete.iter().filter(|d| d.reason == DeletionReason::BeyondRetention) {
                for kept in &plan.keep {
                    let job = by_fp(kept).provenance().unwrap().job;
                    if Some(&job) != current.as_ref() {
                        prop_assert!(job > doomed.job);
                    }
                }
            }
        }
    }

    #[test]
    fn current_image_survives_even_when_its_ami_is_gone() {
        let job = JobId::generate(10, [0; 8]);
        let web = app("web", None, Some(job.clone()));
        let images = [image(1, Owner::ThisApp, &job, Some(1))];
        let amis = [ami(1, AmiState::Gone)];
        let plan = plan_retention(
            &web,
            &images,
            AmiKnowledge::Listed(&amis),
            RetentionPolicy { keep_latest: 0 },
            None,
        );
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn deregistered_twins_go_and_the_newest_stay() {
        let jobs: Vec<JobId> = (1..=4).map(|t| JobId::generate(t, [0; 8])).collect();
        let web = app("web", None, Some(jobs[3].clone()));
        let images: Vec<Image> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| image(i, Owner::ThisApp, j, Some(i as u8)))
            .collect();
        let amis = [
            ami(1, AmiState::Available),
            ami(2, AmiState::Available),
            ami(3, AmiState::Available),
        ];
        let plan = plan_retention(
            &web,
            &images,
            AmiKnowledge::Listed(&amis),
            RetentionPolicy { keep_latest: 2 },
            None,
        );
        let reasons: Vec<(u32, DeletionReason)> = plan
            .delete
            .iter()
            .map(|d| (d.job.unix_seconds(), d.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (1, DeletionReason::AmiGone),
                (2, DeletionReason::BeyondRetention)
            ]
        );
        assert_eq!(plan.keep.len(), 2);
    }
}
