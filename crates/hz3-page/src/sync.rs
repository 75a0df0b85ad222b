//! The one place that chooses between loom's model-checked primitives and the real ones.
//!
//! Everything in hz3 that other threads can touch imports its atomics and cells from here, so
//! the code loom checks (`RUSTFLAGS="--cfg loom"`) is the code that ships (the crossbeam
//! pattern).

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// A `core::cell::UnsafeCell` with loom's `with`/`with_mut` access API.
///
/// Under `cfg(loom)` this is `loom::cell::UnsafeCell`, which records every access and reports
/// unsynchronised ("causality violation") accesses; here it is a zero-cost
/// `#[repr(transparent)]` wrapper, so a [`Block`](crate::Block) is exactly one word.
#[cfg(not(loom))]
#[repr(transparent)]
#[derive(Debug)]
pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    #[inline(always)]
    pub const fn new(value: T) -> Self {
        UnsafeCell(core::cell::UnsafeCell::new(value))
    }
    /// Calls `f` with a shared raw pointer to the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    /// Calls `f` with a mutable raw pointer to the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
