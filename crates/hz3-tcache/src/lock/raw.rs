//! The lock word's state machine (test-and-test-and-set; waiters spin, then yield the CPU),
//! written against `super::imp` so that the loom model (`tests/loom_lock.rs`) checks this
//! very file.
//!
//! `imp` provides `AtomicBool` and `Ordering`, `spin_hint()`, `yield_cpu()` and the spin
//! bound `SPINS`.

use super::imp::{spin_hint, yield_cpu, AtomicBool, Ordering, SPINS};

/// What a waiter did before it got the lock.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Waited {
    /// Spin iterations (`spin_hint`).
    pub(crate) spins: u64,
    /// `yield_cpu` calls.
    pub(crate) yields: u64,
}

/// One attempt at the free lock (SL2). A strong compare-exchange: a weak one may fail while
/// the lock is free (Miri simulates such spurious failures), and `try_lock` promises `None`
/// only while someone holds the lock. On x86-64 both are the same `lock cmpxchg`.
#[inline(always)]
pub(crate) fn try_acquire(word: &AtomicBool) -> bool {
    word.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// Waits for the lock after a failed [`try_acquire`]: reads the word until it is free,
/// spinning `SPINS` times and then yielding the CPU at each look (SL3), and tries again.
#[cold]
#[inline(never)]
pub(crate) fn acquire_contended(word: &AtomicBool) -> Waited {
    let mut w = Waited::default();
    loop {
        while word.load(Ordering::Relaxed) {
            if w.spins < SPINS {
                w.spins += 1;
                spin_hint();
            } else {
                w.yields += 1;
                yield_cpu();
            }
        }
        if try_acquire(word) {
            return w;
        }
    }
}

/// Releases the lock (SL2).
#[inline(always)]
pub(crate) fn release(word: &AtomicBool) {
    word.store(false, Ordering::Release);
}
