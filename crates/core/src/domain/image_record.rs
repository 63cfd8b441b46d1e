//! Two buildimage jobs of one app may finish in any order; the app must end up
//! recording the newer one's image. Every store applies this rule inside its own
//! atomic step (a transaction, a lock); the rule itself lives only here.

use super::JobId;

/// What recording job `new`'s image on an app does, given the image it records now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageRecordDecision {
    /// The app already records `new`: nothing changes.
    AlreadyRecorded,
    /// Record `new`; it replaces `previous` (none when the app had no image).
    Replace {
        /// The job whose image was current.
        previous: Option<JobId>,
    },
    /// A newer job's image is recorded: it stays, and `new` is refused.
    Superseded {
        /// That newer job.
        current: JobId,
    },
}

/// The decision for recording job `new`'s image on an app that records `current`.
#[must_use]
pub fn decide_image_record(current: Option<&JobId>, new: &JobId) -> ImageRecordDecision {
    match current {
        Some(recorded) if recorded == new => ImageRecordDecision::AlreadyRecorded,
        Some(recorded) if recorded.is_newer_than(new) => ImageRecordDecision::Superseded {
            current: recorded.clone(),
        },
        previous => ImageRecordDecision::Replace {
            previous: previous.cloned(),
        },
    }
}

/// The image an app keeps when its document is imported again: the newer of the one
/// the store records and the one the document names, so an import never moves the
/// app's image backwards.
#[must_use]
pub fn newest_image(stored: Option<JobId>, imported: Option<JobId>) -> Option<JobId> {
    match (stored, imported) {
        (Some(stored), Some(imported)) => Some(stored.max(imported)),
        (stored, imported) => stored.or(imported),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn job(seconds: u32) -> JobId {
        JobId::generate(seconds, [0; 8])
    }

    #[test]
    fn decisions() {
        assert_eq!(
            decide_image_record(None, &job(1)),
            ImageRecordDecision::Replace { previous: None }
        );
        assert_eq!(
            decide_image_record(Some(&job(1)), &job(2)),
            ImageRecordDecision::Replace {
                previous: Some(job(1))
            }
        );
        assert_eq!(
            decide_image_record(Some(&job(2)), &job(2)),
            ImageRecordDecision::AlreadyRecorded
        );
        assert_eq!(
            decide_image_record(Some(&job(3)), &job(2)),
            ImageRecordDecision::Superseded { current: job(3) }
        );
    }

    #[test]
    fn imports_keep_the_newest_image() {
        assert_eq!(newest_image(None, None), None);
        assert_eq!(newest_image(Some(job(1)), None), Some(job(1)));
        assert_eq!(newest_image(None, Some(job(1))), Some(job(1)));
        assert_eq!(newest_image(Some(job(2)), Some(job(1))), Some(job(2)));
        assert_eq!(newest_image(Some(job(1)), Some(job(2))), Some(job(2)));
    }

    proptest! {
        #[test]
        fn whatever_order_jobs_finish_in_the_newest_wins(mut order in proptest::collection::vec(0_u32..50, 1..12)) {
            let newest = order.iter().copied().max().map(job);
            let mut current: Option<JobId> = None;
            order.dedup();
            for seconds in order {
                if let ImageRecordDecision::Replace { .. } = decide_image_record(current.as_ref(), &job(seconds)) {
                    current = Some(job(seconds));
                }
            }
            prop_assert_eq!(current, newest);
        }
    }
}
