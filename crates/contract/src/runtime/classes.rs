//! The resource classes part of the runtime contract: the host's figures are positive
//! where given, a running instance's counters are quiet (no kill, no refused fork, at
//! least one process, where known), and a missing instance is `NotFound`. It runs
//! when the runtime offers resource class counters, while the suite's main instance
//! runs.

use lxpack_core::ports::{ResourceClasses, RuntimeError};

use super::Suite;
use crate::report::Checker;

impl Suite<'_> {
    pub(super) async fn resource_classes(
        &self,
        checker: &mut Checker,
        classes: &dyn ResourceClasses,
    ) {
        let names = self.names;
        if let Some(host) = checker.ok("host_resources", classes.host_resources()).await {
            checker.that(
                "host_resources gives positive figures where it gives any",
                host.cpus != Some(0) && host.memory != Some(0),
                "no 0 CPUs or 0 bytes",
                host,
            );
        }
        if let Some(readings) = checker
            .ok(
                "limit_counters of a running instance",
                classes.limit_counters(&names.main),
            )
            .await
        {
            checker.that(
                "limit_counters of an instance that hit no cap are quiet",
                readings.oom_kills.unwrap_or(0) == 0
                    && readings.process_refusals.unwrap_or(0) == 0
                    && readings.processes.unwrap_or(1) >= 1,
                "no kill, no refused fork, a process at least",
                readings,
            );
        }
        checker
            .err(
                "limit_counters of a missing instance",
                "NotFound",
                classes.limit_counters(&names.missing),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }
}
