//! Masking secret values out of output: one rule, here, that every byte lxpack shows
//! or keeps goes through. Output arrives in chunks cut anywhere, so masking is a
//! stream: it holds back the end of a chunk that could be the start of a secret, at
//! most (longest secret − 1) bytes, until the next chunk or the end of the stream
//! says. Any cut of the same bytes into chunks masks to the same result.
//!
//! Every byte inside an occurrence of a secret value is covered, occurrences that
//! overlap or touch included; each run of covered bytes becomes one [`MASK`]. Bytes
//! are matched as they are, not only UTF-8.

use std::fmt;
use std::sync::Arc;

/// What a masked run of bytes reads as.
pub const MASK: &str = "***";

/// The secret values of one job, for masking. Cheap to clone; its `Debug` shows how
/// many values it holds, never one of them.
#[derive(Clone, Default)]
pub struct SecretMasker {
    values: Arc<[Vec<u8>]>,
}

impl fmt::Debug for SecretMasker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretMasker({} values)", self.values.len())
    }
}

impl SecretMasker {
    /// A masker of `values`; empty values are dropped (there is nothing to hide).
    #[must_use]
    pub fn new<I, V>(values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<Vec<u8>>,
    {
        let mut values: Vec<Vec<u8>> = values
            .into_iter()
            .map(Into::into)
            .filter(|value| !value.is_empty())
            .collect();
        values.sort();
        values.dedup();
        Self {
            values: values.into(),
        }
    }

    /// True when there is nothing to mask.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many distinct values it masks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// A stream masker for one output stream.
    #[must_use]
    pub fn stream(&self) -> StreamMasker {
        StreamMasker {
            masker: self.clone(),
            pending: Vec::new(),
            carry: 0,
            last_covered: false,
        }
    }

    /// `bytes` with every secret value masked.
    #[must_use]
    pub fn mask_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        if self.is_empty() {
            return bytes.to_vec();
        }
        let mut stream = self.stream();
        let mut out = stream.write(bytes);
        out.extend(stream.finish());
        out
    }

    /// `text` with every secret value masked.
    #[must_use]
    pub fn mask_text(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        // Secret values are whole strings, so each occurrence starts and ends on a
        // character boundary, and the result is UTF-8 again.
        String::from_utf8_lossy(&self.mask_bytes(text.as_bytes())).into_owned()
    }
}

/// The masking of one output stream: [`StreamMasker::write`] each chunk as it comes,
/// then [`StreamMasker::finish`] at the end of the stream.
#[derive(Debug)]
pub struct StreamMasker {
    masker: SecretMasker,
    /// Bytes not yet released: they may begin a secret.
    pending: Vec<u8>,
    /// How many leading bytes of `pending` a match released earlier covers.
    carry: usize,
    /// Whether the last byte released was covered (a run goes on: no second mask).
    last_covered: bool,
}

impl StreamMasker {
    /// Takes `chunk`; returns the masked bytes that are settled.
    pub fn write(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.masker.is_empty() {
            return chunk.to_vec();
        }
        self.pending.extend_from_slice(chunk);
        self.release(false)
    }

    /// Ends the stream: returns the rest, masked. The masker can start a new stream.
    pub fn finish(&mut self) -> Vec<u8> {
        let out = self.release(true);
        self.last_covered = false;
        out
    }

    /// Releases what is settled (everything at the end of the stream), keeping back
    /// the bytes from where a secret may begin in the next chunk.
    fn release(&mut self, at_end: bool) -> Vec<u8> {
        let buffer = std::mem::take(&mut self.pending);
        let len = buffer.len();
        let mut covered = vec![false; len];
        covered[..self.carry.min(len)].fill(true);
        let mut boundary = len;
        // How far the matches that start before the boundary reach.
        let mut reach = self.carry;
        for start in 0..len {
            let rest = &buffer[start..];
            for value in self.masker.values.iter() {
                if rest.starts_with(value) {
                    let end = start + value.len();
                    covered[start..end].fill(true);
                    if start < boundary {
                        reach = reach.max(end);
                    }
                } else if !at_end && value.starts_with(rest) && start < boundary {
                    boundary = start;
                }
            }
        }
        // Before the boundary every match is known; from it on, they are found again
        // with the next chunk.
        let mut out = Vec::with_capacity(boundary);
        for (byte, &covered) in buffer[..boundary].iter().zip(&covered) {
            if covered {
                if !self.last_covered {
                    out.extend_from_slice(MASK.as_bytes());
                }
            } else {
                out.push(*byte);
            }
            self.last_covered = covered;
        }
        self.carry = reach.saturating_sub(boundary);
        self.pending = buffer[boundary..].to_vec();
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn masker(values: &[&str]) -> SecretMasker {
        SecretMasker::new(values.iter().map(|v| v.as_bytes().to_vec()))
    }

    fn streamed(masker: &SecretMasker, chunks: &[&[u8]]) -> Vec<u8> {
        let mut stream = masker.stream();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(stream.write(chunk));
        }
        out.extend(stream.finish());
        out
    }

