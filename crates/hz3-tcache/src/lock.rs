//! The lock of the rare global paths (heap pool, fallback heap, segment cache, large-mapping
//! cache): a test-and-test-and-set spin lock whose waiters spin briefly and then yield the
//! CPU, and its counters in the stats flavour.
//!
//! It allocates nothing and never calls into the allocator, so it is safe inside it; no path
//! takes it while already holding it (each lock guards one leaf operation, and the fork
//! handlers take them all in one order).
//!
//! Why it yields rather than sleeps: with more threads than cores (64 and 1 000 threads on 2
//! cores) a futex mutex that sleeps after its spin, and one that sleeps after 8
//! yields, both removed the yield storms this lock makes (50 000 `sched_yield`s a second on
//! the fallback lock with 1 000 young threads) but lost 6–9% and 3–6% of that workload's
//! throughput and won nothing elsewhere: a yield hands the CPU to a runnable thread, often
//! the preempted holder, sooner than a sleep and a wake. docs/results.md has the figures.
//!
//! The state machine is `lock/raw.rs`, checked by the loom model `tests/loom_lock.rs`;
//! this module adds the guard and the counters. Invariants:
//! - **SL1** The word is true exactly while a thread holds the lock (or a guard was forgotten
//!   by the fork handlers).
//! - **SL2** A thread holds the lock from its `Acquire` `compare_exchange(false, true)` to its
//!   `Release` store of false: the critical sections are ordered one after another by
//!   happens-before.
//! - **SL3** A waiter only reads the word while it is taken (no read-modify-write, so the
//!   holder's cache line is not fought over), spinning `SPINS` (64) times, then
//!   calling `sched_yield` before each further look: it never spins without giving the CPU
//!   to the threads that may include a preempted holder.
//! - **SL4** [`SpinLock::force_unlock`] is a release: the fork handlers take every lock in the
//!   prepare handler, forget the guards and open them in the parent and the child.
//!
//! ## Counting (the stats flavour)
//!
//! [`SpinLock::lock_counted`] and [`SpinLock::try_lock_counted`] take a flavour `C`; when
//! `C::STATS` is false they are [`SpinLock::lock`] and [`SpinLock::try_lock`] (the branch is
//! a constant and folds away, as does the guard's hold-time branch). When it is true they
//! count, into the lock's own [`LockCounters`]: acquisitions, contended acquisitions (the
//! first attempt failed), spin iterations, yields (`sched_yield` calls), and the ticks
//! ([`ticks`]: the TSC on x86-64) spent waiting (from the first failed attempt to the
//! acquisition) and holding (from the acquisition to the release).
//!
//! - **K1** The counters are written only by the thread that holds the lock, after acquiring
//!   it and before releasing it: the lock orders their writers, so each counter is a plain
//!   relaxed load and store (no read-modify-write, no extra cache line: they sit beside the
//!   lock word) and no update is lost. Readers ([`SpinLock::counters`]) take a relaxed
//!   snapshot without the lock.
//! - **K2** Nothing in the counting path allocates or calls into the allocator: `rdtsc` (or
//!   `clock_gettime` elsewhere) and atomics only.

use crate::config::Config;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

mod raw;

/// What `raw` is written against: the real atomics, `pause` and `sched_yield`.
mod imp {
    pub(super) use core::sync::atomic::{AtomicBool, Ordering};

    /// Spin iterations a waiter makes before it starts yielding the CPU.
    pub(super) const SPINS: u64 = 64;

    #[inline(always)]
    pub(super) fn spin_hint() {
        core::hint::spin_loop();
    }

    pub(super) fn yield_cpu() {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// A test-and-test-and-set lock that yields to the OS while contended (SL1–SL4).
#[derive(Debug)]
pub struct SpinLock {
    locked: AtomicBool,
    counters: LockCounters,
}

impl SpinLock {
    /// An unlocked lock.
    pub const fn new() -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            counters: LockCounters::new(),
        }
    }

    /// Acquires the lock; the returned guard releases it.
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_> {
        if !raw::try_acquire(&self.locked) {
            raw::acquire_contended(&self.locked);
        }
        SpinGuard { lock: self, t0: 0 }
    }

