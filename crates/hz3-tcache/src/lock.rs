//! A tiny spin lock for the rare global paths (heap pool, segment cache, fallback heap).
//!
//! It never allocates, so it is safe inside the allocator (rule 1); no path takes it while
//! already holding it (each lock guards one leaf operation).

use core::sync::atomic::{AtomicBool, Ordering};

/// A test-and-test-and-set lock that yields to the OS while contended.
#[derive(Debug)]
pub struct SpinLock {
    locked: AtomicBool,
}

impl SpinLock {
    /// An unlocked lock.
    pub const fn new() -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
        }
    }

    /// Acquires the lock; the returned guard releases it.
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_> {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 64 {
                    core::hint::spin_loop();
                } else {
                    // SAFETY: sched_yield has no preconditions.
                    unsafe { libc::sched_yield() };
                }
            }
        }
        SpinGuard { lock: self }
    }

    /// Acquires the lock if it is free right now (never waits).
    #[inline]
    pub fn try_lock(&self) -> Option<SpinGuard<'_>> {
        if self.locked.load(Ordering::Relaxed) {
            return None;
        }
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SpinGuard { lock: self })
    }

    /// Forces the lock open (only for a fork child, where the holder no longer exists).
    ///
    /// # Safety
    /// No thread of this process holds or is acquiring the lock.
    pub unsafe fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
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
}

impl Drop for SpinGuard<'_> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
