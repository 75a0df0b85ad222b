//! Every workload runs briefly in-process (system allocator) and reports sane numbers.
//! Behaviour only: no assertion depends on how fast anything is.

use std::time::Duration;

use hz3_bench::workloads::{
    CALLGRIND_WORKLOAD_NAMES, MT_REMOTE_MAX_FALLBACK_RATE, WORKLOAD_NAMES, XMALLOC_BATCH,
};
use hz3_bench::{Budget, Outcome, Params, Workload};

fn extra(o: &Outcome, k: &str) -> f64 {
    o.extra
        .iter()
        .find(|(n, _)| *n == k)
        .unwrap_or_else(|| panic!("no extra {k:?} in {o:?}"))
        .1
}

#[test]
fn every_workload_runs_for_a_short_time() {
    for name in WORKLOAD_NAMES.iter().chain(CALLGRIND_WORKLOAD_NAMES) {
        let w = Workload::from_name(name).unwrap();
        assert_eq!(w.name(), *name);
        // threads-many: 50 live threads rather than 1000 (the other workloads ignore it).
        let o =
            w.run(&Params::new(2, Budget::Time(Duration::from_millis(30))).with_live_threads(50));
        assert!(o.ops > 0, "{name}: {o:?}");
        assert!(o.value.is_finite() && o.value > 0.0, "{name}: {o:?}");
        let implied = o.ops as f64 / o.elapsed.as_secs_f64();
        assert!(
            (o.value / implied - 1.0).abs() < 1e-6,
            "{name}: value is ops/elapsed"
        );
        if !name.starts_with("cg-") {
            assert!(
                o.elapsed >= Duration::from_millis(29),
                "{name} stopped early: {:?}",
                o.elapsed
            );
        }
        let (metric, unit) = w.metric();
        assert!(!metric.is_empty() && unit.ends_with("/s"));
    }
    assert!(Workload::from_name("nope").is_none());
}

#[test]
fn single_thread_workloads_do_exactly_the_work_asked() {
    for w in [
        Workload::LocalFixed,
        Workload::LocalMixed,
        Workload::LocalChain,
        Workload::DistApp,
        Workload::CgLocal,
    ] {
        let o = w.run(&Params::new(1, Budget::Iters(10_000)));
        assert_eq!(o.ops, 10_000, "{w:?}");
        assert!(o.valid);
    }
    // dist-app: allocs + frees = steps, and at most 400 objects are live at the end.
    let o = Workload::DistApp.run(&Params::new(1, Budget::Iters(10_000)));
    let allocs = extra(&o, "allocs");
    assert!((5000.0..=5200.0).contains(&allocs), "allocs {allocs}");
    // Deterministic for a given seed.
    let again = Workload::DistApp.run(&Params::new(1, Budget::Iters(10_000)));
    assert_eq!(extra(&again, "allocs"), allocs);
}

#[test]
fn xmalloc_frees_every_batch_in_a_fixed_run() {
    let o = Workload::Xmalloc.run(&Params::new(2, Budget::Iters(3)));
    assert_eq!(
        o.ops,
        2 * 3 * XMALLOC_BATCH as u64,
        "2 producers x 3 batches, all freed by consumers"
    );
    let one = Workload::Xmalloc.run(&Params::new(1, Budget::Iters(1)));
    assert_eq!(one.ops, XMALLOC_BATCH as u64);
}

#[test]
fn mt_remote_counts_and_validity() {
    for pct in [0u32, 50, 90] {
        let w = Workload::MtRemote { remote_pct: pct };
        let o = w.run(&Params::new(2, Budget::Iters(20_000)));
        let (allocs, frees, sent) = (
            extra(&o, "allocs"),
            extra(&o, "frees"),
            extra(&o, "remote_sent"),
        );
        let rate = extra(&o, "fallback_rate");
        assert_eq!(allocs + frees, o.ops as f64);
        // Each of 2 threads decides 20 000 times (alloc, local free or send); a sent object
        // counts as a free only when its receiver frees it within the run.
        assert!(
            o.ops as f64 <= 40_000.0 && o.ops as f64 >= 40_000.0 - sent,
            "{o:?}"
        );
        assert!((0.0..=1.0).contains(&rate));
        assert_eq!(o.valid, rate <= MT_REMOTE_MAX_FALLBACK_RATE);
        if pct == 0 {
            assert_eq!(sent, 0.0);
            assert_eq!(rate, 0.0);
        } else {
            assert!(sent > 0.0, "R={pct}: nothing was sent");
        }
    }
}

#[test]
fn larson_generations_hand_objects_to_new_threads() {
    let o = Workload::Larson.run(&Params::new(2, Budget::Iters(3)));
    assert_eq!(extra(&o, "generations"), 6.0);
    assert_eq!(
        o.ops,
        2 * 3 * 2 * hz3_bench::workloads::LARSON_REPLACEMENTS_PER_GENERATION
    );
}

