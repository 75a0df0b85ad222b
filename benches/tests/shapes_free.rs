//! The workloads of the peer-led shapes free everything they allocate: counted with a global
//! allocator that tracks live blocks, each run leaves as many live blocks as it found.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

use hz3_bench::{Budget, Params, Workload};

struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to System; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: same contract as ours; a moved block is still one live block.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is process-wide and the test harness's own thread may hold a few blocks of its
/// own while a workload runs; a workload that leaked would leave thousands.
const SLACK: i64 = 16;

/// One test function: nothing else may allocate beside it.
#[test]
fn every_shape_frees_what_it_allocates() {
    for (w, threads, n) in [
        (Workload::HistogramRing, 1, 300_000u64),
        (Workload::FalseSharing, 2, 3),
        (Workload::RandomSlots, 1, 50_000),
        (Workload::Bursts, 1, 1),
        (Workload::WordCount, 1, 20_000),
        (Workload::ParStrings, 2, 20_000),
    ] {
        let before = LIVE.load(Ordering::SeqCst);
        let o = w.run(&Params::new(threads, Budget::Iters(n)));
        let after = LIVE.load(Ordering::SeqCst);
        assert!(o.ops > 0 && o.value > 0.0 && o.valid, "{w:?}: {o:?}");
        assert!(
            (after - before).abs() <= SLACK,
            "{w:?}: {} blocks live after the run",
            after - before
        );
    }
}
