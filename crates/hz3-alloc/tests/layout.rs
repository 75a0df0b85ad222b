//! Layouts, for every strategy: many sizes (every small size once, plus dense samples and large
//! sizes up to 64 MiB) and every power-of-two alignment from 1 to 8 MiB. Each block is non-null,
//! aligned, has `usable_size >= size`, is written in full and checked, and overlaps no other
//! live block; `realloc` keeps the prefix and stays in place within a class; `alloc_zeroed`
//! returns zeroed memory, also for a block that was dirtied and freed. Every test ends with the
//! empty check.

mod common;

use common::{check_fill, fill, isolated, serial, Inst, Ranges, Rng};
use core::alloc::Layout;
use hz3_alloc::{Config, RemoteFree};
use hz3_page::{class_for, class_of, class_size, MAX_CLASS_ALIGN, MAX_SMALL, NUM_CLASSES};

const MIB: usize = 1 << 20;
const MAX_ALIGN: usize = 8 * MIB;

fn aligns() -> Vec<usize> {
    (0..usize::BITS)
        .map(|i| 1usize << i)
        .take_while(|&a| a <= MAX_ALIGN)
        .collect()
}

/// Every size up to 1 KiB, both sides of every class boundary and power of two, and random
/// sizes up to `MAX_SMALL`.
fn small_sizes(seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (1..=1024).collect();
    for c in 0..NUM_CLASSES {
        let s = class_size(c);
        v.extend([s - 1, s, s + 1]);
    }
    for i in 4..=18 {
        v.extend([(1 << i) - 1, 1 << i, (1 << i) + 1]);
    }
    let mut rng = Rng::new(seed);
    v.extend((0..120).map(|_| rng.range(1025, MAX_SMALL)));
    v.retain(|&n| (1..=MAX_SMALL).contains(&n));
    v.sort_unstable();
    v.dedup();
    v
}

/// Sizes served by the large path.
fn large_sizes(big: bool) -> Vec<usize> {
    let mut v = vec![
        MAX_SMALL + 1,
        300 * 1024 + 5,
        MIB + 7,
        4 * MIB - 1,
        4 * MIB + 1,
    ];
    if big {
        v.extend([16 * MIB + 3, 64 * MIB]);
    }
    v
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

struct Live {
    p: *mut u8,
    l: Layout,
    /// Bytes written with the pattern.
    len: usize,
    tag: u64,
}

/// Allocates, checks and fills one block, and records it in `ranges`.
fn alloc_checked<R: RemoteFree, C: Config>(
    l: Layout,
    zeroed: bool,
    ranges: &mut Ranges,
    tag: u64,
) -> Live {
    let p = if zeroed {
        Inst::<R, C>::alloc_zeroed(l)
    } else {
        Inst::<R, C>::alloc(l)
    };
    assert!(
        !p.is_null(),
        "{}: alloc({l:?}) returned null",
        Inst::<R, C>::name()
    );
    assert_eq!(p as usize % l.align(), 0, "alloc({l:?}) = {p:p} misaligned");
    // SAFETY: `p` is live.
    let usable = unsafe { Inst::<R, C>::usable(p) };
    assert!(usable >= l.size(), "usable_size({p:p}) = {usable} < {l:?}");
    if let Some(c) = class_for(l.size(), l.align()) {
        assert_eq!(
            usable,
            class_size(c),
            "alloc({l:?}): usable size is not the class size"
        );
    }
    if zeroed {
        // SAFETY: `p` has `l.size()` readable bytes.
        let s = unsafe { core::slice::from_raw_parts(p, l.size()) };
        assert!(
            s.iter().all(|&b| b == 0),
            "alloc_zeroed({l:?}) = {p:p} not zeroed"
        );
    }
    ranges.insert(p as usize, usable);
    // Small blocks are written up to their usable size; large ones up to the requested size
    // (their usable size includes the alignment slack of the mapping, up to `align` bytes).
    let len = if class_for(l.size(), l.align()).is_some() {
        usable
    } else {
        l.size()
    };
    // SAFETY: `len <= usable` bytes are writable, and so is the last usable byte.
    unsafe {
        fill(p, len, tag);
        if len < usable {
            let last = p.add(usable - 1);
            last.write_volatile(0x3c);
            assert_eq!(last.read_volatile(), 0x3c);
        }
    }
    Live { p, l, len, tag }
}

fn free_checked<R: RemoteFree, C: Config>(b: Live, ranges: &mut Ranges) {
    // SAFETY: `b` is live with this layout.
    unsafe {
        if let Err(e) = check_fill(b.p, b.len, b.tag) {
            panic!(
                "{}: pattern of {:?} damaged: {e}",
                Inst::<R, C>::name(),
                b.l
            );
        }
        ranges.remove(b.p as usize);
        Inst::<R, C>::dealloc(b.p, b.l);
    }
}

/// Every size `1..=MAX_SMALL` once (align 8 and 16), and a sample of sizes for every class
/// alignment: usable size is the class size, the block is aligned, first and last bytes write.
fn every_small_size<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    isolated(|| {
        for align in [8, 16] {
            for n in 1..=MAX_SMALL {
                let l = layout(n, align);
                let p = Inst::<R, C>::alloc(l);
                assert!(
                    !p.is_null() && p as usize % align == 0,
                    "alloc({l:?}) = {p:p}"
                );
                // SAFETY: `p` is live with `n` bytes.
                unsafe {
                    assert_eq!(Inst::<R, C>::usable(p), class_size(class_of(n)), "size {n}");
                    *p = n as u8;
                    *p.add(n - 1) = 0xa5;
                    assert_eq!(*p, if n == 1 { 0xa5 } else { n as u8 });
                    Inst::<R, C>::dealloc(p, l);
                }
            }
        }
        let mut a = 32;
        while a <= MAX_CLASS_ALIGN {
            for n in (1..=MAX_SMALL).step_by(61) {
                let l = layout(n, a);
                let p = Inst::<R, C>::alloc(l);
                assert!(!p.is_null() && p as usize % a == 0, "alloc({l:?}) = {p:p}");
                // SAFETY: as above.
                unsafe {
                    assert_eq!(
                        Inst::<R, C>::usable(p),
                        class_size(class_for(n, a).unwrap())
                    );
                    *p.add(n - 1) = 1;
                    Inst::<R, C>::dealloc(p, l);
                }
            }
            a *= 2;
        }
    });
    Inst::<R, C>::assert_empty("every_small_size");
}

