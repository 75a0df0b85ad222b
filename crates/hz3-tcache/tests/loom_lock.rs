//! loom model of the global lock's state machine (`src/lock/raw.rs`, invariants SL1–SL4 of
//! `hz3_tcache::lock`).
//!
//! Run with `bash .ci/loom.sh` (or `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p hz3-tcache --test loom_lock`). Without `--cfg loom` this file is empty.
//!
//! The file `src/lock/raw.rs` is compiled here as it ships, against loom's atomics (`imp`
//! below); its spin hint and `sched_yield` are loom yields, so loom schedules the holder
//! while a waiter waits. The protected counter lives in a loom `UnsafeCell`, which reports a
//! causality violation for accesses the lock does not order (SL2).
//!
//! - [`two_lockers`]: the main thread and another increment a counter under the lock. (With
//!   a third thread the waiters' unbounded yield loops make the search too long: a waiter
//!   yields, loom runs the other waiter, which yields, and so on.)
//! - [`try_lock_and_lock`]: `try_lock` never waits and never lets two holders in.
//! - [`forced_release`]: a holder whose guard was forgotten (the fork handlers) opens the lock
//!   with `force_unlock` while another thread waits for it (SL4).
//! - [`broken_relaxed_acquire_fails`]: a local copy that takes the lock with `Relaxed`
//!   orderings must make loom fail: the model can see a missing acquire/release pair.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What `raw.rs` is written against, modelled.
mod imp {
    pub use loom::sync::atomic::{AtomicBool, Ordering};

    /// One spin is enough to explore the spin path; more only multiply the executions.
    pub const SPINS: u64 = 1;

    pub fn spin_hint() {
        loom::thread::yield_now();
    }

    pub fn yield_cpu() {
        loom::thread::yield_now();
    }
}

#[path = "../src/lock/raw.rs"]
#[allow(dead_code)] // `Waited`'s counts are the shipped lock's statistics
mod raw;

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// A loom builder that honours `LOOM_MAX_PREEMPTIONS` and otherwise bounds preemptions to
/// `default_bound`. A waiter's loop is unbounded (it yields until the holder releases), so
/// an execution may take more branches than loom's default allows.
fn builder(default_bound: usize) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(default_bound);
    }
    b.max_branches = 100_000;
    b
}

/// A lock protocol: the shipped one ([`Shipped`]) or a broken copy.
trait Protocol: 'static {
    fn acquire(word: &AtomicBool);
    fn release(word: &AtomicBool);
}

/// `src/lock/raw.rs`, as `SpinLock::lock` and the guard's drop call it.
struct Shipped;
impl Protocol for Shipped {
    fn acquire(word: &AtomicBool) {
        if !raw::try_acquire(word) {
            raw::acquire_contended(word);
        }
    }
    fn release(word: &AtomicBool) {
        raw::release(word);
    }
}

/// A word and the counter it protects.
struct Guarded {
    word: AtomicBool,
    count: UnsafeCell<usize>,
}

impl Guarded {
    fn new() -> Arc<Self> {
        Arc::new(Guarded {
            word: AtomicBool::new(false),
            count: UnsafeCell::new(0),
        })
    }

    /// The critical section: a non-atomic read-modify-write of the counter.
    fn bump(&self) {
        self.count.with_mut(|c| {
            // SAFETY: the caller holds the lock (SL2), so no other access overlaps; if it
            // does, loom reports it before the value is used.
            unsafe { *c += 1 }
        });
    }

    fn count(&self) -> usize {
        // SAFETY: called after every other thread was joined.
        self.count.with(|c| unsafe { *c })
    }
}

/// The main thread and `others` spawned threads each take the lock once and bump the counter.
fn lockers<P: Protocol>(others: usize) {
    let g = Guarded::new();
    let handles: Vec<_> = (0..others)
        .map(|_| {
            let g = g.clone();
            thread::spawn(move || {
                P::acquire(&g.word);
                g.bump();
                P::release(&g.word);
            })
        })
        .collect();
    P::acquire(&g.word);
    g.bump();
    P::release(&g.word);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(g.count(), others + 1, "lost update");
    assert!(!g.word.load(Ordering::Relaxed), "SL1: free at the end");
}

// ------------------------------------------------------------------------------------------
// The shipped state machine
// ------------------------------------------------------------------------------------------

#[test]
fn two_lockers() {
    builder(4).check(|| lockers::<Shipped>(1));
}

#[test]
fn try_lock_and_lock() {
    builder(3).check(|| {
        let g = Guarded::new();
        let g2 = g.clone();
        let t = thread::spawn(move || {
            Shipped::acquire(&g2.word);
            g2.bump();
            Shipped::release(&g2.word);
        });
        let mut got = 0;
        // `SpinLock::try_lock`: a look, then one attempt; never waits.
        if !g.word.load(Ordering::Relaxed) && raw::try_acquire(&g.word) {
            g.bump();
            raw::release(&g.word);
            got = 1;
        }
        t.join().unwrap();
        assert_eq!(g.count(), 1 + got);
        assert!(!g.word.load(Ordering::Relaxed));
    });
}

#[test]
fn forced_release() {
    builder(3).check(|| {
        let g = Guarded::new();
        // The prepare handler takes the lock and forgets its guard.
        Shipped::acquire(&g.word);
        let g2 = g.clone();
        let t = thread::spawn(move || {
            Shipped::acquire(&g2.word);
            g2.bump();
            Shipped::release(&g2.word);
        });
        g.bump();
        // `SpinLock::force_unlock` in the parent (SL4).
        raw::release(&g.word);
        t.join().unwrap();
        assert_eq!(g.count(), 2);
    });
}

// ------------------------------------------------------------------------------------------
// A broken copy: loom must reject it
// ------------------------------------------------------------------------------------------

/// Takes and releases the lock with `Relaxed` orderings: the critical sections are not
/// ordered (SL2).
struct RelaxedAcquire;
impl Protocol for RelaxedAcquire {
    fn acquire(word: &AtomicBool) {
        while word
            .compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            thread::yield_now();
        }
    }
    fn release(word: &AtomicBool) {
        word.store(false, Ordering::Relaxed);
    }
}

#[test]
fn broken_relaxed_acquire_fails() {
    let err = catch_unwind(AssertUnwindSafe(|| {
        builder(2).check(|| lockers::<RelaxedAcquire>(1));
    }))
    .expect_err("loom accepted a lock without acquire/release");
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    eprintln!("[relaxed acquire] loom failed as expected: {msg}");
    assert!(
        msg.contains("Causality violation"),
        "unexpected failure: {msg}"
    );
}
