//! Every workload runs briefly in-process (system allocator) and reports sane numbers.
//! Behaviour only: no assertion depends on how fast anything is.

use std::time::Duration;

use hz3_bench::workloads::{CALLGRIND_WORKLOAD_NAMES, MT_REMOTE_MAX_FALLBACK_RATE, WORKLOAD_NAMES, XMALLOC_BATCH};
use hz3_bench::{Budget, Outcome, Params, Workload};

fn extra(o: &Outcome, k: &str) -> f64 {
    o.extra.iter().find(|(n, _)| *n == k).unwrap_or_else(|| panic!("no extra {k:?} in {o:?}")).1
}

#[test]
fn every_workload_runs_for_a_short_time() {
    for name in WORKLOAD_NAMES.iter().chain(CALLGRIND_WORKLOAD_NAMES) {
        let w = Workload::from_name(name).unwrap();
        assert_eq!(w.name(), *name);
        let o = w.run(&Params::new(2, Budget::Time(Duration::from_millis(30))));
        assert!(o.ops > 0, "{name}: {o:?}");
        assert!(o.value.is_finite() && o.value > 0.0, "{name}: {o:?}");
        let implied = o.ops as f64 / o.elapsed.as_secs_f64();
        assert!((o.value / implied - 1.0).abs() < 1e-6, "{name}: value is ops/elapsed");
        if !name.starts_with("cg-") {
            assert!(o.elapsed >= Duration::from_millis(29), "{name} stopped early: {:?}", o.elapsed);
        }
        let (metric, unit) = w.metric();
        assert!(!metric.is_empty() && unit.ends_with("/s"));
    }
    assert!(Workload::from_name("nope").is_none());
}

#[test]
fn single_thread_workloads_do_exactly_the_work_asked() {
    for w in [Workload::LocalFixed, Workload::LocalMixed, Workload::DistApp, Workload::CgLocal] {
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
    assert_eq!(o.ops, 2 * 3 * XMALLOC_BATCH as u64, "2 producers x 3 batches, all freed by consumers");
    let one = Workload::Xmalloc.run(&Params::new(1, Budget::Iters(1)));
    assert_eq!(one.ops, XMALLOC_BATCH as u64);
}

#[test]
fn mt_remote_counts_and_validity() {
    for pct in [0u32, 50, 90] {
        let w = Workload::MtRemote { remote_pct: pct };
        let o = w.run(&Params::new(2, Budget::Iters(20_000)));
        let (allocs, frees, sent) = (extra(&o, "allocs"), extra(&o, "frees"), extra(&o, "remote_sent"));
        let rate = extra(&o, "fallback_rate");
        assert_eq!(allocs + frees, o.ops as f64);
        // Each of 2 threads decides 20 000 times (alloc, local free or send); a sent object
        // counts as a free only when its receiver frees it within the run.
        assert!(o.ops as f64 <= 40_000.0 && o.ops as f64 >= 40_000.0 - sent, "{o:?}");
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
    assert_eq!(o.ops, 2 * 3 * 2 * hz3_bench::workloads::LARSON_REPLACEMENTS_PER_GENERATION);
}

#[test]
fn callgrind_remote_rounds_up_to_whole_batches() {
    let o = Workload::CgRemote.run(&Params::new(2, Budget::Iters(5000)));
    assert_eq!(o.ops, 5 * 1024);
}
