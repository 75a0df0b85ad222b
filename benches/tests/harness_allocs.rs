//! The timed loops allocate only the objects under test: counted with a counting global
//! allocator, a run with more work makes exactly as many more allocations as it made objects.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use hz3_bench::{Budget, Outcome, Params, Workload};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to System; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted(w: Workload, threads: usize, n: u64) -> (u64, Outcome) {
    let before = ALLOCS.load(Ordering::SeqCst);
    let o = w.run(&Params::new(threads, Budget::Iters(n)));
    (ALLOCS.load(Ordering::SeqCst) - before, o)
}

/// The counter is process-wide, and the test harness's own threads may allocate a few times
/// while a workload runs; a harness allocation inside a timed loop would show up thousands of
/// times, so a small slack keeps the test exact in what it is for.
const SLACK: u64 = 16;

fn assert_close(a: u64, b: u64, what: &str) {
    assert!(a.abs_diff(b) <= SLACK, "{what}: {a} vs {b}");
}

fn extra(o: &Outcome, k: &str) -> u64 {
    o.extra.iter().find(|(n, _)| *n == k).unwrap().1 as u64
}

/// One test function: the counter is process-wide, so nothing else may run beside it.
#[test]
fn harness_allocations_do_not_grow_with_the_work() {
    for w in [Workload::LocalFixed, Workload::LocalMixed, Workload::CgLocal] {
        let (a1, _) = counted(w, 1, 1000);
        let (a2, _) = counted(w, 1, 3000);
        assert_close(a2 - a1, 2000, &format!("{w:?}: one allocation per pair, nothing else"));
    }

    let (a1, o1) = counted(Workload::DistApp, 1, 10_000);
    let (a2, o2) = counted(Workload::DistApp, 1, 30_000);
    assert_close(a1 - extra(&o1, "allocs"), a2 - extra(&o2, "allocs"), "dist-app harness allocations");

    for pct in [0, 90] {
        let w = Workload::MtRemote { remote_pct: pct };
        let (a1, o1) = counted(w, 2, 10_000);
        let (a2, o2) = counted(w, 2, 40_000);
        assert_close(a1 - extra(&o1, "allocs"), a2 - extra(&o2, "allocs"), &format!("mt-remote R={pct} harness allocations"));
    }

    let (a1, o1) = counted(Workload::Xmalloc, 2, 2);
    let (a2, o2) = counted(Workload::Xmalloc, 2, 6);
    assert_close(a1 - o1.ops, a2 - o2.ops, "xmalloc: only the objects (all freed in a fixed run)");

    // larson spawns a thread per generation (part of its shape): beyond the objects, at most a
    // handful of allocations per generation.
    let per_gen = hz3_bench::workloads::LARSON_REPLACEMENTS_PER_GENERATION;
    let (a1, _) = counted(Workload::Larson, 2, 2);
    let (a2, _) = counted(Workload::Larson, 2, 6);
    let extra_gens = 2 * 4;
    let beyond = (a2 - a1).saturating_sub(extra_gens * per_gen);
    assert!(beyond <= extra_gens * 16 + SLACK, "larson: {beyond} harness allocations for {extra_gens} generations");
}
