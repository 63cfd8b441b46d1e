//! Which job processes are alive, as a test says: so the sweep's "the process is gone"
//! rule can be tested without killing anything.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use lxpack_core::domain::JobRunner;
use lxpack_core::ports::RunnerProbe;

/// A [`RunnerProbe`] whose current runner and dead runners the test sets. Runners it
/// was not told about are of unknown fate. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct FakeRunners {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<JobRunner>,
    alive: BTreeSet<u32>,
    dead: BTreeSet<u32>,
}

impl FakeRunners {
    /// A probe whose current process is `pid` on host `fake-host`, alive.
    #[must_use]
    pub fn with_current(pid: u32) -> Self {
        let probe = Self::default();
        {
            let mut state = probe.lock();
            state.current = Some(Self::runner(pid));
            state.alive.insert(pid);
        }
        probe
    }

    /// The runner of process `pid` on the fake host.
    #[must_use]
    pub fn runner(pid: u32) -> JobRunner {
        JobRunner {
            host: "fake-host".to_owned(),
            pid,
            started: u64::from(pid),
        }
    }

    /// From now on, process `pid` is gone (killed).
    pub fn kill(&self, pid: u32) {
        let mut state = self.lock();
        state.alive.remove(&pid);
        state.dead.insert(pid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RunnerProbe for FakeRunners {
    fn current(&self) -> Option<JobRunner> {
        self.lock().current.clone()
    }

    fn is_alive(&self, runner: &JobRunner) -> Option<bool> {
        let state = self.lock();
        if runner.host != "fake-host" {
            None
        } else if state.dead.contains(&runner.pid) {
            Some(false)
        } else if state.alive.contains(&runner.pid) {
            Some(true)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_runner_is_dead_and_strangers_are_unknown() {
        let probe = FakeRunners::with_current(7);
        let me = probe.current().unwrap();
        assert_eq!(probe.is_alive(&me), Some(true));
        probe.kill(7);
        assert_eq!(probe.is_alive(&me), Some(false));
        assert_eq!(probe.is_alive(&FakeRunners::runner(8)), None);
        let elsewhere = JobRunner {
            host: "other".into(),
            ..me
        };
        assert_eq!(probe.is_alive(&elsewhere), None);
    }
}
