//! The OS layer is a seam of the policy: a flavour of one's own (`Config::Os`) routes every
//! mapping of its instance (segments, heaps, large blocks) through a test OS that counts them,
//! and one that refuses makes the allocation fail with null instead of crashing.
//!
//! One test function: the counters and the refusal switch are process-wide.

use hz3_alloc::config::Config;
use hz3_alloc::strategy::DrainAll;
use hz3_alloc::Hz3;
use hz3_page::{OsMemory, SystemOs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static MAPS: AtomicUsize = AtomicUsize::new(0);
static UNMAPS: AtomicUsize = AtomicUsize::new(0);
static REFUSE: AtomicBool = AtomicBool::new(false);

/// `SystemOs`, counted, and refusing every `map` while `REFUSE` is set.
struct CountingOs;

// SAFETY: every method forwards to `SystemOs` (which keeps the promises) or, for a refused
// `map`, returns null, which the contract allows.
unsafe impl OsMemory for CountingOs {
    fn map(size: usize, align: usize) -> *mut u8 {
        if REFUSE.load(Ordering::Relaxed) {
            return core::ptr::null_mut();
        }
        MAPS.fetch_add(1, Ordering::Relaxed);
        SystemOs::map(size, align)
    }
    unsafe fn unmap(p: *mut u8, size: usize) {
        UNMAPS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { SystemOs::unmap(p, size) }
    }
    unsafe fn decommit(p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { SystemOs::decommit(p, size) }
    }
    unsafe fn discard(p: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { SystemOs::discard(p, size) }
    }
    unsafe fn grow_in_place(p: *mut u8, old: usize, new: usize) -> bool {
        // SAFETY: forwarded.
        unsafe { SystemOs::grow_in_place(p, old, new) }
    }
    unsafe fn move_to(p: *mut u8, old: usize, target: *mut u8, new: usize) -> bool {
        // SAFETY: forwarded.
        unsafe { SystemOs::move_to(p, old, target, new) }
    }
}

/// The fast flavour on `CountingOs`.
struct Counted;

// SAFETY: ID 3 is the flavour slot the shipped flavours leave free; no other flavour of this
// test process uses it.
unsafe impl Config for Counted {
    const NAME: &'static str = "counted";
    const ID: usize = 3;
    const STATS: bool = false;
    const CHECKS: bool = false;
    type Os = CountingOs;
}

type A = Hz3<DrainAll, Counted>;

#[test]
fn the_os_layer_is_the_flavours() {
    // Small blocks: the thread's heap and a segment come through the test OS.
    let before = MAPS.load(Ordering::Relaxed);
    let p = A::alloc_raw(64, 16);
    assert!(!p.is_null());
    assert!(
        MAPS.load(Ordering::Relaxed) >= before + 2,
        "heap and segment mapped through Config::Os"
    );

    // A large block: mapped through it, and unmapped through it by `collect` (or at once).
    let before = MAPS.load(Ordering::Relaxed);
    let big = A::alloc_raw(8 << 20, 16);
    assert!(!big.is_null());
    assert!(
        MAPS.load(Ordering::Relaxed) > before,
        "large block mapped through Config::Os"
    );
    // SAFETY: both blocks are live and freed once.
    unsafe {
        A::free_raw(big);
        A::free_raw(p);
    }
    A::collect();
    assert!(
        UNMAPS.load(Ordering::Relaxed) > 0,
        "unmapped through Config::Os"
    );

    // An OS that refuses: a large allocation fails with null, nothing crashes.
    REFUSE.store(true, Ordering::Relaxed);
    assert!(A::alloc_raw(8 << 20, 16).is_null());
    REFUSE.store(false, Ordering::Relaxed);
    // SAFETY: no other thread uses `A`.
    assert!(unsafe { A::live_blocks() }.iter().all(|&n| n == 0));
}
