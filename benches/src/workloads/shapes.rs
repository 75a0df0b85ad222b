//! Shapes where the strongest peers led hz3, as programs run them, that no other row models:
//!
//! | workload | program shape |
//! |---|---|
//! | `histogram-ring` | 2 × T threads; sizes cycled through a fixed histogram (8 B … 168 KiB) into a ring of 128 Ki pointers per thread; every wrap frees the bottom half in allocation order and the top half newest first; a stream of blocks goes to the next thread, freed there in bursts of 100 (sh8bench) |
//! | `false-sharing` | one thread allocates a small object for each worker; each worker frees it, allocates its own of the same size and writes it over and over (cache-scratch) |
//! | `random-slots` | one thread, 256 Ki slots replaced at random positions, sizes up to 1 KiB from a geometric size-class distribution, every byte written and read back (alloc-test) |
//! | `bursts` | one thread, bursts of 25 / 100 / 400 / 1600 blocks of one size (16, 32, 64 B), every byte written, half freed in allocation order and half newest first; then the same in a fresh thread (glibc's bench-malloc-simple) |
//! | `word-count` | counting words: `to_lowercase()` keys of a `HashMap<String, u32>`, most dropped at once because the key exists |
//! | `par-strings` | T workers build `format!`ed strings in parallel, sort them in parallel, fold them into `HashMap<String, Vec<String>>` groups and reduce the maps (one worker frees what the other allocated); the caller drops the result |
//!
//! The first four go through `alloc_obj` / `free_obj` (`std::alloc`, so C `malloc` / `free` in
//! `bench-system` and the preload rows); the last two use `String`, `Vec` and `HashMap` as a Rust
//! program does, which is `std::alloc` too. The producer→consumer, batch hand-off, thread
//! re-creation and bulk LIFO shapes of the same survey are the existing `xmalloc-classic`,
//! `batch-handoff`, `thread-churn` and `lifo-fifo` rows (see docs/bench-matrix.md).
//!
//! `par-strings` runs on a pool of plain std threads, started before the clock and kept for the
//! whole run (as rayon's pool is), synchronised by barriers between the phases that rayon's
//! `par_iter`, `par_sort_unstable` and `fold`/`reduce` would run.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use crate::rng::XorShift64;
use crate::workloads::{
    alloc_obj, bounded_loop, fill_obj, free_obj, start_and_time, Budget, Outcome, Params, SendPtr,
};

// ------------------------------------------------------------------------------------------
// histogram-ring: sh8bench.
// ------------------------------------------------------------------------------------------

/// The size histogram, `(size, count)`: 7321 sizes per cycle, about 57 B on average.
pub const HISTOGRAM: &[(usize, usize)] = &[
    (8, 1000),
    (16, 5000),
    (48, 1000),
    (72, 100),
    (148, 100),
    (200, 100),
    (520, 10),
    (1024, 5),
    (4096, 3),
    (9 * 1024, 1),
    (34 * 1024, 1),
    (168 * 1024, 1),
];
/// Ring slots per thread (4 threads on 2 cores: 512 Ki pointers in all, up to ~30 MiB live;
/// the program's ~1 M scaled down so that a 400 ms run wraps every ring several times).
pub const HISTOGRAM_RING_SLOTS: usize = 1 << 17;
/// Every this many ring allocations a thread also allocates one block for the next thread.
pub const HISTOGRAM_STREAM_EVERY: u64 = 10;
/// Blocks of the cross-thread stream are handed over, and freed, in bursts of this many.
pub const HISTOGRAM_BURST: usize = 100;
/// A thread looks into its inbox every this many ring steps.
const HISTOGRAM_INBOX_CHECK: u64 = 100;
/// Pointers an inbox holds; a burst that does not fit is freed by its allocating thread
/// (counted in `stream_fallbacks`).
const HISTOGRAM_INBOX_CAP: usize = 1 << 16;

/// The histogram's sizes, each as often as it counts, in an order shuffled with a fixed seed.
pub fn histogram_sizes() -> Vec<u32> {
    let mut v: Vec<u32> = HISTOGRAM
        .iter()
        .flat_map(|&(s, n)| std::iter::repeat_n(s as u32, n))
        .collect();
    let mut rng = XorShift64::new(0x8b);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u32 + 1) as usize);
    }
    v
}

/// Allocates `size` bytes and writes the first word (the size) and the last byte.
#[inline(always)]
fn alloc_touched(size: usize) -> *mut u8 {
    let o = alloc_obj(size);
    if size > 8 {
        // SAFETY: `o` is live with `size` bytes; the last byte is past the first word.
        unsafe { o.add(size - 1).write(size as u8) };
    }
    o
}

