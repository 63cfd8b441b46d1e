//! Every step goes through one runner, so that each emits the same started/finished
//! events, honours cancellation the same way, and turns port errors into workflow
//! errors that name the step and the instance. Command output enters the core here,
//! so here each stream is masked of the job's secrets ([`crate::domain::SecretMasker`])
//! before events, tails and so records, logs and errors ever see it.

use std::future::Future;
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::domain::{ExecRequest, InstanceName, OutputStream, SecretMasker, StreamMasker};
use crate::events::{Event, EventSink, Step};
use crate::ports::{ContainerRuntime, OutputSink, RuntimeError};
use crate::workflows::error::{PortError, WorkflowError};
use crate::workflows::mechanics::output_tail::OutputTail;

/// Bytes of output kept for error messages.
const TAIL_BYTES: usize = 4096;

/// The error of a port call that failed during `step` on `instance`: a cancellation
/// or a timeout is the workflow's own, anything else names the step.
pub(crate) fn port_failure(
    step: Step,
    instance: Option<InstanceName>,
    error: impl Into<PortError>,
) -> WorkflowError {
    match error.into() {
        PortError::Runtime(RuntimeError::Cancelled { .. }) => {
            WorkflowError::Cancelled { step, instance }
        }
        PortError::Runtime(RuntimeError::TimedOut { after, .. }) => WorkflowError::TimedOut {
            step,
            instance,
            after,
            output_tail: String::new(),
        },
        source => WorkflowError::StepFailed {
            step,
            instance,
            source: Box::new(source),
        },
    }
}

/// Runs the steps of one job.
pub(crate) struct StepRunner<'a> {
    pub(crate) events: &'a dyn EventSink,
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) instance: Option<InstanceName>,
    /// The grace between SIGTERM and SIGKILL of every command this runner runs.
    pub(crate) kill_grace: std::time::Duration,
    /// The job's secrets, once it loaded its app: masked out of every command's output.
    pub(crate) secrets: &'a OnceLock<SecretMasker>,
}

/// The secrets of a runner that runs no job's commands: none.
pub(crate) static NO_SECRETS: OnceLock<SecretMasker> = OnceLock::new();

impl StepRunner<'_> {
    /// Runs `work` as `step` and emits its events. A job cancelled before the step
    /// fails with `Cancelled`; during the step, cancellation is the work's own business
    /// (long port calls take the token and stop their command before returning, which
    /// dropping their future could not do).
    pub(crate) async fn run<T, F>(&self, step: Step, work: F) -> Result<T, WorkflowError>
    where
        F: Future<Output = Result<T, WorkflowError>>,
    {
        if self.cancel.is_cancelled() {
            return Err(self.cancelled(step));
        }
        self.events.emit(Event::StepStarted { step });
        let started = Instant::now();
        let result = work.await;
        self.events.emit(Event::StepFinished {
            step,
            duration: started.elapsed(),
            succeeded: result.is_ok(),
        });
        result
    }

    /// The error of a failed port call during `step`.
    pub(crate) fn failed(&self, step: Step, error: impl Into<PortError>) -> WorkflowError {
        port_failure(step, self.instance.clone(), error)
    }

    pub(crate) fn cancelled(&self, step: Step) -> WorkflowError {
        WorkflowError::Cancelled {
            step,
            instance: self.instance.clone(),
        }
    }

    /// Runs a command as `step`, streaming its output as events, and fails unless it
    /// exits 0.
    pub(crate) async fn exec(
        &self,
        runtime: &dyn ContainerRuntime,
        step: Step,
        instance: &InstanceName,
        request: &ExecRequest,
    ) -> Result<(), WorkflowError> {
        self.run(step, self.exec_in_step(runtime, step, instance, request))
            .await
    }

    /// [`Self::exec`] within a step already running (no events of its own): for a
    /// step of several commands.
    pub(crate) async fn exec_in_step(
        &self,
        runtime: &dyn ContainerRuntime,
        step: Step,
        instance: &InstanceName,
        request: &ExecRequest,
    ) -> Result<(), WorkflowError> {
        let sink = StepOutput::new(step, self.events, self.secrets.get());
        let mut request = request.clone();
        request.kill_grace = self.kill_grace;
        let result = runtime.exec(instance, &request, &sink, self.cancel).await;
        let output_tail = sink.finish();
        match result {
            Ok(0) => Ok(()),
            Ok(exit_code) => Err(WorkflowError::CommandFailed {
                step,
                instance: instance.clone(),
                exit_code,
                output_tail,
            }),
            Err(RuntimeError::TimedOut { after, .. }) => Err(WorkflowError::TimedOut {
                step,
                instance: Some(instance.clone()),
                after,
                output_tail,
            }),
            Err(error) => Err(self.failed(step, error)),
        }
    }
}

/// Forwards a command's output as events, masked, keeping the tail for errors.
struct StepOutput<'a> {
    step: Step,
    events: &'a dyn EventSink,
    tail: Mutex<OutputTail>,
    /// One masker per stream: a secret is masked within a stream, however its bytes
    /// are cut into chunks.
    stdout: Mutex<StreamMasker>,
    stderr: Mutex<StreamMasker>,
}

impl<'a> StepOutput<'a> {
    fn new(step: Step, events: &'a dyn EventSink, secrets: Option<&SecretMasker>) -> Self {
        let masker = secrets.cloned().unwrap_or_default();
        Self {
            step,
            events,
            tail: Mutex::new(OutputTail::new(TAIL_BYTES)),
            stdout: Mutex::new(masker.stream()),
            stderr: Mutex::new(masker.stream()),
        }
    }

    fn masker(&self, stream: OutputStream) -> &Mutex<StreamMasker> {
        match stream {
            OutputStream::Stdout => &self.stdout,
            OutputStream::Stderr => &self.stderr,
        }
    }

    /// Passes on bytes that are masked already.
    fn forward(&self, stream: OutputStream, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(&bytes);
        self.events.emit(Event::Output {
            step: self.step,
            stream,
            bytes,
        });
    }

    /// The command ended: releases what each masker held back, and returns the
    /// output's tail.
    fn finish(&self) -> String {
        for stream in [OutputStream::Stdout, OutputStream::Stderr] {
            let rest = self
                .masker(stream)
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .finish();
            self.forward(stream, rest);
        }
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .text()
    }
}

impl OutputSink for StepOutput<'_> {
    fn output(&self, stream: OutputStream, bytes: &[u8]) {
        let masked = self
            .masker(stream)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(bytes);
        self.forward(stream, masked);
    }
}

impl From<RuntimeError> for PortError {
    fn from(error: RuntimeError) -> Self {
        Self::Runtime(error)
    }
}

impl From<crate::ports::RegistryError> for PortError {
    fn from(error: crate::ports::RegistryError) -> Self {
        Self::Registry(error)
    }
}

impl From<crate::ports::AmiCatalogError> for PortError {
    fn from(error: crate::ports::AmiCatalogError) -> Self {
        Self::Catalog(error)
    }
}

impl From<crate::ports::AppStoreError> for PortError {
    fn from(error: crate::ports::AppStoreError) -> Self {
        Self::Store(error)
    }
}
