//! The OS layer is a seam of the policy: a flavour of one's own (`Config::Os`) routes every
//! mapping of its instance (segments, heaps, large blocks) through a test OS that counts them,
//! and one that refuses makes the allocation fail with null instead of crashing.
//!
//! One test function: the counters and the refusal switch are process-wide.

mod common;

use common::counting_os::{Counted, MAPS, REFUSE, UNMAPS};
use hz3_alloc::strategy::DrainAll;
use hz3_alloc::Hz3;
use std::sync::atomic::Ordering;

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
