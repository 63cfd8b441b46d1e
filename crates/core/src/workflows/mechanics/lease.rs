//! A running job renews its lease in the history every [`LEASE_RENEWAL`], beside its
//! work, from its record as running to the record of its end: a sweep on another host
//! sharing the store, which cannot see this process, tells a live job from a killed
//! one by it ([`LEASE_EXPIRY`]). A renewal that fails is a warning, never the job's
//! failure: the job's own work matters more, and a store that is back in time loses
//! nothing.

use std::convert::Infallible;
use std::future::Future;
use std::time::SystemTime;

use tokio::time::{Instant, MissedTickBehavior};

use super::job::error_chain;
use crate::domain::{JobId, LEASE_EXPIRY, LEASE_RENEWAL};
use crate::events::{Event, EventSink};
use crate::workflows::Workflows;

/// One job's lease, as its own process knows it.
pub(crate) struct Lease<'a> {
    workflows: &'a Workflows,
    job: &'a JobId,
    events: &'a dyn EventSink,
    /// The last renewal the history took (the job's start is the first).
    renewed_at: SystemTime,
    /// Whether the last renewal failed (so a streak of failures warns once).
    failing: bool,
    /// Whether the history said the job no longer runs (said once).
    disowned: bool,
}

impl<'a> Lease<'a> {
    /// The lease of `job`, recorded as running at `started`.
    pub(crate) fn new(
        workflows: &'a Workflows,
        job: &'a JobId,
        events: &'a dyn EventSink,
        started: SystemTime,
    ) -> Self {
        Self {
            workflows,
            job,
            events,
            renewed_at: started,
            failing: false,
            disowned: false,
        }
    }

    /// The last renewal the history took.
    pub(crate) fn renewed_at(&self) -> SystemTime {
        self.renewed_at
    }

    /// Runs `work` to its end, renewing the lease every [`LEASE_RENEWAL`] meanwhile.
    pub(crate) async fn keep_while<T>(&mut self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        let renewing = self.renew_forever();
        tokio::pin!(renewing);
        tokio::select! {
            biased;
            outcome = &mut work => outcome,
            never = &mut renewing => match never {},
        }
    }

    async fn renew_forever(&mut self) -> Infallible {
        let mut ticks = tokio::time::interval_at(Instant::now() + LEASE_RENEWAL, LEASE_RENEWAL);
        // A renewal that took long is followed by a full period, not a burst.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.renew().await;
        }
    }

    /// One renewal, bounded by the period: a store that hangs must not stop the next.
    async fn renew(&mut self) {
        let now = self.workflows.clock.now();
        let history = self.workflows.ports.jobs.as_ref();
        let failure =
            match tokio::time::timeout(LEASE_RENEWAL, history.renew_lease(self.job, now)).await {
                Ok(Ok(true)) => {
                    if self.failing {
                        self.warn(format!(
                            "renewed the lease of job {} again, after {} s without",
                            self.job,
                            now.duration_since(self.renewed_at)
                                .unwrap_or_default()
                                .as_secs()
                        ));
                    }
                    (self.renewed_at, self.failing) = (now, false);
                    return;
                }
                Ok(Ok(false)) => {
                    if !self.disowned {
                        self.disowned = true;
                        self.warn(format!(
                            "the history no longer records job {} as running (a gc found it \
                         lost?): its lease is not renewed, and its leftovers may be \
                         removed while it runs",
                            self.job
                        ));
                    }
                    return;
                }
                Ok(Err(error)) => error_chain(&error),
                Err(_) => format!("no answer within {} s", LEASE_RENEWAL.as_secs()),
            };
        if !self.failing {
            self.failing = true;
            self.warn(format!(
                "could not renew the lease of job {} ({failure}): the job goes on, but a gc \
                 on another host sharing the store finds it lost once its lease is {} s old",
                self.job,
                LEASE_EXPIRY.as_secs()
            ));
        }
    }

    fn warn(&self, message: String) {
        self.events.emit(Event::Warning { message });
    }
}
