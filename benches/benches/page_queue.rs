//! hz3-pageq's page queue ([`PageQueue`]): a thread that frees into a page with no pending
//! remote frees queues that page on its owner's queue (`push`, or `push_list` for a chain of
//! pages with one CAS); the owner takes one page (`pop`, one CAS) or the whole queue
//! (`drain_all`, one swap).
//!
//! Uncontended, on one thread: the protocol's floor per page. A crate user reads `push_pop_one`
//! as the cost of one page's round trip through the queue for the pop strategy (B), and
//! `push_list_drain_all/16` / `push_each_drain_all/16` as the per-page cost for the drain-all
//! strategies (C, C-packed) when 16 pages arrive batched into one chain or one by one.
//! Contention is the matrix's business (`mt-remote`, `xmalloc`).

use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hz3_page::PageMeta;
use hz3_pageq::PageQueue;

/// Pages per batch in the drain-all benches.
const PAGES: usize = 16;

/// Walks a drained chain (linked through `xqnext`) and returns its length.
///
/// # Safety
/// `p` is null or a chain handed over by `drain_all`, whose pages stay valid.
#[inline(always)]
unsafe fn walk(mut p: *mut PageMeta) -> usize {
    let mut n = 0;
    while !p.is_null() {
        // SAFETY: `p` is a page of the drained chain (caller).
        p = unsafe { &*p }.xqnext.load(Ordering::Relaxed);
        n += 1;
    }
    n
}

fn page_queue(c: &mut Criterion) {
    let queue = PageQueue::new();
    // Page metas that outlive the queue's use of them; each iteration takes back every page it
    // queued, so a page is in the queue at most once (Q1).
    let pages: Vec<PageMeta> = (0..PAGES).map(|_| PageMeta::new()).collect();

    let mut g = c.benchmark_group("page_queue");
    g.throughput(Throughput::Elements(1));
    g.bench_function("push_pop_one", |b| {
        b.iter(|| {
            // SAFETY: the page is in no queue (taken back by the previous iteration).
            unsafe { queue.push(&pages[0]) };
            black_box(queue.pop().is_some())
        })
    });

    g.throughput(Throughput::Elements(PAGES as u64));
    g.bench_with_input(
        BenchmarkId::new("push_each_drain_all", PAGES),
        &PAGES,
        |b, _| {
            b.iter(|| {
                for p in &pages {
                    // SAFETY: as above; each page is pushed once per iteration.
                    unsafe { queue.push(p) };
                }
                // SAFETY: the chain was just drained by this thread, the queue's only consumer.
                let n = unsafe { walk(queue.drain_all()) };
                assert_eq!(n, PAGES);
            })
        },
    );

    g.bench_with_input(
        BenchmarkId::new("push_list_drain_all", PAGES),
        &PAGES,
        |b, _| {
            b.iter(|| {
                for w in pages.windows(2) {
                    w[0].xqnext
                        .store(&w[1] as *const PageMeta as *mut PageMeta, Ordering::Relaxed);
                }
                // SAFETY: the chain `first ..= last` is linked above and in no queue.
                unsafe {
                    queue.push_list(NonNull::from(&pages[0]), NonNull::from(&pages[PAGES - 1]))
                };
                // SAFETY: as above.
                let n = unsafe { walk(queue.drain_all()) };
                assert_eq!(n, PAGES);
            })
        },
    );
    g.finish();
    assert!(queue.is_empty());
    for p in &pages {
        p.xqnext.store(ptr::null_mut(), Ordering::Relaxed);
    }
}

criterion_group!(benches, page_queue);
criterion_main!(benches);