/// All sizes × all alignments, with many blocks live at once: no overlap, patterns intact.
fn sizes_and_alignments<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    isolated(|| {
        let mut ranges = Ranges::default();
        let mut live: Vec<Live> = Vec::new();
        let mut live_bytes = 0usize;
        let mut rng = Rng::new(R::ID as u64 * 7 + 1);
        let mut tag = 1u64;
        let small = small_sizes(R::ID as u64);
        let thin: Vec<usize> = small.iter().copied().step_by(3).collect();
        let sparse: Vec<usize> = small.iter().copied().step_by(23).collect();
        for align in aligns() {
            let mut sizes = if align <= 16 {
                small.clone()
            } else if align <= MAX_CLASS_ALIGN {
                thin.clone()
            } else {
                sparse.clone()
            };
            // The biggest blocks only for a few alignments (memory and time).
            sizes.extend(large_sizes(
                align == 1 || align == MAX_CLASS_ALIGN || align == MAX_ALIGN,
            ));
            for n in sizes {
                tag += 1;
                let b = alloc_checked::<R, C>(layout(n, align), false, &mut ranges, tag);
                live_bytes += b.len;
                live.push(b);
                if live_bytes > 160 * MIB || live.len() > 4000 {
                    // Free a random half (keep some blocks live across alignments).
                    let mut i = 0;
                    while i < live.len() {
                        if rng.chance(50) || live[i].len > 8 * MIB {
                            let b = live.swap_remove(i);
                            live_bytes -= b.len;
                            free_checked::<R, C>(b, &mut ranges);
                        } else {
                            i += 1;
                        }
                    }
                }
            }
        }
        for b in live.drain(..) {
            free_checked::<R, C>(b, &mut ranges);
        }
        assert_eq!(ranges.len(), 0);
    });
    Inst::<R, C>::assert_empty("sizes_and_alignments");
}

/// A position-dependent byte pattern (so a shifted copy is caught).
fn seq_byte(i: usize, tag: u8) -> u8 {
    (i as u8).wrapping_mul(31).wrapping_add(tag) ^ ((i >> 8) as u8)
}

unsafe fn fill_seq(p: *mut u8, len: usize, tag: u8) {
    // SAFETY: `p` has `len` writable bytes.
    let s = unsafe { core::slice::from_raw_parts_mut(p, len) };
    for (i, b) in s.iter_mut().enumerate() {
        *b = seq_byte(i, tag);
    }
}

