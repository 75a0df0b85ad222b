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
    for w in [
        Workload::LocalFixed,
        Workload::LocalMixed,
        Workload::LocalChain,
        Workload::CgLocal,
    ] {
        let (a1, _) = counted(w, 1, 1000);
        let (a2, _) = counted(w, 1, 3000);
        assert_close(
            a2 - a1,
            2000,
            &format!("{w:?}: one allocation per pair, nothing else"),
        );
    }

    let (a1, o1) = counted(Workload::DistApp, 1, 10_000);
    let (a2, o2) = counted(Workload::DistApp, 1, 30_000);
    assert_close(
        a1 - extra(&o1, "allocs"),
        a2 - extra(&o2, "allocs"),
        "dist-app harness allocations",
    );

    for pct in [0, 90] {
        let w = Workload::MtRemote { remote_pct: pct };
        let (a1, o1) = counted(w, 2, 10_000);
        let (a2, o2) = counted(w, 2, 40_000);
        assert_close(
            a1 - extra(&o1, "allocs"),
            a2 - extra(&o2, "allocs"),
            &format!("mt-remote R={pct} harness allocations"),
        );
    }

    let (a1, o1) = counted(Workload::Xmalloc, 2, 2);
    let (a2, o2) = counted(Workload::Xmalloc, 2, 6);
    assert_close(
        a1 - o1.ops,
        a2 - o2.ops,
        "xmalloc: only the objects (all freed in a fixed run)",
    );

    // larson spawns a thread per generation (part of its shape): beyond the objects, at most a
    // handful of allocations per generation.
    let per_gen = hz3_bench::workloads::LARSON_REPLACEMENTS_PER_GENERATION;
    let (a1, _) = counted(Workload::Larson, 2, 2);
    let (a2, _) = counted(Workload::Larson, 2, 6);
    let extra_gens = 2 * 4;
    let beyond = (a2 - a1).saturating_sub(extra_gens * per_gen);
    assert!(
        beyond <= extra_gens * 16 + SLACK,
        "larson: {beyond} harness allocations for {extra_gens} generations"
    );

    // The OS-boundary workloads.
    for (w, n1, n2) in [(Workload::Large1m, 3, 9), (Workload::LargeChurn, 2, 6)] {
        let (a1, _) = counted(w, 1, n1);
        let (a2, _) = counted(w, 1, n2);
        assert_close(
            a2 - a1,
            n2 - n1,
            &format!("{w:?}: one allocation per step, nothing else"),
        );
    }
    // realloc-grow: one realloc per op, plus the allocation that starts each buffer.
    let (a1, o1) = counted(Workload::ReallocGrow, 1, 5000);
    let (a2, o2) = counted(Workload::ReallocGrow, 1, 9000);
    assert_close(
        a1 - o1.ops - extra(&o1, "cycles"),
        a2 - o2.ops - extra(&o2, "cycles"),
        "realloc-grow harness allocations",
    );
    // medium-churn: 4 threads, one allocation per step each.
    let (a1, _) = counted(Workload::MediumChurn, 2, 1000);
    let (a2, _) = counted(Workload::MediumChurn, 2, 3000);
    assert_close(a2 - a1, 4 * 2000, "medium-churn: one allocation per step");
    // size-shift: nothing but the objects (all freed in a fixed run), whatever the rounds.
    let (a1, o1) = counted(Workload::SizeShift, 1, 1);
    let (a2, o2) = counted(Workload::SizeShift, 1, 3);
    assert_close(a1 - o1.ops, a2 - o2.ops, "size-shift: only the objects");
    // xmalloc-classic: the objects and one batch array per 4096 of them (part of its shape).
    let (a1, o1) = counted(Workload::XmallocClassic, 2, 2);
    let (a2, o2) = counted(Workload::XmallocClassic, 2, 6);
    assert_close(
        a1 - o1.ops - extra(&o1, "batches"),
        a2 - o2.ops - extra(&o2, "batches"),
        "xmalloc-classic harness allocations",
    );
    // thread-churn spawns a thread per lane per generation (part of its shape): beyond the
    // objects, at most a handful of allocations per thread.
    let per_thread = hz3_bench::workloads::churn::THREAD_CHURN_ALLOCS as u64;
    let (a1, _) = counted(Workload::ThreadChurn, 2, 2);
    let (a2, _) = counted(Workload::ThreadChurn, 2, 6);
    let extra_threads = 2 * 4;
    let beyond = (a2 - a1).saturating_sub(extra_threads * per_thread);
    assert!(
        beyond <= extra_threads * 16 + SLACK,
        "thread-churn: {beyond} harness allocations for {extra_threads} threads"
    );

    // The shapes of classic benchmark programs.
    // batch-handoff: the objects and the batch blocks (both in `allocs`), plus the untimed fill.
    let (a1, o1) = counted(Workload::BatchHandoff, 2, 10);
    let (a2, o2) = counted(Workload::BatchHandoff, 2, 40);
    assert_close(
        a1 - extra(&o1, "allocs"),
        a2 - extra(&o2, "allocs"),
        "batch-handoff harness allocations",
    );
    // lifo-fifo: 4 threads, 1000 blocks per round each.
    let bulk = hz3_bench::workloads::real::LIFO_FIFO_BULK as u64;
    let (a1, _) = counted(Workload::LifoFifo, 2, 1);
    let (a2, _) = counted(Workload::LifoFifo, 2, 3);
    assert_close(a2 - a1, 4 * 2 * bulk, "lifo-fifo: one allocation per block");
    // pareto: 2 threads, one allocation per step each.
    let (a1, _) = counted(Workload::Pareto, 2, 1000);
    let (a2, _) = counted(Workload::Pareto, 2, 3000);
    assert_close(a2 - a1, 2 * 2000, "pareto: one allocation per step");
    // server spawns a thread per generation (larson's shape): beyond the objects, a handful of
    // allocations per generation.
    let per_gen = hz3_bench::workloads::real::SERVER_SHAPE.replacements_per_generation;
    let (a1, _) = counted(Workload::Server, 2, 1);
    let (a2, _) = counted(Workload::Server, 2, 2);
    let beyond = (a2 - a1).saturating_sub(2 * per_gen);
    assert!(
        beyond <= 2 * 16 + SLACK,
        "server: {beyond} harness allocations for 2 generations"
    );
    // local-chain: checked with the other single-thread loops above.

    // threads-many spawns its threads (its shape): beyond the 20 blocks per thread, a handful
    // of allocations per thread.
    let blocks = hz3_bench::workloads::threads::THREADS_MANY_BLOCKS as u64;
    let before = ALLOCS.load(Ordering::SeqCst);
    Workload::ThreadsMany.run(&Params::new(1, Budget::Iters(1)).with_live_threads(16));
    let a1 = ALLOCS.load(Ordering::SeqCst) - before;
    let before = ALLOCS.load(Ordering::SeqCst);
    Workload::ThreadsMany.run(&Params::new(1, Budget::Iters(3)).with_live_threads(16));
    let a2 = ALLOCS.load(Ordering::SeqCst) - before;
    let extra_threads = 2 * 16;
    let beyond = (a2 - a1).saturating_sub(extra_threads * blocks);
    assert!(
        beyond <= extra_threads * 16 + SLACK,
        "threads-many: {beyond} harness allocations for {extra_threads} threads"
    );
}
