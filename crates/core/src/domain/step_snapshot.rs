//! buildimage applies its steps (bootstrap, hooks, features) one after the other, each
//! on what the ones before left. After each step the build instance is snapshotted
//! under a key that hashes everything the instance holds at that point: the base
//! image's fingerprint and every step so far (its command, its script or formula, its
//! parameters and environment). Equal keys mean equal inputs, so a re-run whose first K
//! steps are unchanged may start from the snapshot after step K and give the same
//! result; any change to a step changes its key and every key after it.
//!
//! The snapshots live on a stopped instance the build leaves (a step holder), whose
//! label lists the keys of the snapshots it has; the daemon holds it all, so a re-run
//! from any host finds them.

use sha2::{Digest, Sha256};

use super::digest_id::digest_id;

digest_id! {
    /// The key of the state after one step: 16 hex digits of a SHA-256 over the key
    /// before it and the step's own inputs.
    StepKey
}

impl StepKey {
    /// The name of the snapshot holding the state this key stands for.
    #[must_use]
    pub fn snapshot_name(&self) -> String {
        format!("lxpack-step-{}", self.0)
    }

    /// The keys as one label value (comma-separated).
    #[must_use]
    pub fn join(keys: &[Self]) -> String {
        keys.iter().map(Self::as_str).collect::<Vec<_>>().join(",")
    }

    /// Keys read back from a label value; a damaged entry is left out.
    #[must_use]
    pub fn split(text: &str) -> Vec<Self> {
        text.split(',').filter_map(Self::parse).collect()
    }
}

/// What one step depends on, as length-prefixed parts: its name, its command, the
/// files it runs and their contents, its environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInputs {
    parts: Vec<Vec<u8>>,
}

impl StepInputs {
    /// The inputs of the step called `name`.
    #[must_use]
    pub fn new(name: &str) -> Self {
        Self {
            parts: vec![name.as_bytes().to_vec()],
        }
    }

    /// Adds one input.
    #[must_use]
    pub fn with(mut self, part: impl AsRef<[u8]>) -> Self {
        self.parts.push(part.as_ref().to_vec());
        self
    }
}

/// The key after each step, in order: the state after step `k` is keyed by the base
/// image and steps `0..=k`.
#[must_use]
pub fn step_keys(base_fingerprint: &str, steps: &[StepInputs]) -> Vec<StepKey> {
    let mut previous = base_fingerprint.as_bytes().to_vec();
    let mut keys = Vec::with_capacity(steps.len());
    for step in steps {
        let mut hasher = Sha256::new();
        hasher.update(previous.len().to_be_bytes());
        hasher.update(&previous);
        hasher.update(step.parts.len().to_be_bytes());
        for part in &step.parts {
            hasher.update(part.len().to_be_bytes());
            hasher.update(part);
        }
        let key = StepKey::of_digest(&hasher.finalize());
        previous = key.as_str().as_bytes().to_vec();
        keys.push(key);
    }
    keys
}

/// Where a build can resume: the number of steps already done, and which holder's
/// snapshot holds their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint<'a, H> {
    /// Steps done: the build runs steps `done..`.
    pub done: usize,
    /// The holder with the snapshot of the state after step `done - 1`.
    pub holder: &'a H,
    /// That snapshot's key.
    pub key: StepKey,
}

/// The furthest point `keys` can resume from among `holders` (each with the keys of
/// the snapshots it holds): the longest unchanged prefix with a snapshot, from the
/// holder listed last among those that have it (callers list the newest last). `None`
/// when no step's snapshot exists.
#[must_use]
pub fn resume_point<'a, H>(
    keys: &[StepKey],
    holders: &'a [H],
    held: impl Fn(&H) -> &[StepKey],
) -> Option<ResumePoint<'a, H>> {
    keys.iter().enumerate().rev().find_map(|(index, key)| {
        holders
            .iter()
            .rev()
            .find(|holder| held(holder).contains(key))
            .map(|holder| ResumePoint {
                done: index + 1,
                holder,
                key: key.clone(),
            })
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn steps(scripts: &[&str]) -> Vec<StepInputs> {
        scripts
            .iter()
            .map(|script| StepInputs::new("hook").with(script))
            .collect()
    }

    #[test]
    fn a_changed_step_changes_its_key_and_every_key_after_it() {
        let before = step_keys("abc", &steps(&["a", "b", "c"]));
        let after = step_keys("abc", &steps(&["a", "B", "c"]));
        assert_eq!(before[0], after[0]);
        assert_ne!(before[1], after[1]);
        assert_ne!(before[2], after[2]);
        // Another base image changes them all.
        let rebased = step_keys("abd", &steps(&["a", "b", "c"]));
        assert!(before.iter().zip(&rebased).all(|(a, b)| a != b));
    }

    #[test]
    fn parts_are_length_prefixed() {
        let joined = step_keys("x", &[StepInputs::new("hook").with("ab").with("c")]);
        let split = step_keys("x", &[StepInputs::new("hook").with("a").with("bc")]);
        assert_ne!(joined, split);
    }

    #[test]
    fn keys_read_back_from_their_label() {
        let keys = step_keys("abc", &steps(&["a", "b"]));
        assert_eq!(StepKey::split(&StepKey::join(&keys)), keys);
        assert_eq!(StepKey::split("nonsense,,"), Vec::<StepKey>::new());
        assert!(keys[0].snapshot_name().starts_with("lxpack-step-"));
    }

    #[test]
    fn a_rerun_resumes_after_the_longest_unchanged_prefix_from_the_newest_holder() {
        let old = step_keys("abc", &steps(&["a", "b", "c"]));
        let new = step_keys("abc", &steps(&["a", "b", "C"]));
        let holders = vec![("older", old.clone()), ("newer", old[..2].to_vec())];
        let point = resume_point(&new, &holders, |h| &h.1).unwrap();
        assert_eq!(point.done, 2);
        assert_eq!(point.holder.0, "newer");
        assert_eq!(point.key, old[1]);
        // An unchanged build resumes after its last step.
        assert_eq!(resume_point(&old, &holders, |h| &h.1).unwrap().done, 3);
        // A changed first step resumes nowhere.
        let changed = step_keys("abc", &steps(&["A", "b", "c"]));
        assert!(resume_point(&changed, &holders, |h| &h.1).is_none());
    }

    proptest! {
        #[test]
        fn keys_depend_on_exactly_the_prefix(a in proptest::collection::vec("[a-c]{0,3}", 1..6), b in proptest::collection::vec("[a-c]{0,3}", 1..6)) {
            let ka = step_keys("base", &a.iter().map(|s| StepInputs::new("s").with(s)).collect::<Vec<_>>());
            let kb = step_keys("base", &b.iter().map(|s| StepInputs::new("s").with(s)).collect::<Vec<_>>());
            for k in 0..a.len().min(b.len()) {
                prop_assert_eq!(ka[k] == kb[k], a[..=k] == b[..=k]);
            }
        }
    }
}
