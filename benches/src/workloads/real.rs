//! The shapes of classic allocator benchmark programs, where hz3 trailed the best
//! peer when they were run under `LD_PRELOAD`: large live sets, sizes up to 16 KiB, batches
//! handed between threads, bulk LIFO/FIFO frees, slots inherited by a successor thread, and
//! heavy-tailed sizes. The names are ours; the shapes follow the programs:
//!
//! | workload | program shape |
//! |---|---|
//! | `batch-handoff` | rpmalloc's rptest as mimalloc-bench runs it (`rptest T 0 1 2 500 1000 100 8 16000`) |
//! | `lifo-fifo` | sh6bench (2 × T threads, blocks allocated in bulk, freed half LIFO, half FIFO) |
//! | `server` | larson as mimalloc-bench runs it (`larson 5 8 1000 5000 100 4141 T`) |
//! | `pareto` | random replacement with Pareto-distributed sizes up to 1 KiB, memory written |
//!
//! (xmalloc-test, the producer→consumer shape, is `xmalloc-classic`.) Every object goes through
//! `alloc_obj` / `free_obj`, so in `bench-system` (and the preload rows) every allocation and
//! free is a C `malloc` / `free`.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use crate::rng::XorShift64;
use crate::workloads::{
    alloc_obj, fill_obj, free_obj, larson_shaped, start_and_time, Budget, LarsonShape, Outcome,
    Params, SendPtr,
};

#[repr(align(128))]
struct Padded<T>(T);

/// Writes the last byte of `o` and one byte in every 4 KiB page after the first (what rptest
/// does to commit the pages of the blocks it measures); the first word already holds the size.
///
/// # Safety
/// `o` must be a live object of `size >= 8` bytes.
#[inline(always)]
unsafe fn touch_pages(o: *mut u8, size: usize) {
    let mut off = 4096;
    while off < size {
        // SAFETY: `off < size`, inside the object and past the first word.
        unsafe { o.add(off).write(1) };
        off += 4096;
    }
    if size > 8 {
        // SAFETY: the last byte is in bounds and past the first word.
        unsafe { o.add(size - 1).write(1) };
    }
}

// ------------------------------------------------------------------------------------------
// batch-handoff: rptest. T threads, 1000 slots each, sizes 8 B–16 KiB with a linear drop-off,
// every 2nd loop a batch of fresh blocks handed to the next thread through a CAS inbox.
// ------------------------------------------------------------------------------------------

/// Live slots per batch-handoff thread.
pub const BATCH_HANDOFF_SLOTS: usize = 1000;
pub const BATCH_HANDOFF_MIN: usize = 8;
pub const BATCH_HANDOFF_MAX: usize = 16 * 1024;
/// Every this many loops a thread hands a batch to the next thread (rptest's cross rate).
pub const BATCH_HANDOFF_CROSS_RATE: u64 = 2;
/// Frees and allocations per loop are each drawn uniformly from this range (rptest's tables hold
/// 30..=99).
pub const BATCH_HANDOFF_OPS_MIN: usize = 30;
pub const BATCH_HANDOFF_OPS_MAX: usize = 99;
/// Slot strides of the free and the allocation cursors (coprime with the slot count, so each
/// visits every slot; rptest picks its strides from a table of primes).
const FREE_STRIDE: usize = 13;
const ALLOC_STRIDE: usize = 7;
/// Batches a thread may have in its successor's inbox, not yet freed; a hand-off beyond that is
/// skipped (counted in `handoffs_skipped`) so that a receiver the host stalls for a few
/// milliseconds does not grow the live set without bound. rptest has no such limit; with equal
/// threads on their own cores it is never reached.
pub const BATCH_HANDOFF_MAX_IN_FLIGHT: u64 = 64;
/// Header words of a batch block: the size (every object's first word), the link to the next
/// batch in the inbox, the object count; the object pointers follow.
const BATCH_HEADER_WORDS: usize = 3;

/// A size in 8..=16384 with a linear drop-off (density falling linearly to zero at the top):
/// the smaller of two uniform draws.
#[inline(always)]
pub fn linear_dropoff_size(rng: &mut XorShift64) -> usize {
    let a = rng.range_inclusive(BATCH_HANDOFF_MIN, BATCH_HANDOFF_MAX);
    let b = rng.range_inclusive(BATCH_HANDOFF_MIN, BATCH_HANDOFF_MAX);
    a.min(b)
}

