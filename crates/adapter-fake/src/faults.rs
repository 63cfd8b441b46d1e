//! Fault injection has one shape for every fake, so that a test which fails "each
//! call in turn" reads the same whichever port it targets, and so that the rules for
//! picking a call (operation and occurrence) are written once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Which calls of an operation a fault applies to. Occurrences count every call of
/// that operation since the fake was created, from 1, whatever their outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// Only the n-th call (1-based; `Nth(0)` never matches).
    Nth(u32),
    /// The n-th call and every later one (1-based; `FromNth(0)` never matches).
    FromNth(u32),
    /// Every call.
    Every,
}

impl When {
    /// True when the `occurrence`-th call (1-based) is chosen.
    #[must_use]
    pub fn matches(self, occurrence: u32) -> bool {
        match self {
            Self::Nth(n) => n > 0 && occurrence == n,
            Self::FromNth(n) => n > 0 && occurrence >= n,
            Self::Every => true,
        }
    }
}

/// A kind of failure, which each fake turns into its port's own error variant
/// (listed per fake on its `inject` method). Use [`Fault::fail_with`] for a variant
/// that is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FakeFailure {
    /// The backend cannot be reached: the port's `Unreachable` variant.
    Unreachable,
    /// The thing the call names does not exist: `NotFound`, `InstanceNotFound`,
    /// `AppNotFound`…
    NotFound,
    /// The backend refused the request: `Rejected`, or `AccessDenied` for AMIs.
    Rejected,
    /// The call ran out of time: `TimedOut` with the call's own limit.
    TimedOut,
    /// The call was cancelled: `Cancelled`.
    Cancelled,
    /// Anything else: the port's `Other`, with an [`InjectedFault`] as its source.
    Other,
}

/// The source of the `Other` errors that fakes build for an injected failure, so a
/// test can tell an injected failure from a real one by downcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("fault injected by the test")]
pub struct InjectedFault;

/// What happens to a call chosen by a [`When`].
pub enum Fault<E> {
    /// The call fails at once with the port's error for this kind, and has no effect.
    Fail(FakeFailure),
    /// The call fails at once with the error the closure builds, and has no effect.
    FailWith(Arc<dyn Fn() -> E + Send + Sync>),
    /// The call does not answer. A call with a limit and a cancellation token
    /// (launch, exec, publish) fails with `TimedOut` when its limit passes or with
    /// `Cancelled` when its token fires, whichever comes first; any other call never
    /// completes, so the test must bound it with its own timeout
    /// (`tokio::time::timeout`). The call has no effect.
    Hang,
}

impl<E> Fault<E> {
    /// A failure of the given kind.
    #[must_use]
    pub fn fail(kind: FakeFailure) -> Self {
        Self::Fail(kind)
    }

    /// A failure with an error of the test's choosing, built anew for each call.
    #[must_use]
    pub fn fail_with(make: impl Fn() -> E + Send + Sync + 'static) -> Self {
        Self::FailWith(Arc::new(make))
    }
}

impl<E> Clone for Fault<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Fail(kind) => Self::Fail(*kind),
            Self::FailWith(make) => Self::FailWith(Arc::clone(make)),
            Self::Hang => Self::Hang,
        }
    }
}

impl<E> fmt::Debug for Fault<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fail(kind) => f.debug_tuple("Fail").field(kind).finish(),
            Self::FailWith(_) => f.write_str("FailWith(..)"),
            Self::Hang => f.write_str("Hang"),
        }
    }
}

/// Which fault, if any, each call of each operation gets: the one plan type behind
/// every fake's `inject`.
///
/// `F` is what a chosen call gets: a [`Fault`], or an `ExecScript` for scripted
/// exec results. When several rules choose the same call, the one injected last wins,
/// so a test can override a broad rule with a narrow one.
#[derive(Debug, Clone)]
pub struct FaultPlan<Op, F> {
    rules: Vec<(Op, When, F)>,
}

impl<Op, F> Default for FaultPlan<Op, F> {
    fn default() -> Self {
        Self { rules: Vec::new() }
    }
}

impl<Op: Copy + Eq, F: Clone> FaultPlan<Op, F> {
    /// An empty plan: no call is chosen.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule: the calls of `op` chosen by `when` get `fault`.
    pub fn inject(&mut self, op: Op, when: When, fault: F) {
        self.rules.push((op, when, fault));
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// True when no rule is left.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What the `occurrence`-th call (1-based) of `op` gets, if anything.
    #[must_use]
    pub fn lookup(&self, op: Op, occurrence: u32) -> Option<F> {
        self.rules
            .iter()
            .rev()
            .find(|(rule_op, when, _)| *rule_op == op && when.matches(occurrence))
            .map(|(_, _, fault)| fault.clone())
    }
}

/// Why a call with a limit ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interruption {
    /// Its limit passed.
    TimedOut,
    /// Its cancellation token fired.
    Cancelled,
}

