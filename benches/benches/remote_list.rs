//! hz3-page's remote list ([`RemoteList`]): what one remote free costs the freeing thread
//! (`push`, one CAS) and what taking a thread's whole inbox costs its owner (`take_all`, one
//! swap, then a walk of the chain).
//!
//! Uncontended, on one thread: these are the protocol's floor, the cost a remote free adds when
//! nobody else pushes to the same list at the same moment. A crate user reads `push_take_one` as
//! the fixed price of a remote free plus its pickup, `push_each_take_all/64` as the per-block
//! price when the owner picks up 64 blocks at once (the swap amortised), and
//! `push_list_take_all/64` as what a freeing thread that batches its blocks (the batched
//! strategies) pays per block: one CAS for the whole chain. Contention is left to the matrix
//! (`mt-remote`, `xmalloc`), where it is measured under real thread interleavings.

use core::ptr::NonNull;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hz3_page::{Block, RemoteList};

/// Blocks the owner picks up at once in the batched benches.
const CHAIN: usize = 64;

/// Walks a taken chain and returns its length (what an owner does with its inbox).
///
/// # Safety
/// `b` is null or a chain handed over by `take_all`, whose blocks stay valid.
#[inline(always)]
unsafe fn walk(mut b: *mut Block) -> usize {
    let mut n = 0;
    while !b.is_null() {
        // SAFETY: `b` is a block of the taken chain (caller).
        b = unsafe { Block::next(b) };
        n += 1;
    }
    n
}

fn remote_list(c: &mut Criterion) {
    let list = RemoteList::new();
    // The blocks live for the whole bench; each is in the list at most once (R1): every
    // iteration takes back all it pushed.
    let mut storage: Box<[Block]> = (0..CHAIN).map(|_| Block::new()).collect();
    let blocks: Vec<NonNull<Block>> = {
        let base = storage.as_mut_ptr();
        // SAFETY: `i < CHAIN`, inside the boxed slice; pointers are non-null.
        (0..CHAIN)
            .map(|i| unsafe { NonNull::new_unchecked(base.add(i)) })
            .collect()
    };

    let mut g = c.benchmark_group("remote_list");
    g.throughput(Throughput::Elements(1));
    g.bench_function("push_take_one", |b| {
        b.iter(|| {
            // SAFETY: the block is in no list (the previous iteration took it back) and outlives
            // the list's use of it.
            unsafe { list.push(blocks[0]) };
            black_box(list.take_all())
        })
    });

    g.throughput(Throughput::Elements(CHAIN as u64));
    g.bench_with_input(
        BenchmarkId::new("push_each_take_all", CHAIN),
        &CHAIN,
        |b, _| {
            b.iter(|| {
                for &blk in &blocks {
                    // SAFETY: as above; each block is pushed once per iteration.
                    unsafe { list.push(blk) };
                }
                // SAFETY: the chain was just taken by this thread, the list's only consumer.
                let n = unsafe { walk(list.take_all()) };
                assert_eq!(n, CHAIN);
            })
        },
    );

    g.bench_with_input(
        BenchmarkId::new("push_list_take_all", CHAIN),
        &CHAIN,
        |b, _| {
            b.iter(|| {
                // The freeing thread links its batch (owner-private writes), then publishes it.
                for w in blocks.windows(2) {
                    // SAFETY: the blocks are this thread's (in no list).
                    unsafe { Block::set_next(w[0].as_ptr(), w[1].as_ptr()) };
                }
                // SAFETY: the chain `first ..= last` is linked above and in no list.
                unsafe { list.push_list(blocks[0], blocks[CHAIN - 1]) };
                // SAFETY: as above.
                let n = unsafe { walk(list.take_all()) };
                assert_eq!(n, CHAIN);
            })
        },
    );
    g.finish();
    drop(blocks);
    drop(storage);
}

criterion_group!(benches, remote_list);
criterion_main!(benches);
