//! A standby is an instance started ahead of time from an app's image, so that a
//! deploy skips the launch. The daemon holds the pool: each standby carries a mark
//! saying which pool it serves, and a deploy claims one by writing its job's labels
//! onto it in one compare-and-set, so no lxpack process has to stay up between
//! deploys and two deploys never share one. The rules over the marks live here, so
//! the adapters only store and compare them.

use std::fmt;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::digest_id::digest_id;
use super::text::text_enum;
use super::{
    AppKey, DefaultBridge, Isolation, JobId, Labels, NetworkPolicy, Owner, PlacementTarget,
    ResourceLimits,
};

/// What a standby must match to serve a deploy: the app and its current image, and
/// everything about the instance a deploy cannot change once it runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// The app.
    pub app: AppKey,
    /// Its container image (the buildimage job that made it).
    pub image: JobId,
    /// Privileged or not.
    pub isolation: Isolation,
    /// The caps of the deploy's resource class: a standby serves only deploys of the
    /// same caps.
    pub limits: ResourceLimits,
    /// Where the runtime places instances on a cluster.
    pub target: Option<PlacementTarget>,
    /// The checkout owner the instance maps at start, on a daemon that cannot map a
    /// mount's owner later (no idmapped mounts); `None` where the mount itself maps it.
    pub owner: Option<Owner>,
}

digest_id! {
    /// A pool's identity on the daemon: 16 hex digits of a SHA-256 over its
    /// [`PoolKey`], short enough for a label and a name.
    PoolId
}

impl PoolKey {
    /// The id of this key's pool under the default network policy (see
    /// [`StandbyPool::id`]).
    #[must_use]
    pub fn id(&self) -> PoolId {
        StandbyPool::new(self.clone()).id()
    }

    /// The parts of the key, in a fixed order, for its pool's digest.
    fn parts(&self) -> [Option<String>; 11] {
        [
            Some(self.app.name.clone()),
            Some(self.app.env.clone()),
            Some(self.app.role.clone()),
            Some(self.image.to_string()),
            Some(self.isolation.as_str().to_owned()),
            self.limits.cpu.clone(),
            self.limits.memory.clone(),
            self.limits.processes.map(|n| n.to_string()),
            self.limits.root_size.map(|n| n.to_string()),
            self.target.as_ref().map(ToString::to_string),
            self.owner.map(|o| format!("{}:{}", o.uid, o.gid)),
        ]
    }
}

/// A standby pool: the instance its standbys are ([`PoolKey`]) and the network they
/// are attached to, which a deploy cannot change either once the instance runs. A
/// deploy whose module has a network policy of its own draws from another pool than
/// its app's standbys (none: it starts cold).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandbyPool {
    /// The instance.
    pub key: PoolKey,
    /// The network policy its standbys are started with.
    pub network: NetworkPolicy,
    /// The bridge of the default scope.
    pub bridge: DefaultBridge,
}

impl StandbyPool {
    /// The pool of `key` under the default network policy and lxpack's own bridge.
    #[must_use]
    pub fn new(key: PoolKey) -> Self {
        Self {
            key,
            network: NetworkPolicy::default(),
            bridge: DefaultBridge::default(),
        }
    }

    /// The pool's id: equal pools give equal ids, and any difference another.
    #[must_use]
    pub fn id(&self) -> PoolId {
        let allow: Vec<String> = self.network.allow.iter().map(ToString::to_string).collect();
        let network = [
            Some(self.network.mode.as_str().to_owned()),
            Some(allow.join(";")),
            self.bridge.pool_part(),
        ];
        let mut hasher = Sha256::new();
        // Length-prefixed parts with a presence byte: an injective encoding.
        for part in self.key.parts().iter().chain(network.iter()) {
            hasher.update([u8::from(part.is_some())]);
            let part = part.as_deref().unwrap_or("");
            hasher.update(part.len().to_be_bytes());
            hasher.update(part.as_bytes());
        }
        PoolId::of_digest(&hasher.finalize())
    }
}

