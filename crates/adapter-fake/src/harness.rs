//! Every fake records its calls and looks up its faults the same way: one harness per
//! port, so that occurrences, call points and fault lookup cannot drift apart.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::faults::{Fault, FaultPlan, When};

/// A recorded call, which knows its operation.
pub trait Recorded {
    /// The operation kind, used to pick calls for faults.
    type Op: Copy + Eq;

    /// The operation of this call.
    fn op(&self) -> Self::Op;
}

/// The calls a port received, in order, and the faults planned for them.
pub(crate) struct Harness<C: Recorded, E> {
    /// Each call with its sequence number, shared by fakes that share state.
    calls: Vec<(u64, C)>,
    faults: FaultPlan<C::Op, Fault<E>>,
}

impl<C: Recorded, E> Default for Harness<C, E> {
    fn default() -> Self {
        Self {
            calls: Vec::new(),
            faults: FaultPlan::default(),
        }
    }
}

impl<C: Recorded + Clone, E> Harness<C, E> {
    /// Records a call; returns its occurrence (1-based, per operation) and its fault.
    pub(crate) fn enter(&mut self, sequence: u64, call: C) -> (u32, Option<Fault<E>>) {
        let op = call.op();
        self.calls.push((sequence, call));
        let occurrence = self.occurrences_of(op);
        (occurrence, self.faults.lookup(op, occurrence))
    }

    fn occurrences_of(&self, op: C::Op) -> u32 {
        let count = self
            .calls
            .iter()
            .filter(|(_, call)| call.op() == op)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Plans a fault.
    pub(crate) fn inject(&mut self, op: C::Op, when: When, fault: Fault<E>) {
        self.faults.inject(op, when, fault);
    }

    /// Removes every planned fault.
    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// The calls, in order.
    pub(crate) fn calls(&self) -> Vec<C> {
        self.calls.iter().map(|(_, call)| call.clone()).collect()
    }

    /// The calls with their sequence numbers.
    pub(crate) fn sequenced(&self) -> impl Iterator<Item = &(u64, C)> {
        self.calls.iter()
    }

    /// Each call as (operation, occurrence): feed one back to `inject` with
    /// `When::Nth` to fail exactly that call in a rerun.
    pub(crate) fn call_points(&self) -> Vec<(C::Op, u32)> {
        let mut seen: Vec<(C::Op, u32)> = Vec::new();
        self.calls
            .iter()
            .map(|(_, call)| {
                let op = call.op();
                let occurrence = match seen.iter_mut().find(|(known, _)| *known == op) {
                    Some((_, count)) => {
                        *count += 1;
                        *count
                    }
                    None => {
                        seen.push((op, 1));
                        1
                    }
                };
                (op, occurrence)
            })
            .collect()
    }

    /// Forgets the recorded calls (occurrences restart from 1).
    pub(crate) fn clear_calls(&mut self) {
        self.calls.clear();
    }
}

/// The state of a fake that owns its data alone (the AMI catalog, the app store):
/// its data and its harness behind one lock. Clones share it.
pub(crate) struct Port<D, C: Recorded, E> {
    inner: Arc<Mutex<(Harness<C, E>, D)>>,
}

impl<D, C: Recorded, E> Clone for Port<D, C, E> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<D, C: Recorded + Clone, E> Port<D, C, E> {
    pub(crate) fn new(data: D) -> Self {
        Self {
            inner: Arc::new(Mutex::new((Harness::default(), data))),
        }
    }

    /// Locks the state. A panic in a test thread must not hide the state from the
    /// assertions that follow, so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, (Harness<C, E>, D)> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `body` on the data, without recording a call.
    pub(crate) fn with<T>(&self, body: impl FnOnce(&mut D) -> T) -> T {
        body(&mut self.lock().1)
    }

    /// Records `call`, then runs `body` under the same lock unless a fault was
    /// injected for it.
    pub(crate) fn enter<T>(&self, call: &C, body: impl FnOnce(&mut D) -> T) -> Result<T, Fault<E>> {
        let mut state = self.lock();
        let (harness, data) = &mut *state;
        let sequence = u64::try_from(harness.calls.len()).unwrap_or(u64::MAX);
        match harness.enter(sequence, call.clone()).1 {
            Some(fault) => Err(fault),
            None => Ok(body(data)),
        }
    }

    pub(crate) fn calls(&self) -> Vec<C> {
        self.lock().0.calls()
    }

    pub(crate) fn call_points(&self) -> Vec<(C::Op, u32)> {
        self.lock().0.call_points()
    }

    pub(crate) fn clear_calls(&self) {
        self.lock().0.clear_calls();
    }

    pub(crate) fn inject(&self, op: C::Op, when: When, fault: Fault<E>) {
        self.lock().0.inject(op, when, fault);
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().0.clear_faults();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FakeFailure;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        A,
        B,
    }

    impl Recorded for Op {
        type Op = Self;
        fn op(&self) -> Self {
            *self
        }
    }

    #[test]
    fn occurrences_are_per_operation() {
        let mut harness: Harness<Op, FakeFailure> = Harness::default();
        harness.inject(Op::A, When::Nth(2), Fault::fail(FakeFailure::Other));
        assert!(harness.enter(0, Op::A).1.is_none());
        let (occurrence, fault) = harness.enter(1, Op::B);
        assert_eq!(occurrence, 1);
        assert!(fault.is_none());
        let (occurrence, fault) = harness.enter(2, Op::A);
        assert_eq!(occurrence, 2);
        assert!(matches!(fault, Some(Fault::Fail(FakeFailure::Other))));
        assert_eq!(
            harness.call_points(),
            vec![(Op::A, 1), (Op::B, 1), (Op::A, 2)]
        );
        assert_eq!(harness.calls(), vec![Op::A, Op::B, Op::A]);
        harness.clear_calls();
        assert_eq!(harness.enter(3, Op::A).0, 1);
        harness.clear_faults();
        assert!(harness.enter(4, Op::A).1.is_none());
    }
}
