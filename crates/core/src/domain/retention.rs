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
