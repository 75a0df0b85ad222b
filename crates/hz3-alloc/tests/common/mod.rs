//! Shared helpers of the hz3-alloc behavioural tests (included with `mod common;`).
//!
//! - [`Inst`]: a handle on one allocator instance `Hz3<R, C>` with typed helpers.
//! - [`serial`]: a per-instance lock; every test that runs the empty-check oracle on an instance
//!   holds it, so tests of the same instance in one binary never disturb each other.
//! - [`isolated`]: runs a closure on a fresh thread and joins it (`pthread_join`, so the thread's
//!   hz3 exit destructor has run when it returns). Test bodies use the allocator only inside
//!   such threads; the harness thread only calls the oracle, so it never holds a heap that a
//!   later test of the same instance would find half-flushed.
//! - [`Rng`]: a small deterministic generator (no dependency).
//! - [`counting_os`]: an OS layer that counts what it is asked, and a flavour on it.
//! - [`heap_os`]: an OS layer on the system allocator (what Miri can run), and a flavour on it.
#![allow(dead_code)]

pub mod counting_os;
pub mod heap_os;

use core::alloc::{GlobalAlloc, Layout};
use hz3_alloc::{Config, Hz3, RemoteFree};
use hz3_page::NUM_CLASSES;
use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;

/// Test size multiplier from `HZ3_TEST_SCALE` (default 1 = the "ci" size).
pub fn scale() -> usize {
    std::env::var("HZ3_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

static LOCKS: [Mutex<()>; 64] = [const { Mutex::new(()) }; 64];

/// Serialises the tests that use instance `(R, C)` within this test binary.
pub fn serial<R: RemoteFree, C: Config>() -> MutexGuard<'static, ()> {
    LOCKS[R::ID * 4 + C::ID].lock()
}

/// Runs `f` on a fresh thread and joins it; re-raises its panic.
pub fn isolated<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match std::thread::spawn(f).join() {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e),
    }
}

/// A typed handle on the allocator instance `Hz3<R, C>`.
pub struct Inst<R: RemoteFree, C: Config>(core::marker::PhantomData<fn() -> (R, C)>);

impl<R: RemoteFree, C: Config> Inst<R, C> {
    pub const A: Hz3<R, C> = Hz3::new();

    pub fn name() -> String {
        format!("{:?}", Hz3::<R, C>::new())
    }

    /// Gives the calling thread its own heap (past the young phase), as the tests of the
    /// thread cache's reuse need.
    pub fn init_thread() {
        assert!(Hz3::<R, C>::init_thread());
    }

    pub fn alloc(l: Layout) -> *mut u8 {
        assert!(l.size() > 0);
        // SAFETY: tests never pass zero-sized layouts (checked above).
        unsafe { Self::A.alloc(l) }
    }
    pub fn alloc_zeroed(l: Layout) -> *mut u8 {
        assert!(l.size() > 0);
        // SAFETY: as above.
        unsafe { Self::A.alloc_zeroed(l) }
    }
    /// # Safety
    /// `p` is live in this instance with layout `l`.
    pub unsafe fn dealloc(p: *mut u8, l: Layout) {
        // SAFETY: forwarded.
        unsafe { Self::A.dealloc(p, l) }
    }
    /// # Safety
    /// `p` is live in this instance with layout `l`; `new` > 0.
    pub unsafe fn realloc(p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { Self::A.realloc(p, l, new) }
    }
    /// # Safety
    /// `p` is live in this instance.
    pub unsafe fn usable(p: *mut u8) -> usize {
        // SAFETY: forwarded.
        unsafe { Hz3::<R, C>::usable_size(p) }
    }

    /// The oracle. Only call with every other user thread of the instance joined.
    pub fn live() -> [u64; NUM_CLASSES] {
        // SAFETY: the callers (tests holding `serial`) have joined every thread that used the
        // instance.
        unsafe { Hz3::<R, C>::live_blocks() }
    }

    /// Asserts the empty check: no block of any class is live.
    #[track_caller]
    pub fn assert_empty(what: &str) {
        let live = Self::live();
        let nonzero: Vec<(usize, u64)> = live
            .iter()
            .enumerate()
            .filter(|(_, &n)| n != 0)
            .map(|(c, &n)| (c, n))
            .collect();
        assert!(
            nonzero.is_empty(),
            "{} {what}: live blocks (class, count) after the run: {nonzero:?}",
            Self::name()
        );
    }
}