/// Reads the last byte back and frees.
///
/// # Safety
/// `o` must be a live object from [`alloc_touched`].
#[inline(always)]
unsafe fn free_touched(o: *mut u8) -> u8 {
    // SAFETY: per the contract, the first word holds the size and the last byte is in bounds.
    let last = unsafe { o.add(o.cast::<u64>().read() as usize - 1).read() };
    // SAFETY: per the contract.
    unsafe { free_obj(o) };
    last
}

#[derive(Default, Clone, Copy)]
struct RingCounts {
    allocs: u64,
    frees: u64,
    remote_frees: u64,
    wraps: u64,
    fallbacks: u64,
}

/// histogram-ring: `2 × threads` threads (4 on 2 cores, as sh8bench is run). Each thread steps
/// through [`histogram_sizes`] (from its own offset) allocating into a ring of
/// [`HISTOGRAM_RING_SLOTS`] pointers, writing each block's first word and last byte; when the
/// ring is full it frees the bottom half in allocation order and the top half newest first
/// (reading each last byte) and starts over. Every [`HISTOGRAM_STREAM_EVERY`]th step it also
/// allocates a block of the next size for the next thread, and hands these over in bursts of
/// [`HISTOGRAM_BURST`] through that thread's inbox (a mutex-guarded array reserved before the
/// clock); every 100 steps a thread frees one waiting burst, if any. Metric: ops/s, ops =
/// allocations + frees. `Budget::Iters(n)`: n ring steps per thread. Extra: `threads`,
/// `wraps`, `remote_frees`, `stream_fallbacks`.
pub fn histogram_ring(p: &Params) -> Outcome {
    let t = 2 * p.threads;
    let sizes: Arc<Vec<u32>> = Arc::new(histogram_sizes());
    let inboxes: Arc<Vec<Mutex<Vec<SendPtr>>>> = Arc::new(
        (0..t)
            .map(|_| Mutex::new(Vec::with_capacity(HISTOGRAM_INBOX_CAP)))
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (sizes, inboxes, stop, barrier) = (
            sizes.clone(),
            inboxes.clone(),
            stop.clone(),
            barrier.clone(),
        );
        let budget = p.budget;
        handles.push(std::thread::spawn(move || {
            let mut ring: Vec<SendPtr> = vec![SendPtr(core::ptr::null_mut()); HISTOGRAM_RING_SLOTS];
            let mut burst: Vec<SendPtr> = Vec::with_capacity(HISTOGRAM_BURST);
            let mut taken = [SendPtr(core::ptr::null_mut()); HISTOGRAM_BURST];
            let next = &inboxes[(i + 1) % t];
            let me = &inboxes[i];
            let max_steps = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            let mut k = i * sizes.len() / t;
            let mut fill = 0usize;
            let mut c = RingCounts::default();
            let mut check = 0u8;
            barrier.wait();
            let mut step = 0u64;
            while step < max_steps {
                if step % 256 == 0 && stop.load(Ordering::Relaxed) {
                    break;
                }
                step += 1;
                if fill == HISTOGRAM_RING_SLOTS {
                    let half = HISTOGRAM_RING_SLOTS / 2;
                    for s in &ring[..half] {
                        // SAFETY: a full ring holds live blocks of this thread, each freed once.
                        check ^= unsafe { free_touched(s.0) };
                    }
                    for s in ring[half..].iter().rev() {
                        // SAFETY: as above.
                        check ^= unsafe { free_touched(s.0) };
                    }
                    c.frees += HISTOGRAM_RING_SLOTS as u64;
                    c.wraps += 1;
                    fill = 0;
                }
                ring[fill] = SendPtr(alloc_touched(sizes[k] as usize));
                fill += 1;
                k = if k + 1 == sizes.len() { 0 } else { k + 1 };
                c.allocs += 1;
                if step % HISTOGRAM_STREAM_EVERY == 0 {
                    burst.push(SendPtr(alloc_touched(sizes[k] as usize)));
                    c.allocs += 1;
                    if burst.len() == HISTOGRAM_BURST {
                        let mut g = next.lock().unwrap();
                        if g.len() + HISTOGRAM_BURST <= HISTOGRAM_INBOX_CAP {
                            g.extend_from_slice(&burst);
                            drop(g);
                        } else {
                            drop(g);
                            for s in &burst {
                                // SAFETY: blocks of the burst are live and ours.
                                check ^= unsafe { free_touched(s.0) };
                            }
                            c.frees += HISTOGRAM_BURST as u64;
                            c.fallbacks += 1;
                        }
                        burst.clear();
                    }
                }
                if step % HISTOGRAM_INBOX_CHECK == 0 {
                    let got = {
                        let mut g = me.lock().unwrap();
                        let n = g.len();
                        if n >= HISTOGRAM_BURST {
                            taken.copy_from_slice(&g[n - HISTOGRAM_BURST..]);
                            g.truncate(n - HISTOGRAM_BURST);
                            true
                        } else {
                            false
                        }
                    };
                    if got {
                        for s in &taken {
                            // SAFETY: the sender handed over live blocks; each is taken once.
                            check ^= unsafe { free_touched(s.0) };
                        }
                        c.frees += HISTOGRAM_BURST as u64;
                        c.remote_frees += HISTOGRAM_BURST as u64;
                    }
                }
            }
            let end = Instant::now();
            std::hint::black_box(check);
            // Untimed clean-up: the ring and an unfinished burst.
            for s in ring[..fill].iter().chain(burst.iter()) {
                // SAFETY: live blocks of this thread.
                unsafe { free_obj(s.0) };
            }
            (c, end)
        }));
    }
    let start = start_and_time(&barrier, p.budget, &stop);
    let results: Vec<(RingCounts, Instant)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or(start) - start;
    // Untimed: bursts still waiting in an inbox.
    for inbox in inboxes.iter() {
        for s in inbox.lock().unwrap().drain(..) {
            // SAFETY: every thread has exited; inboxes hold live blocks, each once.
            unsafe { free_obj(s.0) };
        }
    }
    let mut total = RingCounts::default();
    for (c, _) in &results {
        total.allocs += c.allocs;
        total.frees += c.frees;
        total.remote_frees += c.remote_frees;
        total.wraps += c.wraps;
        total.fallbacks += c.fallbacks;
    }
    let mut out = Outcome::rate(total.allocs + total.frees, elapsed);
    out.extra = vec![
        ("threads", t as f64),
        ("allocs", total.allocs as f64),
        ("frees", total.frees as f64),
        ("wraps", total.wraps as f64),
        ("remote_frees", total.remote_frees as f64),
        ("stream_fallbacks", total.fallbacks as f64),
    ];
    out
}

