//! The bound on running a transaction again after it lost a race (a serialization
//! failure, 40001, or a deadlock, 40P01): such a loss is normal under concurrency and
//! never reaches the user while the bound holds. Bounded both in count and in time,
//! with a jittered, growing pause so that racers spread out.

use std::time::Duration;

/// The most times one operation runs.
pub(crate) const MAX_ATTEMPTS: u32 = 12;

/// The most time one operation spends retrying.
pub(crate) const MAX_RETRY_TIME: Duration = Duration::from_secs(15);

/// The pause before attempt `attempt + 1` (after `attempt` failures, from 1): 5 ms
/// doubling up to 320 ms, plus up to as much again at random.
pub(crate) fn pause(attempt: u32) -> Duration {
    let base = 5_u64 << attempt.saturating_sub(1).min(6);
    Duration::from_millis(base + fastrand::u64(0..=base))
}

/// Whether an operation that has failed `attempts` times, `elapsed` after its start,
/// may run again.
pub(crate) fn may_retry(attempts: u32, elapsed: Duration) -> bool {
    attempts < MAX_ATTEMPTS && elapsed < MAX_RETRY_TIME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stay_bounded() {
        for attempt in 1..=MAX_ATTEMPTS {
            let pause = pause(attempt);
            let base = 5_u64 << (attempt - 1).min(6);
            assert!(pause >= Duration::from_millis(base), "{attempt}: {pause:?}");
            assert!(
                pause <= Duration::from_millis(2 * base),
                "{attempt}: {pause:?}"
            );
        }
        assert!(pause(40) <= Duration::from_millis(640));
    }

    #[test]
    fn retries_stop_by_count_or_time() {
        assert!(may_retry(1, Duration::ZERO));
        assert!(!may_retry(MAX_ATTEMPTS, Duration::ZERO));
        assert!(!may_retry(1, MAX_RETRY_TIME));
    }
}