/// Byte pattern of a block: depends on the block address and a tag.
#[inline]
pub fn pattern_byte(tag: u64) -> u8 {
    let b = (tag ^ (tag >> 17) ^ (tag >> 31)) as u8;
    if b == 0 {
        0x5a
    } else {
        b
    }
}

/// Fills `len` bytes at `p` with a pattern derived from `tag`, with the first and last words
/// (when they fit) holding `tag`-derived values, so a block swapped with another is caught.
///
/// # Safety
/// `p` has `len` writable bytes.
pub unsafe fn fill(p: *mut u8, len: usize, tag: u64) {
    // SAFETY: per the contract.
    unsafe {
        core::ptr::write_bytes(p, pattern_byte(tag), len);
        if len >= 8 {
            (p as *mut u64).write_unaligned(tag);
        }
        if len >= 16 {
            (p.add(len - 8) as *mut u64).write_unaligned(!tag);
        }
    }
}

/// Checks a [`fill`] pattern; returns a description of the first mismatch.
///
/// # Safety
/// `p` has `len` readable bytes.
pub unsafe fn check_fill(p: *mut u8, len: usize, tag: u64) -> Result<(), String> {
    // SAFETY: per the contract.
    let s = unsafe { core::slice::from_raw_parts(p, len) };
    let b = pattern_byte(tag);
    let (lo, hi) = (
        if len >= 8 { 8 } else { 0 },
        if len >= 16 { len - 8 } else { len },
    );
    if len >= 8 {
        // SAFETY: as above.
        let h = unsafe { (p as *const u64).read_unaligned() };
        if h != tag {
            return Err(format!(
                "block {p:p} len {len}: head word {h:#x}, want {tag:#x}"
            ));
        }
    }
    if len >= 16 {
        // SAFETY: as above.
        let t = unsafe { (p.add(len - 8) as *const u64).read_unaligned() };
        if t != !tag {
            return Err(format!(
                "block {p:p} len {len}: tail word {t:#x}, want {:#x}",
                !tag
            ));
        }
    }
    if let Some(i) = s[lo..hi].iter().position(|&x| x != b) {
        return Err(format!(
            "block {p:p} len {len}: byte {} is {:#x}, want {b:#x}",
            lo + i,
            s[lo + i]
        ));
    }
    Ok(())
}

/// A set of disjoint address ranges `[start, end)`.
#[derive(Default)]
pub struct Ranges(BTreeMap<usize, usize>);

impl Ranges {
    /// Inserts `[start, start + len)`; panics if it overlaps a range already present.
    #[track_caller]
    pub fn insert(&mut self, start: usize, len: usize) {
        let end = start + len;
        if let Some((&s, &e)) = self.0.range(..=start).next_back() {
            assert!(
                e <= start,
                "block [{start:#x}, {end:#x}) overlaps live block [{s:#x}, {e:#x})"
            );
        }
        if let Some((&s, &e)) = self.0.range(start..).next() {
            assert!(
                s >= end,
                "block [{start:#x}, {end:#x}) overlaps live block [{s:#x}, {e:#x})"
            );
        }
        self.0.insert(start, end);
    }
    /// Removes the range starting at `start`.
    #[track_caller]
    pub fn remove(&mut self, start: usize) {
        assert!(self.0.remove(&start).is_some(), "{start:#x} not live");
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// SplitMix64: small, deterministic, good enough for workloads.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// Generates one `#[test]` per listed generic test function for each strategy of the
/// catalogue (`hz3_alloc::for_each_strategy!`, flavour `Fast`), in modules named by it
/// (`hz3_a`, `hz3_b`, …, `hz3_a_cache`).
#[macro_export]
macro_rules! per_strategy {
    ($($f:ident),* $(,)?) => {
        hz3_alloc::for_each_strategy!(per_strategy_modules, $($f),*);
    };
}

/// The callback of [`per_strategy!`]: one module per strategy of the catalogue (one entry at a
/// time: the test names repeat inside each module).
#[macro_export]
macro_rules! per_strategy_modules {
    ([$($f:ident),*]) => {};
    ([$($f:ident),*] ($m:ident, $name:literal, $short:literal, $ty:ident, $alias:ident, $doc:literal); $($rest:tt)*) => {
        mod $m {
            $(
                #[test]
                fn $f() {
                    super::$f::<hz3_alloc::strategy::$ty, hz3_alloc::config::Fast>();
                }
            )*
        }
        $crate::per_strategy_modules!([$($f),*] $($rest)*);
    };
}