// ------------------------------------------------------------------------------------------
// false-sharing: cache-scratch.
// ------------------------------------------------------------------------------------------

/// Alloc/write/free cycles a worker makes per round.
pub const FALSE_SHARING_CYCLES: u64 = 100;
/// Passes over the whole object per cycle (each pass writes every byte and reads it back).
pub const FALSE_SHARING_PASSES: u64 = 200;

/// The object size of round `r`: 8, 16, …, 64 B, then again.
pub fn false_sharing_size(r: u64) -> usize {
    8 * (1 + (r % 8) as usize)
}

/// Writes every byte of `o` (the first word with the size it already holds) and reads each back.
///
/// # Safety
/// `o` must be a live object from `alloc_obj` of `size >= 8` bytes.
#[inline(always)]
unsafe fn scratch(o: *mut u8, size: usize) -> u8 {
    let mut acc = 0u8;
    // SAFETY: per the contract, the first word and bytes 8..size are inside the object; the
    // first word is rewritten with the value it holds.
    unsafe {
        core::ptr::write_volatile(o.cast::<u64>(), size as u64);
        for k in 8..size {
            core::ptr::write_volatile(o.add(k), k as u8);
            acc = acc.wrapping_add(core::ptr::read_volatile(o.add(k)));
        }
    }
    acc
}