    /// [`lock`](Self::lock), counted into this lock's [`LockCounters`] when `C::STATS`.
    #[inline(always)]
    pub fn lock_counted<C: Config>(&self) -> SpinGuard<'_> {
        if C::STATS {
            self.lock_and_count()
        } else {
            self.lock()
        }
    }

    #[inline(never)]
    fn lock_and_count(&self) -> SpinGuard<'_> {
        let (waited, wait) = if raw::try_acquire(&self.locked) {
            (None, 0)
        } else {
            let t = ticks();
            let w = raw::acquire_contended(&self.locked);
            (Some(w), ticks().wrapping_sub(t))
        };
        let t0 = ticks().max(1);
        // K1: we hold the lock.
        let c = &self.counters;
        bump(&c.acquires, 1);
        if let Some(w) = waited {
            bump(&c.contended, 1);
            bump(&c.spins, w.spins);
            bump(&c.yields, w.yields);
            bump(&c.wait_ticks, wait);
        }
        SpinGuard { lock: self, t0 }
    }

    /// Acquires the lock if it is free right now (never waits).
    #[inline]
    pub fn try_lock(&self) -> Option<SpinGuard<'_>> {
        if self.locked.load(Ordering::Relaxed) || !raw::try_acquire(&self.locked) {
            return None;
        }
        Some(SpinGuard { lock: self, t0: 0 })
    }

    /// [`try_lock`](Self::try_lock), counted when `C::STATS` (an acquisition and its hold
    /// time; a failed attempt is not counted: it writes nothing, K1).
    #[inline(always)]
    pub fn try_lock_counted<C: Config>(&self) -> Option<SpinGuard<'_>> {
        let mut g = self.try_lock()?;
        if C::STATS {
            // K1: we hold the lock.
            bump(&self.counters.acquires, 1);
            g.t0 = ticks().max(1);
        }
        Some(g)
    }

    /// Releases a lock whose guard was forgotten: the fork handlers take every lock in the
    /// prepare handler and open them in the parent and the child (SL4).
    ///
    /// # Safety
    /// The caller's thread (in a fork child: the thread that forked) took the lock and forgot
    /// its guard; nobody else holds it.
    pub unsafe fn force_unlock(&self) {
        raw::release(&self.locked);
    }

    /// A relaxed snapshot of the counters (all zero unless a stats flavour took the lock).
    pub fn counters(&self) -> LockStats {
        self.counters.snapshot()
    }
}

impl Default for SpinLock {
    fn default() -> Self {
        Self::new()
    }
}

/// Holds a [`SpinLock`] until dropped.
#[derive(Debug)]
pub struct SpinGuard<'a> {
    lock: &'a SpinLock,
    /// The acquisition's tick when counted, else 0.
    t0: u64,
}

impl Drop for SpinGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.t0 != 0 {
            // K1: still held.
            bump(
                &self.lock.counters.hold_ticks,
                ticks().wrapping_sub(self.t0),
            );
        }
        raw::release(&self.lock.locked);
    }
}

// ------------------------------------------------------------------------------------------
// Counters
// ------------------------------------------------------------------------------------------

/// The counters of one lock (the stats flavour; K1).
#[derive(Debug)]
pub struct LockCounters {
    acquires: AtomicU64,
    contended: AtomicU64,
    spins: AtomicU64,
    yields: AtomicU64,
    wait_ticks: AtomicU64,
    hold_ticks: AtomicU64,
}

impl LockCounters {
    const fn new() -> Self {
        LockCounters {
            acquires: AtomicU64::new(0),
            contended: AtomicU64::new(0),
            spins: AtomicU64::new(0),
            yields: AtomicU64::new(0),
            wait_ticks: AtomicU64::new(0),
            hold_ticks: AtomicU64::new(0),
        }
    }

    fn snapshot(&self) -> LockStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LockStats {
            acquires: g(&self.acquires),
            contended: g(&self.contended),
            spins: g(&self.spins),
            yields: g(&self.yields),
            wait_ticks: g(&self.wait_ticks),
            hold_ticks: g(&self.hold_ticks),
        }
    }
}

/// A snapshot of one lock's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Acquisitions (`lock` and successful `try_lock`).
    pub acquires: u64,
    /// Acquisitions whose first attempt found the lock taken.
    pub contended: u64,
    /// Spin iterations (`pause`) of waiters.
    pub spins: u64,
    /// Times a waiter yielded the CPU (`sched_yield` calls).
    pub yields: u64,
    /// Ticks ([`ticks`]) waiters spent from their first failed attempt to the acquisition.
    pub wait_ticks: u64,
    /// Ticks the lock was held (by counted acquisitions).
    pub hold_ticks: u64,
}

impl LockStats {
    /// The sum of two snapshots (field by field).
    pub fn plus(self, o: LockStats) -> LockStats {
        LockStats {
            acquires: self.acquires + o.acquires,
            contended: self.contended + o.contended,
            spins: self.spins + o.spins,
            yields: self.yields + o.yields,
            wait_ticks: self.wait_ticks + o.wait_ticks,
            hold_ticks: self.hold_ticks + o.hold_ticks,
        }
    }
}

/// Adds `n` to a counter of a held lock (K1: its only writer, so no read-modify-write).
#[inline(always)]
fn bump(a: &AtomicU64, n: u64) {
    a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// The clock of the lock counters: the time-stamp counter on x86-64 (constant rate on the
/// CPUs hz3 runs on), `CLOCK_MONOTONIC` nanoseconds elsewhere and under Miri (which cannot
/// execute `rdtsc`).
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // SAFETY: `rdtsc` has no preconditions; every x86-64 CPU has it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out pointer; the monotonic clock always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}
