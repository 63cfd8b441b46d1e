//! The live terminal view: a spinner on the running step, finished steps and command
//! output printed above it.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use lxpack_core::domain::OutputStream;
use lxpack_core::events::Event;

use super::plain::describe;

/// The spinner and the lines above it.
pub(super) struct TerminalView {
    bar: ProgressBar,
}

impl TerminalView {
    pub(super) fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    pub(super) fn show(&self, event: &Event) {
        match event {
            Event::StepStarted { step } => {
                self.bar.reset_elapsed();
                self.bar.set_message(step.to_string());
            }
            Event::StepFinished {
                step,
                duration,
                succeeded,
            } => {
                let mark = if *succeeded { "✓" } else { "✗" };
                self.bar
                    .println(format!("{mark} {step} ({:.2}s)", duration.as_secs_f64()));
                self.bar.set_message(String::new());
            }
            other => {
                if let Some(line) = describe(other) {
                    self.bar.println(line);
                }
            }
        }
    }

    pub(super) fn output_line(&self, stream: OutputStream, line: &str) {
        let prefix = match stream {
            OutputStream::Stdout => "  │ ",
            OutputStream::Stderr => "  ┃ ",
        };
        self.bar.println(format!("{prefix}{line}"));
    }

    pub(super) fn println(&self, line: &str) {
        self.bar.println(line);
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