#[test]
fn callgrind_remote_rounds_up_to_whole_batches() {
    let o = Workload::CgRemote.run(&Params::new(2, Budget::Iters(5000)));
    assert_eq!(o.ops, 5 * 1024);
}

// --- the OS-boundary workloads ---

#[test]
fn large_and_realloc_workloads_do_exactly_the_work_asked() {
    use hz3_bench::workloads::os::REALLOC_GROW_CALLS_PER_CYCLE;
    for (w, n) in [
        (Workload::Large1m, 5u64),
        (Workload::LargeChurn, 3),
        (Workload::ReallocGrow, 100),
    ] {
        let o = w.run(&Params::new(1, Budget::Iters(n)));
        assert_eq!(o.ops, n, "{w:?}");
        assert!(o.valid);
    }
    // realloc-grow: a cycle is 4095 calls; one more starts a second buffer.
    let o = Workload::ReallocGrow.run(&Params::new(
        1,
        Budget::Iters(REALLOC_GROW_CALLS_PER_CYCLE + 1),
    ));
    assert_eq!(extra(&o, "cycles"), 2.0);
    let moved = extra(&o, "moved_share");
    assert!((0.0..=1.0).contains(&moved), "{moved}");
}

#[test]
fn medium_churn_runs_two_threads_per_requested_thread() {
    let o = Workload::MediumChurn.run(&Params::new(2, Budget::Iters(1000)));
    assert_eq!(extra(&o, "threads"), 4.0);
    assert_eq!(
        o.ops,
        4 * 2 * 1000,
        "a free and an allocation per step, 4 threads"
    );
}

#[test]
fn thread_churn_hands_objects_to_the_next_generation() {
    use hz3_bench::workloads::churn::THREAD_CHURN_ALLOCS;
    let o = Workload::ThreadChurn.run(&Params::new(2, Budget::Iters(3)));
    assert_eq!(extra(&o, "generations"), 3.0);
    let allocs = (3 * 2 * THREAD_CHURN_ALLOCS) as f64;
    let handed = extra(&o, "handed_off");
    assert!(
        (0.05 * allocs..=0.25 * allocs).contains(&handed),
        "about 15% handed on: {handed} of {allocs}"
    );
    // Every allocation is freed within the run except the last generation's hand-offs.
    assert!(
        o.ops as f64 <= allocs && o.ops as f64 >= allocs - handed,
        "{o:?}"
    );
    // Deterministic for a given seed.
    let again = Workload::ThreadChurn.run(&Params::new(2, Budget::Iters(3)));
    assert_eq!((again.ops, extra(&again, "handed_off")), (o.ops, handed));
}

#[test]
fn size_shift_frees_every_round_and_grows_the_size() {
    use hz3_bench::workloads::churn::{
        size_shift_size, SIZE_SHIFT_ROUNDS_PER_CYCLE, SIZE_SHIFT_ROUND_BYTES,
    };
    let o = Workload::SizeShift.run(&Params::new(1, Budget::Iters(3)));
    let want: usize = (0..3)
        .map(|r| SIZE_SHIFT_ROUND_BYTES / size_shift_size(r))
        .sum();
    assert_eq!(
        o.ops, want as u64,
        "every object of 3 rounds (16, 32, 48 B) freed by the consumer"
    );
    assert_eq!(extra(&o, "rounds"), 3.0);
    assert_eq!(extra(&o, "max_size"), 48.0);
    assert!(o.valid);
    // A timed run is valid only if it covered the whole size cycle.
    let t = Workload::SizeShift.run(&Params::new(1, Budget::Time(Duration::from_millis(20))));
    if t.valid {
        assert!(
            extra(&t, "rounds") >= SIZE_SHIFT_ROUNDS_PER_CYCLE as f64,
            "{t:?}"
        );
    }
}

#[test]
fn xmalloc_classic_frees_every_batch_in_a_fixed_run() {
    use hz3_bench::workloads::xmalloc_classic::XMALLOC_CLASSIC_BATCH;
    let o = Workload::XmallocClassic.run(&Params::new(2, Budget::Iters(3)));
    assert_eq!(
        o.ops,
        2 * 3 * XMALLOC_CLASSIC_BATCH as u64,
        "2 producers x 3 batches, all freed by consumers"
    );
    assert_eq!(extra(&o, "batches"), 6.0);
    let one = Workload::XmallocClassic.run(&Params::new(1, Budget::Iters(1)));
    assert_eq!(one.ops, XMALLOC_CLASSIC_BATCH as u64);
}

// --- the shapes of classic benchmark programs, the latency chain and many live threads ---