text_enum! {
    /// One of the labels of a standby (beside the app's, [`super::LabelKey::App`]),
    /// named as adapters store it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum StandbyLabel as "standby label" {
        /// The pool id.
        Pool = "standby",
        /// The image's job id.
        Image = "standby_image",
        /// The owner mapped at start, `uid:gid`.
        Owner = "standby_owner",
        /// When it was started, in Unix seconds.
        Since = "standby_since",
        /// Present once it answers commands: only then may a deploy claim it.
        Ready = "standby_ready",
        /// Present once it is being retired: no deploy may claim it.
        Retiring = "standby_retiring",
    }
}

/// What a standby is labelled with: which pool it serves, since when, whether it is
/// ready, and whether it is being retired.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandbyMark {
    /// The pool.
    pub pool: PoolId,
    /// The app (stored as the app label).
    pub app: AppKey,
    /// The image it was started from.
    pub image: JobId,
    /// The owner it maps, when its pool is keyed by one.
    pub owner: Option<Owner>,
    /// When it was started (to the second).
    pub since: SystemTime,
    /// It answered a command: a deploy may claim it.
    pub ready: bool,
    /// Being retired: claimed for removal, by a drain, a refill or a sweep.
    pub retiring: bool,
}

impl StandbyMark {
    /// The mark of a new standby of `key`'s pool under the default network policy
    /// ([`StandbyPool::new`]), started at `now`, not ready yet.
    #[must_use]
    pub fn new(key: &PoolKey, now: SystemTime) -> Self {
        Self::of_pool(&StandbyPool::new(key.clone()), now)
    }

    /// The mark of a new standby of `pool`, started at `now`, not ready yet.
    #[must_use]
    pub fn of_pool(pool: &StandbyPool, now: SystemTime) -> Self {
        let key = &pool.key;
        let seconds = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        Self {
            pool: pool.id(),
            app: key.app.clone(),
            image: key.image.clone(),
            owner: key.owner,
            since: SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
            ready: false,
            retiring: false,
        }
    }

    /// The labels as (name, value) pairs, the app's under `app_label`.
    #[must_use]
    pub fn pairs(&self) -> Vec<(StandbyLabel, String)> {
        let seconds = self
            .since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut pairs = vec![
            (StandbyLabel::Pool, self.pool.to_string()),
            (StandbyLabel::Image, self.image.to_string()),
            (StandbyLabel::Since, seconds.to_string()),
        ];
        if let Some(owner) = self.owner {
            pairs.push((StandbyLabel::Owner, format!("{}:{}", owner.uid, owner.gid)));
        }
        if self.ready {
            pairs.push((StandbyLabel::Ready, "true".to_owned()));
        }
        if self.retiring {
            pairs.push((StandbyLabel::Retiring, "true".to_owned()));
        }
        pairs
    }

    /// Reads a mark back: `value` gives each standby label's value, `app` the app
    /// label's. `None` unless the pool, image, time and app are there and valid.
    pub fn read<'a>(
        value: impl Fn(StandbyLabel) -> Option<&'a str>,
        app: Option<&'a str>,
    ) -> Option<Self> {
        let pool = PoolId::parse(value(StandbyLabel::Pool)?)?;
        let image = JobId::parse(value(StandbyLabel::Image)?).ok()?;
        let seconds: u64 = value(StandbyLabel::Since)?.parse().ok()?;
        let owner = match value(StandbyLabel::Owner) {
            None => None,
            Some(text) => {
                let (uid, gid) = text.split_once(':')?;
                Some(Owner {
                    uid: uid.parse().ok()?,
                    gid: gid.parse().ok()?,
                })
            }
        };
        let mut parts = app?.splitn(3, '/');
        let (name, env, role) = (parts.next()?, parts.next()?, parts.next()?);
        if [name, env, role].iter().any(|part| part.is_empty()) {
            return None;
        }
        Some(Self {
            pool,
            app: AppKey::new(name, env, role),
            image,
            owner,
            since: SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?,
            ready: value(StandbyLabel::Ready) == Some("true"),
            retiring: value(StandbyLabel::Retiring) == Some("true"),
        })
    }

    /// The same mark, ready to serve.
    #[must_use]
    pub fn readied(&self) -> Self {
        Self {
            ready: true,
            ..self.clone()
        }
    }

    /// The same mark, being retired.
    #[must_use]
    pub fn retired(&self) -> Self {
        Self {
            retiring: true,
            ..self.clone()
        }
    }

    /// How long it has waited at `now`.
    #[must_use]
    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.since).unwrap_or_default()
    }
}

