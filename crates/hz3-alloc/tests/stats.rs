//! Statistics (`Hz3<R, WithStats>`) on a producer/consumer run, for every strategy: the
//! counters must satisfy the relations the protocols imply (see `hz3-pageq/src/strategy.rs`),
//! and the snapshot is printed (`cargo test --test stats -- --nocapture`). With `Fast` every
//! counter stays zero.
//!
//! The run: a producer allocates `N` 64-byte blocks per round and sends them to a consumer that
//! frees them all (remote frees); the producer waits for the consumer each round, so every
//! remote free happens while the owner is alive, and it collects on its refill path and at exit.

mod common;

use common::{isolated, scale, serial, Inst};
use core::alloc::Layout;
use hz3_alloc::config::{Fast, WithStats};
use hz3_alloc::{Config, Hz3, RemoteFree, Stats};
use std::sync::mpsc;

const N: usize = 2000;

fn delta(a: Stats, b: Stats) -> Stats {
    Stats {
        remote_frees: a.remote_frees - b.remote_frees,
        head_cas: a.head_cas - b.head_cas,
        state_swaps: a.state_swaps - b.state_swaps,
        pageq_cas: a.pageq_cas - b.pageq_cas,
        cas_retries: a.cas_retries - b.cas_retries,
        empty_to_nonempty: a.empty_to_nonempty - b.empty_to_nonempty,
        pageq_enqueues: a.pageq_enqueues - b.pageq_enqueues,
        pageq_dequeues: a.pageq_dequeues - b.pageq_dequeues,
        requeues: a.requeues - b.requeues,
        drained_pages: a.drained_pages - b.drained_pages,
        drained_objects: a.drained_objects - b.drained_objects,
        packet_flushes: a.packet_flushes - b.packet_flushes,
        packet_slot_hits: a.packet_slot_hits - b.packet_slot_hits,
        fences: a.fences - b.fences,
        collects: a.collects - b.collects,
        empty_collects: a.empty_collects - b.empty_collects,
        lock_pool_acquires: a.lock_pool_acquires - b.lock_pool_acquires,
        lock_pool_contended: a.lock_pool_contended - b.lock_pool_contended,
        lock_pool_spins: a.lock_pool_spins - b.lock_pool_spins,
        lock_pool_yields: a.lock_pool_yields - b.lock_pool_yields,
        lock_pool_wait_ticks: a.lock_pool_wait_ticks - b.lock_pool_wait_ticks,
        lock_pool_hold_ticks: a.lock_pool_hold_ticks - b.lock_pool_hold_ticks,
        // The other locks' counters are not checked here (the process-wide caches' counts
        // include other tests' instances).
        ..Stats::default()
    }
}

/// The producer/consumer run; returns the number of remote frees done. In `lockstep` the
/// producer waits for the consumer every round; otherwise up to four batches are in flight and
/// the producer's refills race with the consumer's frees.
fn producer_consumer<R: RemoteFree, C: Config>(rounds: usize, lockstep: bool) -> u64 {
    let l = Layout::from_size_align(64, 8).unwrap();
    let (tx, rx) = mpsc::sync_channel::<Vec<usize>>(if lockstep { 1 } else { 4 });
    let (atx, arx) = mpsc::sync_channel::<()>(rounds + 1);
    let consumer = std::thread::spawn(move || {
        // One local allocation first: the consumer holds its own heap.
        let p = Inst::<R, C>::alloc(l);
        // SAFETY: just allocated.
        unsafe { Inst::<R, C>::dealloc(p, l) };
        let mut n = 0u64;
        for v in rx {
            for p in v {
                // SAFETY: live blocks of the producer.
                unsafe { Inst::<R, C>::dealloc(p as *mut u8, l) };
                n += 1;
            }
            let _ = atx.send(()); // the producer stops listening when not in lockstep
        }
        n
    });
    let producer = std::thread::spawn(move || {
        for _ in 0..rounds {
            let v: Vec<usize> = (0..N).map(|_| Inst::<R, C>::alloc(l) as usize).collect();
            assert!(v.iter().all(|&p| p != 0));
            tx.send(v).unwrap();
            if lockstep {
                arx.recv().unwrap();
            }
        }
    });
    producer.join().unwrap();
    consumer.join().unwrap()
}

