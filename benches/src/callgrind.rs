//! Deterministic workloads for the callgrind gate (`cargo xtask callgrind-gate`).
//!
//! Every allocation and free goes through one of two never-inlined functions with fixed symbol
//! names, [`hz3_bench_probe_alloc`] and [`hz3_bench_probe_dealloc`]. The gate runs
//! `valgrind --tool=callgrind --toggle-collect=<probe>` so that only instructions executed inside
//! the allocator (plus a call and a return) are counted, and runs each workload at two sizes so
//! that one-time costs (first touch of a thread cache, carving the first pages) cancel out:
//! instructions per operation = (I(2n) − I(n)) / n.

use std::alloc::Layout;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crate::params::{Budget, Outcome, Params};

/// Size of every object in the callgrind workloads.
pub const CG_OBJECT_SIZE: usize = 64;
/// Objects per lockstep hand-off in `cg-remote`.
pub const CG_REMOTE_BATCH: usize = 1024;

const CG_LAYOUT: Layout = match Layout::from_size_align(CG_OBJECT_SIZE, 8) {
    Ok(l) => l,
    Err(_) => panic!("bad layout"),
};

/// Allocation probe: the global allocator's `alloc`, behind a symbol callgrind can toggle on.
#[no_mangle]
#[inline(never)]
pub extern "Rust" fn hz3_bench_probe_alloc(layout: Layout) -> *mut u8 {
    // SAFETY: callers pass non-zero-sized layouts.
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    p
}

/// Free probe: the global allocator's `dealloc`, behind a symbol callgrind can toggle on.
///
/// # Safety
/// `p` must have been returned by [`hz3_bench_probe_alloc`] with the same `layout`.
#[no_mangle]
#[inline(never)]
pub unsafe extern "Rust" fn hz3_bench_probe_dealloc(p: *mut u8, layout: Layout) {
    // SAFETY: per the contract.
    unsafe { std::alloc::dealloc(p, layout) }
}

fn iters_of(budget: Budget) -> u64 {
    match budget {
        Budget::Iters(n) => n,
        // The callgrind workloads are meant for fixed work; a duration is honoured roughly.
        Budget::Time(d) => (d.as_millis() as u64).max(1) * 10_000,
    }
}

/// `n` local pairs: allocate 64 bytes, write it, free it.
pub fn cg_local(p: &Params) -> Outcome {
    let n = iters_of(p.budget);
    let start = Instant::now();
    for i in 0..n {
        let o = hz3_bench_probe_alloc(CG_LAYOUT);
        // SAFETY: `o` is valid for 64 bytes.
        unsafe { o.cast::<u64>().write(i) };
        // SAFETY: `o` came from the alloc probe with CG_LAYOUT.
        unsafe { hz3_bench_probe_dealloc(std::hint::black_box(o), CG_LAYOUT) };
    }
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    Outcome {
        value: n as f64 / secs,
        ops: n,
        elapsed,
        valid: true,
        extra: Vec::new(),
    }
}

struct Handoff {
    /// (batch, filled by the producer and not yet freed)
    state: Mutex<(Vec<usize>, bool)>,
    cv: Condvar,
}

/// Remote frees in lockstep: a producer thread allocates a batch of 1024 objects, hands it to
/// the consumer (the calling thread), and waits until the consumer has freed all of them before
/// allocating the next batch. Every free is remote; every allocation after the first batch can
/// reuse memory that came back through the allocator's remote path. `Budget::Iters(n)`: n
/// objects, rounded up to whole batches.
pub fn cg_remote(p: &Params) -> Outcome {
    let n = iters_of(p.budget);
    let batches = n.div_ceil(CG_REMOTE_BATCH as u64).max(1);
    let shared = Arc::new(Handoff {
        state: Mutex::new((Vec::with_capacity(CG_REMOTE_BATCH), false)),
        cv: Condvar::new(),
    });
    let start = Instant::now();
    let producer = {
        let s = shared.clone();
        std::thread::spawn(move || {
            let mut local: Vec<usize> = Vec::with_capacity(CG_REMOTE_BATCH);
            for _ in 0..batches {
                // Wait until the consumer has freed the previous batch, so that allocations and
                // remote frees never overlap (the run is the same under any schedule).
                {
                    let mut g = s.state.lock().unwrap();
                    while g.1 {
                        g = s.cv.wait(g).unwrap();
                    }
                }
                for i in 0..CG_REMOTE_BATCH {
                    let o = hz3_bench_probe_alloc(CG_LAYOUT);
                    // SAFETY: valid for 64 bytes.
                    unsafe { o.cast::<u64>().write(i as u64) };
                    local.push(o as usize);
                }
                let mut g = s.state.lock().unwrap();
                core::mem::swap(&mut g.0, &mut local);
                g.1 = true;
                s.cv.notify_all();
            }
        })
    };
    let mut freed = 0u64;
    let mut mine: Vec<usize> = Vec::with_capacity(CG_REMOTE_BATCH);
    for _ in 0..batches {
        {
            let mut g = shared.state.lock().unwrap();
            while !g.1 {
                g = shared.cv.wait(g).unwrap();
            }
            core::mem::swap(&mut g.0, &mut mine);
        }
        for &o in &mine {
            // SAFETY: allocated by the producer with CG_LAYOUT, freed exactly once here.
            unsafe { hz3_bench_probe_dealloc(o as *mut u8, CG_LAYOUT) };
        }
        freed += mine.len() as u64;
        mine.clear();
        // Release the producer only after every object of the batch is freed (lockstep).
        let mut g = shared.state.lock().unwrap();
        g.1 = false;
        shared.cv.notify_all();
    }
    producer.join().unwrap();
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    Outcome {
        value: freed as f64 / secs,
        ops: freed,
        elapsed,
        valid: true,
        extra: Vec::new(),
    }
}
