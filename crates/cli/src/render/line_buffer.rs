//! Output comes in chunks that need not end at a line, and stdout's and stderr's
//! chunks interleave. The live view (which redraws its spinner between lines) and the
//! job log (which tags each line with its stream) both need whole lines per stream, so
//! partial lines wait here, per stream, up to a bound, so a line without an end cannot
//! grow without limit.

use lxpack_core::domain::OutputStream;

/// The longest partial line held back.
const MAX_PENDING: usize = 8192;

/// A line of one stream: its bytes without the newline, and whether it ended with one
/// (a line cut at the bound, or left at the end of a step, did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub(super) stream: OutputStream,
    pub(super) bytes: Vec<u8>,
    pub(super) complete: bool,
}

impl Line {
    /// The text, with invalid UTF-8 replaced.
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Pending partial lines, per stream.
#[derive(Debug, Default)]
pub(super) struct LineBuffer {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl LineBuffer {
    /// Adds a chunk; returns the lines it completed.
    pub(super) fn push(&mut self, stream: OutputStream, bytes: &[u8]) -> Vec<Line> {
        let pending = match stream {
            OutputStream::Stdout => &mut self.stdout,
            OutputStream::Stderr => &mut self.stderr,
        };
        pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = pending.drain(..=end).collect();
            line.pop();
            lines.push(Line {
                stream,
                bytes: line,
                complete: true,
            });
        }
        if pending.len() > MAX_PENDING {
            lines.push(Line {
                stream,
                bytes: std::mem::take(pending),
                complete: false,
            });
        }
        lines
    }

    /// What is left, at the end of a step: the partial last line of each stream.
    pub(super) fn drain(&mut self) -> Vec<Line> {
        let mut rest = Vec::new();
        for (stream, pending) in [
            (OutputStream::Stdout, &mut self.stdout),
            (OutputStream::Stderr, &mut self.stderr),
        ] {
            if !pending.is_empty() {
                rest.push(Line {
                    stream,
                    bytes: std::mem::take(pending),
                    complete: false,
                });
            }
        }
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(stream: OutputStream, text: &str, complete: bool) -> Line {
        Line {
            stream,
            bytes: text.as_bytes().to_vec(),
            complete,
        }
    }

    #[test]
    fn completes_lines_across_chunks() {
        let mut buffer = LineBuffer::default();
        assert!(buffer.push(OutputStream::Stdout, b"hel").is_empty());
        assert_eq!(
            buffer.push(OutputStream::Stdout, b"lo\nwor"),
            [line(OutputStream::Stdout, "hello", true)]
        );
        assert_eq!(buffer.drain(), [line(OutputStream::Stdout, "wor", false)]);
        let long = vec![b'x'; MAX_PENDING + 1];
        let cut = buffer.push(OutputStream::Stderr, &long);
        assert_eq!(cut.len(), 1);
        assert!(!cut[0].complete);
        assert!(buffer.drain().is_empty());
    }

    #[test]
    fn interleaved_streams_never_mix_inside_a_line() {
        let mut buffer = LineBuffer::default();
        let mut lines = Vec::new();
        lines.extend(buffer.push(OutputStream::Stderr, b"ERR 000"));
        lines.extend(buffer.push(OutputStream::Stdout, b"OUT 0002"));
        lines.extend(buffer.push(OutputStream::Stderr, b"22254\n"));
        lines.extend(buffer.push(OutputStream::Stdout, b"2732\n"));
        assert_eq!(
            lines,
            [
                line(OutputStream::Stderr, "ERR 00022254", true),
                line(OutputStream::Stdout, "OUT 00022732", true),
            ]
        );
    }
}
