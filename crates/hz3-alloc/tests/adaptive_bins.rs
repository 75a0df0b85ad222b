//! Adaptive bin limits (hz3-tcache H7): a thread that frees and reallocates more blocks of one
//! class per round than a bin holds at its base limit (4 × batch: 128 blocks of 384 B) must,
//! after a few rounds, stop going through its slabs — the bin grows to hold the round — and
//! `collect()` must still return everything.
//!
//! Refills are observed through the stats flavour's `collects` counter: with no remote frees
//! the spill is always empty, so every refill collects its class once.

mod common;

use common::{isolated, serial, Inst};
use core::alloc::Layout;
use hz3_alloc::config::WithStats;
use hz3_alloc::{strategy, Hz3, RemoteFree};

/// Blocks of one class freed and reallocated each round: twice the base limit of 384 B.
const ROUND: usize = 256;

fn rounds<R: RemoteFree>(n: usize, blocks: &mut [*mut u8], l: Layout) {
    for _ in 0..n {
        for b in blocks.iter_mut() {
            *b = Inst::<R, WithStats>::alloc(l);
            // SAFETY: a live block of `l.size()` bytes.
            unsafe { b.write(0x5a) };
        }
        for b in blocks.iter() {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { Inst::<R, WithStats>::dealloc(*b, l) };
        }
    }
}

fn a_cycling_class_stops_refilling<R: RemoteFree>() {
    let _g = serial::<R, WithStats>();
    let (warm, steady) = isolated(|| {
        Inst::<R, WithStats>::init_thread();
        let l = Layout::from_size_align(384, 8).unwrap();
        let mut blocks = vec![core::ptr::null_mut(); ROUND];
        let s0 = Hz3::<R, WithStats>::stats().collects;
        rounds::<R>(50, &mut blocks, l);
        let s1 = Hz3::<R, WithStats>::stats().collects;
        rounds::<R>(100, &mut blocks, l);
        let s2 = Hz3::<R, WithStats>::stats().collects;
        Hz3::<R, WithStats>::collect();
        (s1 - s0, s2 - s1)
    });
    // Warming up refills (at least the first round's ROUND / 32 batches) ...
    assert!(warm >= (ROUND / 32) as u64, "warm-up refills: {warm}");
    // ... then the grown bin holds the whole round: no refill in 100 rounds (at the base
    // limit every round would refill ROUND / 32 − 2 times).
    assert_eq!(steady, 0, "refills in 100 steady rounds");
    Inst::<R, WithStats>::assert_empty("after collect()");
}

#[test]
fn a_cycling_class_stops_refilling_cached_stash() {
    a_cycling_class_stops_refilling::<strategy::CachedStash>();
}

#[test]
fn a_cycling_class_stops_refilling_owner_stash() {
    a_cycling_class_stops_refilling::<strategy::OwnerStash>();
}