/// What state a standby is in, from its mark and its job labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StandbyState {
    /// Started, not yet answering commands.
    Starting,
    /// Waiting for a deploy.
    Ready,
    /// A deploy claimed it: it is that job's instance now.
    Claimed,
    /// Being removed.
    Retiring,
}

impl StandbyState {
    /// The state of an instance marked `mark` that carries `labels`.
    #[must_use]
    pub fn of(mark: &StandbyMark, labels: Option<&Labels>) -> Self {
        if labels.is_some() {
            Self::Claimed
        } else if mark.retiring {
            Self::Retiring
        } else if mark.ready {
            Self::Ready
        } else {
            Self::Starting
        }
    }
}

/// Whether an instance that now carries `mark` and `labels` may be changed by a
/// claim or a change of its mark that read it as `expected`: it must still be that
/// very standby, unclaimed and not retiring. Adapters ask this inside their
/// compare-and-set.
#[must_use]
pub fn unchanged_standby(
    expected: &StandbyMark,
    mark: Option<&StandbyMark>,
    labels: Option<&Labels>,
) -> bool {
    labels.is_none() && !expected.retiring && mark == Some(expected)
}

/// Whether a deploy may claim a standby it read as `mark`: ready and not retiring.
#[must_use]
pub fn claimable(mark: &StandbyMark) -> bool {
    mark.ready && !mark.retiring
}

/// Why a standby goes rather than serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetireReason {
    /// Its app has a newer image (or none).
    ImageReplaced,
    /// It has waited longer than its pool's maximum age.
    TooOld,
    /// It never became ready: whoever started it gave up or died.
    NeverReady,
    /// Its pool holds more than its size.
    Surplus,
    /// Its pool was drained on request.
    Drained,
}

impl fmt::Display for RetireReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ImageReplaced => "its app has a newer image",
            Self::TooOld => "it is older than the pool's max_age",
            Self::NeverReady => "it never became ready",
            Self::Surplus => "its pool holds more than its size",
            Self::Drained => "its pool was drained",
        })
    }
}

/// Whether a waiting standby is stale at `now`: `current_image` is its app's image
/// now (`None` when the app has none).
#[must_use]
pub fn staleness(
    mark: &StandbyMark,
    current_image: Option<&JobId>,
    max_age: Duration,
    now: SystemTime,
) -> Option<RetireReason> {
    if current_image != Some(&mark.image) {
        Some(RetireReason::ImageReplaced)
    } else if mark.age(now) > max_age {
        Some(RetireReason::TooOld)
    } else {
        None
    }
}

/// The order in which a job tries a pool's waiting standbys: a different order per
/// job, so deploys that start together mostly try different ones first.
#[must_use]
pub fn claim_order<'a, T>(job: &JobId, standbys: impl IntoIterator<Item = (&'a str, T)>) -> Vec<T> {
    let mut ranked: Vec<([u8; 8], T)> = standbys
        .into_iter()
        .map(|(name, item)| {
            let mut hasher = Sha256::new();
            hasher.update(job.as_str().as_bytes());
            hasher.update([0]);
            hasher.update(name.as_bytes());
            let digest = hasher.finalize();
            let mut rank = [0_u8; 8];
            rank.copy_from_slice(&digest[..8]);
            (rank, item)
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    ranked.into_iter().map(|(_, item)| item).collect()
}

#[cfg(test)]
mod tests;
