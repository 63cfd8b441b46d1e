//! Events become what a person or a machine reads: a live terminal view, plain lines
//! for logs and pipes, or JSON lines; and, whatever the view, the job's log file gets
//! every step and every byte of output.

mod json;
mod line_buffer;
mod plain;
mod terminal;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Mutex, PoisonError};

use lxpack_core::events::{Event, EventSink};

pub use json::event_json;
use line_buffer::LineBuffer;
use terminal::TerminalView;

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// A live terminal: a spinner on the current step, output above it.
    Terminal,
    /// Plain lines (not a terminal).
    Plain,
    /// One JSON object per line.
    Json,
}

impl View {
    /// The view for this process: JSON when asked, a live view on a terminal, plain
    /// lines otherwise.
    #[must_use]
    pub fn choose(json: bool) -> Self {
        use std::io::IsTerminal as _;
        if json {
            Self::Json
        } else if std::io::stderr().is_terminal() && std::io::stdout().is_terminal() {
            Self::Terminal
        } else {
            Self::Plain
        }
    }
}

/// The CLI's event sink.
pub struct Renderer {
    view: View,
    terminal: Option<TerminalView>,
    log: Option<Mutex<BufWriter<File>>>,
    lines: Mutex<LineBuffer>,
}

impl Renderer {
    /// A renderer for `view`, also writing to `log` when given.
    #[must_use]
    pub fn new(view: View, log: Option<File>) -> Self {
        Self {
            view,
            terminal: (view == View::Terminal).then(TerminalView::new),
            log: log.map(|file| Mutex::new(BufWriter::new(file))),
            lines: Mutex::new(LineBuffer::default()),
        }
    }

    /// Prints a line of the result (stdout), outside of any progress display.
    pub fn result_line(&self, line: &str) {
        match &self.terminal {
            Some(terminal) => terminal.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
        }
    }

    /// Flushes the log and clears the live view.
    pub fn finish(&self) {
        if let Some(terminal) = &self.terminal {
            terminal.finish();
        }
        if let Some(log) = &self.log {
            let _ = log.lock().unwrap_or_else(PoisonError::into_inner).flush();
        }
    }

    fn write_log(&self, event: &Event) {
        let Some(log) = &self.log else { return };
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        // A log that cannot be written must not stop the job; the write error is
        // reported once at the end by the caller's flush.
        let _ = match event {
            Event::Output { bytes, .. } => log.write_all(bytes),
            other => plain::describe(other).map_or(Ok(()), |line| writeln!(log, "{line}")),
        };
        if matches!(event, Event::StepFinished { .. }) {
            let _ = log.flush();
        }
    }
}

impl EventSink for Renderer {
    fn emit(&self, event: Event) {
        self.write_log(&event);
        match self.view {
            View::Json => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", event_json(&event));
            }
            View::Plain => plain::print(&event),
            View::Terminal => {
                let Some(terminal) = &self.terminal else { return };
                match &event {
                    Event::Output { stream, bytes, .. } => {
                        let lines = self
                            .lines
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(*stream, bytes);
                        for (stream, line) in lines {
                            terminal.output_line(stream, &line);
                        }
                    }
                    Event::StepFinished { .. } => {
                        let rest = self.lines.lock().unwrap_or_else(PoisonError::into_inner).drain();
                        for (stream, line) in rest {
                            terminal.output_line(stream, &line);
                        }
                        terminal.show(&event);
                    }
                    other => terminal.show(other),
                }
            }
        }
    }
}
