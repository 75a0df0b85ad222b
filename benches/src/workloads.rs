//! The workloads of `cargo xtask bench-matrix` (shapes from docs/bench-matrix.md and
//! the S121 background note).
//!
//! Each workload is a function of [`Params`] that returns an [`Outcome`]: the metric (a rate,
//! higher is better), the raw operation count and extra figures. The allocator under test is the
//! process's `#[global_allocator]`; the workloads call it through `std::alloc::{alloc, dealloc}`
//! and write the object's size into its first word (and read it back before the free), so every
//! object is touched once, as a real program would.
//!
//! Harness memory (slot arrays, rings, batch buffers) is allocated before the clock starts and
//! released after it stops; the timed loops allocate only the objects under test (the thread
//! spawns of larson and thread-churn are the exception, and they are part of those shapes).
//!
//! The workloads at the OS boundary (large blocks, realloc growth, medium sizes,
//! thread churn, size shifts, the classic xmalloc-test) live in [`os`], [`churn`] and
//! [`xmalloc_classic`]; the shapes of classic allocator benchmarks (batch hand-off,
//! LIFO/FIFO bulk frees, the server simulation, Pareto sizes) in [`real`]; the latency chain
//! in [`chain`]; many live threads in [`threads`]; crossbeam-epoch's deferred frees in
//! [`epoch`]; the shapes where the strongest peers led (a size histogram through a ring, false
//! sharing, 256 Ki random slots, bursts, counting words, parallel strings) in [`shapes`]. They
//! all use the same
//! object helpers (`alloc_obj`, `free_obj`: `std::alloc`, which is C `malloc`/`free` in
//! `bench-system`), so the `hz3-preload` row and the peers' preload rows go through the C entry
//! points for them too.

pub mod chain;
pub mod churn;
pub mod epoch;
pub mod os;
pub mod real;
pub mod shapes;
pub mod threads;
pub mod xmalloc_classic;

use std::alloc::Layout;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::rng::XorShift64;

pub use crate::catalogue::{CALLGRIND_WORKLOAD_NAMES, WORKLOAD_NAMES};
pub use crate::params::{Budget, Outcome, Params, ALIGN};

/// The workloads, by their stable names (the names used on the command line and in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    Xmalloc,
    MtRemote {
        remote_pct: u32,
    },
    Larson,
    DistApp,
    LocalFixed,
    LocalMixed,
    /// The classic xmalloc-test: batch arrays malloc'd by producers, freed by consumers.
    XmallocClassic,
    /// Medium sizes (8 B–168 KiB, skewed small), ~1000 live per thread, LIFO and FIFO frees.
    MediumChurn,
    /// Generations of short-lived threads handing 15% of their objects to the next generation.
    ThreadChurn,
    /// A producer hands rounds of one size to a consumer; the size grows round by round.
    SizeShift,
    /// malloc(1 MiB), memset, free.
    Large1m,
    /// 20 live blocks of 5–25 MiB, each replaced by a freshly written one.
    LargeChurn,
    /// A buffer grown by realloc in 4 KiB steps from 4 KiB to 16 MiB, then freed.
    ReallocGrow,
    /// Local alloc+free pairs whose next size depends on the previous block's contents (a
    /// latency chain through the allocator, beside local-fixed).
    LocalChain,
    /// rptest's shape: 1000 live slots per thread, 8 B–16 KiB (linear drop-off), every 2nd loop
    /// a batch handed to the next thread through a CAS inbox.
    BatchHandoff,
    /// sh6bench's shape: 2T threads allocate 64–400 B blocks in bulk and free them half LIFO,
    /// half FIFO; no cross-thread frees.
    LifoFifo,
    /// larson's server simulation as mimalloc-bench runs it: 5000 slots per thread, 8–1000 B
    /// replacements, each generation's slots inherited by a successor thread.
    Server,
    /// Random replacement of 1024 slots per thread with Pareto sizes up to 1 KiB, all written.
    Pareto,
    /// N live threads (default 1000) each holding 20 small blocks until all have started:
    /// footprint and start cost per thread.
    ThreadsMany,
    /// A crossbeam-epoch lock-free hash set: removed nodes are freed in deferred batches by
    /// whichever thread collects.
    Epoch,
    /// sh8bench's shape: 2T threads, sizes cycled through a histogram into a 128 Ki-pointer ring
    /// per thread, each wrap freed half in order and half newest first, plus a stream of blocks
    /// freed by the next thread in bursts of 100.
    HistogramRing,
    /// cache-scratch's shape: one thread allocates a small object per worker; each worker frees
    /// it, allocates its own of the same size and writes it over and over.
    FalseSharing,
    /// alloc-test's shape: one thread, 256 Ki slots replaced at random, sizes up to 1 KiB
    /// (geometric size classes), every byte written and read back.
    RandomSlots,
    /// bench-malloc-simple's shape: bursts of 25–1600 blocks of one size, in the calling thread
    /// and then in a fresh one.
    Bursts,
    /// Counting words: `to_lowercase()` keys of a `HashMap<String, u32>`, mostly dropped at once.
    WordCount,
    /// Strings built, sorted and grouped in parallel by a pool of workers (rayon's
    /// map/sort/fold/reduce on std threads); the caller drops the groups.
    ParStrings,
    /// Callgrind gate: `iters` local 64-byte alloc+free pairs through the probe functions.
    CgLocal,
    /// Callgrind gate: one producer allocates 64-byte objects, one consumer frees them (every
    /// free is remote), in lockstep batches so the run is deterministic.
    CgRemote,
}

