//! The large-mapping cache reuses committed pages wherever they lie (`docs/architecture.md`,
//! the large-mapping cache): a cached mapping reused for a smaller block keeps the block's
//! segments and gives the rest back to the cache, and a block bigger than every cached mapping
//! gathers the biggest ones into one new range, moving their pages instead of faulting fresh
//! ones in; a cached range the OS will not move is unmapped.
//!
//! One test function: the counters are process-wide, and so is the large-mapping cache.

mod common;

use common::counting_os::{Counted, DECOMMITTED, MAPS, REFUSE_MOVES, UNMAPS};
use hz3_alloc::strategy::DrainAll;
use hz3_alloc::Hz3;
use hz3_page::{purge, PAGE_SIZE};
use hz3_tcache::large_cache::cached_bytes;
use std::sync::atomic::Ordering;

const MIB: usize = 1 << 20;

type A = Hz3<DrainAll, Counted>;

/// Minor page faults of this thread so far.
fn minflt() -> usize {
    // SAFETY: `rusage` is plain data; getrusage writes it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
    ru.ru_minflt as usize
}

/// Allocates `size` bytes, writes every page of them with `v`, and returns the block.
fn written(size: usize, v: u8) -> *mut u8 {
    let p = A::alloc_raw(size, 16);
    assert!(!p.is_null());
    for off in (0..size).step_by(4096).chain([size - 1]) {
        // SAFETY: `off < size`, inside the live block.
        unsafe { p.add(off).write(v) };
    }
    p
}

/// Allocates and writes `size` bytes; returns (the block, mappings made, bytes decommitted,
/// minor faults taken).
fn counted(size: usize, v: u8) -> (*mut u8, usize, usize, usize) {
    let (m, d, f) = (
        MAPS.load(Ordering::Relaxed),
        DECOMMITTED.load(Ordering::Relaxed),
        minflt(),
    );
    let p = written(size, v);
    (
        p,
        MAPS.load(Ordering::Relaxed) - m,
        DECOMMITTED.load(Ordering::Relaxed) - d,
        minflt() - f,
    )
}

/// Whether every page of the live block `p` of `size` bytes reads `v`.
fn reads(p: *mut u8, size: usize, v: u8) -> bool {
    // SAFETY: `off < size`, inside the live block.
    (0..size)
        .step_by(4096)
        .all(|off| unsafe { p.add(off).read() } == v)
}

#[test]
fn reused_mappings_are_split_and_gathered() {
    // Nothing leaves the cache by its deadline while the test runs.
    purge::set_purge_delay_ms(600_000);
    purge::set_large_cache_bytes(256 * MIB);
    A::collect();
    assert_eq!(cached_bytes(), 0);

    // A 64 MiB block's mapping: 64 MiB and the header's page.
    let big = written(64 * MIB, 1);
    // SAFETY: live, freed once; its mapping goes to the cache.
    unsafe { A::free_raw(big) };
    assert_eq!(cached_bytes(), 64 * MIB + PAGE_SIZE);

    // 24 MiB in it: the block keeps its 7 segments (28 MiB), the rest goes back to the cache,
    // committed (nothing decommitted, nothing mapped).
    let (a, maps, dec, _) = counted(24 * MIB, 2);
    assert_eq!((maps, dec), (0, 0), "the cached mapping is reused");
    assert_eq!(cached_bytes(), 36 * MIB + PAGE_SIZE, "the tail is cached");

    // 40 MiB: no cached mapping is big enough, so the 36 MiB tail is moved into a new range
    // (one mapping) and only the last 4 MiB are fresh.
    let (b, maps, dec, faults) = counted(40 * MIB, 3);
    assert_eq!((maps, dec), (1, 0));
    assert_eq!(cached_bytes(), 0, "the tail was taken");
    assert!(
        faults < (8 * MIB) / 4096,
        "the moved pages were not faulted in again: {faults} faults"
    );
    assert!(reads(a, 24 * MIB, 2) && reads(b, 40 * MIB, 3));

    // Both freed: 28 MiB and 40 MiB (and a page) cached. 60 MiB gathers both into one range,
    // then gives back what lies past its 16 segments.
    // SAFETY: live, each freed once.
    unsafe { A::free_raw(a) };
    // SAFETY: as above.
    unsafe { A::free_raw(b) };
    assert_eq!(cached_bytes(), 68 * MIB + PAGE_SIZE);
    let (c, maps, dec, faults) = counted(60 * MIB, 4);
    assert_eq!((maps, dec), (1, 0));
    assert_eq!(
        cached_bytes(),
        4 * MIB + PAGE_SIZE,
        "past 64 MiB: back to the cache"
    );
    assert!(faults < (4 * MIB) / 4096, "{faults} faults for moved pages");
    assert!(reads(c, 60 * MIB, 4));
    // SAFETY: live, freed once.
    unsafe { A::free_raw(c) };

    // A cached range the OS will not move goes back to the OS: 64 MiB and 4 MiB and a page
    // cached, 80 MiB wanted, both moves refused.
    assert_eq!(cached_bytes(), 68 * MIB + PAGE_SIZE);
    REFUSE_MOVES.store(true, Ordering::Relaxed);
    let unmaps = UNMAPS.load(Ordering::Relaxed);
    let (d, maps, _, _) = counted(80 * MIB, 5);
    REFUSE_MOVES.store(false, Ordering::Relaxed);
    assert_eq!(maps, 1, "one fresh range");
    assert_eq!(UNMAPS.load(Ordering::Relaxed) - unmaps, 2, "both unmapped");
    assert_eq!(cached_bytes(), 0, "not given back to the cache");
    assert!(reads(d, 80 * MIB, 5));
    // SAFETY: live, freed once.
    unsafe { A::free_raw(d) };

    A::collect();
    assert_eq!(cached_bytes(), 0);
    // SAFETY: no other thread uses `A`.
    assert!(unsafe { A::live_blocks() }.iter().all(|&n| n == 0));
}