fn print(name: &str, d: &Stats) {
    let fields: Vec<String> = d.fields().iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("[HZ3_STATS] {name}: {}", fields.join(" "));
    println!(
        "[HZ3_STATS] {name}: objects/drained page {:.1}, empty->non-empty share {:.3}, atomic RMW per remote free {:.3}",
        d.objects_per_drained_page(),
        d.empty_to_nonempty_share(),
        d.rmw_per_remote_free()
    );
}

fn stats_relations<R: RemoteFree>() {
    let _g = serial::<R, WithStats>();
    for lockstep in [true, false] {
        check_relations::<R>(lockstep);
    }
}

fn check_relations<R: RemoteFree>(lockstep: bool) {
    type C = WithStats;
    let name = format!(
        "{} ({})",
        Inst::<R, C>::name(),
        if lockstep { "lockstep" } else { "overlapping" }
    );
    // Settle anything earlier runs left, then snapshot.
    Hz3::<R, C>::collect();
    let before = Hz3::<R, C>::stats();
    let rounds = 20 * scale();
    let done = producer_consumer::<R, C>(rounds, lockstep);
    assert_eq!(done, (rounds * N) as u64);
    // Everything drained (the oracle's collect() drains the heaps of exited threads).
    Inst::<R, C>::assert_empty("stats run");
    let d = delta(Hz3::<R, C>::stats(), before);
    print(&name, &d);

    // Every remote free is counted, and every block is delivered to its owner exactly once (S5).
    assert_eq!(d.remote_frees, done, "{name}: remote_frees");
    if R::CACHE_FOREIGN {
        // Foreign blocks the freeing thread reused never travel home.
        assert!(
            d.drained_objects <= d.remote_frees,
            "{name}: drained_objects > remote_frees"
        );
    } else {
        assert_eq!(
            d.drained_objects, d.remote_frees,
            "{name}: drained_objects != remote_frees"
        );
    }
    assert!(
        d.collects >= 1 && d.empty_collects <= d.collects,
        "{name}: collects"
    );
    assert!(
        d.head_cas >= 1 && d.head_cas <= d.remote_frees,
        "{name}: head_cas"
    );
    assert!(
        d.empty_to_nonempty >= 1 && d.empty_to_nonempty <= d.head_cas,
        "{name}: empty_to_nonempty"
    );
    // The heap-pool lock: each of the two threads takes a heap and returns it at exit, and
    // collect() visits the pool; a waiter that spun or yielded was a contended acquisition.
    assert!(d.lock_pool_acquires >= 5, "{name}: pool lock acquisitions");
    assert!(
        d.lock_pool_contended <= d.lock_pool_acquires
            && (d.lock_pool_contended > 0
                || (
                    d.lock_pool_spins,
                    d.lock_pool_yields,
                    d.lock_pool_wait_ticks
                ) == (0, 0, 0)),
        "{name}: pool lock waits"
    );
    let batched = matches!(R::NAME, "a-batch" | "e-batch" | "a-cache");
    if !batched {
        // One successful head CAS per remote free.
        assert_eq!(
            d.head_cas, d.remote_frees,
            "{name}: head_cas != remote_frees"
        );
    }
    match R::NAME {
        "a-cache" => {
            // Blocks are cached first; what travels home goes in groups, one CAS each.
            assert_eq!(d.head_cas, d.packet_flushes, "{name}: group sends");
            assert_eq!(
                d.drained_pages + d.empty_collects,
                d.collects,
                "{name}: collects"
            );
            assert_eq!(
                (d.pageq_cas, d.state_swaps, d.fences),
                (0, 0, 0),
                "{name}: no pages queued"
            );
        }
        "a" | "a-batch" => {
            // A stash is taken whole: every non-empty episode ends with exactly one take.
            assert_eq!(
                d.drained_pages, d.empty_to_nonempty,
                "{name}: takes != empty->non-empty"
            );
            assert_eq!(
                d.drained_pages + d.empty_collects,
                d.collects,
                "{name}: collects"
            );
            assert_eq!(
                (d.pageq_cas, d.pageq_enqueues, d.pageq_dequeues, d.requeues),
                (0, 0, 0, 0),
                "{name}: pageq"
            );
            assert_eq!((d.state_swaps, d.fences), (0, 0), "{name}: no page state");
            if R::NAME == "a" {
                assert_eq!((d.packet_flushes, d.packet_slot_hits), (0, 0));
            } else {
                // Every group is sent with one CAS; the rest joined an open group.
                assert_eq!(d.head_cas, d.packet_flushes, "{name}: group sends");
                assert_eq!(
                    d.packet_flushes + d.packet_slot_hits,
                    d.remote_frees,
                    "{name}: groups"
                );
            }
        }
        "b" | "c" | "d" | "c-packed" => {
            // Every queued page is dequeued once per (en|re)queue; each dequeue drains it once.
            assert_eq!(
                d.pageq_dequeues,
                d.pageq_enqueues + d.requeues,
                "{name}: dequeues"
            );
            assert_eq!(d.drained_pages, d.pageq_dequeues, "{name}: drained pages");
            assert!(d.pageq_enqueues >= 1, "{name}: nothing queued");
            if R::NAME == "c-packed" {
                // One packed CAS decides both: each notifying push queues the page, no fences,
                // one `queued -> idle` attempt per dequeued page.
                assert_eq!(d.pageq_enqueues, d.empty_to_nonempty, "{name}: enqueues");
                assert_eq!(d.fences, 0, "{name}: fences");
                assert_eq!(d.state_swaps, d.pageq_dequeues, "{name}: try_idle");
            } else {
                // Two words: a fence per notifying push and per settle.
                assert_eq!(
                    d.fences,
                    d.empty_to_nonempty + d.pageq_dequeues,
                    "{name}: fences"
                );
                assert!(d.pageq_enqueues <= d.empty_to_nonempty, "{name}: enqueues");
                assert!(d.state_swaps >= d.empty_to_nonempty, "{name}: state swaps");
            }
            if R::NAME == "b" {
                // Push per enqueue, CAS pop per dequeue, push per requeue.
                assert_eq!(
                    d.pageq_cas,
                    d.pageq_enqueues + d.pageq_dequeues + d.requeues,
                    "{name}: pageq_cas"
                );
            } else {
                assert!(d.pageq_cas >= 1);
            }
            if R::NAME == "d" {
                // The consumer holds a heap, so every queued page went through a packet.
                assert!(d.packet_flushes >= 1, "{name}: no packet flushed");
                assert_eq!(
                    d.pageq_enqueues,
                    d.packet_flushes + d.packet_slot_hits,
                    "{name}: packets"
                );
            } else {
                assert_eq!(
                    (d.packet_flushes, d.packet_slot_hits),
                    (0, 0),
                    "{name}: packets"
                );
            }
        }
        _ => {
            // Other strategies (E family): only the universal relations above.
        }
    }
}