/// false-sharing (cache-scratch): T workers. Each round the main thread allocates one object per
/// worker, one after the other (so they are neighbours in memory), all of the round's size
/// ([`false_sharing_size`]: 8–64 B); each worker frees the object it was given (a remote free),
/// then [`FALSE_SHARING_CYCLES`] times allocates an object of the same size, writes every byte
/// and reads it back [`FALSE_SHARING_PASSES`] times, and frees it. An allocator that hands a
/// worker the block just freed, or a neighbour of another worker's block, puts two workers'
/// writes on one cache line. Metric: passes/s over all workers. `Budget::Iters(n)`: n rounds.
/// Extra: `rounds`, `allocs` (objects, the main thread's included).
pub fn false_sharing(p: &Params) -> Outcome {
    let t = p.threads;
    let objects: Arc<Vec<AtomicPtr<u8>>> = Arc::new(
        (0..t)
            .map(|_| AtomicPtr::new(core::ptr::null_mut()))
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let begin = Arc::new(Barrier::new(t + 1));
    let end = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (objects, stop, begin, end) =
            (objects.clone(), stop.clone(), begin.clone(), end.clone());
        handles.push(std::thread::spawn(move || {
            let mut acc = 0u8;
            let mut round = 0u64;
            loop {
                begin.wait();
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let size = false_sharing_size(round);
                let given = objects[i].swap(core::ptr::null_mut(), Ordering::Acquire);
                // SAFETY: the main thread published a live object for this worker this round.
                unsafe { free_obj(given) };
                for _ in 0..FALSE_SHARING_CYCLES {
                    let o = alloc_obj(size);
                    for _ in 0..FALSE_SHARING_PASSES {
                        // SAFETY: `o` is live with `size` bytes.
                        acc = acc.wrapping_add(unsafe { scratch(o, size) });
                    }
                    // SAFETY: `o` is live and freed once.
                    unsafe { free_obj(o) };
                }
                round += 1;
                end.wait();
            }
            std::hint::black_box(acc);
        }));
    }
    let max_rounds = match p.budget {
        Budget::Iters(n) => n,
        Budget::Time(_) => u64::MAX,
    };
    let start = Instant::now();
    let deadline = match p.budget {
        Budget::Time(d) => Some(start + d),
        Budget::Iters(_) => None,
    };
    let mut rounds = 0u64;
    while rounds < max_rounds && deadline.is_none_or(|d| Instant::now() < d) {
        let size = false_sharing_size(rounds);
        for o in objects.iter() {
            o.store(alloc_obj(size), Ordering::Release);
        }
        begin.wait();
        end.wait();
        rounds += 1;
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    begin.wait();
    for h in handles {
        h.join().unwrap();
    }
    let passes = rounds * t as u64 * FALSE_SHARING_CYCLES * FALSE_SHARING_PASSES;
    let mut out = Outcome::rate(passes, elapsed);
    out.extra = vec![
        ("rounds", rounds as f64),
        (
            "allocs",
            (rounds * t as u64 * (1 + FALSE_SHARING_CYCLES)) as f64,
        ),
    ];
    out
}

// ------------------------------------------------------------------------------------------
// random-slots: alloc-test.
// ------------------------------------------------------------------------------------------

/// Slots of random-slots.
pub const RANDOM_SLOTS: usize = 1 << 18;
/// Largest random-slots size: 2^10 = 1 KiB.
pub const RANDOM_SLOTS_MAX_EXP: u32 = 10;

/// alloc-test's size: a class `c` in 0..=7 with probability 2^-(c+1) (the trailing zeros of a
/// uniform 7-bit number plus one), then a uniform size in 2^(c+2)+1 ..= 2^(c+3): half the sizes
/// 5–8 B, a quarter 9–16 B, …, one in 128 513–1024 B. Sizes below 8 B become 8 (the first word
/// holds the size).
#[inline(always)]
pub fn random_slots_size(rng: &mut XorShift64) -> usize {
    let r = rng.next_u64();
    let bits = RANDOM_SLOTS_MAX_EXP - 3;
    let base = (r & ((1 << bits) - 1)) + 1;
    let class = base.trailing_zeros() + 2;
    let size = ((r >> bits) & ((1 << class) - 1)) as usize + 1 + (1usize << class);
    size.max(8)
}

/// random-slots (alloc-test): one thread, [`RANDOM_SLOTS`] slots, half of them filled at random
/// before the clock (the steady state). Each step picks a random slot: occupied → read every byte
/// of the block back (summing) and free it; empty → allocate a [`random_slots_size`] block and
/// write every byte. Metric: ops/s (an allocation or a free per step). `Budget::Iters(n)`: n
/// steps. Extra: `allocs`, `live_end`.
pub fn random_slots(p: &Params) -> Outcome {
    let mut rng = XorShift64::for_thread(p.seed, 0);
    let mut slots: Vec<SendPtr> = (0..RANDOM_SLOTS)
        .map(|k| {
            if rng.below(2) == 0 {
                let size = random_slots_size(&mut rng);
                let o = alloc_obj(size);
                // SAFETY: `o` is live with `size` bytes.
                unsafe { fill_obj(o, 8, size - 8, k as u8) };
                SendPtr(o)
            } else {
                SendPtr(core::ptr::null_mut())
            }
        })
        .collect();
    let mut allocs = 0u64;
    let mut sum = 0u64;
    let (steps, elapsed) = bounded_loop(p.budget, 1024, u64::MAX, |step| {
        let s = &mut slots[rng.below(RANDOM_SLOTS as u32) as usize];
        if s.0.is_null() {
            let size = random_slots_size(&mut rng);
            let o = alloc_obj(size);
            // SAFETY: `o` is live with `size` bytes.
            unsafe { fill_obj(o, 8, size - 8, step as u8) };
            s.0 = o;
            allocs += 1;
        } else {
            // SAFETY: non-null slots hold live, fully written blocks whose first word is the size.
            unsafe {
                let size = s.0.cast::<u64>().read() as usize;
                for k in 0..size {
                    sum = sum.wrapping_add(s.0.add(k).read() as u64);
                }
                free_obj(s.0);
            }
            s.0 = core::ptr::null_mut();
        }
    });
    std::hint::black_box(sum);
    let live = slots.iter().filter(|s| !s.0.is_null()).count();
    for s in slots.iter().filter(|s| !s.0.is_null()) {
        // SAFETY: as above (untimed clean-up).
        unsafe { free_obj(s.0) };
    }
    let mut out = Outcome::rate(steps, elapsed);
    out.extra = vec![("allocs", allocs as f64), ("live_end", live as f64)];
    out
}

// ------------------------------------------------------------------------------------------
// bursts: glibc's bench-malloc-simple.
// ------------------------------------------------------------------------------------------

/// Blocks per burst.
pub const BURST_COUNTS: [usize; 4] = [25, 100, 400, 1600];
/// Block sizes, one after the other (bench-malloc-simple run with its default 16).
pub const BURST_SIZES: [usize; 3] = [16, 32, 64];
/// Blocks per (size, burst length) in each thread of a pass.
pub const BURST_BLOCKS: usize = 16_000;

/// One thread's share of a pass for one size: for each burst length n, `BURST_BLOCKS / n` bursts
/// of n blocks, each block written in full, the first half freed in allocation order and the
/// second half newest first. Returns the blocks allocated (and freed).
fn burst_phase(arr: &mut [SendPtr], size: usize) -> u64 {
    let mut pairs = 0u64;
    for n in BURST_COUNTS {
        for _ in 0..BURST_BLOCKS / n {
            for (i, s) in arr[..n].iter_mut().enumerate() {
                let o = alloc_obj(size);
                // SAFETY: `o` is live with `size >= 16` bytes.
                unsafe { fill_obj(o, 8, size - 8, i as u8) };
                s.0 = o;
            }
            for s in &arr[..n / 2] {
                // SAFETY: the burst's blocks are live; each is freed once.
                unsafe { free_obj(s.0) };
            }
            for s in arr[n / 2..n].iter().rev() {
                // SAFETY: as above.
                unsafe { free_obj(s.0) };
            }
            pairs += n as u64;
        }
    }
    pairs
}

/// bursts (bench-malloc-simple): one pass is, for each size of [`BURST_SIZES`], the bursts of
/// `burst_phase` in the calling thread and then the same in a freshly spawned thread (joined
/// before the next size). Metric: pairs/s (counted at the free). `Budget::Iters(n)`: n passes.
/// Extra: `passes`, `threads_spawned`.
pub fn bursts(p: &Params) -> Outcome {
    let mut arr: Vec<SendPtr> =
        vec![SendPtr(core::ptr::null_mut()); BURST_COUNTS[BURST_COUNTS.len() - 1]];
    let mut pairs = 0u64;
    let mut spawned = 0u64;
    let (passes, elapsed) = bounded_loop(p.budget, 1, u64::MAX, |_| {
        for size in BURST_SIZES {
            pairs += burst_phase(&mut arr, size);
            let moved = core::mem::take(&mut arr);
            let (back, n) = std::thread::Builder::new()
                .spawn(move || {
                    let mut a = moved;
                    let n = burst_phase(&mut a, size);
                    (a, n)
                })
                .expect("bursts: spawning a thread failed")
                .join()
                .unwrap();
            arr = back;
            pairs += n;
            spawned += 1;
        }
    });
    let mut out = Outcome::rate(pairs, elapsed);
    out.extra = vec![
        ("passes", passes as f64),
        ("threads_spawned", spawned as f64),
    ];
    out
}

// ------------------------------------------------------------------------------------------
// word-count: HashMap<String, u32> keyed by to_lowercase() words.
// ------------------------------------------------------------------------------------------

/// Distinct words of the generated text (before lower-casing).
pub const WORD_COUNT_VOCABULARY: usize = 30_000;
/// Words per round of a timed run.
pub const WORD_COUNT_WORDS: usize = 1 << 18;

/// A text of `words` words of 8–20 letters, drawn from [`WORD_COUNT_VOCABULARY`] words with
/// Zipf's law (the k-th most frequent word has weight 1/k); a quarter of the vocabulary is
/// capitalised and one word in 50 is upper case. Deterministic for a seed.
pub fn word_count_text(words: usize, seed: u64) -> String {
    let mut rng = XorShift64::new(seed);
    let vocab: Vec<String> = (0..WORD_COUNT_VOCABULARY)
        .map(|_| {
            let len = rng.range_inclusive(8, 20);
            let style = rng.below(100);
            (0..len)
                .map(|i| {
                    let c = b'a' + rng.below(26) as u8;
                    (if style < 2 || (style < 27 && i == 0) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }) as char
                })
                .collect()
        })
        .collect();
    let mut cdf = Vec::with_capacity(WORD_COUNT_VOCABULARY);
    let mut total = 0.0f64;
    for k in 0..WORD_COUNT_VOCABULARY {
        total += 1.0 / (k + 1) as f64;
        cdf.push(total);
    }
    let mut text = String::with_capacity(words * 15);
    for _ in 0..words {
        let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * total;
        let k = cdf
            .partition_point(|&c| c < u)
            .min(WORD_COUNT_VOCABULARY - 1);
        text.push_str(&vocab[k]);
        text.push(' ');
    }
    text
}