#[inline(always)]
fn handoff_alloc(rng: &mut XorShift64) -> *mut u8 {
    let size = linear_dropoff_size(rng);
    let o = alloc_obj(size);
    // SAFETY: `o` is live with `size` bytes.
    unsafe { touch_pages(o, size) };
    o
}

/// One thread's inbox: a Treiber stack of batches pushed by its predecessor with CAS and taken
/// whole with one swap (so no ABA), and how many batches its owner has freed.
struct Inbox {
    head: Padded<AtomicPtr<u8>>,
    consumed: Padded<AtomicU64>,
}

/// Frees every batch of a taken inbox list (the objects, then the batch block). Returns
/// (objects freed, batches freed).
///
/// # Safety
/// `b` must be null or the head of a list of live batches, each holding live objects.
unsafe fn free_batches(mut b: *mut u8) -> (u64, u64) {
    let (mut objects, mut batches) = (0u64, 0u64);
    while !b.is_null() {
        // SAFETY: per the contract, `b` is a live batch with its header and `count` pointers.
        unsafe {
            let words = b.cast::<usize>();
            let next = words.add(1).read() as *mut u8;
            let count = words.add(2).read();
            for k in 0..count {
                free_obj(words.add(BATCH_HEADER_WORDS + k).read() as *mut u8);
            }
            free_obj(b);
            objects += count as u64;
            batches += 1;
            b = next;
        }
    }
    (objects, batches)
}

#[derive(Default, Clone, Copy)]
struct HandoffCounts {
    allocs: u64,
    frees: u64,
    handed: u64,
    batches: u64,
    skipped: u64,
}