/// The limit and the token of a call that has both.
#[derive(Clone, Copy)]
pub(crate) struct Limit<'a> {
    pub(crate) deadline: Instant,
    pub(crate) cancel: &'a CancellationToken,
}

impl<'a> Limit<'a> {
    /// A limit of `timeout` from now.
    pub(crate) fn starting_now(timeout: Duration, cancel: &'a CancellationToken) -> Self {
        Self {
            deadline: Instant::now() + timeout,
            cancel,
        }
    }

    /// Waits until the deadline passes or the token fires; the token wins a tie.
    pub(crate) async fn wait(self) -> Interruption {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Interruption::Cancelled,
            () = tokio::time::sleep_until(self.deadline) => Interruption::TimedOut,
        }
    }

    /// Sleeps for `duration` unless the limit interrupts it first.
    pub(crate) async fn sleep(self, duration: Duration) -> Result<(), Interruption> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Interruption::Cancelled),
            () = tokio::time::sleep_until(self.deadline) => Err(Interruption::TimedOut),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

/// Carries out a fault: returns the error the call fails with. `build` maps a failure
/// kind to the port's error for this call. A hang without a limit never returns.
pub(crate) async fn strike<E>(
    fault: Fault<E>,
    limit: Option<Limit<'_>>,
    build: impl FnOnce(FakeFailure) -> E,
) -> E {
    match fault {
        Fault::Fail(kind) => build(kind),
        Fault::FailWith(make) => make(),
        Fault::Hang => match limit {
            Some(limit) => match limit.wait().await {
                Interruption::TimedOut => build(FakeFailure::TimedOut),
                Interruption::Cancelled => build(FakeFailure::Cancelled),
            },
            None => std::future::pending().await,
        },
    }
}

/// The `Unreachable` value that injected `Unreachable` failures carry.
pub(crate) fn unreachable(endpoint: &str) -> lxpack_core::ports::Unreachable {
    lxpack_core::ports::Unreachable {
        endpoint: endpoint.to_owned(),
        reason: "fault injected by the test".to_owned(),
        hint: "the test injected this failure with `inject`".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_counts_from_one() {
        assert!(When::Nth(2).matches(2));
        assert!(!When::Nth(2).matches(1));
        assert!(!When::Nth(0).matches(0));
        assert!(When::FromNth(2).matches(5));
        assert!(!When::FromNth(2).matches(1));
        assert!(!When::FromNth(0).matches(1));
        assert!(When::Every.matches(1));
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let mut plan: FaultPlan<u8, &str> = FaultPlan::new();
        plan.inject(1, When::Every, "every");
        plan.inject(1, When::Nth(3), "third");
        plan.inject(2, When::Nth(1), "other op");
        assert_eq!(plan.lookup(1, 1), Some("every"));
        assert_eq!(plan.lookup(1, 3), Some("third"));
        assert_eq!(plan.lookup(2, 1), Some("other op"));
        assert_eq!(plan.lookup(2, 2), None);
        plan.clear();
        assert!(plan.is_empty());
        assert_eq!(plan.lookup(1, 1), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hang_with_a_limit_times_out_or_is_cancelled() {
        let cancel = CancellationToken::new();
        let start = Instant::now();
        let limit = Limit::starting_now(Duration::from_secs(5), &cancel);
        let error = strike(Fault::<FakeFailure>::Hang, Some(limit), |kind| kind).await;
        assert_eq!(error, FakeFailure::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(5));

        cancel.cancel();
        let limit = Limit::starting_now(Duration::from_secs(5), &cancel);
        let error = strike(Fault::<FakeFailure>::Hang, Some(limit), |kind| kind).await;
        assert_eq!(error, FakeFailure::Cancelled);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hang_without_a_limit_pends() {
        let pending = strike(Fault::<FakeFailure>::Hang, None, |kind| kind);
        let outcome = tokio::time::timeout(Duration::from_secs(3600), pending).await;
        assert!(outcome.is_err(), "{outcome:?}");
    }

    #[tokio::test]
    async fn failures_are_built_per_call() {
        let error = strike(Fault::fail(FakeFailure::NotFound), None, |kind| kind).await;
        assert_eq!(error, FakeFailure::NotFound);
        let fault = Fault::fail_with(|| FakeFailure::Other);
        assert_eq!(format!("{fault:?}"), "FailWith(..)");
        assert_eq!(strike(fault, None, |kind| kind).await, FakeFailure::Other);
    }
}