impl Workload {
    pub fn from_name(name: &str) -> Option<Workload> {
        Some(match name {
            "xmalloc" => Workload::Xmalloc,
            "mt-remote-r0" => Workload::MtRemote { remote_pct: 0 },
            "mt-remote-r50" => Workload::MtRemote { remote_pct: 50 },
            "mt-remote-r90" => Workload::MtRemote { remote_pct: 90 },
            "larson" => Workload::Larson,
            "dist-app" => Workload::DistApp,
            "local-fixed" => Workload::LocalFixed,
            "local-mixed" => Workload::LocalMixed,
            "xmalloc-classic" => Workload::XmallocClassic,
            "medium-churn" => Workload::MediumChurn,
            "thread-churn" => Workload::ThreadChurn,
            "size-shift" => Workload::SizeShift,
            "large-1m" => Workload::Large1m,
            "large-churn" => Workload::LargeChurn,
            "realloc-grow" => Workload::ReallocGrow,
            "local-chain" => Workload::LocalChain,
            "batch-handoff" => Workload::BatchHandoff,
            "lifo-fifo" => Workload::LifoFifo,
            "server" => Workload::Server,
            "pareto" => Workload::Pareto,
            "threads-many" => Workload::ThreadsMany,
            "epoch" => Workload::Epoch,
            "histogram-ring" => Workload::HistogramRing,
            "false-sharing" => Workload::FalseSharing,
            "random-slots" => Workload::RandomSlots,
            "bursts" => Workload::Bursts,
            "word-count" => Workload::WordCount,
            "par-strings" => Workload::ParStrings,
            "cg-local" => Workload::CgLocal,
            "cg-remote" => Workload::CgRemote,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Xmalloc => "xmalloc",
            Workload::MtRemote { remote_pct: 0 } => "mt-remote-r0",
            Workload::MtRemote { remote_pct: 50 } => "mt-remote-r50",
            Workload::MtRemote { remote_pct: 90 } => "mt-remote-r90",
            Workload::MtRemote { .. } => "mt-remote",
            Workload::Larson => "larson",
            Workload::DistApp => "dist-app",
            Workload::LocalFixed => "local-fixed",
            Workload::LocalMixed => "local-mixed",
            Workload::XmallocClassic => "xmalloc-classic",
            Workload::MediumChurn => "medium-churn",
            Workload::ThreadChurn => "thread-churn",
            Workload::SizeShift => "size-shift",
            Workload::Large1m => "large-1m",
            Workload::LargeChurn => "large-churn",
            Workload::ReallocGrow => "realloc-grow",
            Workload::LocalChain => "local-chain",
            Workload::BatchHandoff => "batch-handoff",
            Workload::LifoFifo => "lifo-fifo",
            Workload::Server => "server",
            Workload::Pareto => "pareto",
            Workload::ThreadsMany => "threads-many",
            Workload::Epoch => "epoch",
            Workload::HistogramRing => "histogram-ring",
            Workload::FalseSharing => "false-sharing",
            Workload::RandomSlots => "random-slots",
            Workload::Bursts => "bursts",
            Workload::WordCount => "word-count",
            Workload::ParStrings => "par-strings",
            Workload::CgLocal => "cg-local",
            Workload::CgRemote => "cg-remote",
        }
    }

    /// `(metric name, unit)` of the value this workload reports.
    pub fn metric(self) -> (&'static str, &'static str) {
        match self {
            Workload::Xmalloc
            | Workload::XmallocClassic
            | Workload::SizeShift
            | Workload::CgRemote => ("free_rate", "frees/s"),
            Workload::LocalFixed
            | Workload::LocalMixed
            | Workload::LocalChain
            | Workload::LifoFifo
            | Workload::CgLocal
            | Workload::ThreadChurn
            | Workload::Bursts
            | Workload::Large1m => ("pair_rate", "pairs/s"),
            Workload::FalseSharing => ("pass_rate", "passes/s"),
            Workload::WordCount => ("word_rate", "words/s"),
            Workload::ParStrings => ("string_rate", "strings/s"),
            Workload::ThreadsMany => ("thread_rate", "threads/s"),
            Workload::LargeChurn => ("replace_rate", "replacements/s"),
            Workload::ReallocGrow => ("realloc_rate", "reallocs/s"),
            Workload::MtRemote { .. }
            | Workload::Larson
            | Workload::DistApp
            | Workload::MediumChurn
            | Workload::BatchHandoff
            | Workload::Server
            | Workload::Pareto
            | Workload::Epoch
            | Workload::HistogramRing
            | Workload::RandomSlots => ("op_rate", "ops/s"),
        }
    }

    /// Whether the workload uses `Params::threads`.
    pub fn is_multithreaded(self) -> bool {
        matches!(
            self,
            Workload::Xmalloc
                | Workload::MtRemote { .. }
                | Workload::Larson
                | Workload::XmallocClassic
                | Workload::MediumChurn
                | Workload::ThreadChurn
                | Workload::BatchHandoff
                | Workload::LifoFifo
                | Workload::Server
                | Workload::Pareto
                | Workload::Epoch
                | Workload::HistogramRing
                | Workload::FalseSharing
                | Workload::ParStrings
        )
    }

    /// The thread count a run reports (`threads` of its JSON line): `--threads` for workloads
    /// that use it, 1 for single-thread ones, and the live thread count for `threads-many`.
    pub fn reported_threads(self, p: &Params) -> usize {
        match self {
            Workload::ThreadsMany => p.live_threads,
            w if w.is_multithreaded() => p.threads,
            _ => 1,
        }
    }

    pub fn run(self, p: &Params) -> Outcome {
        match self {
            Workload::Xmalloc => xmalloc(p),
            Workload::MtRemote { remote_pct } => {
                mt_remote(p, &MtRemoteShape::canonical(remote_pct))
            }
            Workload::Larson => larson(p),
            Workload::DistApp => dist_app(p),
            Workload::LocalFixed => local_fixed(p),
            Workload::LocalMixed => local_mixed(p),
            Workload::XmallocClassic => xmalloc_classic::xmalloc_classic(p),
            Workload::MediumChurn => churn::medium_churn(p),
            Workload::ThreadChurn => churn::thread_churn(p),
            Workload::SizeShift => churn::size_shift(p),
            Workload::Large1m => os::large_1m(p),
            Workload::LargeChurn => os::large_churn(p),
            Workload::ReallocGrow => os::realloc_grow(p),
            Workload::LocalChain => chain::local_chain(p),
            Workload::BatchHandoff => real::batch_handoff(p),
            Workload::LifoFifo => real::lifo_fifo(p),
            Workload::Server => real::server(p),
            Workload::Pareto => real::pareto(p),
            Workload::ThreadsMany => threads::threads_many(p),
            Workload::Epoch => epoch::epoch(p),
            Workload::HistogramRing => shapes::histogram_ring(p),
            Workload::FalseSharing => shapes::false_sharing(p),
            Workload::RandomSlots => shapes::random_slots(p),
            Workload::Bursts => shapes::bursts(p),
            Workload::WordCount => shapes::word_count(p),
            Workload::ParStrings => shapes::par_strings(p),
            Workload::CgLocal => crate::callgrind::cg_local(p),
            Workload::CgRemote => crate::callgrind::cg_remote(p),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Object helpers
// ------------------------------------------------------------------------------------------

/// Allocates `size` bytes (`size >= 8`) and stores the size in the first word.
#[inline(always)]
pub(crate) fn alloc_obj(size: usize) -> *mut u8 {
    debug_assert!(size >= 8);
    // SAFETY: ALIGN is a power of two and workload sizes are far below isize::MAX.
    let layout = unsafe { Layout::from_size_align_unchecked(size, ALIGN) };
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `p` is valid for `size >= 8` bytes and aligned to 8.
    unsafe { p.cast::<u64>().write(size as u64) };
    p
}

/// Frees an object made by [`alloc_obj`], reading its size back from the first word.
///
/// # Safety
/// `p` must come from [`alloc_obj`] and not have been freed.
#[inline(always)]
pub(crate) unsafe fn free_obj(p: *mut u8) {
    // SAFETY: per the contract, `p` is a live object whose first word holds its size.
    let size = unsafe { p.cast::<u64>().read() } as usize;
    // SAFETY: same size and alignment as the allocation.
    unsafe { std::alloc::dealloc(p, Layout::from_size_align_unchecked(size, ALIGN)) };
}

/// Resizes an object made by [`alloc_obj`] to `new_size` bytes (`new_size >= 8`) with the global
/// allocator's `realloc` (for `bench-system`, and so for `hz3-preload`, that is the C `realloc`)
/// and stores the new size in its first word.
///
/// # Safety
/// `p` must come from [`alloc_obj`] (or this function) and not have been freed; it is invalid
/// afterwards (use the returned pointer).
#[inline(always)]
pub(crate) unsafe fn realloc_obj(p: *mut u8, new_size: usize) -> *mut u8 {
    debug_assert!(new_size >= 8);
    // SAFETY: per the contract, `p` is a live object whose first word holds its size.
    let old = unsafe { p.cast::<u64>().read() } as usize;
    // SAFETY: same size and alignment as the allocation; `new_size` is non-zero and far below
    // isize::MAX.
    let q =
        unsafe { std::alloc::realloc(p, Layout::from_size_align_unchecked(old, ALIGN), new_size) };
    if q.is_null() {
        // SAFETY: as above.
        std::alloc::handle_alloc_error(unsafe {
            Layout::from_size_align_unchecked(new_size, ALIGN)
        });
    }
    // SAFETY: `q` is valid for `new_size >= 8` bytes and aligned to 8.
    unsafe { q.cast::<u64>().write(new_size as u64) };
    q
}

/// Writes `len` bytes of `byte` at offset `from` of object `p` (a `memset`), then lets the
/// pointer escape so that the compiler cannot drop the stores as dead before the free.
///
/// # Safety
/// `p` must be a live object of at least `from + len` bytes, and `from >= 8` (the first word
/// holds the size).
#[inline(always)]
pub(crate) unsafe fn fill_obj(p: *mut u8, from: usize, len: usize, byte: u8) {
    debug_assert!(from >= 8);
    // SAFETY: per the contract, `p + from .. p + from + len` lies inside the object.
    unsafe { core::ptr::write_bytes(p.add(from), byte, len) };
    std::hint::black_box(p);
}

/// A raw pointer that may cross threads (the workloads hand objects between threads on purpose).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut u8);
// SAFETY: the pointee is a plain heap object; ownership moves with the pointer.
unsafe impl Send for SendPtr {}

/// Checks the clock every `CLOCK_CHECK` iterations in single-thread loops.
const CLOCK_CHECK: u64 = 1024;

/// Runs `step` (given the iteration index) until the budget is spent, for loops whose steps are
/// expensive or of very uneven cost: with `Budget::Time` the clock is read every `check_every`
/// iterations and the loop also stops after `cap` iterations (a bound on the work of one data
/// point whatever the clock says); `Budget::Iters(n)` runs exactly `n`. Returns (iterations,
/// elapsed).
#[inline(always)]
pub(crate) fn bounded_loop(
    budget: Budget,
    check_every: u64,
    cap: u64,
    mut step: impl FnMut(u64),
) -> (u64, Duration) {
    let start = Instant::now();
    let mut iters = 0u64;
    match budget {
        Budget::Iters(n) => {
            while iters < n {
                step(iters);
                iters += 1;
            }
        }
        Budget::Time(d) => {
            let deadline = start + d;
            let check_every = check_every.max(1);
            while iters < cap {
                step(iters);
                iters += 1;
                if iters % check_every == 0 && Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    (iters, start.elapsed())
}

/// Runs `step` until the budget is spent; returns (iterations, elapsed).
#[inline(always)]
pub(crate) fn single_thread_loop(budget: Budget, mut step: impl FnMut()) -> (u64, Duration) {
    let start = Instant::now();
    let mut iters = 0u64;
    match budget {
        Budget::Iters(n) => {
            while iters < n {
                step();
                iters += 1;
            }
        }
        Budget::Time(d) => {
            let deadline = start + d;
            loop {
                for _ in 0..CLOCK_CHECK {
                    step();
                }
                iters += CLOCK_CHECK;
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    (iters, start.elapsed())
}

/// Starts the clock when all workers are ready, and for `Budget::Time` raises `stop` after the
/// duration. Returns the start instant.
pub(crate) fn start_and_time(barrier: &Barrier, budget: Budget, stop: &AtomicBool) -> Instant {
    barrier.wait();
    let start = Instant::now();
    if let Budget::Time(d) = budget {
        std::thread::sleep(d);
        stop.store(true, Ordering::Relaxed);
    }
    start
}

// ------------------------------------------------------------------------------------------
// xmalloc: N producers allocate 64-byte objects in batches of 4096 and hand the batches
// through one shared blocking FIFO to N consumers, which free them. Metric: frees/s.
// ------------------------------------------------------------------------------------------

pub const XMALLOC_OBJECT_SIZE: usize = 64;
pub const XMALLOC_BATCH: usize = 4096;
/// Batch buffers in circulation per producer (bounds the live set to
/// `threads × 4 × 4096 × 64 B` = 1 MiB per producer).
pub const XMALLOC_BATCHES_PER_PRODUCER: usize = 4;

struct Batch(Box<[SendPtr]>);

struct XmallocShared {
    full: Mutex<VecDeque<Batch>>,
    full_cv: Condvar,
    empty: Mutex<VecDeque<Batch>>,
    empty_cv: Condvar,
    stop: AtomicBool,
}

const WAIT_SLICE: Duration = Duration::from_millis(2);

fn take_batch(q: &Mutex<VecDeque<Batch>>, cv: &Condvar, stop: &AtomicBool) -> Option<Batch> {
    let mut g = q.lock().unwrap();
    loop {
        if let Some(b) = g.pop_front() {
            return Some(b);
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        g = cv.wait_timeout(g, WAIT_SLICE).unwrap().0;
    }
}

fn put_batch(q: &Mutex<VecDeque<Batch>>, cv: &Condvar, b: Batch) {
    // The deque was created with room for every batch: this never allocates.
    q.lock().unwrap().push_back(b);
    cv.notify_one();
}

/// xmalloc-test shape. `Budget::Iters(n)`: each producer fills `n` batches.
pub fn xmalloc(p: &Params) -> Outcome {
    let n = p.threads;
    let total_batches = n * XMALLOC_BATCHES_PER_PRODUCER;
    let mut empty = VecDeque::with_capacity(total_batches);
    for _ in 0..total_batches {
        empty.push_back(Batch(
            vec![SendPtr(core::ptr::null_mut()); XMALLOC_BATCH].into_boxed_slice(),
        ));
    }
    let shared = Arc::new(XmallocShared {
        full: Mutex::new(VecDeque::with_capacity(total_batches)),
        full_cv: Condvar::new(),
        empty: Mutex::new(empty),
        empty_cv: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let barrier = Arc::new(Barrier::new(2 * n + 1));
    let producers_left = Arc::new(AtomicUsize::new(n));
    let mut handles = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let (s, b, left) = (shared.clone(), barrier.clone(), producers_left.clone());
        let budget = p.budget;
        handles.push(std::thread::spawn(move || {
            b.wait();
            let mut done = 0u64;
            loop {
                if s.stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Budget::Iters(max) = budget {
                    if done >= max {
                        break;
                    }
                }
                let Some(mut batch) = take_batch(&s.empty, &s.empty_cv, &s.stop) else {
                    break;
                };
                for slot in batch.0.iter_mut() {
                    *slot = SendPtr(alloc_obj(XMALLOC_OBJECT_SIZE));
                }
                put_batch(&s.full, &s.full_cv, batch);
                done += 1;
            }
            if left.fetch_sub(1, Ordering::AcqRel) == 1 && matches!(budget, Budget::Iters(_)) {
                // Last producer of a fixed-work run: consumers stop once the queue is empty.
                s.stop.store(true, Ordering::Relaxed);
                s.full_cv.notify_all();
            }
            0u64
        }));
    }
    for _ in 0..n {
        let (s, b) = (shared.clone(), barrier.clone());
        let fixed = matches!(p.budget, Budget::Iters(_));
        handles.push(std::thread::spawn(move || {
            b.wait();
            let mut frees = 0u64;
            loop {
                // A fixed-work run drains everything; a timed run stops at the deadline.
                let batch = if fixed {
                    take_batch(&s.full, &s.full_cv, &s.stop)
                } else if s.stop.load(Ordering::Relaxed) {
                    None
                } else {
                    take_batch(&s.full, &s.full_cv, &s.stop)
                };
                let Some(batch) = batch else { break };
                for slot in batch.0.iter() {
                    // SAFETY: every slot of a full batch holds a live object from alloc_obj.
                    unsafe { free_obj(slot.0) };
                }
                frees += batch.0.len() as u64;
                put_batch(&s.empty, &s.empty_cv, batch);
            }
            frees
        }));
    }
    let start = start_and_time(&barrier, p.budget, &shared.stop);
    shared.full_cv.notify_all();
    shared.empty_cv.notify_all();
    let frees: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let elapsed = start.elapsed();
    // Untimed clean-up of batches that were filled but not consumed.
    for batch in shared.full.lock().unwrap().drain(..) {
        for slot in batch.0.iter() {
            // SAFETY: full batches hold live objects.
            unsafe { free_obj(slot.0) };
        }
    }
    Outcome::rate(frees, elapsed)
}

// ------------------------------------------------------------------------------------------
// mt-remote: T threads, each with `ws` slots and an SPSC ring to the next thread.
// ------------------------------------------------------------------------------------------

/// The shape of an mt-remote run (the original's `threads iters ws min max remote_pct ring_slots`).
#[derive(Clone, Copy, Debug)]
pub struct MtRemoteShape {
    pub remote_pct: u32,
    pub working_set: usize,
    pub min_size: usize,
    pub max_size: usize,
    /// Ring capacity (a power of two).
    pub ring_slots: usize,
}

impl MtRemoteShape {
    /// The canonical rows: ws 400, sizes 16..2048, 65536-slot rings.
    pub fn canonical(remote_pct: u32) -> Self {
        MtRemoteShape {
            remote_pct,
            working_set: 400,
            min_size: 16,
            max_size: 2048,
            ring_slots: 1 << 16,
        }
    }
}

/// Fallback rate above which an mt-remote run is invalid (0.1%).
pub const MT_REMOTE_MAX_FALLBACK_RATE: f64 = 0.001;

#[repr(align(128))]
struct Padded<T>(T);

/// Single-producer single-consumer ring of object pointers.
struct Ring {
    slots: Box<[AtomicPtr<u8>]>,
    mask: usize,
    /// Next slot the consumer reads (written by the consumer only).
    head: Padded<AtomicUsize>,
    /// Next slot the producer writes (written by the producer only).
    tail: Padded<AtomicUsize>,
}

impl Ring {
    fn new(cap: usize) -> Ring {
        assert!(cap.is_power_of_two());
        Ring {
            slots: (0..cap)
                .map(|_| AtomicPtr::new(core::ptr::null_mut()))
                .collect(),
            mask: cap - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
        }
    }
}

/// Producer-side view of a ring (cached indices).
struct RingTx<'a> {
    ring: &'a Ring,
    tail: usize,
    head_cache: usize,
}

impl RingTx<'_> {
    #[inline(always)]
    fn push(&mut self, p: *mut u8) -> bool {
        let cap = self.ring.mask + 1;
        if self.tail - self.head_cache == cap {
            self.head_cache = self.ring.head.0.load(Ordering::Acquire);
            if self.tail - self.head_cache == cap {
                return false;
            }
        }
        self.ring.slots[self.tail & self.ring.mask].store(p, Ordering::Relaxed);
        self.tail += 1;
        self.ring.tail.0.store(self.tail, Ordering::Release);
        true
    }
}

/// Consumer-side view of a ring.
struct RingRx<'a> {
    ring: &'a Ring,
    head: usize,
}

impl RingRx<'_> {
    /// Frees everything that arrived; returns how many objects it freed.
    #[inline(always)]
    fn drain_free(&mut self) -> u64 {
        let tail = self.ring.tail.0.load(Ordering::Acquire);
        let n = tail - self.head;
        if n == 0 {
            return 0;
        }
        while self.head != tail {
            let p = self.ring.slots[self.head & self.ring.mask].load(Ordering::Relaxed);
            // SAFETY: the producer published a live object in this slot before moving `tail`.
            unsafe { free_obj(p) };
            self.head += 1;
        }
        self.ring.head.0.store(self.head, Ordering::Release);
        n as u64
    }
}

#[derive(Default, Clone, Copy)]
struct MtCounts {
    allocs: u64,
    frees: u64,
    sent: u64,
    fallbacks: u64,
}

/// mt-remote. Metric: ops/s with ops = allocations + frees (a remotely freed object counts on
/// the thread that frees it). Extra: `fallback_rate` = ring-full local frees / remote attempts;
/// the run is invalid above [`MT_REMOTE_MAX_FALLBACK_RATE`].
pub fn mt_remote(p: &Params, shape: &MtRemoteShape) -> Outcome {
    let t = p.threads;
    let rings: Arc<Vec<Ring>> = Arc::new((0..t).map(|_| Ring::new(shape.ring_slots)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let shape = *shape;
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (rings, stop, barrier) = (rings.clone(), stop.clone(), barrier.clone());
        let (budget, seed) = (p.budget, p.seed);
        handles.push(std::thread::spawn(move || {
            let mut slots: Vec<SendPtr> = vec![SendPtr(core::ptr::null_mut()); shape.working_set];
            let mut rng = XorShift64::for_thread(seed, i);
            let mut rx = RingRx {
                ring: &rings[i],
                head: 0,
            };
            let mut tx = RingTx {
                ring: &rings[(i + 1) % t],
                tail: 0,
                head_cache: 0,
            };
            let mut c = MtCounts::default();
            let max_iters = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            let ws = shape.working_set as u32;
            barrier.wait();
            let mut iter = 0u64;
            while iter < max_iters {
                if iter % 256 == 0 && stop.load(Ordering::Relaxed) {
                    break;
                }
                iter += 1;
                c.frees += rx.drain_free();
                let slot = &mut slots[rng.below(ws) as usize];
                if slot.0.is_null() {
                    slot.0 = alloc_obj(rng.range_inclusive(shape.min_size, shape.max_size));
                    c.allocs += 1;
                } else {
                    let obj = core::mem::replace(&mut slot.0, core::ptr::null_mut());
                    if shape.remote_pct > 0 && rng.below(100) < shape.remote_pct {
                        if tx.push(obj) {
                            c.sent += 1;
                        } else {
                            // SAFETY: `obj` is a live object owned by this thread.
                            unsafe { free_obj(obj) };
                            c.fallbacks += 1;
                            c.frees += 1;
                        }
                    } else {
                        // SAFETY: as above.
                        unsafe { free_obj(obj) };
                        c.frees += 1;
                    }
                }
            }
            let end = Instant::now();
            // Untimed clean-up by the owner (local frees, so the stats pass counts no remote
            // frees that the workload did not make).
            for s in slots.iter().filter(|s| !s.0.is_null()) {
                // SAFETY: non-null slots hold live objects owned by this thread.
                unsafe { free_obj(s.0) };
            }
            (c, end)
        }));
    }
    let start = start_and_time(&barrier, p.budget, &stop);
    let results: Vec<(MtCounts, Instant)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or(start) - start;
    let mut total = MtCounts::default();
    for (c, _) in &results {
        total.allocs += c.allocs;
        total.frees += c.frees;
        total.sent += c.sent;
        total.fallbacks += c.fallbacks;
    }
    // Untimed: objects still in flight. Each ring's consumer has exited; consume from where it
    // stopped (its `head`).
    for ring in rings.iter() {
        let mut rx = RingRx {
            ring,
            head: ring.head.0.load(Ordering::Acquire),
        };
        rx.drain_free();
    }
    let attempts = total.sent + total.fallbacks;
    let fallback_rate = if attempts == 0 {
        0.0
    } else {
        total.fallbacks as f64 / attempts as f64
    };
    let mut out = Outcome::rate(total.allocs + total.frees, elapsed);
    out.valid = fallback_rate <= MT_REMOTE_MAX_FALLBACK_RATE;
    out.extra = vec![
        ("fallback_rate", fallback_rate),
        ("remote_sent", total.sent as f64),
        ("fallbacks", total.fallbacks as f64),
        ("allocs", total.allocs as f64),
        ("frees", total.frees as f64),
    ];
    out
}

// ------------------------------------------------------------------------------------------
// larson-style server: T lanes; each lane is a chain of thread generations that replace random
// slots of the lane's array; each generation hands the array to a new thread and exits, so
// objects outlive the thread that allocated them and are freed by its successor.
// ------------------------------------------------------------------------------------------

pub const LARSON_SLOTS: usize = 1024;
pub const LARSON_REPLACEMENTS_PER_GENERATION: u64 = 4096;
pub const LARSON_MIN_SIZE: usize = 8;
pub const LARSON_MAX_SIZE: usize = 1024;

/// The shape of a larson-style run: `larson` is [`LarsonShape::canonical`], `server`
/// is [`real::SERVER_SHAPE`].
#[derive(Clone, Copy, Debug)]
pub struct LarsonShape {
    /// Slots per lane (all filled, untimed, by the main thread).
    pub slots: usize,
    pub min_size: usize,
    pub max_size: usize,
    /// Replacements (free + allocation) each generation makes before it hands the lane on.
    pub replacements_per_generation: u64,
    /// A generation reads the stop flag every this many replacements (larson: only between
    /// generations, which are short).
    pub stop_check_every: u64,
}

impl LarsonShape {
    pub const fn canonical() -> Self {
        LarsonShape {
            slots: LARSON_SLOTS,
            min_size: LARSON_MIN_SIZE,
            max_size: LARSON_MAX_SIZE,
            replacements_per_generation: LARSON_REPLACEMENTS_PER_GENERATION,
            stop_check_every: LARSON_REPLACEMENTS_PER_GENERATION,
        }
    }
}

struct Lane {
    slots: Vec<SendPtr>,
    rng: XorShift64,
    ops: u64,
    generations: u64,
}

struct LarsonShared {
    stop: AtomicBool,
    max_generations: u64,
    shape: LarsonShape,
    done: Mutex<Vec<Lane>>,
    done_cv: Condvar,
}

fn larson_generation(mut lane: Lane, shared: Arc<LarsonShared>) {
    let shape = shared.shape;
    let mut made = 0u64;
    while made < shape.replacements_per_generation {
        let chunk = shape
            .stop_check_every
            .min(shape.replacements_per_generation - made);
        for _ in 0..chunk {
            let j = lane.rng.below(shape.slots as u32) as usize;
            // SAFETY: every lane slot holds a live object (filled before the first generation).
            unsafe { free_obj(lane.slots[j].0) };
            lane.slots[j] = SendPtr(alloc_obj(
                lane.rng.range_inclusive(shape.min_size, shape.max_size),
            ));
        }
        made += chunk;
        if made < shape.replacements_per_generation && shared.stop.load(Ordering::Relaxed) {
            break;
        }
    }
    lane.ops += 2 * made;
    lane.generations += 1;
    if shared.stop.load(Ordering::Relaxed) || lane.generations >= shared.max_generations {
        shared.done.lock().unwrap().push(lane);
        shared.done_cv.notify_all();
        return;
    }
    let next = shared.clone();
    std::thread::Builder::new()
        .spawn(move || larson_generation(lane, next))
        .expect("larson: spawning the next generation failed");
}

/// larson-style. Metric: ops/s with ops = allocations + frees (2 per replacement).
/// `Budget::Iters(n)`: `n` generations per lane. Extra: `generations` (total over lanes).
pub fn larson(p: &Params) -> Outcome {
    larson_shaped(p, LarsonShape::canonical())
}

/// A larson-style run of any [`LarsonShape`] (see [`larson`]).
pub(crate) fn larson_shaped(p: &Params, shape: LarsonShape) -> Outcome {
    let t = p.threads;
    let max_generations = match p.budget {
        Budget::Iters(n) => n.max(1),
        Budget::Time(_) => u64::MAX,
    };
    let shared = Arc::new(LarsonShared {
        stop: AtomicBool::new(false),
        max_generations,
        shape,
        done: Mutex::new(Vec::with_capacity(t)),
        done_cv: Condvar::new(),
    });
    // Untimed warm-up: the main thread fills every lane (the first generation frees them remotely).
    let lanes: Vec<Lane> = (0..t)
        .map(|i| {
            let mut rng = XorShift64::for_thread(p.seed, i);
            let slots = (0..shape.slots)
                .map(|_| {
                    SendPtr(alloc_obj(
                        rng.range_inclusive(shape.min_size, shape.max_size),
                    ))
                })
                .collect();
            Lane {
                slots,
                rng,
                ops: 0,
                generations: 0,
            }
        })
        .collect();
    let start = Instant::now();
    for lane in lanes {
        let s = shared.clone();
        std::thread::Builder::new()
            .spawn(move || larson_generation(lane, s))
            .expect("larson: spawning the first generation failed");
    }
    if let Budget::Time(d) = p.budget {
        std::thread::sleep(d);
        shared.stop.store(true, Ordering::Relaxed);
    }
    let lanes = {
        let mut g = shared.done.lock().unwrap();
        while g.len() < t {
            g = shared.done_cv.wait(g).unwrap();
        }
        core::mem::take(&mut *g)
    };
    let elapsed = start.elapsed();
    let ops = lanes.iter().map(|l| l.ops).sum();
    let generations: u64 = lanes.iter().map(|l| l.generations).sum();
    for lane in &lanes {
        for s in &lane.slots {
            // SAFETY: lane slots hold live objects.
            unsafe { free_obj(s.0) };
        }
    }
    let mut out = Outcome::rate(ops, elapsed);
    out.extra = vec![("generations", generations as f64)];
    out
}

// ------------------------------------------------------------------------------------------
// Single-thread workloads.
// ------------------------------------------------------------------------------------------

pub const DIST_APP_SLOTS: usize = 400;

/// The dist-app size distribution: 80% 16–256, 15% 257–2048, 5% 2049–32768.
#[inline(always)]
pub fn dist_app_size(rng: &mut XorShift64) -> usize {
    let r = rng.below(100);
    if r < 80 {
        rng.range_inclusive(16, 256)
    } else if r < 95 {
        rng.range_inclusive(257, 2048)
    } else {
        rng.range_inclusive(2049, 32768)
    }
}

/// dist-app: one thread, 400 slots; each step picks a slot, frees it if occupied, else
/// allocates a size from [`dist_app_size`]. Metric: ops/s (allocations + frees).
pub fn dist_app(p: &Params) -> Outcome {
    let mut slots = vec![core::ptr::null_mut::<u8>(); DIST_APP_SLOTS];
    let mut rng = XorShift64::for_thread(p.seed, 0);
    let mut allocs = 0u64;
    let (iters, elapsed) = single_thread_loop(p.budget, || {
        let slot = &mut slots[rng.below(DIST_APP_SLOTS as u32) as usize];
        if slot.is_null() {
            *slot = alloc_obj(dist_app_size(&mut rng));
            allocs += 1;
        } else {
            // SAFETY: non-null slots hold live objects.
            unsafe { free_obj(*slot) };
            *slot = core::ptr::null_mut();
        }
    });
    for s in slots.iter().filter(|s| !s.is_null()) {
        // SAFETY: as above.
        unsafe { free_obj(*s) };
    }
    let mut out = Outcome::rate(iters, elapsed);
    out.extra = vec![("allocs", allocs as f64)];
    out
}

pub const LOCAL_FIXED_SIZE: usize = 64;
pub const LOCAL_MIXED_MIN: usize = 16;
pub const LOCAL_MIXED_MAX: usize = 512;

/// local-fixed: one thread, allocate 64 bytes and free it at once. Metric: pairs/s.
pub fn local_fixed(p: &Params) -> Outcome {
    let (iters, elapsed) = single_thread_loop(p.budget, || {
        let o = std::hint::black_box(alloc_obj(LOCAL_FIXED_SIZE));
        // SAFETY: `o` was just allocated.
        unsafe { free_obj(o) };
    });
    Outcome::rate(iters, elapsed)
}

/// local-mixed: one thread, allocate a uniform random size in 16..=512 and free it at once.
/// Metric: pairs/s.
pub fn local_mixed(p: &Params) -> Outcome {
    let mut rng = XorShift64::for_thread(p.seed, 0);
    let (iters, elapsed) = single_thread_loop(p.budget, || {
        let o = std::hint::black_box(alloc_obj(
            rng.range_inclusive(LOCAL_MIXED_MIN, LOCAL_MIXED_MAX),
        ));
        // SAFETY: `o` was just allocated.
        unsafe { free_obj(o) };
    });
    Outcome::rate(iters, elapsed)
}