#[test]
fn local_chain_is_deterministic_and_reports_where_it_ended() {
    use hz3_bench::workloads::chain::{LOCAL_CHAIN_MAX, LOCAL_CHAIN_MIN};
    let o = Workload::LocalChain.run(&Params::new(1, Budget::Iters(5000)));
    assert_eq!(o.ops, 5000);
    let end = extra(&o, "final_size");
    assert!(
        (LOCAL_CHAIN_MIN as f64..=LOCAL_CHAIN_MAX as f64).contains(&end),
        "{end}"
    );
    let again = Workload::LocalChain.run(&Params::new(1, Budget::Iters(5000)));
    assert_eq!(
        extra(&again, "final_size"),
        end,
        "the size sequence does not depend on the addresses"
    );
}

#[test]
fn batch_handoff_hands_batches_around_the_ring() {
    use hz3_bench::workloads::real::{
        BATCH_HANDOFF_OPS_MAX, BATCH_HANDOFF_OPS_MIN, BATCH_HANDOFF_SLOTS,
    };
    let loops = 50u64;
    let o = Workload::BatchHandoff.run(&Params::new(2, Budget::Iters(loops)));
    let (allocs, frees, handed) = (extra(&o, "allocs"), extra(&o, "frees"), extra(&o, "handed"));
    assert_eq!(o.ops as f64, allocs + frees);
    // Every 2nd loop of each thread hands a batch (none skipped: far below the in-flight limit).
    assert_eq!(extra(&o, "batches"), 2.0 * (loops / 2) as f64);
    assert_eq!(extra(&o, "handoffs_skipped"), 0.0);
    let per_batch = handed / extra(&o, "batches");
    assert!(
        (BATCH_HANDOFF_OPS_MIN as f64..=BATCH_HANDOFF_OPS_MAX as f64).contains(&per_batch),
        "{per_batch}"
    );
    // Frees: at most the filled slots plus everything allocated in the run.
    assert!(
        frees > 0.0 && frees <= allocs + 2.0 * BATCH_HANDOFF_SLOTS as f64,
        "{o:?}"
    );
    // Allocations do not depend on the schedule (only which batches arrive in time does).
    let again = Workload::BatchHandoff.run(&Params::new(2, Budget::Iters(loops)));
    assert_eq!(extra(&again, "allocs"), allocs);
    // A single thread hands its batches to itself.
    let one = Workload::BatchHandoff.run(&Params::new(1, Budget::Iters(10)));
    assert_eq!(extra(&one, "batches"), 5.0);
}

#[test]
fn lifo_fifo_runs_two_threads_per_requested_thread() {
    use hz3_bench::workloads::real::LIFO_FIFO_BULK;
    let o = Workload::LifoFifo.run(&Params::new(2, Budget::Iters(3)));
    assert_eq!(extra(&o, "threads"), 4.0);
    assert_eq!(extra(&o, "rounds"), 12.0);
    assert_eq!(
        o.ops,
        4 * 3 * LIFO_FIFO_BULK as u64,
        "every block of every round freed"
    );
}

#[test]
fn server_generations_inherit_the_slots() {
    use hz3_bench::workloads::real::SERVER_SHAPE;
    let o = Workload::Server.run(&Params::new(2, Budget::Iters(2)));
    assert_eq!(extra(&o, "generations"), 4.0);
    assert_eq!(o.ops, 2 * 2 * 2 * SERVER_SHAPE.replacements_per_generation);
    // A timed run stops inside a generation (the stop flag is read every 1024 replacements).
    let t = Workload::Server.run(&Params::new(1, Budget::Time(Duration::from_millis(20))));
    assert!(t.ops > 0 && t.ops % 2 == 0, "{t:?}");
}

#[test]
fn pareto_replaces_one_slot_per_step() {
    let o = Workload::Pareto.run(&Params::new(2, Budget::Iters(1000)));
    assert_eq!(
        o.ops,
        2 * 2 * 1000,
        "a free and an allocation per step, 2 threads"
    );
    assert_eq!(extra(&o, "threads"), 2.0);
}

#[test]
fn threads_many_reports_footprint_per_thread() {
    let p = Params::new(1, Budget::Iters(2)).with_live_threads(32);
    let o = Workload::ThreadsMany.run(&p);
    assert_eq!(o.ops, 64, "2 rounds of 32 threads");
    assert_eq!(extra(&o, "live_threads"), 32.0);
    assert_eq!(extra(&o, "rounds"), 2.0);
    assert!(extra(&o, "rss_live_kib") > 0.0);
    assert!(
        extra(&o, "rss_per_thread_kib") >= 0.0
            && extra(&o, "max_rss_per_thread_kib") >= extra(&o, "rss_per_thread_kib")
    );
    assert!(extra(&o, "us_per_thread") > 0.0 && extra(&o, "start_us_per_thread") > 0.0);
    assert_eq!(
        Workload::ThreadsMany.reported_threads(&p),
        32,
        "its JSON threads is the live count"
    );
    assert_eq!(Workload::LocalChain.reported_threads(&p), 1);
    assert_eq!(Workload::BatchHandoff.reported_threads(&p), 1);
}