/// word-count: one thread counts the words of a generated text ([`word_count_text`], made
/// before the clock) into a fresh `HashMap<String, u32>` keyed by `word.to_lowercase()`: a new
/// 8–20 B string per word, dropped at once when the word was already counted (almost always),
/// kept as the key otherwise. The round ends by dropping the map. A timed run repeats rounds
/// of [`WORD_COUNT_WORDS`] words over the same text until the clock runs out (at least one).
/// Metric: words/s. `Budget::Iters(n)`: one round of a text of n words. The run is invalid
/// unless every round's counts add up to its words. Extra: `rounds`, `distinct` (keys of a
/// round's map).
pub fn word_count(p: &Params) -> Outcome {
    let (words, rounds_max) = match p.budget {
        Budget::Iters(n) => (n as usize, 1),
        Budget::Time(_) => (WORD_COUNT_WORDS, u64::MAX),
    };
    let text = word_count_text(words, p.seed);
    let mut valid = true;
    let mut distinct;
    let deadline_check = |start: Instant| match p.budget {
        Budget::Time(d) => start.elapsed() < d,
        Budget::Iters(_) => false,
    };
    let start = Instant::now();
    let mut rounds = 0u64;
    loop {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for w in text.split_ascii_whitespace() {
            *counts.entry(w.to_lowercase()).or_insert(0) += 1;
        }
        let total: u64 = counts.values().map(|&c| c as u64).sum();
        valid &= total == words as u64;
        distinct = counts.len();
        drop(std::hint::black_box(counts));
        rounds += 1;
        if rounds >= rounds_max || !deadline_check(start) {
            break;
        }
    }
    let elapsed = start.elapsed();
    let mut out = Outcome::rate(rounds * words as u64, elapsed);
    out.valid = valid;
    out.extra = vec![("rounds", rounds as f64), ("distinct", distinct as f64)];
    out
}

