//! The OS boundary: large mappings are reused, large `realloc` grows without
//! copying, zeroed allocations stay zero on reuse, eager mode (delay 0) returns at once, and
//! a free/allocate loop of large blocks does not fault its pages in every time.
//!
//! One test function runs the scenarios in sequence: the purge settings are process-wide.

use hz3_alloc::Hz3;
use hz3_page::purge;

type A = Hz3;

const MIB: usize = 1 << 20;

fn minflt() -> u64 {
    // SAFETY: `ru` is a valid out pointer.
    unsafe {
        let mut ru: libc::rusage = core::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_minflt as u64
    }
}

fn large_block_reused_and_zeroed() {
    let p = A::alloc_raw(MIB, 16);
    assert!(!p.is_null());
    // SAFETY: `p` has 1 MiB writable bytes; freed once.
    unsafe {
        p.write_bytes(0xAB, MIB);
        A::free_raw(p);
    }
    let q = A::alloc_zeroed_raw(MIB, 16);
    assert_eq!(q, p, "the freed mapping is reused");
    // SAFETY: `q` has 1 MiB readable bytes.
    let all_zero = unsafe { core::slice::from_raw_parts(q, MIB) }
        .iter()
        .all(|&b| b == 0);
    assert!(
        all_zero,
        "a reused mapping handed out by alloc_zeroed reads zero"
    );
    // SAFETY: live block, freed once.
    unsafe { A::free_raw(q) };
}

fn free_alloc_loop_does_not_fault() {
    let before = minflt();
    for i in 0..1000u32 {
        let p = A::alloc_raw(MIB, 16);
        assert!(!p.is_null());
        // SAFETY: 1 MiB writable; freed once.
        unsafe {
            p.write_bytes(i as u8, MIB);
            A::free_raw(p);
        }
    }
    let faults = minflt() - before;
    // Without reuse every iteration faults 256 pages in (256 000 in all).
    assert!(
        faults < 5_000,
        "{faults} minor faults for 1000 x malloc(1 MiB)+memset+free"
    );
}

fn page_byte(k: usize) -> u8 {
    (k % 251) as u8
}

fn realloc_grows_without_copying() {
    const PAGE: usize = 4096;
    let mut pages = 75; // 300 KiB: already a large block
    let mut p = A::alloc_raw(pages * PAGE, 16);
    for k in 0..pages {
        // SAFETY: page `k` lies inside the block.
        unsafe { p.add(k * PAGE).write_bytes(page_byte(k), PAGE) };
    }
    let mut moves = 0;
    while pages * PAGE < 32 * MIB {
        // SAFETY: `p` is live with `pages * PAGE` bytes.
        let q = unsafe { A::realloc_raw(p, (pages + 1) * PAGE, 16) };
        assert!(!q.is_null());
        if q != p {
            moves += 1;
        }
        // SAFETY: `q` has `(pages + 1) * PAGE` bytes; the old ones came from `p`.
        unsafe {
            assert_eq!(*q.add(pages * PAGE - 1), page_byte(pages - 1));
            q.add(pages * PAGE).write_bytes(page_byte(pages), PAGE);
        }
        p = q;
        pages += 1;
    }
    for k in 0..pages {
        // SAFETY: every page of the grown block.
        let (first, last) = unsafe { (*p.add(k * PAGE), *p.add(k * PAGE + PAGE - 1)) };
        assert_eq!((first, last), (page_byte(k), page_byte(k)), "page {k}");
    }
    // SAFETY: live block, freed once.
    unsafe { A::free_raw(p) };
    // Geometric room to grow: a 300 KiB -> 32 MiB growth in 4 KiB steps (about 8 100 calls)
    // moves the block a handful of times at most (and never copies a large one).
    assert!(moves <= 40, "{moves} moves");
}

fn eager_mode_returns_at_once() {
    purge::set_purge_delay_ms(0);
    let p = A::alloc_raw(8 * MIB, 16);
    let seg = hz3_page::segment_of(p) as usize;
    assert!(hz3_page::segmap::contains(seg));
    // SAFETY: live block, freed once.
    unsafe { A::free_raw(p) };
    assert!(
        !hz3_page::segmap::contains(seg),
        "with delay 0 a freed large mapping is unmapped"
    );
    purge::set_purge_delay_ms(purge::DEFAULT_PURGE_DELAY_MS);
}

fn collect_returns_cached_mappings() {
    let p = A::alloc_raw(4 * MIB, 16);
    let seg = hz3_page::segment_of(p) as usize;
    // SAFETY: live block, freed once.
    unsafe { A::free_raw(p) };
    assert!(hz3_page::segmap::contains(seg), "cached (delay > 0)");
    A::collect();
    assert!(
        !hz3_page::segmap::contains(seg),
        "collect() unmaps cached large mappings"
    );
    assert_eq!(hz3_tcache::large_cache::cached_bytes(), 0);
}

#[test]
fn os_boundary() {
    large_block_reused_and_zeroed();
    free_alloc_loop_does_not_fault();
    realloc_grows_without_copying();
    eager_mode_returns_at_once();
    collect_returns_cached_mappings();
}
