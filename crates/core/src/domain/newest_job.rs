//! Two jobs that each produce the next version of one thing may finish in any order:
//! two buildimage jobs of one app (its image), two deploys of one module (its
//! dependency cache). Whatever the order, the newer job's version must win, so an
//! older job never replaces a newer one's work. Every store applies this rule inside
//! its own atomic step (a transaction, a lock, a mark on the daemon); the rule itself
//! lives only here.

use super::JobId;

/// What making job `new`'s version current does (an app's image, a module's cache),
/// given the job whose version is current now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplaceDecision {
    /// `new`'s version is current already: nothing changes.
    AlreadyCurrent,
    /// Make `new`'s version current; it replaces `previous` (none when there was none).
    Replace {
        /// The job whose image was current.
        previous: Option<JobId>,
    },
    /// A newer job's version is current: it stays, and `new` is refused.
    Superseded {
        /// That newer job.
        current: JobId,
    },
}

/// The decision for making job `new`'s version current where `current`'s is.
#[must_use]
pub fn decide_replacement(current: Option<&JobId>, new: &JobId) -> ReplaceDecision {
    match current {
        Some(recorded) if recorded == new => ReplaceDecision::AlreadyCurrent,
        Some(recorded) if recorded.is_newer_than(new) => ReplaceDecision::Superseded {
            current: recorded.clone(),
        },
        previous => ReplaceDecision::Replace {
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
            decide_replacement(None, &job(1)),
            ReplaceDecision::Replace { previous: None }
        );
        assert_eq!(
            decide_replacement(Some(&job(1)), &job(2)),
            ReplaceDecision::Replace {
                previous: Some(job(1))
            }
        );
        assert_eq!(
            decide_replacement(Some(&job(2)), &job(2)),
            ReplaceDecision::AlreadyCurrent
        );
        assert_eq!(
            decide_replacement(Some(&job(3)), &job(2)),
            ReplaceDecision::Superseded { current: job(3) }
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
                if let ReplaceDecision::Replace { .. } = decide_replacement(current.as_ref(), &job(seconds)) {
                    current = Some(job(seconds));
                }
            }
            prop_assert_eq!(current, newest);
        }
    }
}
