//! H8 (hz3-tcache's heap docs): a refill reuses the pages other threads freed into before it
//! carves a new slab, whatever the strategy hands over per collect. Deterministic: the frees
//! are finished before the owner allocates again.
//!
//! The owner fills `PAGES` slabs of a 1 KiB class; another thread frees one block of each
//! slab, so every slab is queued with a single free block (a strategy that hands over one
//! page per collect, B, gets one block per collect); then the owner allocates `PAGES` blocks
//! again. At most a slab's worth of them may be fresh (the partly carved slab the first round
//! left on the partial list, plus what its bin held): the rest must be the freed blocks.
//! Before H8, B's refills took the one block of the page they had collected and carved a new
//! slab for the rest of the batch: 416 of 512 blocks were fresh (64 with H8, 4-6 for the
//! strategies that hand over their whole queue or stash).

use hz3_alloc::strategy::*;
use hz3_alloc::{Hz3, RemoteFree};
use hz3_page::size_class::{class_of, slab_capacity};
use hz3_tcache::bin::max_limit;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;

const SIZE: usize = 1024;
const PAGES: usize = 512;

fn reuse_before_carving<R: RemoteFree>(name: &'static str) {
    let layout = Layout::from_size_align(SIZE, 16).unwrap();
    let c = class_of(SIZE);
    let cap = slab_capacity(c);
    std::thread::spawn(move || {
        let a = Hz3::<R>::new();
        let blocks: Vec<usize> = (0..PAGES * cap)
            .map(|_| {
                // SAFETY: a valid layout; every block is freed once below.
                let p = unsafe { a.alloc(layout) };
                assert!(!p.is_null());
                p as usize
            })
            .collect();
        // One block per slab: a slab's blocks are carved in order, so the blocks at indices
        // k * cap lie in distinct slabs (up to a bin batch's reordering at slab boundaries,
        // which can put two of them in one slab: still a page with fewer free blocks than a
        // refill wants).
        let freed: Vec<usize> = blocks.iter().step_by(cap).copied().collect();
        let to_free = freed.clone();
        std::thread::spawn(move || {
            let a = Hz3::<R>::new();
            for p in to_free {
                // SAFETY: live blocks of `layout`, each freed once, by another thread.
                unsafe { a.dealloc(p as *mut u8, layout) };
            }
        })
        .join()
        .unwrap();
        let freed: HashSet<usize> = freed.into_iter().collect();
        let again: Vec<usize> = (0..freed.len())
            .map(|_| {
                // SAFETY: as above.
                let p = unsafe { a.alloc(layout) };
                assert!(!p.is_null());
                p as usize
            })
            .collect();
        let fresh = again.iter().filter(|p| !freed.contains(p)).count();
        let allowed = cap + max_limit(c) as usize;
        println!(
            "{name}: {} blocks freed remotely (one per slab), {fresh} of the next {} fresh \
             (allowed {allowed})",
            freed.len(),
            freed.len()
        );
        assert!(
            fresh <= allowed,
            "{name}: {fresh} of {} allocations carved fresh memory while {} freed blocks \
             waited (allowed {allowed})",
            freed.len(),
            freed.len()
        );
        for p in blocks.iter().filter(|p| !freed.contains(p)).chain(&again) {
            // SAFETY: the live blocks of both rounds, each freed once.
            unsafe { a.dealloc(*p as *mut u8, layout) };
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_refill_reuses_queued_pages_before_carving() {
    macro_rules! each {
        ($($t:ty => $n:literal),*) => {$( reuse_before_carving::<$t>($n); )*};
    }
    each!(OwnerStash => "a", PageQueuePop => "b", DrainAll => "c", Packets => "d",
          DrainAllPacked => "c-packed", CadenceCollect => "e", BatchedCadence => "e-batch",
          BatchedStash => "a-batch", CachedStash => "a-cache");
}
