//! A started container is ready when it runs a command. Probing with a short backoff
//! costs one exec in the common case; Cloud Deploy slept a fixed 10 s every time. A
//! daemon that cannot be reached ends the wait at once.

use std::time::Duration;

use tokio::time::Instant;

use crate::domain::{ExecRequest, InstanceName, OutputStream};
use crate::events::Step;
use crate::ports::{ContainerRuntime, OutputSink, RuntimeError};
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::step::StepRunner;

/// The first pause between probes; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(25);
const MAX_PAUSE: Duration = Duration::from_millis(500);
/// The longest a single probe may take.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// Probes `instance` with `true` until it exits 0, for at most `limit`.
pub(crate) async fn wait_until_ready(
    runner: &StepRunner<'_>,
    runtime: &dyn ContainerRuntime,
    instance: &InstanceName,
    limit: Duration,
) -> Result<(), WorkflowError> {
    runner
        .run(Step::WaitReady, async {
            let deadline = Instant::now() + limit;
            let mut pause = FIRST_PAUSE;
            loop {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let mut probe = ExecRequest::new(["true"], remaining.min(PROBE_LIMIT));
                probe.kill_grace = runner.kill_grace;
                let problem = match runtime
                    .exec(instance, &probe, &Discard, runner.cancel)
                    .await
                {
                    Ok(0) => return Ok(()),
                    Ok(code) => format!("the probe `true` exited {code}"),
                    Err(RuntimeError::Cancelled { .. }) => {
                        return Err(runner.cancelled(Step::WaitReady));
                    }
                    // The daemon (or the cluster member holding the instance) is gone:
                    // no later probe can succeed, and waiting would only hide why.
                    Err(error @ RuntimeError::Unreachable(_)) => {
                        return Err(runner.failed(Step::WaitReady, error));
                    }
                    Err(error) => error.to_string(),
                };
                if Instant::now() + pause >= deadline {
                    return Err(WorkflowError::NotReady {
                        instance: instance.clone(),
                        after: limit,
                        last_problem: problem,
                    });
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = runner.cancel.cancelled() => return Err(runner.cancelled(Step::WaitReady)),
                }
                pause = (pause * 2).min(MAX_PAUSE);
            }
        })
        .await
}

struct Discard;

impl OutputSink for Discard {
    fn output(&self, _stream: OutputStream, _bytes: &[u8]) {}
}
