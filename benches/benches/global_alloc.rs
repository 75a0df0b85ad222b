//! hz3-alloc through `GlobalAlloc`: one `alloc` + `dealloc` pair on one thread, for the
//! default strategy (A-cache) in each flavour — `Fast` (what `hz3_alloc::Hz3` is),
//! `WithStats` (counters) and `Checked` (double, invalid and mis-sized free detection) — and
//! for `std::alloc::System` (glibc malloc here) as the reference. Each allocator is a plain
//! value used directly, not the process's global allocator (criterion allocates through
//! `System`, which this binary leaves as the global allocator).
//!
//! A crate user reads the `pair_64` group as the price of a small allocation+free that hits the
//! thread cache, and the gaps between the flavours as what counting and checking cost on that
//! path; `size` shows the default allocator's pair at three size classes (16 B, 256 B, 4 KiB;
//! blocks above 256 KiB take the large-block path instead, which the matrix's `large-1m`
//! measures).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hz3_alloc::config::{Checked, Fast, WithStats};
use hz3_alloc::strategy::CachedStash;
use hz3_alloc::Hz3;

static FAST: Hz3<CachedStash, Fast> = Hz3::new();
static WITH_STATS: Hz3<CachedStash, WithStats> = Hz3::new();
static CHECKED: Hz3<CachedStash, Checked> = Hz3::new();

/// One allocation of `layout`, a write to its first word, and its free.
#[inline(always)]
fn pair<A: GlobalAlloc>(a: &A, layout: Layout) {
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { a.alloc(layout) };
    assert!(!p.is_null());
    // SAFETY: `p` is live, at least 8 bytes and 8-aligned.
    unsafe { p.cast::<u64>().write(layout.size() as u64) };
    let p = black_box(p);
    // SAFETY: `p` was allocated by `a` with `layout` and is freed once.
    unsafe { a.dealloc(p, layout) };
}

fn global_alloc(c: &mut Criterion) {
    let l64 = Layout::from_size_align(64, 8).unwrap();
    let mut g = c.benchmark_group("pair_64");
    g.throughput(Throughput::Elements(1));
    g.bench_function("hz3_fast", |b| b.iter(|| pair(&FAST, l64)));
    g.bench_function("hz3_with_stats", |b| b.iter(|| pair(&WITH_STATS, l64)));
    g.bench_function("hz3_checked", |b| b.iter(|| pair(&CHECKED, l64)));
    g.bench_function("system", |b| b.iter(|| pair(&System, l64)));
    g.finish();

    let mut g = c.benchmark_group("size");
    g.throughput(Throughput::Elements(1));
    for size in [16usize, 256, 4096] {
        let l = Layout::from_size_align(size, 8).unwrap();
        g.bench_with_input(BenchmarkId::new("hz3_fast", size), &l, |b, &l| {
            b.iter(|| pair(&FAST, l))
        });
        g.bench_with_input(BenchmarkId::new("system", size), &l, |b, &l| {
            b.iter(|| pair(&System, l))
        });
    }
    g.finish();
    Hz3::<CachedStash, Fast>::collect();
    Hz3::<CachedStash, WithStats>::collect();
    Hz3::<CachedStash, Checked>::collect();
}

criterion_group!(benches, global_alloc);
criterion_main!(benches);
