//! A clock that moves only when the test says, so job records and the sweep's ages
//! are exact.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use lxpack_core::ports::Clock;

/// A [`Clock`] that reads what the test set. Clones share the time.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<Mutex<SystemTime>>,
}

impl FakeClock {
    /// A clock that reads `now` until moved.
    #[must_use]
    pub fn at(now: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// A clock at Unix time `seconds`.
    #[must_use]
    pub fn at_unix(seconds: u64) -> Self {
        Self::at(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_moves_only_when_told() {
        let clock = FakeClock::at_unix(10);
        assert_eq!(
            clock.now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(10)
        );
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            clock.clone().now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(15)
        );
    }
}