// ------------------------------------------------------------------------------------------
// par-strings: rayon's par_iter → par_sort_unstable → fold/reduce into groups, on std threads.
// ------------------------------------------------------------------------------------------

/// Strings per round of a timed run.
pub const PAR_STRINGS_PER_ROUND: usize = 1 << 17;
/// Fold pieces per worker (rayon splits a worker's range further than one piece per thread).
const PAR_STRINGS_PIECES: usize = 2;

/// The `i`-th string of a round: 8 hex digits of a hash, a dash, 5 decimal digits (14 B),
/// grown by `format!` as it writes.
fn par_string(i: u64, salt: u64) -> String {
    let mut h = i.wrapping_add(salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    format!("{:08x}-{:05}", h as u32, (h >> 32) % 100_000)
}

/// The group of a string: its 3 decimal digits after the dash (1000 groups), as a new `String`.
fn par_key(s: &str) -> String {
    s[9..12].to_string()
}

type Groups = HashMap<String, Vec<String>>;

/// Moves every group of `from` into `into` (the key dropped and the vector's buffer freed where
/// `into` has the group already).
fn merge_groups(into: &mut Groups, from: Groups) {
    for (k, v) in from {
        match into.entry(k) {
            Entry::Occupied(mut e) => e.get_mut().extend(v),
            Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
}

/// Partitions `s` in place so that the elements below each cut (`cuts` are indices into the
/// slice of the whole round, `base` is where `s` starts) come before it: what rayon's sort does
/// on its first levels, before the pieces are sorted in parallel.
fn partition_at(s: &mut [String], base: usize, cuts: &[usize]) {
    if cuts.is_empty() {
        return;
    }
    let m = cuts.len() / 2;
    let k = cuts[m] - base;
    s.select_nth_unstable(k);
    let (left, right) = s.split_at_mut(k);
    partition_at(left, base, &cuts[..m]);
    partition_at(right, base + k, &cuts[m + 1..]);
}

/// What the pool's threads share for a round.
struct ParShared {
    workers: usize,
    /// The round's string array (capacity `len`), allocated by the caller.
    data: AtomicPtr<String>,
    len: AtomicUsize,
    salt: AtomicUsize,
    stop: AtomicBool,
    /// Every phase ends here (the workers and the caller).
    phase: Barrier,
    /// Each worker's folded groups, for the reduce.
    folded: Mutex<Vec<Option<Groups>>>,
}

impl ParShared {
    fn range(&self, w: usize) -> (usize, usize) {
        let n = self.len.load(Ordering::Relaxed);
        (w * n / self.workers, (w + 1) * n / self.workers)
    }
}

fn par_worker(sh: &ParShared, w: usize) {
    loop {
        sh.phase.wait(); // round published (or stop)
        if sh.stop.load(Ordering::Relaxed) {
            return;
        }
        let data = sh.data.load(Ordering::Relaxed);
        let salt = sh.salt.load(Ordering::Relaxed) as u64;
        let n = sh.len.load(Ordering::Relaxed);
        let (lo, hi) = sh.range(w);
        // Build: `(0..n).into_par_iter().map(format!).collect()`.
        for i in lo..hi {
            // SAFETY: `data` has capacity `n` > i and each worker writes only its own range.
            unsafe { data.add(i).write(par_string(i as u64, salt)) };
        }
        sh.phase.wait();
        // Sort: the first worker partitions, then each sorts its own range.
        if w == 0 {
            let cuts: Vec<usize> = (1..sh.workers).map(|k| sh.range(k).0).collect();
            // SAFETY: every slot was written in the build phase; only this worker touches the
            // array in this phase (the others wait at the barrier).
            let all = unsafe { core::slice::from_raw_parts_mut(data, n) };
            partition_at(all, 0, &cuts);
        }
        sh.phase.wait();
        {
            // SAFETY: initialised slots; the ranges of the workers are disjoint.
            let mine = unsafe { core::slice::from_raw_parts_mut(data.add(lo), hi - lo) };
            mine.sort_unstable();
        }
        sh.phase.wait();
        // Fold: each piece of the range into its own map, then the pieces' maps into one.
        let mut acc: Option<Groups> = None;
        for piece in 0..PAR_STRINGS_PIECES {
            let a = lo + piece * (hi - lo) / PAR_STRINGS_PIECES;
            let b = lo + (piece + 1) * (hi - lo) / PAR_STRINGS_PIECES;
            let mut m = Groups::new();
            for i in a..b {
                // SAFETY: each slot of this worker's range is moved out exactly once; the caller
                // frees the array without dropping its elements.
                let s = unsafe { data.add(i).read() };
                m.entry(par_key(&s)).or_default().push(s);
            }
            acc = Some(match acc {
                None => m,
                Some(mut prev) => {
                    if prev.len() < m.len() {
                        core::mem::swap(&mut prev, &mut m);
                    }
                    merge_groups(&mut prev, m);
                    prev
                }
            });
        }
        sh.folded.lock().unwrap()[w] = acc;
        sh.phase.wait();
        // Reduce: the first worker merges the others' groups into its own.
        if w == 0 {
            let mut f = sh.folded.lock().unwrap();
            let mut into = f[0].take().unwrap_or_default();
            for other in f.iter_mut().skip(1) {
                if let Some(g) = other.take() {
                    merge_groups(&mut into, g);
                }
            }
            f[0] = Some(into);
        }
        sh.phase.wait();
    }
}

/// par-strings: a pool of T worker threads (2 on 2 cores) started before the clock. Each round
/// the caller allocates an array for n strings; the workers build the strings (`format!`, each
/// worker its share), the first worker partitions the array around T−1 cut points
/// (`select_nth_unstable`) and each worker sorts its part (`sort_unstable`); each worker folds
/// its part, in 2 pieces, into `HashMap<String, Vec<String>>` groups keyed by a new 3-byte
/// `String` per string (dropped at once when the group exists), merging its pieces' maps; the
/// first worker then merges the other workers' maps into its own (dropping their keys and vector
/// buffers: frees of blocks another thread allocated), and the caller checks and drops the
/// result (every string and group: frees of blocks the workers allocated) and frees the array.
/// A timed run repeats rounds of [`PAR_STRINGS_PER_ROUND`] strings until the clock runs out (at
/// least one). Metric: strings/s. `Budget::Iters(n)`: one round of n strings. Invalid unless
/// every round's groups hold exactly its strings. Extra: `rounds`, `groups`.
pub fn par_strings(p: &Params) -> Outcome {
    let workers = p.threads;
    let (n, rounds_max) = match p.budget {
        Budget::Iters(n) => (n as usize, 1),
        Budget::Time(_) => (PAR_STRINGS_PER_ROUND, u64::MAX),
    };
    let sh = Arc::new(ParShared {
        workers,
        data: AtomicPtr::new(core::ptr::null_mut()),
        len: AtomicUsize::new(0),
        salt: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        phase: Barrier::new(workers + 1),
        folded: Mutex::new((0..workers).map(|_| None).collect()),
    });
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let sh = sh.clone();
            std::thread::spawn(move || par_worker(&sh, w))
        })
        .collect();
    let mut valid = true;
    let mut groups;
    let start = Instant::now();
    let mut rounds = 0u64;
    loop {
        let mut array: Vec<String> = Vec::with_capacity(n);
        sh.data.store(array.as_mut_ptr(), Ordering::Relaxed);
        sh.len.store(n, Ordering::Relaxed);
        sh.salt.store(
            (p.seed as usize) ^ ((rounds as usize) << 20),
            Ordering::Relaxed,
        );
        for _ in 0..6 {
            sh.phase.wait(); // publish, build, partition, sort, fold, reduce
        }
        let result = sh.folded.lock().unwrap()[0].take().unwrap_or_default();
        // The strings were moved out of the array: it is freed with length 0.
        drop(array);
        let total: usize = result.values().map(Vec::len).sum();
        valid &= total == n;
        groups = result.len();
        drop(std::hint::black_box(result));
        rounds += 1;
        let more = match p.budget {
            Budget::Time(d) => start.elapsed() < d,
            Budget::Iters(_) => false,
        };
        if rounds >= rounds_max || !more {
            break;
        }
    }
    let elapsed = start.elapsed();
    sh.stop.store(true, Ordering::Relaxed);
    sh.phase.wait();
    for h in handles {
        h.join().unwrap();
    }
    let mut out = Outcome::rate(rounds * n as u64, elapsed);
    out.valid = valid;
    out.extra = vec![("rounds", rounds as f64), ("groups", groups as f64)];
    out
}

/// Runs [`par_strings`]' pipeline once on `n` strings with `workers` threads and returns the
/// groups' sizes in key order (for tests: the result does not depend on the schedule).
#[doc(hidden)]
pub fn par_strings_groups(n: usize, workers: usize) -> Vec<(String, usize)> {
    let mut strings: Vec<String> = (0..n as u64).map(|i| par_string(i, 0)).collect();
    let cuts: Vec<usize> = (1..workers).map(|k| k * n / workers).collect();
    partition_at(&mut strings, 0, &cuts);
    let mut g = Groups::new();
    for s in strings {
        g.entry(par_key(&s)).or_default().push(s);
    }
    let mut v: Vec<(String, usize)> = g.into_iter().map(|(k, v)| (k, v.len())).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_cycle_holds_every_size_as_often_as_it_counts() {
        let v = histogram_sizes();
        assert_eq!(v.len(), 7321);
        for &(s, n) in HISTOGRAM {
            assert_eq!(v.iter().filter(|&&x| x as usize == s).count(), n, "{s}");
        }
        assert_eq!(v, histogram_sizes(), "deterministic");
    }

    #[test]
    fn random_slots_sizes_are_geometric_and_bounded() {
        let mut rng = XorShift64::new(11);
        let n = 200_000;
        let mut small = 0;
        for _ in 0..n {
            let s = random_slots_size(&mut rng);
            assert!((8..=1 << RANDOM_SLOTS_MAX_EXP).contains(&s), "{s}");
            if s == 8 {
                small += 1;
            }
        }
        // Half the draws fall in 5..=8 B.
        let share = small as f64 / n as f64;
        assert!((0.48..0.52).contains(&share), "{share}");
    }

    #[test]
    fn partition_then_sorting_each_part_sorts_the_whole() {
        for workers in 1..=4 {
            let n = 1000;
            let mut v: Vec<String> = (0..n as u64).map(|i| par_string(i, 7)).collect();
            let cuts: Vec<usize> = (1..workers).map(|k| k * n / workers).collect();
            partition_at(&mut v, 0, &cuts);
            let mut lo = 0;
            for k in 1..=workers {
                let hi = k * n / workers;
                v[lo..hi].sort_unstable();
                lo = hi;
            }
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "{workers} workers");
        }
    }

    #[test]
    fn word_count_text_has_the_asked_words() {
        let t = word_count_text(1000, 3);
        let words: Vec<&str> = t.split_ascii_whitespace().collect();
        assert_eq!(words.len(), 1000);
        assert!(words.iter().all(|w| (8..=20).contains(&w.len())));
        assert_eq!(t, word_count_text(1000, 3));
    }
}
