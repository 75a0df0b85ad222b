//! C `realloc`'s rules (`Hz3::realloc_raw`, crate docs R1 and R2), for every flavour of the
//! default strategy: a buffer grown a page at a time from 4 KiB to 4 MiB keeps its bytes and
//! moves only a logarithmic number of times; a block (small, or large from 128 KiB on) stays
//! in place while the new size fits and fills at least half of it; a shrink below half moves
//! to a smaller block; blocks with
//! headroom are freed and reused cleanly (the empty-check oracle counts nothing left).

use hz3_alloc::config::{Checked, Config, Fast, WithStats};
use hz3_alloc::strategy::CachedStash;
use hz3_alloc::{Hz3, REALLOC_HEADROOM_MIN};
use hz3_page::MAX_SMALL;

const PAGE: usize = 4096;

/// Grows one buffer by `PAGE` bytes per call from 4 KiB to 4 MiB, writing each new page, and
/// returns how many calls moved it while it was a small block (a large block grows in place
/// or by `mremap`). Checks every byte after each move.
fn grow_by_pages<C: Config>(name: &str) -> usize {
    let mut len = PAGE;
    let mut p: *mut u8 = Hz3::<CachedStash, C>::alloc_raw(len, 16);
    assert!(!p.is_null());
    // SAFETY: `p` has `len` writable bytes.
    unsafe { p.write_bytes(1, len) };
    let mut moves = 0;
    while len < 4 << 20 {
        let new_len = len + PAGE;
        // SAFETY: `p` is live.
        let small = unsafe { Hz3::<CachedStash, C>::usable_size(p) } <= MAX_SMALL;
        // SAFETY: `p` is live, from `alloc_raw`/`realloc_raw` of this pairing.
        let q = unsafe { Hz3::<CachedStash, C>::realloc_raw(p, new_len, 16) };
        assert!(!q.is_null(), "{name}: realloc to {new_len} failed");
        if q != p {
            moves += usize::from(small);
            // SAFETY: `q` holds the first `len` bytes of the old block.
            let kept = unsafe { core::slice::from_raw_parts(q, len) };
            for (i, &b) in kept.iter().enumerate() {
                assert_eq!(
                    b,
                    (i / PAGE % 251 + 1) as u8,
                    "{name}: byte {i} lost at {new_len}"
                );
            }
        }
        // SAFETY: `q` has `new_len` writable bytes.
        unsafe { q.add(len).write_bytes((len / PAGE % 251 + 1) as u8, PAGE) };
        assert!(
            // SAFETY: `q` is live.
            unsafe { Hz3::<CachedStash, C>::usable_size(q) } >= new_len,
            "{name}: usable size below {new_len}"
        );
        p = q;
        len = new_len;
    }
    // SAFETY: live block of this pairing, freed once.
    unsafe { Hz3::<CachedStash, C>::free_raw(p) };
    moves
}

fn in_place_and_shrink<C: Config>(name: &str) {
    type A<C> = Hz3<CachedStash, C>;
    let p = A::<C>::alloc_raw(1000, 16);
    assert!(!p.is_null());
    // SAFETY: live block of this pairing throughout; each pointer is freed once.
    unsafe {
        p.write_bytes(7, 1000);
        let usable = A::<C>::usable_size(p);
        // R1: a smaller size that fills at least half stays.
        let q = A::<C>::realloc_raw(p, usable / 2 + 1, 16);
        assert_eq!(q, p, "{name}: a shrink to just over half moved");
        let q = A::<C>::realloc_raw(q, usable, 16);
        assert_eq!(q, p, "{name}: a regrow to the usable size moved");
        // Below half: moves to a smaller block, keeping the prefix.
        let r = A::<C>::realloc_raw(q, 100, 16);
        assert!(!r.is_null());
        assert!(
            A::<C>::usable_size(r) < usable,
            "{name}: a shrink below half kept the block"
        );
        assert!(core::slice::from_raw_parts(r, 100).iter().all(|&b| b == 7));
        // Below REALLOC_HEADROOM_MIN a growing block gets its size class, no headroom.
        let s = A::<C>::realloc_raw(r, 2000, 16);
        assert!(
            A::<C>::usable_size(s) < 2000 * 3 / 2,
            "{name}: headroom below the minimum"
        );
        // From REALLOC_HEADROOM_MIN on it gets at least 1.5 x the old usable size.
        let t = A::<C>::realloc_raw(s, REALLOC_HEADROOM_MIN, 16);
        let u0 = A::<C>::usable_size(t);
        let u = A::<C>::realloc_raw(t, u0 + 1, 16);
        assert!(
            A::<C>::usable_size(u) >= u0 + u0 / 2,
            "{name}: a growing {u0}-byte block got {} bytes",
            A::<C>::usable_size(u)
        );
        A::<C>::free_raw(u);
        // R2: a growing block of 128 KiB or more becomes a large block; R1 then keeps it
        // where it is for a size back inside the small range that still fills half of it.
        let b = A::<C>::alloc_raw(MAX_SMALL / 2, 16);
        let big = A::<C>::realloc_raw(b, MAX_SMALL / 2 + PAGE, 16);
        let ub = A::<C>::usable_size(big);
        assert!(
            ub > MAX_SMALL,
            "{name}: a growing 128 KiB block got {ub} bytes"
        );
        let same = A::<C>::realloc_raw(big, ub / 2 + PAGE, 16);
        assert_eq!(
            same, big,
            "{name}: a large block shrunk to just over half moved"
        );
        let small = A::<C>::realloc_raw(same, 1000, 16);
        assert!(
            A::<C>::usable_size(small) < PAGE,
            "{name}: a large block shrunk to 1000 stayed"
        );
        A::<C>::free_raw(small);
    }
}

fn run<C: Config>(name: &str) {
    let moves = grow_by_pages::<C>(name);
    // Without headroom the buffer moved at every size class it reached on its way to 256 KiB
    // (20 times: 8, 12, ..., 32 KiB, then each class to 256 KiB); with it 8 times (8, 12,
    // 20, 32, 48, 80, 128 KiB, then a large block with room).
    assert!(
        moves <= 10,
        "{name}: a page-by-page growth moved {moves} times as a small block"
    );
    in_place_and_shrink::<C>(name);
    Hz3::<CachedStash, C>::collect();
    // SAFETY: no other thread uses this pairing.
    let live = unsafe { Hz3::<CachedStash, C>::live_blocks() };
    assert!(
        live.iter().all(|&n| n == 0),
        "{name}: blocks left: {live:?}"
    );
}

#[test]
fn c_realloc_rules() {
    run::<Fast>("fast");
    run::<WithStats>("stats");
    run::<Checked>("checked");
}
