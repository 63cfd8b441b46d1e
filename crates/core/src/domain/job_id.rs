//! Job identifiers are the glue between a job, its container image alias and its
//! resources, so they must round-trip exactly and order by age without a database.

use std::fmt;
use std::str::FromStr;

use super::ValidationError;

/// The identifier of one job: 24 lowercase hexadecimal digits, like the MongoDB
/// ObjectId that Cloud Deploy used.
///
/// The first eight digits are a big-endian Unix timestamp in seconds, so ordering two
/// ids orders their jobs by start time (ties are broken by the remaining digits, which
/// keeps the order total and deterministic).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(String);

impl JobId {
    /// The length of a job id, in characters.
    pub const LEN: usize = 24;

    /// Parses a job id.
    ///
    /// # Errors
    /// [`ValidationError::JobId`] when `text` is not exactly 24 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let valid = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::JobId {
                input: text.to_owned(),
            })
        }
    }

    /// Makes a new job id from a Unix time in seconds and 8 bytes of entropy.
    ///
    /// The caller supplies both, so the core stays free of clocks and randomness.
    #[must_use]
    pub fn generate(unix_seconds: u32, entropy: [u8; 8]) -> Self {
        use fmt::Write as _;
        let mut text = String::with_capacity(Self::LEN);
        for byte in unix_seconds.to_be_bytes().iter().chain(entropy.iter()) {
            // Writing into a String cannot fail.
            let _ = write!(text, "{byte:02x}");
        }
        Self(text)
    }

    /// A new job id for a job starting at `now`, with 8 bytes of entropy from the
    /// standard library's per-process random keys (the same source `HashMap` seeds
    /// from): distinct ids for jobs started in the same second, in one process or
    /// several, without a clock or randomness crate in the core.
    #[must_use]
    pub fn new_at(now: std::time::SystemTime) -> Self {
        use std::hash::{BuildHasher as _, Hasher as _};
        let since_epoch = now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = u32::try_from(since_epoch.as_secs()).unwrap_or(u32::MAX);
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(since_epoch.subsec_nanos());
        hasher.write_u32(std::process::id());
        Self::generate(seconds, hasher.finish().to_be_bytes())
    }

    /// The Unix time, in seconds, at which the job was created.
    #[must_use]
    pub fn unix_seconds(&self) -> u32 {
        // parse() and generate() guarantee 8 leading hex digits.
        u32::from_str_radix(&self.0[..8], 16).unwrap_or(0)
    }

    /// True when this job started after `other` (ids order by creation time).
    #[must_use]
    pub fn is_newer_than(&self, other: &Self) -> bool {
        self > other
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JobId {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_an_object_id() {
        let id = JobId::parse("5f1e3c2a9b8d7e6f5a4b3c2d").unwrap();
        assert_eq!(id.as_str(), "5f1e3c2a9b8d7e6f5a4b3c2d");
        assert_eq!(id.unix_seconds(), 0x5f1e_3c2a);
    }

    #[test]
    fn rejects_uppercase_short_and_non_hex() {
        for bad in [
            "5F1E3C2A9B8D7E6F5A4B3C2D",
            "5f1e3c2a",
            "5f1e3c2a9b8d7e6f5a4b3c2g",
            "5f1e3c2a9b8d7e6f5a4b3c2d0",
            "",
        ] {
            let err = JobId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("24 lowercase hex"), "{err}");
        }
    }

    #[test]
    fn newer_means_later_timestamp() {
        let old = JobId::generate(1_700_000_000, [0xff; 8]);
        let new = JobId::generate(1_700_000_001, [0; 8]);
        assert!(new.is_newer_than(&old));
        assert!(!old.is_newer_than(&new));
        assert!(!new.is_newer_than(&new));
    }

    #[test]
    fn new_ids_carry_their_time_and_differ() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let ids: std::collections::BTreeSet<JobId> = (0..100).map(|_| JobId::new_at(now)).collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|id| id.unix_seconds() == 1_700_000_000));
    }

    proptest! {
        #[test]
        fn generate_round_trips(seconds in any::<u32>(), entropy in any::<[u8; 8]>()) {
            let id = JobId::generate(seconds, entropy);
            prop_assert_eq!(JobId::parse(id.as_str()).unwrap(), id.clone());
            prop_assert_eq!(id.unix_seconds(), seconds);
        }

        #[test]
        fn order_follows_time(a in any::<u32>(), b in any::<u32>(), e in any::<[u8; 8]>(), f in any::<[u8; 8]>()) {
            prop_assume!(a != b);
            let (x, y) = (JobId::generate(a, e), JobId::generate(b, f));
            prop_assert_eq!(x.is_newer_than(&y), a > b);
        }
    }
}
