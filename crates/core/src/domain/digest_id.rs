//! Pools, caches and buildimage steps are named on the daemon by a short digest of
//! what identifies them: 16 hex digits of a SHA-256, short enough for a label and a
//! name, and checked when a label is read back (a damaged one is not lxpack's). Each
//! key hashes its own parts; this is the shape they share.

/// How many hex digits a digest id keeps.
pub(crate) const DIGEST_ID_LEN: usize = 16;

/// The first [`DIGEST_ID_LEN`] hex digits of `digest`.
pub(crate) fn digest_id_text(digest: &[u8]) -> String {
    digest
        .iter()
        .take(DIGEST_ID_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `text` is a digest id's text.
pub(crate) fn is_digest_id(text: &str) -> bool {
    text.len() == DIGEST_ID_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A newtype over a digest id's text, with `parse`, `as_str` and `Display`.
macro_rules! digest_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Reads one back from a label: `None` unless it is 16 lowercase hex
            /// digits.
            #[must_use]
            pub fn parse(text: &str) -> Option<Self> {
                $crate::domain::digest_id::is_digest_id(text).then(|| Self(text.to_owned()))
            }

            /// From a SHA-256 digest.
            pub(crate) fn of_digest(digest: &[u8]) -> Self {
                Self($crate::domain::digest_id::digest_id_text(digest))
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use digest_id;
