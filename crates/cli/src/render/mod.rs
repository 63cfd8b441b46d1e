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
    log: Option<Mutex<JobLog>>,
    lines: Mutex<LineBuffer>,
}

/// The job log: progress lines as the plain view prints them, and output whole lines
/// per stream, each tagged with its stream (`out| `, `err| `; `out… ` and `err… ` for a
/// line without its end: the last one of a step, or one cut at the length bound), so
/// `grep '^err'` gives back stderr even when the command wrote both at once.
struct JobLog {
    file: BufWriter<File>,
    lines: LineBuffer,
}

impl JobLog {
    fn write_lines(&mut self, lines: Vec<line_buffer::Line>) -> std::io::Result<()> {
        for line in lines {
            let tag = match (line.stream, line.complete) {
                (lxpack_core::domain::OutputStream::Stdout, true) => "out| ",
                (lxpack_core::domain::OutputStream::Stdout, false) => "out… ",
                (_, true) => "err| ",
                (_, false) => "err… ",
            };
            self.file.write_all(tag.as_bytes())?;
            self.file.write_all(&line.bytes)?;
            self.file.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl Renderer {
    /// A renderer for `view`, also writing to `log` when given.
    #[must_use]
    pub fn new(view: View, log: Option<File>) -> Self {
        Self {
            view,
            terminal: (view == View::Terminal).then(TerminalView::new),
            log: log.map(|file| {
                Mutex::new(JobLog {
                    file: BufWriter::new(file),
                    lines: LineBuffer::default(),
                })
            }),
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
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            let rest = log.lines.drain();
            let _ = log.write_lines(rest);
            let _ = log.file.flush();
        }
    }

    fn write_log(&self, event: &Event) {
        let Some(log) = &self.log else { return };
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        // A log that cannot be written must not stop the job; the write error is
        // reported once at the end by the caller's flush.
        let _ = match event {
            Event::Output { stream, bytes, .. } => {
                let lines = log.lines.push(*stream, bytes);
                log.write_lines(lines)
            }
            Event::StepFinished { .. } => {
                let rest = log.lines.drain();
                log.write_lines(rest).and_then(|()| {
                    plain::describe(event).map_or(Ok(()), |line| writeln!(log.file, "{line}"))
                })
            }
            other => plain::describe(other).map_or(Ok(()), |line| writeln!(log.file, "{line}")),
        };
        if matches!(event, Event::StepFinished { .. }) {
            let _ = log.file.flush();
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
                let Some(terminal) = &self.terminal else {
                    return;
                };
                match &event {
                    Event::Output { stream, bytes, .. } => {
                        let lines = self
                            .lines
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(*stream, bytes);
                        for line in lines {
                            terminal.output_line(line.stream, &line.text());
                        }
                    }
                    Event::StepFinished { .. } => {
                        let rest = self
                            .lines
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .drain();
                        for line in rest {
                            terminal.output_line(line.stream, &line.text());
                        }
                        terminal.show(&event);
                    }
                    other => terminal.show(other),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lxpack_core::domain::OutputStream;
    use lxpack_core::events::Step;

    use super::*;

    #[test]
    fn the_job_log_keeps_each_stream_s_lines_whole_and_tagged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let renderer = Renderer::new(View::Json, Some(File::create(&path).unwrap()));
        let output = |stream, text: &str| Event::Output {
            step: Step::Buildpack,
            stream,
            bytes: text.as_bytes().to_vec(),
        };
        for event in [
            Event::StepStarted {
                step: Step::Buildpack,
            },
            output(OutputStream::Stderr, "ERR 000"),
            output(OutputStream::Stdout, "OUT 0002"),
            output(OutputStream::Stderr, "22254\nERR 2\n"),
            output(OutputStream::Stdout, "2732\nno end"),
            Event::StepFinished {
                step: Step::Buildpack,
                duration: Duration::from_millis(5),
                succeeded: true,
            },
        ] {
            renderer.emit(event);
        }
        renderer.finish();
        let log = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(
            lines,
            [
                "==> buildpack",
                "err| ERR 00022254",
                "err| ERR 2",
                "out| OUT 00022732",
                "out… no end",
                "<== buildpack done in 0.01s",
            ],
            "{log}"
        );
    }
}
