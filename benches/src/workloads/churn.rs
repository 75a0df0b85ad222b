//! Multi-threaded churn at the OS boundary: medium sizes with a large live set (medium-churn),
//! short-lived threads (thread-churn), and a size class that keeps changing while memory moves
//! from a producer to a consumer (size-shift). Each needs an allocator to give memory back or
//! reuse it across threads, size classes and thread lifetimes, which is where page faults and
//! RSS grow when it does not.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::rng::XorShift64;
use crate::workloads::{alloc_obj, free_obj, start_and_time, Budget, Outcome, Params, SendPtr};

// ------------------------------------------------------------------------------------------
// medium-churn: 2T threads, each with ~1000 live objects of 8 B–168 KiB (skewed small), freed
// partly LIFO and partly FIFO.
// ------------------------------------------------------------------------------------------

/// Live objects per medium-churn thread.
pub const MEDIUM_CHURN_LIVE: usize = 1000;
/// Largest medium-churn size (168 KiB).
pub const MEDIUM_CHURN_MAX: usize = 168 * 1024;
/// Share (%) of medium-churn frees taken from the newest end (LIFO); the rest from the oldest.
pub const MEDIUM_CHURN_LIFO_PCT: u32 = 50;

/// The medium-churn size histogram: 60% 8..=256 B, 30% 257 B..=16 KiB, 10% 16 KiB+1..=168 KiB
/// (uniform within each band).
#[inline(always)]
pub fn medium_size(rng: &mut XorShift64) -> usize {
    let r = rng.below(100);
    if r < 60 {
        rng.range_inclusive(8, 256)
    } else if r < 90 {
        rng.range_inclusive(257, 16 * 1024)
    } else {
        rng.range_inclusive(16 * 1024 + 1, MEDIUM_CHURN_MAX)
    }
}

/// Allocates a medium object and writes its last byte (the first word holds the size; an 8-byte
/// object is all first word).
#[inline(always)]
fn medium_alloc(rng: &mut XorShift64) -> SendPtr {
    let size = medium_size(rng);
    let o = alloc_obj(size);
    if size > 8 {
        // SAFETY: `o` is a live object of `size` bytes and byte `size - 1 >= 8` is past the
        // first word.
        unsafe { o.add(size - 1).write(size as u8) };
    }
    SendPtr(o)
}

/// Reads the last byte back (a touch at free time, as a real program reads its data) and frees.
///
/// # Safety
/// `o` must be a live object from [`medium_alloc`].
#[inline(always)]
unsafe fn medium_free(o: SendPtr) -> u8 {
    // SAFETY: per the contract, the first word holds the size.
    let size = unsafe { o.0.cast::<u64>().read() } as usize;
    // SAFETY: the last byte is in bounds (`size >= 8`).
    let last = unsafe { o.0.add(size - 1).read() };
    // SAFETY: per the contract.
    unsafe { free_obj(o.0) };
    last
}

