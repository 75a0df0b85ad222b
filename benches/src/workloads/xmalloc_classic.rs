//! `xmalloc-classic`: the xmalloc-test of Lever and Boreham (USENIX 2000) as mimalloc-bench runs
//! it (`xmalloc-test -w N -t T -s 64`), kept beside the matrix's `xmalloc` row rather than
//! replacing it so that the committed baseline and results stay comparable (see
//! docs/bench-matrix.md).
//!
//! What differs from `xmalloc`: the batch itself (4096 object pointers, 32 KiB plus a header) is
//! malloc'd by the producer and freed by the consumer instead of circulating from a fixed pool;
//! each object is written in full (64 B) rather than in its first word; and up to 100 batches
//! wait in one shared LIFO stack (the original pushes and pops at the head of a list) instead of 4
//! per producer in a FIFO. So 25 MiB of objects can be live, and a 32 KiB block goes from producer
//! to consumer with every 4096 small ones.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};

use crate::workloads::{
    alloc_obj, fill_obj, free_obj, start_and_time, Budget, Outcome, Params, SendPtr,
};

pub const XMALLOC_CLASSIC_OBJECT_SIZE: usize = 64;
pub const XMALLOC_CLASSIC_BATCH: usize = 4096;
/// Producers wait while this many batches are queued (the original's `batch_count_limit`).
pub const XMALLOC_CLASSIC_MAX_QUEUED: usize = 100;
/// Bytes of a batch: a header word (the size, where the original keeps its `next` link) and the
/// object pointers.
pub const XMALLOC_CLASSIC_BATCH_BYTES: usize = 8 + 8 * XMALLOC_CLASSIC_BATCH;

struct Shared {
    /// Queued batches, used as a stack (the original's list is LIFO). Capacity reserved for every
    /// batch that can be queued, so pushing never allocates.
    stack: Mutex<Vec<SendPtr>>,
    not_empty: Condvar,
    not_full: Condvar,
    stop: AtomicBool,
}

/// Object pointer `i` of batch `b`.
///
/// # Safety
/// `b` must be a live batch of [`XMALLOC_CLASSIC_BATCH_BYTES`] and `i < XMALLOC_CLASSIC_BATCH`.
#[inline(always)]
unsafe fn slot(b: *mut u8, i: usize) -> *mut *mut u8 {
    // SAFETY: per the contract, word 1 + i lies inside the batch.
    unsafe { b.cast::<*mut u8>().add(1 + i) }
}

/// Frees every object of a batch, then the batch. Returns the number of objects.
///
/// # Safety
/// `b` must be a full, live batch whose slots hold live objects.
unsafe fn free_batch(b: *mut u8) -> u64 {
    for i in 0..XMALLOC_CLASSIC_BATCH {
        // SAFETY: per the contract.
        unsafe { free_obj(slot(b, i).read()) };
    }
    // SAFETY: per the contract; the batch came from alloc_obj.
    unsafe { free_obj(b) };
    XMALLOC_CLASSIC_BATCH as u64
}

/// xmalloc-classic: N producers and N consumers. A producer mallocs a batch, mallocs 4096
/// objects of 64 B into it, writing all 64 B of each (`memset`), and pushes the batch onto the
/// shared stack (waiting while 100 batches are queued); a consumer pops a batch, frees its 4096
/// objects and then the batch. Metric: frees/s, counting the objects (not the batches). Timed
/// runs stop at the deadline and free what is still queued untimed. `Budget::Iters(n)`: n
/// batches per producer, all freed. Extra: `batches`.
pub fn xmalloc_classic(p: &Params) -> Outcome {
    let n = p.threads;
    let shared = Arc::new(Shared {
        // At the limit every producer may still push the batch it just finished.
        stack: Mutex::new(Vec::with_capacity(XMALLOC_CLASSIC_MAX_QUEUED + n)),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let barrier = Arc::new(Barrier::new(2 * n + 1));
    let producers_left = Arc::new(AtomicUsize::new(n));
    let fixed = matches!(p.budget, Budget::Iters(_));
    let mut producers = Vec::with_capacity(n);
    for _ in 0..n {
        let (s, b, left) = (shared.clone(), barrier.clone(), producers_left.clone());
        let budget = p.budget;
        producers.push(std::thread::spawn(move || {
            b.wait();
            let mut done = 0u64;
            while !s.stop.load(Ordering::Relaxed) {
                if let Budget::Iters(max) = budget {
                    if done >= max {
                        break;
                    }
                }
                let batch = alloc_obj(XMALLOC_CLASSIC_BATCH_BYTES);
                for i in 0..XMALLOC_CLASSIC_BATCH {
                    let o = alloc_obj(XMALLOC_CLASSIC_OBJECT_SIZE);
                    // SAFETY: `o` is a live 64-byte object; the first word keeps the size.
                    unsafe { fill_obj(o, 8, XMALLOC_CLASSIC_OBJECT_SIZE - 8, i as u8) };
                    // SAFETY: `batch` is live with XMALLOC_CLASSIC_BATCH slots.
                    unsafe { slot(batch, i).write(o) };
                }
                let mut g = s.stack.lock().unwrap();
                while g.len() >= XMALLOC_CLASSIC_MAX_QUEUED && !s.stop.load(Ordering::Relaxed) {
                    g = s.not_full.wait(g).unwrap();
                }
                g.push(SendPtr(batch));
                drop(g);
                s.not_empty.notify_one();
                done += 1;
            }
            if left.fetch_sub(1, Ordering::AcqRel) == 1 && fixed {
                // Last producer of a fixed-work run: consumers stop once the stack is empty.
                s.stop.store(true, Ordering::Relaxed);
                s.not_empty.notify_all();
            }
            done
        }));
    }
    let mut consumers = Vec::with_capacity(n);
    for _ in 0..n {
        let (s, b) = (shared.clone(), barrier.clone());
        consumers.push(std::thread::spawn(move || {
            b.wait();
            let mut frees = 0u64;
            loop {
                // A fixed-work run drains everything; a timed run stops at the deadline.
                if !fixed && s.stop.load(Ordering::Relaxed) {
                    break;
                }
                let batch = {
                    let mut g = s.stack.lock().unwrap();
                    loop {
                        if let Some(b) = g.pop() {
                            break Some(b);
                        }
                        if s.stop.load(Ordering::Relaxed) {
                            break None;
                        }
                        g = s.not_empty.wait(g).unwrap();
                    }
                };
                let Some(batch) = batch else { break };
                s.not_full.notify_one();
                // SAFETY: a queued batch is full and live; popped once.
                frees += unsafe { free_batch(batch.0) };
            }
            frees
        }));
    }
    let start = start_and_time(&barrier, p.budget, &shared.stop);
    // Wake everyone that waits (the stop flag is set for timed runs).
    {
        let _g = shared.stack.lock().unwrap();
        shared.not_empty.notify_all();
        shared.not_full.notify_all();
    }
    let batches: u64 = producers.into_iter().map(|h| h.join().unwrap()).sum();
    {
        let _g = shared.stack.lock().unwrap();
        shared.not_empty.notify_all();
    }
    let frees: u64 = consumers.into_iter().map(|h| h.join().unwrap()).sum();
    let elapsed = start.elapsed();
    // Untimed clean-up of batches still queued.
    for b in shared.stack.lock().unwrap().drain(..) {
        // SAFETY: queued batches are full and live.
        unsafe { free_batch(b.0) };
    }
    let mut out = Outcome::rate(frees, elapsed);
    out.extra = vec![("batches", batches as f64)];
    out
}