    #[test]
    fn masks_a_value_alone_and_inside_a_line() {
        let m = masker(&["hunter22"]);
        assert_eq!(m.mask_text("hunter22"), "***");
        assert_eq!(m.mask_text("pw=hunter22;\n"), "pw=***;\n");
        assert_eq!(m.mask_text("hunter2"), "hunter2");
    }

    #[test]
    fn masks_a_value_split_across_writes() {
        let m = masker(&["hunter22"]);
        assert_eq!(
            streamed(&m, &[b"pw=hun", b"te", b"r22 ok\n"]),
            b"pw=*** ok\n".to_vec()
        );
        // What was held back and proved no secret comes out unchanged.
        assert_eq!(streamed(&m, &[b"pw=hun", b"tex"]), b"pw=huntex".to_vec());
    }

    #[test]
    fn holds_back_at_most_the_longest_value_less_one() {
        let m = masker(&["abcdef", "xy12"]);
        let mut stream = m.stream();
        assert_eq!(stream.write(b"0123456789abcde"), b"0123456789".to_vec());
        assert_eq!(stream.write(b"f!"), b"***!".to_vec());
        assert_eq!(stream.finish(), Vec::<u8>::new());
    }

    #[test]
    fn overlapping_and_adjacent_values_make_one_mask() {
        let m = masker(&["abcd", "cdef"]);
        assert_eq!(m.mask_text("[abcdef]"), "[***]");
        assert_eq!(m.mask_text("[abcdabcd]"), "[***]");
        assert_eq!(m.mask_text("[abcd cdef]"), "[*** ***]");
        let m = masker(&["aaaa"]);
        assert_eq!(m.mask_text("aaaaaaa!"), "***!");
    }

    #[test]
    fn works_on_bytes_that_are_not_utf8() {
        let m = SecretMasker::new([vec![0xff, 0xfe, 0x00, 0x01]]);
        assert_eq!(
            streamed(&m, &[&[0x80, 0xff, 0xfe], &[0x00, 0x01, 0x80]]),
            vec![0x80, b'*', b'*', b'*', 0x80]
        );
    }

    #[test]
    fn an_empty_masker_passes_everything() {
        let m = SecretMasker::new(Vec::<Vec<u8>>::new());
        assert!(m.is_empty());
        assert_eq!(streamed(&m, &[b"abc", b"def"]), b"abcdef".to_vec());
        assert_eq!(
            format!("{:?}", masker(&["hunter22"])),
            "SecretMasker(1 values)"
        );
    }

    #[test]
    fn a_stream_starts_again_after_finish() {
        let m = masker(&["hunter22"]);
        let mut stream = m.stream();
        assert_eq!(stream.write(b"hunter22"), b"***".to_vec());
        assert_eq!(stream.finish(), Vec::<u8>::new());
        assert_eq!(stream.write(b"hunter22"), b"***".to_vec());
    }

    /// Output made of bits of the secrets and other bytes, so that values overlap,
    /// touch and are cut.
    fn output_and_secrets() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
        let secrets = proptest::collection::vec("[ab]{4,8}", 1..4)
            .prop_map(|v| v.into_iter().map(String::into_bytes).collect::<Vec<_>>());
        let pieces = proptest::collection::vec(prop_oneof!["[abc\n]{0,6}", "[ab]{4,8}"], 0..12);
        let cuts = proptest::collection::vec(0usize..200, 0..8);
        (secrets, pieces, cuts)
            .prop_map(|(secrets, pieces, cuts)| (secrets, pieces.concat().into_bytes(), cuts))
    }

    proptest! {
        #[test]
        fn any_cut_masks_as_the_whole((secrets, output, cuts) in output_and_secrets()) {
            let m = SecretMasker::new(secrets);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (output.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts {
                chunks.push(&output[from..cut]);
                from = cut;
            }
            chunks.push(&output[from..]);
            prop_assert_eq!(streamed(&m, &chunks), m.mask_bytes(&output));
        }

        #[test]
        fn no_value_survives((secrets, output, _cuts) in output_and_secrets()) {
            let m = SecretMasker::new(secrets.clone());
            let masked = m.mask_bytes(&output);
            for secret in &secrets {
                prop_assert!(
                    !masked.windows(secret.len()).any(|w| w == secret.as_slice()),
                    "{:?} survives in {:?}", secret, String::from_utf8_lossy(&masked)
                );
            }
        }

        #[test]
        fn output_without_secrets_is_unchanged(output in "[cd\n]{0,40}") {
            let m = masker(&["abab", "bbbb"]);
            prop_assert_eq!(m.mask_text(&output), output);
        }
    }
}