// --- the shapes where the strongest peers led (benches/src/workloads/shapes.rs) ---

#[test]
fn histogram_ring_wraps_and_streams_to_the_next_thread() {
    use hz3_bench::workloads::shapes::{HISTOGRAM_RING_SLOTS, HISTOGRAM_STREAM_EVERY};
    let steps = HISTOGRAM_RING_SLOTS as u64 + 5000;
    let o = Workload::HistogramRing.run(&Params::new(1, Budget::Iters(steps)));
    assert_eq!(extra(&o, "threads"), 2.0);
    // Each of 2 threads: one ring allocation per step, one stream block every 10th.
    let allocs = 2.0 * (steps + steps / HISTOGRAM_STREAM_EVERY) as f64;
    assert_eq!(extra(&o, "allocs"), allocs);
    assert_eq!(extra(&o, "wraps"), 2.0, "each ring wrapped once");
    assert_eq!(o.ops as f64, allocs + extra(&o, "frees"));
    assert!(extra(&o, "remote_frees") > 0.0, "{o:?}");
    assert!(o.value > 0.0 && o.valid);
}

#[test]
fn false_sharing_runs_its_rounds() {
    use hz3_bench::workloads::shapes::{FALSE_SHARING_CYCLES, FALSE_SHARING_PASSES};
    for t in [1, 2] {
        let o = Workload::FalseSharing.run(&Params::new(t, Budget::Iters(3)));
        assert_eq!(extra(&o, "rounds"), 3.0);
        assert_eq!(
            o.ops,
            3 * t as u64 * FALSE_SHARING_CYCLES * FALSE_SHARING_PASSES
        );
        assert!(o.value > 0.0);
    }
}

#[test]
fn random_slots_alternate_allocations_and_frees() {
    use hz3_bench::workloads::shapes::RANDOM_SLOTS;
    let o = Workload::RandomSlots.run(&Params::new(1, Budget::Iters(100_000)));
    assert_eq!(o.ops, 100_000);
    let (allocs, live) = (extra(&o, "allocs"), extra(&o, "live_end"));
    // About half the slots stay live; the steps are about half allocations.
    assert!(
        (0.45..0.55).contains(&(live / RANDOM_SLOTS as f64)),
        "{live}"
    );
    assert!((40_000.0..60_000.0).contains(&allocs), "{allocs}");
    let again = Workload::RandomSlots.run(&Params::new(1, Budget::Iters(100_000)));
    assert_eq!(extra(&again, "allocs"), allocs, "deterministic");
}

#[test]
fn bursts_run_each_size_in_the_caller_and_in_a_fresh_thread() {
    use hz3_bench::workloads::shapes::{BURST_BLOCKS, BURST_COUNTS, BURST_SIZES};
    let o = Workload::Bursts.run(&Params::new(1, Budget::Iters(2)));
    let per_phase: usize = BURST_COUNTS.iter().map(|n| BURST_BLOCKS / n * n).sum();
    assert_eq!(o.ops, (2 * BURST_SIZES.len() * 2 * per_phase) as u64);
    assert_eq!(extra(&o, "passes"), 2.0);
    assert_eq!(extra(&o, "threads_spawned"), 2.0 * BURST_SIZES.len() as f64);
}

#[test]
fn word_count_counts_every_word() {
    let o = Workload::WordCount.run(&Params::new(1, Budget::Iters(20_000)));
    assert_eq!(o.ops, 20_000);
    assert!(o.valid, "the counts add up to the words");
    assert_eq!(extra(&o, "rounds"), 1.0);
    let distinct = extra(&o, "distinct");
    assert!(
        distinct > 1000.0 && distinct < 20_000.0,
        "most words repeat: {distinct}"
    );
}

#[test]
fn par_strings_groups_every_string() {
    use hz3_bench::workloads::shapes::par_strings_groups;
    for t in [1, 2, 3] {
        let o = Workload::ParStrings.run(&Params::new(t, Budget::Iters(20_000)));
        assert_eq!(o.ops, 20_000, "{t} workers");
        assert!(o.valid, "{t} workers: the groups hold every string once");
        assert_eq!(extra(&o, "rounds"), 1.0);
        assert_eq!(extra(&o, "groups"), 1000.0);
    }
    // The grouping does not depend on how the work was split.
    assert_eq!(par_strings_groups(5000, 1), par_strings_groups(5000, 2));
}
