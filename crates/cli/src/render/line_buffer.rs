//! A live view redraws its spinner between lines, so output is shown a whole line at a
//! time; partial lines wait here, up to a bound, so a line without an end cannot grow
//! without limit.

use lxpack_core::domain::OutputStream;

/// The longest partial line held back.
const MAX_PENDING: usize = 8192;

/// Pending partial lines, per stream.
#[derive(Debug, Default)]
pub(super) struct LineBuffer {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl LineBuffer {
    /// Adds a chunk; returns the lines it completed.
    pub(super) fn push(&mut self, stream: OutputStream, bytes: &[u8]) -> Vec<(OutputStream, String)> {
        let pending = match stream {
            OutputStream::Stdout => &mut self.stdout,
            OutputStream::Stderr => &mut self.stderr,
        };
        pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push((stream, String::from_utf8_lossy(&line[..end]).into_owned()));
        }
        if pending.len() > MAX_PENDING {
            lines.push((stream, String::from_utf8_lossy(pending).into_owned()));
            pending.clear();
        }
        lines
    }

    /// What is left, at the end of a step.
    pub(super) fn drain(&mut self) -> Vec<(OutputStream, String)> {
        let mut rest = Vec::new();
        for (stream, pending) in [
            (OutputStream::Stdout, &mut self.stdout),
            (OutputStream::Stderr, &mut self.stderr),
        ] {
            if !pending.is_empty() {
                rest.push((stream, String::from_utf8_lossy(pending).into_owned()));
                pending.clear();
            }
        }
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_lines_across_chunks() {
        let mut buffer = LineBuffer::default();
        assert!(buffer.push(OutputStream::Stdout, b"hel").is_empty());
        assert_eq!(
            buffer.push(OutputStream::Stdout, b"lo\nwor"),
            [(OutputStream::Stdout, "hello".to_owned())]
        );
        assert_eq!(buffer.drain(), [(OutputStream::Stdout, "wor".to_owned())]);
        let long = vec![b'x'; MAX_PENDING + 1];
        assert_eq!(buffer.push(OutputStream::Stderr, &long).len(), 1);
        assert!(buffer.drain().is_empty());
    }
}
