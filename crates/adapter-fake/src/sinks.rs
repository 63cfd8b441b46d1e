//! Sinks that keep what they receive, so tests can assert on exactly what a user would
//! have seen: the events of a workflow, and the output of a command.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use lxpack_core::domain::{OutputStream, SessionInput};
use lxpack_core::events::{Event, EventSink, Step};
use lxpack_core::ports::{InputSource, OutputSink};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An [`EventSink`] that keeps every event. Clones share the same list, so a test can
/// keep one and hand the other to a workflow.
#[derive(Debug, Clone, Default)]
pub struct RecordingEvents {
    events: Arc<Mutex<Vec<Event>>>,
}

impl RecordingEvents {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far, in order.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    /// The events so far, which are then forgotten.
    #[must_use]
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }

    /// The steps started, in order.
    #[must_use]
    pub fn started_steps(&self) -> Vec<Step> {
        lock(&self.events)
            .iter()
            .filter_map(|event| match event {
                Event::StepStarted { step } => Some(*step),
                _ => None,
            })
            .collect()
    }

    /// The warnings, in order.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        lock(&self.events)
            .iter()
            .filter_map(|event| match event {
                Event::Warning { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// The bytes a step wrote to one stream, concatenated.
    #[must_use]
    pub fn output(&self, step: Step, stream: OutputStream) -> Vec<u8> {
        lock(&self.events)
            .iter()
            .filter_map(|event| match event {
                Event::Output {
                    step: of,
                    stream: on,
                    bytes,
                } if *of == step && *on == stream => Some(bytes.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }
}

impl EventSink for RecordingEvents {
    fn emit(&self, event: Event) {
        lock(&self.events).push(event);
    }
}

/// One chunk of output and its stream.
type Chunk = (OutputStream, Vec<u8>);

/// An [`OutputSink`] that keeps every chunk. Clones share the same chunks.
#[derive(Debug, Clone, Default)]
pub struct RecordingOutput {
    chunks: Arc<Mutex<Vec<Chunk>>>,
}

impl RecordingOutput {
    /// An empty recorder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The chunks so far, in the order they arrived.
    #[must_use]
    pub fn chunks(&self) -> Vec<(OutputStream, Vec<u8>)> {
        lock(&self.chunks).clone()
    }

    /// Everything written to one stream, concatenated.
    #[must_use]
    pub fn bytes(&self, stream: OutputStream) -> Vec<u8> {
        lock(&self.chunks)
            .iter()
            .filter(|(on, _)| *on == stream)
            .flat_map(|(_, bytes)| bytes.iter().copied())
            .collect()
    }

    /// Everything written to one stream, as text (invalid UTF-8 replaced).
    #[must_use]
    pub fn text(&self, stream: OutputStream) -> String {
        String::from_utf8_lossy(&self.bytes(stream)).into_owned()
    }

    /// Forgets the chunks.
    pub fn clear(&self) {
        lock(&self.chunks).clear();
    }
}

impl OutputSink for RecordingOutput {
    fn output(&self, stream: OutputStream, bytes: &[u8]) {
        lock(&self.chunks).push((stream, bytes.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_in_order() {
        let events = RecordingEvents::new();
        let sink: &dyn EventSink = &events;
        sink.emit(Event::StepStarted { step: Step::Launch });
        sink.emit(Event::Output {
            step: Step::Buildpack,
            stream: OutputStream::Stdout,
            bytes: b"a".to_vec(),
        });
        sink.emit(Event::Warning {
            message: "careful".into(),
        });
        sink.emit(Event::Output {
            step: Step::Buildpack,
            stream: OutputStream::Stdout,
            bytes: b"b".to_vec(),
        });
        assert_eq!(events.started_steps(), vec![Step::Launch]);
        assert_eq!(events.warnings(), vec!["careful".to_owned()]);
        assert_eq!(events.output(Step::Buildpack, OutputStream::Stdout), b"ab");
        assert!(
            events
                .output(Step::Buildpack, OutputStream::Stderr)
                .is_empty()
        );
        assert_eq!(events.take().len(), 4);
        assert!(events.events().is_empty());
    }

    #[test]
    fn output_is_kept_per_stream() {
        let output = RecordingOutput::new();
        output.output(OutputStream::Stdout, b"out ");
        output.output(OutputStream::Stderr, b"err");
        output.output(OutputStream::Stdout, b"more");
        assert_eq!(output.text(OutputStream::Stdout), "out more");
        assert_eq!(output.bytes(OutputStream::Stderr), b"err");
        assert_eq!(output.chunks().len(), 3);
        output.clear();
        assert!(output.chunks().is_empty());
    }
}

/// An [`InputSource`] that gives a session its inputs in order, then
/// [`SessionInput::End`].
#[derive(Debug, Default)]
pub struct ScriptedInput {
    inputs: Mutex<std::collections::VecDeque<SessionInput>>,
}

impl ScriptedInput {
    /// Input that plays `inputs`, then ends.
    #[must_use]
    pub fn new(inputs: impl IntoIterator<Item = SessionInput>) -> Self {
        Self {
            inputs: Mutex::new(inputs.into_iter().collect()),
        }
    }
}

#[async_trait]
impl InputSource for ScriptedInput {
    async fn next_input(&self) -> SessionInput {
        lock(&self.inputs).pop_front().unwrap_or(SessionInput::End)
    }
}
