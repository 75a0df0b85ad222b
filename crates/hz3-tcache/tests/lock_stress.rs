//! The global lock (`hz3_tcache::lock::SpinLock`) under oversubscription: 64 threads on however
//! many cores the machine has (2 in CI) increment a plain, non-atomic counter under the lock;
//! no update may be lost, whichever way the lock is taken (`lock`, `try_lock` until it
//! succeeds, the counted forms of the stats flavour, a forgotten guard opened with
//! `force_unlock` as the fork handlers do). Some holders yield the CPU inside the critical
//! section, so waiters find a holder that is not running and go on to yield. No
//! timing is asserted.

use core::cell::UnsafeCell;
use hz3_tcache::lock::SpinLock;
use hz3_tcache::{Fast, WithStats};
use std::sync::Barrier;

// Miri interprets every instruction: 8 threads still contend, preempted inside and outside
// the critical section by Miri's scheduler.
const THREADS: usize = if cfg!(miri) { 8 } else { 64 };

/// A counter only touched with `lock` held.
struct Guarded {
    lock: SpinLock,
    count: UnsafeCell<u64>,
}

// SAFETY: `count` is only accessed with `lock` held (or after every thread was joined).
unsafe impl Sync for Guarded {}

impl Guarded {
    const fn new() -> Self {
        Guarded {
            lock: SpinLock::new(),
            count: UnsafeCell::new(0),
        }
    }

    /// The critical section: a read, an optional yield, a write. Two holders at once would
    /// lose an update.
    ///
    /// # Safety
    /// The caller holds `self.lock`.
    unsafe fn bump(&self, yield_inside: bool) {
        // SAFETY: the caller holds the lock, so no other thread touches `count`.
        let v = unsafe { core::ptr::read_volatile(self.count.get()) };
        if yield_inside {
            std::thread::yield_now();
        }
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(self.count.get(), v + 1) };
    }

    fn count(&self) -> u64 {
        let _g = self.lock.lock();
        // SAFETY: the lock is held.
        unsafe { *self.count.get() }
    }
}

fn iters() -> u64 {
    if cfg!(miri) {
        20
    } else if cfg!(debug_assertions) {
        300
    } else {
        2000
    }
}

/// Every thread takes the lock `iters()` times, in the way `i % 5` picks.
fn hammer(g: &'static Guarded) -> u64 {
    let n = iters();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for i in 0..n {
                    let yield_inside = (i + t as u64) % 64 == 0;
                    match (i + t as u64) % 5 {
                        0 => {
                            let _g = g.lock.lock();
                            // SAFETY: held.
                            unsafe { g.bump(yield_inside) };
                        }
                        1 => {
                            let _g = loop {
                                if let Some(guard) = g.lock.try_lock() {
                                    break guard;
                                }
                                std::hint::spin_loop();
                            };
                            // SAFETY: held.
                            unsafe { g.bump(yield_inside) };
                        }
                        2 => {
                            let _g = g.lock.lock_counted::<WithStats>();
                            // SAFETY: held.
                            unsafe { g.bump(yield_inside) };
                        }
                        3 => {
                            let _g = g.lock.lock_counted::<Fast>();
                            // SAFETY: held.
                            unsafe { g.bump(yield_inside) };
                        }
                        _ => {
                            // As the fork handlers: take, forget the guard, open by force.
                            core::mem::forget(g.lock.lock());
                            // SAFETY: held.
                            unsafe { g.bump(yield_inside) };
                            // SAFETY: this thread took the lock and forgot its guard.
                            unsafe { g.lock.force_unlock() };
                        }
                    }
                }
            });
        }
    });
    n * THREADS as u64
}

#[test]
fn sixty_four_threads_lose_no_update() {
    static G: Guarded = Guarded::new();
    let expected = hammer(&G);
    assert_eq!(G.count(), expected);
    // Exactly the `lock_counted::<WithStats>` acquisitions were counted (K1: the counters are
    // written under the lock, so none is lost); `Fast` counts nothing.
    let counted = (0..THREADS as u64)
        .map(|t| (0..iters()).filter(|i| (i + t) % 5 == 2).count() as u64)
        .sum::<u64>();
    let s = G.lock.counters();
    assert_eq!(s.acquires, counted, "{s:?}");
    assert!(s.contended <= s.acquires, "{s:?}");
    assert!(s.hold_ticks > 0, "{s:?}");
    // The lock is free again and still works.
    assert!(G.lock.try_lock().is_some());
}

#[test]
fn try_lock_never_waits_for_a_holder() {
    static G: Guarded = Guarded::new();
    let held = G.lock.lock();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(G.lock.try_lock().is_none());
            assert!(G.lock.try_lock_counted::<WithStats>().is_none());
        });
    });
    drop(held);
    let g = G.lock.try_lock_counted::<WithStats>();
    assert!(g.is_some());
    drop(g);
    assert_eq!(G.lock.counters().acquires, 1);
}