#[track_caller]
unsafe fn check_seq(p: *mut u8, len: usize, tag: u8, what: &str) {
    // SAFETY: `p` has `len` readable bytes.
    let s = unsafe { core::slice::from_raw_parts(p, len) };
    if let Some(i) = s
        .iter()
        .enumerate()
        .position(|(i, &b)| b != seq_byte(i, tag))
    {
        panic!(
            "{what}: byte {i} of {len} is {:#x}, want {:#x}",
            s[i],
            seq_byte(i, tag)
        );
    }
}

/// Sizes in the same class as `n` (for alignment `a`), when `n` is small.
fn same_class_sizes(n: usize, a: usize) -> Vec<usize> {
    let Some(c) = class_for(n, a) else {
        return vec![];
    };
    let hi = class_size(c);
    let mut v = vec![n, hi, hi - 1, (n + hi) / 2];
    // The smallest size still in the class.
    let mut lo = n;
    while lo > 1 && class_for(lo - 1, a) == Some(c) {
        lo -= 1;
        if n - lo > 4096 {
            break;
        }
    }
    v.push(lo);
    v.retain(|&m| m >= 1 && class_for(m, a) == Some(c));
    v
}

fn realloc_keeps_contents<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    isolated(|| {
        let name = Inst::<R, C>::name();
        let small: Vec<usize> = small_sizes(99).into_iter().step_by(17).collect();
        let mut tag = 0u8;
        for align in [1, 8, 16, 32, 64, 256, 4096, 65536, MIB, 4 * MIB] {
            let mut sizes = small.clone();
            sizes.extend([MAX_SMALL + 1, MIB + 7]);
            if align == 1 {
                sizes.extend([4 * MIB + 1]);
            }
            for &n in &sizes {
                tag = tag.wrapping_add(1);
                let mut l = layout(n, align);
                let p = Inst::<R, C>::alloc(l);
                assert!(!p.is_null());
                // SAFETY: every pointer below is live with layout `l` when used.
                unsafe {
                    fill_seq(p, n, tag);
                    // Same class: in place, contents kept.
                    for m in same_class_sizes(n, align) {
                        let q = Inst::<R, C>::realloc(p, l, m);
                        assert_eq!(q, p, "{name}: realloc({l:?} -> {m}) moved within the class");
                        l = layout(m, align);
                        check_seq(p, m.min(n), tag, "realloc within class");
                        fill_seq(p, m, tag);
                        let q = Inst::<R, C>::realloc(p, l, n);
                        assert_eq!(q, p);
                        l = layout(n, align);
                    }
                    // A large block's realloc to its own size stays in place. (Not asserted
                    // for blocks that are large only by alignment, nor for alignments of a
                    // segment or more, whose usable size includes the alignment slack of the
                    // mapping: realloc moves those.)
                    if n > MAX_SMALL && align < 4 * MIB {
                        let q = Inst::<R, C>::realloc(p, l, n);
                        assert_eq!(q, p, "{name}: large realloc {l:?} to the same size moved");
                    }
                    // Grow.
                    let big = n * 3 + 17;
                    let q = Inst::<R, C>::realloc(p, l, big);
                    assert!(
                        !q.is_null() && q as usize % align == 0,
                        "{name}: realloc grow {l:?} -> {big}: {q:p}"
                    );
                    assert!(Inst::<R, C>::usable(q) >= big);
                    check_seq(q, n, tag, &format!("{name}: grow {l:?} -> {big}"));
                    l = layout(big, align);
                    fill_seq(q, big, tag);
                    // Shrink.
                    let small = (n / 3).max(1);
                    let r = Inst::<R, C>::realloc(q, l, small);
                    assert!(
                        !r.is_null() && r as usize % align == 0,
                        "{name}: realloc shrink {l:?} -> {small}: {r:p}"
                    );
                    assert!(Inst::<R, C>::usable(r) >= small);
                    check_seq(r, small, tag, &format!("{name}: shrink {l:?} -> {small}"));
                    l = layout(small, align);
                    // -> large (or from large: a move) -> small.
                    let huge = MAX_SMALL * 2 + 3;
                    let s = Inst::<R, C>::realloc(r, l, huge);
                    assert!(!s.is_null() && s as usize % align == 0);
                    check_seq(s, small.min(huge), tag, &format!("{name}: {l:?} -> {huge}"));
                    l = layout(huge, align);
                    fill_seq(s, huge, tag);
                    let t = Inst::<R, C>::realloc(s, l, 40);
                    assert!(!t.is_null() && t as usize % align == 0);
                    check_seq(t, 40, tag, &format!("{name}: large -> 40"));
                    l = layout(40, align);
                    Inst::<R, C>::dealloc(t, l);
                }
            }
        }
    });
    Inst::<R, C>::assert_empty("realloc_keeps_contents");
}