/// batch-handoff (rptest): T threads, each with 1000 slots filled before the clock. Each loop a
/// thread (1) takes its inbox, (2) frees 30..=99 slots stepping a cursor through them, (3) frees
/// every object of every batch it received and the batch blocks (remote frees), (4) allocates
/// 30..=99 blocks into slots (freeing an occupant first), and (5) every 2nd loop allocates a batch
/// block and as many fresh blocks as step (4) did and pushes the batch onto the next thread's
/// inbox with a CAS (thread T−1 hands to thread 0; a single thread hands to itself). Sizes follow
/// [`linear_dropoff_size`]; every block's first word, last byte and one byte per 4 KiB page are
/// written. Metric: ops/s, ops = allocations + frees (batch blocks included). `Budget::Iters(n)`:
/// n loops per thread. Extra: `allocs`, `frees`, `handed` (objects handed over), `batches`,
/// `handoffs_skipped` (see [`BATCH_HANDOFF_MAX_IN_FLIGHT`]).
pub fn batch_handoff(p: &Params) -> Outcome {
    let t = p.threads;
    let inboxes: Arc<Vec<Inbox>> = Arc::new(
        (0..t)
            .map(|_| Inbox {
                head: Padded(AtomicPtr::new(core::ptr::null_mut())),
                consumed: Padded(AtomicU64::new(0)),
            })
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (inboxes, stop, barrier) = (inboxes.clone(), stop.clone(), barrier.clone());
        let (budget, seed) = (p.budget, p.seed);
        handles.push(std::thread::spawn(move || {
            let mut rng = XorShift64::for_thread(seed, i);
            let mut slots: Vec<SendPtr> = (0..BATCH_HANDOFF_SLOTS)
                .map(|_| SendPtr(handoff_alloc(&mut rng)))
                .collect();
            let me = &inboxes[i];
            let next = &inboxes[(i + 1) % t];
            let max_loops = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            let (mut free_idx, mut alloc_idx) = (0usize, 0usize);
            let mut c = HandoffCounts::default();
            barrier.wait();
            let mut lp = 0u64;
            while lp < max_loops {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let received = me.head.0.swap(core::ptr::null_mut(), Ordering::Acquire);
                let nfree = rng.range_inclusive(BATCH_HANDOFF_OPS_MIN, BATCH_HANDOFF_OPS_MAX);
                for _ in 0..nfree {
                    let s = &mut slots[free_idx];
                    if !s.0.is_null() {
                        // SAFETY: non-null slots hold live objects of this thread.
                        unsafe { free_obj(s.0) };
                        s.0 = core::ptr::null_mut();
                        c.frees += 1;
                    }
                    free_idx = (free_idx + FREE_STRIDE) % BATCH_HANDOFF_SLOTS;
                }
                // SAFETY: the predecessor pushed whole, live batches; the swap made them ours.
                let (objects, batches) = unsafe { free_batches(received) };
                if batches > 0 {
                    c.frees += objects + batches;
                    me.consumed.0.fetch_add(batches, Ordering::Release);
                }
                let nalloc = rng.range_inclusive(BATCH_HANDOFF_OPS_MIN, BATCH_HANDOFF_OPS_MAX);
                for _ in 0..nalloc {
                    let s = &mut slots[alloc_idx];
                    if !s.0.is_null() {
                        // SAFETY: as above.
                        unsafe { free_obj(s.0) };
                        c.frees += 1;
                    }
                    s.0 = handoff_alloc(&mut rng);
                    c.allocs += 1;
                    alloc_idx = (alloc_idx + ALLOC_STRIDE) % BATCH_HANDOFF_SLOTS;
                }
                if lp % BATCH_HANDOFF_CROSS_RATE == 0 {
                    if c.batches - next.consumed.0.load(Ordering::Acquire)
                        >= BATCH_HANDOFF_MAX_IN_FLIGHT
                    {
                        c.skipped += 1;
                    } else {
                        let b = alloc_obj(8 * (BATCH_HEADER_WORDS + nalloc));
                        // SAFETY: `b` has room for the header and `nalloc` pointers.
                        unsafe {
                            let words = b.cast::<usize>();
                            words.add(2).write(nalloc);
                            for k in 0..nalloc {
                                words
                                    .add(BATCH_HEADER_WORDS + k)
                                    .write(handoff_alloc(&mut rng) as usize);
                            }
                        }
                        c.allocs += nalloc as u64 + 1;
                        c.handed += nalloc as u64;
                        c.batches += 1;
                        let mut head = next.head.0.load(Ordering::Relaxed);
                        loop {
                            // SAFETY: `b` is ours until the CAS publishes it.
                            unsafe { b.cast::<usize>().add(1).write(head as usize) };
                            match next.head.0.compare_exchange_weak(
                                head,
                                b,
                                Ordering::Release,
                                Ordering::Relaxed,
                            ) {
                                Ok(_) => break,
                                Err(h) => head = h,
                            }
                        }
                    }
                }
                lp += 1;
            }
            let end = Instant::now();
            // Untimed clean-up of the slots (local frees).
            for s in slots.iter().filter(|s| !s.0.is_null()) {
                // SAFETY: non-null slots hold live objects of this thread.
                unsafe { free_obj(s.0) };
            }
            (c, end)
        }));
    }
    let start = start_and_time(&barrier, p.budget, &stop);
    let results: Vec<(HandoffCounts, Instant)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or(start) - start;
    // Untimed: batches pushed after their receiver stopped.
    for inbox in inboxes.iter() {
        // SAFETY: every thread has exited; what is left in an inbox is whole, live batches.
        unsafe { free_batches(inbox.head.0.swap(core::ptr::null_mut(), Ordering::Acquire)) };
    }
    let mut total = HandoffCounts::default();
    for (c, _) in &results {
        total.allocs += c.allocs;
        total.frees += c.frees;
        total.handed += c.handed;
        total.batches += c.batches;
        total.skipped += c.skipped;
    }
    let mut out = Outcome::rate(total.allocs + total.frees, elapsed);
    out.extra = vec![
        ("allocs", total.allocs as f64),
        ("frees", total.frees as f64),
        ("handed", total.handed as f64),
        ("batches", total.batches as f64),
        ("handoffs_skipped", total.skipped as f64),
    ];
    out
}

// ------------------------------------------------------------------------------------------
// lifo-fifo: sh6bench. 2T threads allocate 64–400 B blocks in bulk and free them half LIFO,
// half FIFO; every free is local.
// ------------------------------------------------------------------------------------------

/// Blocks one lifo-fifo round allocates in bulk.
pub const LIFO_FIFO_BULK: usize = 1000;
pub const LIFO_FIFO_MIN: usize = 64;
pub const LIFO_FIFO_MAX: usize = 400;