/// medium-churn: `2 × threads` threads. Each fills ~1000 objects (untimed), then in every step
/// frees one (the newest with probability 50%, else the oldest) and allocates one of a size from
/// [`medium_size`], writing its first word and last byte. Everything is thread-local. Metric:
/// ops/s, 2 per step (a free and an allocation). `Budget::Iters(n)`: n steps per thread.
pub fn medium_churn(p: &Params) -> Outcome {
    let t = 2 * p.threads;
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (stop, barrier) = (stop.clone(), barrier.clone());
        let (budget, seed) = (p.budget, p.seed);
        handles.push(std::thread::spawn(move || {
            let mut rng = XorShift64::for_thread(seed, i);
            // Harness: the deque never grows beyond its initial capacity (1000 live + 1).
            let mut live: VecDeque<SendPtr> = VecDeque::with_capacity(MEDIUM_CHURN_LIVE + 1);
            for _ in 0..MEDIUM_CHURN_LIVE {
                live.push_back(medium_alloc(&mut rng));
            }
            let max_steps = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            let mut check = 0u8;
            barrier.wait();
            let mut steps = 0u64;
            while steps < max_steps {
                if steps % 64 == 0 && stop.load(Ordering::Relaxed) {
                    break;
                }
                steps += 1;
                let victim = if rng.below(100) < MEDIUM_CHURN_LIFO_PCT {
                    live.pop_back()
                } else {
                    live.pop_front()
                };
                // SAFETY: the deque holds live objects from medium_alloc; each is popped once.
                check ^= unsafe { medium_free(victim.expect("the live set is never empty")) };
                live.push_back(medium_alloc(&mut rng));
            }
            let end = Instant::now();
            std::hint::black_box(check);
            for o in live {
                // SAFETY: as above (untimed clean-up).
                unsafe { medium_free(o) };
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

// ------------------------------------------------------------------------------------------
// thread-churn: generations of T threads; each allocates small blocks, frees most locally and
// hands ~15% to the next generation, then exits.
// ------------------------------------------------------------------------------------------

/// Allocations per thread per generation.
pub const THREAD_CHURN_ALLOCS: usize = 1024;
/// Local working set of a thread-churn thread (random replacement).
pub const THREAD_CHURN_LOCAL_SLOTS: usize = 64;
/// Share (%) of allocations handed to the next generation.
pub const THREAD_CHURN_HANDOFF_PCT: u32 = 15;
pub const THREAD_CHURN_MIN: usize = 16;
pub const THREAD_CHURN_MAX: usize = 2048;
/// Most generations in one timed run.
pub const THREAD_CHURN_MAX_GENERATIONS: u64 = 100_000;

/// What one lane carries from a generation to the next (all capacity reserved before the clock).
struct LaneState {
    rng: XorShift64,
    /// This generation's local working set (empty between generations).
    local: Vec<SendPtr>,
    /// Objects handed to the next generation.
    outgoing: Vec<SendPtr>,
}

/// One thread of a generation: frees what the previous generation handed it (cross-thread),
/// allocates [`THREAD_CHURN_ALLOCS`] objects, keeps a small working set and hands 15% on.
/// Returns the lane state and the number of frees it made.
fn thread_churn_body(
    mut lane: LaneState,
    incoming: Vec<SendPtr>,
) -> (LaneState, Vec<SendPtr>, u64) {
    let mut incoming = incoming;
    let mut frees = 0u64;
    for o in incoming.drain(..) {
        // SAFETY: handed-off objects are live and owned by this thread now.
        unsafe { free_obj(o.0) };
        frees += 1;
    }
    lane.local
        .resize(THREAD_CHURN_LOCAL_SLOTS, SendPtr(core::ptr::null_mut()));
    for _ in 0..THREAD_CHURN_ALLOCS {
        let o = SendPtr(alloc_obj(
            lane.rng.range_inclusive(THREAD_CHURN_MIN, THREAD_CHURN_MAX),
        ));
        if lane.rng.below(100) < THREAD_CHURN_HANDOFF_PCT
            && lane.outgoing.len() < lane.outgoing.capacity()
        {
            lane.outgoing.push(o);
            continue;
        }
        let slot = &mut lane.local[lane.rng.below(THREAD_CHURN_LOCAL_SLOTS as u32) as usize];
        if !slot.0.is_null() {
            // SAFETY: non-null local slots hold live objects of this thread.
            unsafe { free_obj(slot.0) };
            frees += 1;
        }
        *slot = o;
    }
    for s in lane.local.drain(..).filter(|s| !s.0.is_null()) {
        // SAFETY: as above.
        unsafe { free_obj(s.0) };
        frees += 1;
    }
    (lane, incoming, frees)
}

/// thread-churn: T lanes. Each generation spawns one thread per lane and joins them all; a thread
/// first frees the objects the previous generation's thread of the lane before it handed over
/// (so those frees are cross-thread, by a thread that did not exist when they were allocated),
/// then allocates 1024 objects of 16..=2048 B, frees most locally (64-slot working set, random
/// replacement, all freed before the thread exits) and hands 15% to the next generation, and
/// exits. Metric: pairs/s, counted at the free (every free ends one alloc+free pair).
/// `Budget::Iters(n)`: n generations. Extra: `generations`, `handed_off`.
pub fn thread_churn(p: &Params) -> Outcome {
    let t = p.threads;
    let max_generations = match p.budget {
        Budget::Iters(n) => n,
        Budget::Time(_) => THREAD_CHURN_MAX_GENERATIONS,
    };
    // Untimed: every buffer a generation uses, with its final capacity.
    let mut lanes: Vec<Option<LaneState>> = (0..t)
        .map(|i| {
            Some(LaneState {
                rng: XorShift64::for_thread(p.seed, i),
                local: Vec::with_capacity(THREAD_CHURN_LOCAL_SLOTS),
                outgoing: Vec::with_capacity(THREAD_CHURN_ALLOCS),
            })
        })
        .collect();
    let mut spare: Vec<Vec<SendPtr>> = (0..t)
        .map(|_| Vec::with_capacity(THREAD_CHURN_ALLOCS))
        .collect();
    let mut handles = Vec::with_capacity(t);
    let (mut pairs, mut handed, mut generations) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let deadline = match p.budget {
        Budget::Time(d) => Some(start + d),
        Budget::Iters(_) => None,
    };
    while generations < max_generations && deadline.is_none_or(|d| Instant::now() < d) {
        // Every lane's filled hand-off buffer moves to its spare place; the lane gets the empty one.
        for (lane, spare) in lanes.iter_mut().zip(spare.iter_mut()) {
            let lane = lane
                .as_mut()
                .expect("every lane is home between generations");
            core::mem::swap(&mut lane.outgoing, spare);
        }
        // Lane i frees what lane i−1 handed over in the previous generation.
        for i in 0..t {
            let lane = lanes[i]
                .take()
                .expect("every lane is home between generations");
            let incoming = core::mem::take(&mut spare[(i + t - 1) % t]);
            handles.push(
                std::thread::Builder::new()
                    .spawn(move || thread_churn_body(lane, incoming))
                    .expect("thread-churn: spawning a thread failed"),
            );
        }
        for (i, h) in handles.drain(..).enumerate() {
            let (lane, emptied, frees) = h.join().unwrap();
            handed += lane.outgoing.len() as u64;
            pairs += frees;
            spare[(i + t - 1) % t] = emptied;
            lanes[i] = Some(lane);
        }
        generations += 1;
    }
    let elapsed = start.elapsed();
    // Untimed: the last generation's hand-offs.
    for lane in lanes.iter_mut().flatten() {
        for o in lane.outgoing.drain(..) {
            // SAFETY: handed-off objects are live; freed once.
            unsafe { free_obj(o.0) };
        }
    }
    let mut out = Outcome::rate(pairs, elapsed);
    out.extra = vec![
        ("generations", generations as f64),
        ("handed_off", handed as f64),
    ];
    out
}

// ------------------------------------------------------------------------------------------
// size-shift: a producer hands rounds of 16 MiB of one size to a consumer, which frees them; the
// size grows from round to round.
// ------------------------------------------------------------------------------------------

/// Bytes of objects one size-shift round allocates.
pub const SIZE_SHIFT_ROUND_BYTES: usize = 16 << 20;
/// Rounds in one size cycle (16, 32, 48, 64, then ×5/4 each round, rounded down: the last is 5 481 B).
pub const SIZE_SHIFT_ROUNDS_PER_CYCLE: usize = 24;
/// The producer reads the stop flag every this many allocations.
const SIZE_SHIFT_CHECK: usize = 4096;
/// A timed run stops at the deadline once a whole cycle is done; it stops at this many times the
/// duration even when the cycle is not (then the run is marked invalid: its peak RSS covers only
/// part of the sizes and does not compare with the others).
pub const SIZE_SHIFT_HARD_STOP_FACTOR: u32 = 5;
/// Most rounds in one timed run.
pub const SIZE_SHIFT_MAX_ROUNDS: u64 = 100_000;

/// The object size of round `r` (rounds repeat every [`SIZE_SHIFT_ROUNDS_PER_CYCLE`]).
pub fn size_shift_size(r: u64) -> usize {
    let k = (r % SIZE_SHIFT_ROUNDS_PER_CYCLE as u64) as usize;
    if k < 4 {
        return 16 * (k + 1);
    }
    let mut s = 64usize;
    for _ in 3..k {
        s = s * 5 / 4;
    }
    s
}

/// A round's objects as an intrusive list: each object's second word links to the next, so the
/// hand-off needs no harness memory at all.
#[derive(Clone, Copy)]
struct RoundList {
    head: SendPtr,
}

#[derive(Default)]
struct ShiftState {
    /// A handed round waiting for the consumer (at most one).
    pending: Option<RoundList>,
    /// Rounds handed over / rounds the consumer finished freeing.
    handed: u64,
    freed: u64,
    producer_done: bool,
}

struct ShiftShared {
    state: Mutex<ShiftState>,
    cv: Condvar,
    stop: AtomicBool,
}

/// Frees a round list; returns how many objects it freed.
///
/// # Safety
/// Every object of the list must be live, from alloc_obj, with its successor in the second word.
unsafe fn free_round(list: RoundList) -> u64 {
    let mut p = list.head.0;
    let mut n = 0u64;
    while !p.is_null() {
        // SAFETY: per the contract, `p` is live and at least 16 bytes (sizes start at 16).
        let next = unsafe { p.cast::<*mut u8>().add(1).read() };
        // SAFETY: per the contract; freed once.
        unsafe { free_obj(p) };
        n += 1;
        p = next;
    }
    n
}

/// size-shift: one producer thread allocates a round of 16 MiB of objects of one size (each
/// object's first word holds its size, the second links the round's list) and hands the round to
/// one consumer thread, which frees all of it (every free is remote). The producer fills the next
/// round while the consumer frees the previous one and hands it over only once that one is freed,
/// so at most two rounds (32 MiB) are live. Sizes follow [`size_shift_size`]: 16, 32, 48, 64,
/// then ×5/4 per round for 24 rounds, and the cycle repeats. What matters besides the rate is
/// peak RSS: an allocator that reuses the freed memory for the next size stays near two rounds;
/// one that keeps each size's memory grows by up to a round per size. A timed run always finishes
/// the first cycle (so every allocator's peak RSS covers the same sizes), unless that takes
/// [`SIZE_SHIFT_HARD_STOP_FACTOR`] × the duration: then the run is invalid. Metric: frees/s.
/// `Budget::Iters(n)`: n rounds. Extra: `rounds` (finished or cut), `max_size`.
pub fn size_shift(p: &Params) -> Outcome {
    let shared = Arc::new(ShiftShared {
        state: Mutex::new(ShiftState::default()),
        cv: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let barrier = Arc::new(Barrier::new(3));
    let max_rounds = match p.budget {
        Budget::Iters(n) => n,
        Budget::Time(_) => SIZE_SHIFT_MAX_ROUNDS,
    };
    let producer = {
        let (s, b) = (shared.clone(), barrier.clone());
        std::thread::spawn(move || {
            b.wait();
            let mut rounds = 0u64;
            let mut cut = false;
            while rounds < max_rounds && !cut && !s.stop.load(Ordering::Relaxed) {
                let size = size_shift_size(rounds);
                let count = SIZE_SHIFT_ROUND_BYTES / size;
                let mut head: *mut u8 = core::ptr::null_mut();
                for k in 0..count {
                    if k % SIZE_SHIFT_CHECK == 0 && s.stop.load(Ordering::Relaxed) {
                        cut = true;
                        break;
                    }
                    let o = alloc_obj(size);
                    // SAFETY: `o` is live with `size >= 16` bytes: the second word is in bounds.
                    unsafe { o.cast::<*mut u8>().add(1).write(head) };
                    head = o;
                }
                let mut g = s.state.lock().unwrap();
                // Hand over only once the consumer has freed every earlier round.
                while g.freed < g.handed || g.pending.is_some() {
                    g = s.cv.wait(g).unwrap();
                }
                g.pending = Some(RoundList {
                    head: SendPtr(head),
                });
                g.handed += 1;
                drop(g);
                s.cv.notify_all();
                rounds += 1;
            }
            let mut g = s.state.lock().unwrap();
            g.producer_done = true;
            drop(g);
            s.cv.notify_all();
            (rounds, cut)
        })
    };
    let consumer = {
        let (s, b) = (shared.clone(), barrier.clone());
        std::thread::spawn(move || {
            b.wait();
            let mut frees = 0u64;
            loop {
                let list = {
                    let mut g = s.state.lock().unwrap();
                    loop {
                        if let Some(l) = g.pending.take() {
                            break Some(l);
                        }
                        if g.producer_done {
                            break None;
                        }
                        g = s.cv.wait(g).unwrap();
                    }
                };
                let Some(list) = list else { break };
                // SAFETY: the producer built the list from live objects and handed it over once.
                frees += unsafe { free_round(list) };
                s.state.lock().unwrap().freed += 1;
                s.cv.notify_all();
            }
            (frees, Instant::now())
        })
    };
    barrier.wait();
    let start = Instant::now();
    let mut valid = true;
    if let Budget::Time(d) = p.budget {
        // Stop at the deadline once the first cycle is handed over; at the hard stop regardless.
        std::thread::sleep(d);
        let hard = start + d * SIZE_SHIFT_HARD_STOP_FACTOR;
        loop {
            let (handed, done) = {
                let g = shared.state.lock().unwrap();
                (g.handed, g.producer_done)
            };
            if handed >= SIZE_SHIFT_ROUNDS_PER_CYCLE as u64 || done {
                break;
            }
            if Instant::now() >= hard {
                valid = false;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        shared.stop.store(true, Ordering::Relaxed);
    }
    let (rounds, _) = producer.join().unwrap();
    let (frees, end) = consumer.join().unwrap();
    let elapsed = end - start;
    let max_size = (0..rounds.min(SIZE_SHIFT_ROUNDS_PER_CYCLE as u64))
        .map(size_shift_size)
        .max()
        .unwrap_or(0);
    let mut out = Outcome::rate(frees, elapsed);
    out.valid = valid;
    out.extra = vec![("rounds", rounds as f64), ("max_size", max_size as f64)];
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_shift_sizes() {
        let sizes: Vec<usize> = (0..SIZE_SHIFT_ROUNDS_PER_CYCLE as u64)
            .map(size_shift_size)
            .collect();
        assert_eq!(&sizes[..7], &[16, 32, 48, 64, 80, 100, 125]);
        assert_eq!(*sizes.last().unwrap(), 5481);
        assert!(sizes.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            size_shift_size(SIZE_SHIFT_ROUNDS_PER_CYCLE as u64),
            16,
            "the cycle repeats"
        );
    }

    #[test]
    fn medium_sizes_follow_the_histogram() {
        let mut rng = XorShift64::new(3);
        let n = 100_000;
        let (mut small, mut mid, mut big) = (0, 0, 0);
        for _ in 0..n {
            match medium_size(&mut rng) {
                8..=256 => small += 1,
                257..=16384 => mid += 1,
                16385..=MEDIUM_CHURN_MAX => big += 1,
                s => panic!("size {s} out of range"),
            }
        }
        let pct = |c: i32| c as f64 / n as f64 * 100.0;
        assert!(
            (pct(small) - 60.0).abs() < 1.0
                && (pct(mid) - 30.0).abs() < 1.0
                && (pct(big) - 10.0).abs() < 1.0
        );
    }
}
