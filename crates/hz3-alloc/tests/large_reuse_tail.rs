//! A cached large mapping reused for a much smaller block gives back the tail the block does
//! not need (`docs/architecture.md`, the large-mapping cache): past 1.25× the need, a tail of
//! more than 16 MiB is decommitted; a smaller tail stays committed for the next reuse.
//!
//! One test function: the counters are process-wide, and so is the large-mapping cache.

mod common;

use common::counting_os::{Counted, DECOMMITTED, MAPS};
use hz3_alloc::strategy::DrainAll;
use hz3_alloc::Hz3;
use hz3_page::purge;
use std::sync::atomic::Ordering;

const MIB: usize = 1 << 20;

type A = Hz3<DrainAll, Counted>;

/// Allocates `size` bytes, writes every page of them, and returns the block.
fn written(size: usize) -> *mut u8 {
    let p = A::alloc_raw(size, 16);
    assert!(!p.is_null());
    for off in (0..size).step_by(4096) {
        // SAFETY: `off < size`, inside the live block.
        unsafe { p.add(off).write(1) };
    }
    p
}

/// Allocates `size` bytes and returns (the block, mappings made, bytes decommitted).
fn counted(size: usize) -> (*mut u8, usize, usize) {
    let (m, d) = (
        MAPS.load(Ordering::Relaxed),
        DECOMMITTED.load(Ordering::Relaxed),
    );
    let p = written(size);
    (
        p,
        MAPS.load(Ordering::Relaxed) - m,
        DECOMMITTED.load(Ordering::Relaxed) - d,
    )
}

#[test]
fn a_reused_mapping_keeps_a_quarter_past_the_need_and_gives_back_a_big_tail() {
    // Nothing leaves the cache by its deadline while the test runs.
    purge::set_purge_delay_ms(600_000);
    purge::set_large_cache_bytes(256 * MIB);

    let big = written(64 * MIB);
    // SAFETY: live, freed once; its mapping goes to the cache.
    unsafe { A::free_raw(big) };

    // 24 MiB in the 64 MiB mapping: kept up to 30 MiB, the ~34 MiB past it given back.
    let (p, maps, dec) = counted(24 * MIB);
    assert_eq!(maps, 0, "the cached mapping is reused");
    assert!(
        (30 * MIB..=34 * MIB).contains(&dec),
        "the tail past 1.25x the need is decommitted: {dec} bytes"
    );
    // SAFETY: live, freed once.
    unsafe { A::free_raw(p) };

    // 40 MiB in it: kept up to 50 MiB, the 14 MiB past it is under the 16 MiB bound.
    let (p, maps, dec) = counted(40 * MIB);
    assert_eq!((maps, dec), (0, 0), "a smaller tail stays committed");
    // SAFETY: live, freed once.
    unsafe { A::free_raw(p) };

    // 60 MiB: no tail past 1.25x the need at all.
    let (p, maps, dec) = counted(60 * MIB);
    assert_eq!((maps, dec), (0, 0));
    // The block's bytes are usable to the end.
    // SAFETY: the last byte of the live 60 MiB block.
    unsafe { p.add(60 * MIB - 1).write(7) };
    // SAFETY: live, freed once.
    unsafe { A::free_raw(p) };

    A::collect();
    // SAFETY: no other thread uses `A`.
    assert!(unsafe { A::live_blocks() }.iter().all(|&n| n == 0));
}