/// lifo-fifo: `2 × threads` threads (4 on 2 cores: more threads than cores, as sh6bench is run).
/// Each round a thread allocates 1000 blocks of a uniform size in 64..=400 B (writing the first
/// word and the last byte of each), then frees the odd-numbered half newest first (LIFO) and the
/// even-numbered half oldest first (FIFO: allocation order), reading each block's last byte before
/// its free. No object crosses threads. Metric: pairs/s, counted at the free. `Budget::Iters(n)`:
/// n rounds per thread. Extra: `threads`, `rounds`.
pub fn lifo_fifo(p: &Params) -> Outcome {
    let t = 2 * p.threads;
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (stop, barrier) = (stop.clone(), barrier.clone());
        let (budget, seed) = (p.budget, p.seed);
        handles.push(std::thread::spawn(move || {
            let mut rng = XorShift64::for_thread(seed, i);
            let mut bulk: Vec<SendPtr> = vec![SendPtr(core::ptr::null_mut()); LIFO_FIFO_BULK];
            let max_rounds = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            let mut check = 0u8;
            barrier.wait();
            let mut rounds = 0u64;
            while rounds < max_rounds && !stop.load(Ordering::Relaxed) {
                for s in bulk.iter_mut() {
                    let size = rng.range_inclusive(LIFO_FIFO_MIN, LIFO_FIFO_MAX);
                    let o = alloc_obj(size);
                    // SAFETY: `o` is live with `size > 8` bytes.
                    unsafe { o.add(size - 1).write(size as u8) };
                    s.0 = o;
                }
                let mut free = |o: *mut u8| {
                    // SAFETY: `o` is a live block of this round, freed once; its first word holds
                    // the size, so its last byte is in bounds.
                    unsafe {
                        let size = o.cast::<u64>().read() as usize;
                        check ^= o.add(size - 1).read();
                        free_obj(o);
                    }
                };
                for k in (1..LIFO_FIFO_BULK).step_by(2).rev() {
                    free(bulk[k].0);
                }
                for k in (0..LIFO_FIFO_BULK).step_by(2) {
                    free(bulk[k].0);
                }
                rounds += 1;
            }
            let end = Instant::now();
            std::hint::black_box(check);
            (rounds, end)
        }));
    }
    let start = start_and_time(&barrier, p.budget, &stop);
    let results: Vec<(u64, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or(start) - start;
    let rounds: u64 = results.iter().map(|r| r.0).sum();
    let mut out = Outcome::rate(rounds * LIFO_FIFO_BULK as u64, elapsed);
    out.extra = vec![("threads", t as f64), ("rounds", rounds as f64)];
    out
}

// ------------------------------------------------------------------------------------------
// server: larson as mimalloc-bench runs it.
// ------------------------------------------------------------------------------------------

/// `larson 5 8 1000 5000 100 4141 T`: 5000 slots per thread, sizes 8..=1000 B, 100 × 5000
/// replacements per thread generation (the stop flag read every 1024).
pub const SERVER_SHAPE: LarsonShape = LarsonShape {
    slots: 5000,
    min_size: 8,
    max_size: 1000,
    replacements_per_generation: 100 * 5000,
    stop_check_every: 1024,
};

/// server: larson's shape (see [`crate::workloads::larson`]) with [`SERVER_SHAPE`]: T lanes of
/// 5000 slots filled (untimed) by the main thread; each thread generation replaces random slots
/// (free, then allocate a uniform size in 8..=1000) until it has made 500 000 replacements or the
/// clock runs out, then spawns its successor, which inherits the slots, and exits. Metric: ops/s,
/// 2 per replacement. `Budget::Iters(n)`: n generations per lane. Extra: `generations`.
pub fn server(p: &Params) -> Outcome {
    larson_shaped(p, SERVER_SHAPE)
}

// ------------------------------------------------------------------------------------------
// pareto: random replacement with Pareto sizes up to 1 KiB, every byte written.
// ------------------------------------------------------------------------------------------

/// Live slots per pareto thread.
pub const PARETO_SLOTS: usize = 1024;
/// Scale (smallest size) and cut-off of the Pareto distribution (shape α = 1).
pub const PARETO_MIN: usize = 8;
pub const PARETO_MAX: usize = 1024;

