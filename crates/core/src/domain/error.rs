//! Every value that enters from outside is checked once, here, so the rest of the
//! code can trust its types.

/// A value that failed validation. Each variant carries the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Not a job id.
    #[error(
        "invalid job id {input:?}: expected 24 lowercase hex digits, like 5f1e3c2a9b8d7e6f5a4b3c2d"
    )]
    JobId {
        /// The rejected text.
        input: String,
    },
    /// Not an AMI id.
    #[error("invalid AMI id {input:?}: expected ami- followed by 8 or 17 lowercase hex digits")]
    AmiId {
        /// The rejected text.
        input: String,
    },
    /// Not an OS as `FAMILY/RELEASE[/ARCH]`.
    #[error(
        "invalid OS {input:?}: expected FAMILY/RELEASE or FAMILY/RELEASE/ARCH, like debian/12 or ubuntu/22.04/arm64"
    )]
    OsSpec {
        /// The rejected text.
        input: String,
    },
    /// Not one of the words an enum is written as.
    #[error("invalid {what} {input:?}: expected {}", one_of(expected))]
    UnknownValue {
        /// What was read: `colour`, `job status`…
        what: &'static str,
        /// The rejected text.
        input: String,
        /// Every accepted spelling.
        expected: &'static [&'static str],
    },
    /// Not an absolute, normalised path inside the container.
    #[error("invalid path {input:?}: {reason}")]
    GuestPath {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a path the host can have, as lxpack takes them ([`super::check_host_path`]).
    #[error("invalid path {input:?}: {reason}")]
    HostPath {
        /// The rejected text.
        input: String,
        /// What is wrong with it, and the fix.
        reason: &'static str,
    },
    /// Not an address range, an allow entry or a daemon network or ACL name.
    #[error("invalid network setting {input:?}: {reason}")]
    Network {
        /// The rejected text.
        input: String,
        /// What is wrong with it, and the fix.
        reason: &'static str,
    },
    /// Not a cluster member name, nor `@` and a cluster group name.
    #[error(
        "invalid cluster target {input:?}: {reason}; write a member's name (m2) or @ and a cluster group's (@builders)"
    )]
    PlacementTarget {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a valid instance or profile name.
    #[error("invalid instance name {input:?}: {reason}")]
    InstanceName {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a valid image alias.
    #[error("invalid image alias {input:?}: {reason}")]
    ImageAlias {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not an image fingerprint.
    #[error("invalid image fingerprint {input:?}: expected 64 lowercase hex digits")]
    Fingerprint {
        /// The rejected text.
        input: String,
    },
    /// Not an image reference.
    #[error("invalid image reference {input:?}: {reason}")]
    ImageRef {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not an environment variable name.
    #[error("invalid environment variable name {input:?}: {reason}")]
    EnvVarName {
        /// The rejected text.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a pattern over env var keys.
    #[error(
        "invalid secret pattern {input:?}: expected letters, digits, _ and * (any run of characters), like *_TOKEN"
    )]
    SecretPattern {
        /// The rejected text.
        input: String,
    },
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [head @ .., last] => format!("{} or {last}", head.join(", ")),
    }
}
