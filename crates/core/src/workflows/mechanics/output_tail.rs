//! Errors quote the end of a failed command's output, but output is streamed, never
//! kept whole: this keeps only the last few kilobytes.

use std::collections::VecDeque;

/// The last `capacity` bytes written, trimmed to whole lines when shown.
#[derive(Debug)]
pub(crate) struct OutputTail {
    bytes: VecDeque<u8>,
    capacity: usize,
}

/// Lines kept in an error message.
const MAX_LINES: usize = 20;

impl OutputTail {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.capacity)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The last lines, lossily decoded.
    pub(crate) fn text(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let joined = [front, back].concat();
        let text = String::from_utf8_lossy(&joined);
        let lines: Vec<&str> = text.trim_end_matches('\n').lines().collect();
        lines[lines.len().saturating_sub(MAX_LINES)..].join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_end() {
        let mut tail = OutputTail::new(8);
        tail.push(b"hello ");
        tail.push(b"world\n");
        assert_eq!(tail.text(), "o world");
        tail.push(&[b'x'; 100]);
        assert_eq!(tail.text(), "xxxxxxxx");
    }

    #[test]
    fn keeps_at_most_twenty_lines() {
        let mut tail = OutputTail::new(4096);
        for i in 0..50 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let text = tail.text();
        assert_eq!(text.lines().count(), 20);
        assert!(text.ends_with("line 49"));
    }
}