fn alloc_zeroed_is_zeroed<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    isolated(|| {
        let mut ranges = Ranges::default();
        let mut sizes: Vec<usize> = small_sizes(7).into_iter().step_by(5).collect();
        sizes.extend(large_sizes(false));
        let mut reused = 0usize;
        let mut tag = 0;
        for align in [1, 16, 64, 4096, 65536, 2 * MIB] {
            for &n in &sizes {
                tag += 1;
                let l = layout(n, align);
                let b = alloc_checked::<R, C>(l, true, &mut ranges, tag);
                let p = b.p;
                // Dirty the whole block (fill did), free it, and ask again.
                free_checked::<R, C>(b, &mut ranges);
                let b = alloc_checked::<R, C>(l, true, &mut ranges, tag);
                reused += (b.p == p) as usize;
                free_checked::<R, C>(b, &mut ranges);
            }
            // A batch: dirty many blocks of one class, free them, get them back zeroed.
            for n in [24, 200, 3000, 40000] {
                let l = layout(n, align.min(MAX_CLASS_ALIGN));
                let bs: Vec<Live> = (0..64)
                    .map(|i| alloc_checked::<R, C>(l, false, &mut ranges, i))
                    .collect();
                let addrs: Vec<usize> = bs.iter().map(|b| b.p as usize).collect();
                for b in bs {
                    free_checked::<R, C>(b, &mut ranges);
                }
                let bs: Vec<Live> = (0..64)
                    .map(|i| alloc_checked::<R, C>(l, true, &mut ranges, i))
                    .collect();
                reused += bs
                    .iter()
                    .filter(|b| addrs.contains(&(b.p as usize)))
                    .count();
                for b in bs {
                    free_checked::<R, C>(b, &mut ranges);
                }
            }
        }
        // The dirty-reuse path must have been exercised, or this test proves little.
        assert!(
            reused > 100,
            "only {reused} zeroed allocations reused a dirtied block"
        );
    });
    Inst::<R, C>::assert_empty("alloc_zeroed_is_zeroed");
}

/// A freed block goes back to its own class's cache, whatever path the free takes (the
/// metadata path, or the sized path that trusts the layout's class): for every size of the
/// class table (and beyond it) and every alignment up to 16, free-then-alloc of one layout
/// returns the same block, and a block resized in place then freed with its new layout comes
/// back for that layout. A block another thread allocated and this thread frees is reused by
/// this thread's next allocation of its class when the strategy caches foreign blocks.
fn free_returns_block_to_its_class<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    isolated(|| {
        Inst::<R, C>::init_thread(); // the bin's reuse is the subject, not the young phase
        for align in [1, 2, 4, 8, 16] {
            for n in (1..=4200).chain([5000, 9000, 70000]) {
                let l = layout(n, align);
                let p = Inst::<R, C>::alloc(l);
                // SAFETY: `p` is live with layout `l`.
                unsafe { Inst::<R, C>::dealloc(p, l) };
                let q = Inst::<R, C>::alloc(l);
                assert_eq!(
                    p, q,
                    "size {n} align {align}: the freed block did not come back"
                );
                // SAFETY: `q` is live with `l`; `usable >= n`.
                unsafe {
                    assert!(Inst::<R, C>::usable(q) >= n);
                    Inst::<R, C>::dealloc(q, l);
                }
            }
        }
        // realloc within the class stays in place; the new layout then frees it into the
        // class that the new size maps to.
        for (from, to) in [(100usize, 110usize), (129, 160), (1300, 1500), (2600, 3000)] {
            let l = layout(from, 8);
            let p = Inst::<R, C>::alloc(l);
            // SAFETY: `p` is live with `l`.
            let q = unsafe { Inst::<R, C>::realloc(p, l, to) };
            assert_eq!(class_of(from), class_of(to));
            assert_eq!(p, q, "realloc {from} -> {to} moved within one class");
            let l2 = layout(to, 8);
            // SAFETY: `q` is live with `l2` after the realloc.
            unsafe { Inst::<R, C>::dealloc(q, l2) };
            assert_eq!(Inst::<R, C>::alloc(l2), q);
            // SAFETY: as above.
            unsafe { Inst::<R, C>::dealloc(q, l2) };
        }
    });
    // Foreign blocks: allocated on one thread, freed on another.
    let ptrs: Vec<(usize, Layout)> = isolated(|| {
        (1..=64)
            .map(|i| {
                let l = layout(i * 48, 8);
                (Inst::<R, C>::alloc(l) as usize, l)
            })
            .collect()
    });
    isolated(move || {
        Inst::<R, C>::init_thread();
        let mut reused = 0;
        for &(p, l) in &ptrs {
            // SAFETY: live blocks allocated with `l` by the first thread, freed once here.
            unsafe { Inst::<R, C>::dealloc(p as *mut u8, l) };
            let q = Inst::<R, C>::alloc(l);
            reused += (q as usize == p) as usize;
            // SAFETY: `q` is live with `l`.
            unsafe { Inst::<R, C>::dealloc(q, l) };
        }
        if R::CACHE_FOREIGN {
            assert_eq!(
                reused,
                ptrs.len(),
                "a cached foreign block was not reused in its class"
            );
        }
    });
    Inst::<R, C>::assert_empty("free_returns_block_to_its_class");
}

