//! The time: when a job starts and ends, how old a leftover is. The core cannot read
//! it without I/O, so it asks this small port, which tests set, and stays pure. The
//! system's clock is its one adapter: the core and the CLI tell the time only through
//! it.

use std::time::SystemTime;

/// Tells the time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
