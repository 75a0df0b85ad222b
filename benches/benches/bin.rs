//! hz3-tcache's thread cache: one size class's [`Bin`](hz3_tcache::Bin), an intrusive LIFO of
//! free blocks, popped by an allocation and pushed by a free on the owning thread — the fast
//! path under every hz3 allocation.
//!
//! The heap is driven the way hz3-alloc drives it (see hz3-tcache's crate example), with the
//! default strategy (A-cache, [`CachedStash`]) in the `Fast` flavour, for 64-byte blocks:
//!
//! - `pop_free_local`: `Heap::pop_bin`, then the free through the block's page metadata
//!   (`meta_of`, owner check, `Heap::free_local`): the path of strategies that do not cache
//!   foreign blocks.
//! - `pop_try_free_sized`: `Heap::pop_bin`, then `Heap::try_free_sized`, the sized free of the
//!   caching strategies, which pushes by size class without reading the metadata.
//! - `pop_push/32`: 32 pops, then 32 pushes (a bin that fills and empties, still without
//!   reaching a refill or a flush).
//!
//! A crate user reads these as the allocator's floor per allocation+free pair on the owning
//! thread, against which `global_alloc` shows what the `GlobalAlloc` layer adds.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hz3_pageq::CachedStash;
use hz3_tcache::{Fast, Heap, Instance};

/// The default strategy in the fast flavour: its own thread-local heaps and registry.
type I = Instance<CachedStash, Fast>;

/// Size class of the blocks.
fn class() -> usize {
    hz3_page::class_of(64)
}

/// Pops a block of class `c` (the slow path when the bin is empty or the thread has no heap).
#[inline(always)]
fn alloc(c: usize) -> *mut u8 {
    // SAFETY: `heap` is this thread's heap pointer, as `pop_bin` and `alloc_slow` require.
    let p = unsafe {
        let heap = I::current();
        let p = Heap::pop_bin(heap, c);
        if p.is_null() {
            I::alloc_slow(heap, c)
        } else {
            p
        }
    };
    assert!(!p.is_null());
    p
}

/// Frees through the page metadata: onto this thread's bin when its heap owns the block.
///
/// # Safety
/// `p` is a live block from `alloc`, given up by the caller.
#[inline(always)]
unsafe fn free_meta(p: *mut u8) {
    // SAFETY: `p` is a live small block of `I` (caller), so its page meta is mapped (P1) and
    // owned by a heap of `I`; `heap` is this thread's heap pointer.
    unsafe {
        let heap = I::current();
        let meta = &*hz3_page::meta_of(p);
        if meta.owner() == heap as usize {
            Heap::free_local(heap, meta, p);
        } else {
            I::free_remote(heap, meta, p);
        }
    }
}

/// Frees by size class (A-cache caches any owner's blocks), through the metadata when the bin
/// is full.
///
/// # Safety
/// `p` is a live block of class `c` from `alloc`, given up by the caller.
#[inline(always)]
unsafe fn free_sized(c: usize, p: *mut u8) {
    // SAFETY: `CachedStash::CACHE_FOREIGN`; `heap` is this thread's heap pointer; `p` is a live
    // block of class `c` (caller).
    unsafe {
        if !Heap::try_free_sized(I::current(), c, p) {
            free_meta(p);
        }
    }
}

fn bin(cr: &mut Criterion) {
    let c = class();
    // Set the thread's heap up (first allocation) outside the measurements.
    // SAFETY: freshly allocated, freed once.
    unsafe { free_meta(alloc(c)) };

    let mut g = cr.benchmark_group("bin");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pop_free_local", |b| {
        b.iter(|| {
            let p = black_box(alloc(c));
            // SAFETY: `p` was just allocated and is freed once.
            unsafe { free_meta(p) };
        })
    });
    g.bench_function("pop_try_free_sized", |b| {
        b.iter(|| {
            let p = black_box(alloc(c));
            // SAFETY: as above.
            unsafe { free_sized(c, p) };
        })
    });

    const N: usize = 32;
    let mut held = [core::ptr::null_mut::<u8>(); N];
    g.throughput(Throughput::Elements(N as u64));
    g.bench_with_input(BenchmarkId::new("pop_push", N), &N, |b, _| {
        b.iter(|| {
            for slot in held.iter_mut() {
                *slot = alloc(c);
            }
            black_box(&mut held);
            for &p in held.iter() {
                // SAFETY: each held block was allocated above and is freed once.
                unsafe { free_sized(c, p) };
            }
        })
    });
    g.finish();
    I::collect();
}

criterion_group!(benches, bin);
criterion_main!(benches);