/// The unsized free (the path C `free` takes; here reached through alignments above 16): under
/// the foreign-cache rule it keeps another heap's block only when the block's class is made of
/// whole cache lines (hz3-page SC6); a block of a line-sharing class goes home, so the freeing
/// thread's next allocation of that class is not it. The allocating thread stays alive, holding
/// its heap, until the other is done, so the freeing thread cannot take that heap over.
fn unsized_free_keeps_foreign_blocks_of_whole_lines<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    // At alignment 32: classes of 32 and 96 B (they share lines), 64 and 128 B (whole lines).
    let sizes = [32, 64, 96, 128];
    let (tx, rx) = std::sync::mpsc::channel::<Vec<(usize, Layout)>>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            let layouts = sizes.iter().flat_map(|&n| [layout(n, 32); 8]);
            let ptrs = layouts
                .map(|l| (Inst::<R, C>::alloc(l) as usize, l))
                .collect();
            tx.send(ptrs).unwrap();
            done_rx.recv().unwrap();
        });
        s.spawn(move || {
            Inst::<R, C>::init_thread(); // a heap of its own, not the young phase's
            for (p, l) in rx.recv().unwrap() {
                assert_eq!(class_for(l.size(), 32).map(class_size), Some(l.size()));
                // SAFETY: a live block allocated with `l` by the other thread, freed once here.
                unsafe { Inst::<R, C>::dealloc(p as *mut u8, l) };
                let q = Inst::<R, C>::alloc(l);
                let kept = q as usize == p;
                // SAFETY: `q` is live with `l`.
                unsafe { Inst::<R, C>::dealloc(q, l) };
                if R::CACHE_FOREIGN {
                    let whole_lines = l.size() % 64 == 0;
                    assert_eq!(
                        kept,
                        whole_lines,
                        "{} B: foreign block kept = {kept}",
                        l.size()
                    );
                }
            }
            done_tx.send(()).unwrap();
        });
    });
    Inst::<R, C>::assert_empty("unsized_free_keeps_foreign_blocks_of_whole_lines");
}

per_strategy!(
    every_small_size,
    sizes_and_alignments,
    realloc_keeps_contents,
    alloc_zeroed_is_zeroed,
    free_returns_block_to_its_class,
    unsized_free_keeps_foreign_blocks_of_whole_lines
);

/// The other flavours: `Checked` validates the layout of every local free, so every layout the
/// tests use must pass its check; `WithStats` only counts.
mod flavours {
    use hz3_alloc::config::{Checked, WithStats};
    use hz3_alloc::strategy::{CachedStash, DrainAll, OwnerStash, Packets};

    #[test]
    fn checked_c_sizes_and_alignments() {
        super::sizes_and_alignments::<DrainAll, Checked>();
    }
    #[test]
    fn checked_a_realloc_keeps_contents() {
        super::realloc_keeps_contents::<OwnerStash, Checked>();
    }
    #[test]
    fn checked_d_alloc_zeroed_is_zeroed() {
        super::alloc_zeroed_is_zeroed::<Packets, Checked>();
    }
    #[test]
    fn checked_a_cache_free_returns_block_to_its_class() {
        super::free_returns_block_to_its_class::<CachedStash, Checked>();
    }
    #[test]
    fn stats_a_cache_free_returns_block_to_its_class() {
        super::free_returns_block_to_its_class::<CachedStash, WithStats>();
    }
    #[test]
    fn stats_c_realloc_keeps_contents() {
        super::realloc_keeps_contents::<DrainAll, WithStats>();
    }
}