/// With `Fast` every counter stays zero.
fn fast_counts_nothing<R: RemoteFree>() {
    let _g = serial::<R, Fast>();
    isolated(|| {
        (
            producer_consumer::<R, Fast>(3, true),
            producer_consumer::<R, Fast>(3, false),
        )
    });
    Inst::<R, Fast>::assert_empty("fast run");
    assert_eq!(
        Hz3::<R, Fast>::stats(),
        Stats::default(),
        "{}: counters",
        Inst::<R, Fast>::name()
    );
}

macro_rules! stats_tests {
    ($($m:ident => $r:ty),* $(,)?) => {
        $(
            mod $m {
                #[test]
                fn stats_relations() {
                    super::stats_relations::<$r>();
                }
                #[test]
                fn fast_counts_nothing() {
                    super::fast_counts_nothing::<$r>();
                }
            }
        )*
    };
}

stats_tests!(
    a => hz3_alloc::strategy::OwnerStash,
    b => hz3_alloc::strategy::PageQueuePop,
    c => hz3_alloc::strategy::DrainAll,
    d => hz3_alloc::strategy::Packets,
    c_packed => hz3_alloc::strategy::DrainAllPacked,
    e => hz3_alloc::strategy::CadenceCollect,
    e_batch => hz3_alloc::strategy::BatchedCadence,
    a_batch => hz3_alloc::strategy::BatchedStash,
    a_cache => hz3_alloc::strategy::CachedStash,
);