/// A size from a Pareto distribution of shape α = 1 and scale 8 B truncated at 1 KiB:
/// P(size ≤ x) ∝ 1 − 8/x on 8..=1024 (median about 16 B, mean about 39 B, one in 10 above 70 B),
/// by inverting the truncated CDF: x = 8 / (1 − u (1 − 8/1024)).
#[inline(always)]
pub fn pareto_size(rng: &mut XorShift64) -> usize {
    let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    let tail = 1.0 - PARETO_MIN as f64 / PARETO_MAX as f64;
    let x = PARETO_MIN as f64 / (1.0 - u * tail);
    (x as usize).clamp(PARETO_MIN, PARETO_MAX)
}

/// Allocates a Pareto-sized block and writes every byte of it.
#[inline(always)]
fn pareto_alloc(rng: &mut XorShift64, fill: u8) -> SendPtr {
    let size = pareto_size(rng);
    let o = alloc_obj(size);
    // SAFETY: `o` is live with `size >= 8` bytes (the first word holds the size).
    unsafe { fill_obj(o, 8, size - 8, fill) };
    SendPtr(o)
}

/// pareto: T threads (1 or 2 in the program it follows), each with 1024 slots filled before the
/// clock. Each step picks a random slot, frees its block and allocates a new one of a
/// [`pareto_size`], writing every byte (`memset`). All frees are local. Metric: ops/s, 2 per step.
/// `Budget::Iters(n)`: n steps per thread. Extra: `threads`.
pub fn pareto(p: &Params) -> Outcome {
    let t = p.threads;
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (stop, barrier) = (stop.clone(), barrier.clone());
        let (budget, seed) = (p.budget, p.seed);
        handles.push(std::thread::spawn(move || {
            let mut rng = XorShift64::for_thread(seed, i);
            let mut slots: Vec<SendPtr> = (0..PARETO_SLOTS)
                .map(|k| pareto_alloc(&mut rng, k as u8))
                .collect();
            let max_steps = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            barrier.wait();
            let mut steps = 0u64;
            while steps < max_steps {
                if steps % 256 == 0 && stop.load(Ordering::Relaxed) {
                    break;
                }
                let s = &mut slots[rng.below(PARETO_SLOTS as u32) as usize];
                // SAFETY: every slot holds a live object of this thread.
                unsafe { free_obj(s.0) };
                *s = pareto_alloc(&mut rng, steps as u8);
                steps += 1;
            }
            let end = Instant::now();
            for s in &slots {
                // SAFETY: as above (untimed clean-up).
                unsafe { free_obj(s.0) };
            }
            (2 * steps, end)
        }));
    }
    let start = start_and_time(&barrier, p.budget, &stop);
    let results: Vec<(u64, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or(start) - start;
    let mut out = Outcome::rate(results.iter().map(|r| r.0).sum(), elapsed);
    out.extra = vec![("threads", t as f64)];
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_dropoff_falls_linearly() {
        let mut rng = XorShift64::new(5);
        let n = 200_000;
        let mut quarters = [0u32; 4];
        for _ in 0..n {
            let s = linear_dropoff_size(&mut rng);
            assert!((BATCH_HANDOFF_MIN..=BATCH_HANDOFF_MAX).contains(&s));
            quarters[(s - BATCH_HANDOFF_MIN) * 4 / (BATCH_HANDOFF_MAX - BATCH_HANDOFF_MIN + 1)] +=
                1;
        }
        // Density 2(1 − x): the quarters hold 7/16, 5/16, 3/16, 1/16.
        for (q, want) in quarters.iter().zip([7.0, 5.0, 3.0, 1.0]) {
            let got = *q as f64 / n as f64 * 16.0;
            assert!((got - want).abs() < 0.1, "{quarters:?}");
        }
    }

    #[test]
    fn pareto_sizes_are_heavy_tailed_and_bounded() {
        let mut rng = XorShift64::new(9);
        let n = 200_000;
        let mut sizes: Vec<usize> = (0..n).map(|_| pareto_size(&mut rng)).collect();
        sizes.sort_unstable();
        assert_eq!(sizes[0], PARETO_MIN);
        assert!(*sizes.last().unwrap() <= PARETO_MAX && *sizes.last().unwrap() > 900);
        let median = sizes[n / 2];
        assert!((15..=17).contains(&median), "median {median}");
        let mean = sizes.iter().sum::<usize>() as f64 / n as f64;
        assert!((35.0..43.0).contains(&mean), "mean {mean}");
    }
}
