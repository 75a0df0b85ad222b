//! `threads-many`: the footprint of many live threads. Real servers keep hundreds of
//! threads alive on a few cores; an allocator that gives each thread a heap, caches and slabs of
//! its own pays for them in RSS whether or not the thread allocates much. Here N threads (1000 by
//! default, `--live-threads N`) each allocate a small mixed set of blocks and stay alive until
//! every one of them has started; the RSS at that moment, less the RSS before the first spawn,
//! divided by N, is the footprint per live thread (thread stacks included, the same for every
//! allocator). `--blocks-per-thread B` gives each thread B blocks of mixed small sizes (8–608 B)
//! instead: the footprint of a thread that holds anywhere from one block to a few hundred.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::rng::XorShift64;
use crate::rss::current_rss_kib;
use crate::workloads::{alloc_obj, fill_obj, free_obj, Budget, Outcome, Params};

pub use crate::params::THREADS_MANY_DEFAULT;
/// Blocks each thread allocates (and holds until all threads have started).
pub const THREADS_MANY_BLOCKS: usize = 20;
pub const THREADS_MANY_MIN: usize = 16;
pub const THREADS_MANY_MAX: usize = 2048;
/// Sizes of the blocks with `--blocks-per-thread` (uniform in this range).
pub const THREADS_MANY_SMALL_MIN: usize = 8;
pub const THREADS_MANY_SMALL_MAX: usize = 608;
/// Largest `--blocks-per-thread` (the thread keeps its pointers on its stack: 8 KiB at most,
/// and only the words it uses are touched).
pub const THREADS_MANY_MAX_BLOCKS: usize = 1024;
/// Stack size of each thread: enough for any allocator's slow path, small enough that 10 000
/// threads reserve only 2.5 GiB of address space (untouched stack pages cost no RSS).
pub const THREADS_MANY_STACK: usize = 256 * 1024;
/// Most rounds (of N threads each) in one timed run.
pub const THREADS_MANY_MAX_ROUNDS: u64 = 10_000;

/// The phases of one round, shared by the main thread and the workers.
#[derive(Default)]
struct Gate {
    /// Threads that have allocated their blocks.
    ready: usize,
    /// Set by the main thread once it has measured: the workers free and exit.
    open: bool,
}

struct Shared {
    gate: Mutex<Gate>,
    /// Signalled by the last thread to become ready.
    all_ready: Condvar,
    /// Signalled when the gate opens.
    opened: Condvar,
}

/// The blocks of one worker: how many, and the range of their sizes (uniform).
#[derive(Clone, Copy)]
struct Shape {
    blocks: usize,
    min: usize,
    max: usize,
}

impl Shape {
    fn of(p: &Params) -> Shape {
        match p.blocks_per_thread {
            None => Shape {
                blocks: THREADS_MANY_BLOCKS,
                min: THREADS_MANY_MIN,
                max: THREADS_MANY_MAX,
            },
            Some(b) => Shape {
                blocks: b.clamp(1, THREADS_MANY_MAX_BLOCKS),
                min: THREADS_MANY_SMALL_MIN,
                max: THREADS_MANY_SMALL_MAX,
            },
        }
    }
}

/// One worker: allocates `shape.blocks` blocks of uniform sizes in `shape.min..=shape.max`,
/// writes every byte, reports ready, waits for the gate, frees its blocks and exits.
fn worker(shared: Arc<Shared>, n: usize, shape: Shape, seed: u64, index: usize) {
    let mut rng = XorShift64::for_thread(seed, index);
    // Uninitialised, so only the words used are written (a thread's stack pages count in its
    // RSS the same for every allocator, but only those touched).
    let mut blocks = [core::mem::MaybeUninit::<*mut u8>::uninit(); THREADS_MANY_MAX_BLOCKS];
    let blocks = &mut blocks[..shape.blocks];
    for (k, b) in blocks.iter_mut().enumerate() {
        let size = rng.range_inclusive(shape.min, shape.max);
        let o = alloc_obj(size);
        // SAFETY: `o` is live with `size >= 8` bytes; the first word holds the size.
        unsafe { fill_obj(o, 8, size - 8, k as u8) };
        b.write(o);
    }
    {
        let mut g = shared.gate.lock().unwrap();
        g.ready += 1;
        if g.ready == n {
            shared.all_ready.notify_one();
        }
        while !g.open {
            g = shared.opened.wait(g).unwrap();
        }
    }
    for b in blocks.iter() {
        // SAFETY: every entry was written above; each block is live and freed once.
        unsafe { free_obj(b.assume_init()) };
    }
}

/// What one round measured.
struct Round {
    rss_before_kib: u64,
    rss_live_kib: u64,
    /// From the first spawn until every thread had its blocks.
    started: Duration,
    /// From the first spawn until every thread was joined.
    total: Duration,
}

fn round(
    n: usize,
    shape: Shape,
    seed: u64,
    handles: &mut Vec<std::thread::JoinHandle<()>>,
) -> Round {
    let shared = Arc::new(Shared {
        gate: Mutex::new(Gate::default()),
        all_ready: Condvar::new(),
        opened: Condvar::new(),
    });
    let rss_before_kib = current_rss_kib().unwrap_or(0);
    let t0 = Instant::now();
    for k in 0..n {
        let s = shared.clone();
        let h = std::thread::Builder::new()
            .stack_size(THREADS_MANY_STACK)
            .spawn(move || worker(s, n, shape, seed, k))
            .unwrap_or_else(|e| {
                panic!("threads-many: spawning thread {} of {n} failed: {e}", k + 1)
            });
        handles.push(h);
    }
    {
        let mut g = shared.gate.lock().unwrap();
        while g.ready < n {
            g = shared.all_ready.wait(g).unwrap();
        }
    }
    let started = t0.elapsed();
    let rss_live_kib = current_rss_kib().unwrap_or(0);
    shared.gate.lock().unwrap().open = true;
    shared.opened.notify_all();
    for h in handles.drain(..) {
        h.join().unwrap();
    }
    Round {
        rss_before_kib,
        rss_live_kib,
        started,
        total: t0.elapsed(),
    }
}

/// threads-many: rounds of N threads (`Params::live_threads`, default 1000). In a round the main
/// thread spawns N threads (256 KiB stacks); each allocates 20 blocks of uniform sizes in
/// 16..=2048 B (with `Params::blocks_per_thread` B: B blocks in 8..=608 B) and writes all of
/// them, then waits until all N have done so; the main thread then reads the process's RSS,
/// releases them, and joins them (each frees its blocks and exits). Timed runs repeat rounds
/// until the duration is spent (at least one). Metric: threads/s (threads started, filled,
/// released and joined per second). `Budget::Iters(n)`: n rounds. Extra (from the first round,
/// the one a fresh process sees, unless named otherwise): `live_threads`, `blocks_per_thread`,
/// `rss_before_kib`, `rss_live_kib` (all N alive), `rss_per_thread_kib` = (live − before) / N,
/// `start_us_per_thread` (first spawn to all N ready, ÷ N), `us_per_thread` (whole run ÷ all
/// threads of all rounds), `max_rss_per_thread_kib` (the largest over rounds), `rounds`.
pub fn threads_many(p: &Params) -> Outcome {
    let n = p.live_threads.max(1);
    let shape = Shape::of(p);
    let mut handles = Vec::with_capacity(n);
    let max_rounds = match p.budget {
        Budget::Iters(r) => r.max(1),
        Budget::Time(_) => THREADS_MANY_MAX_ROUNDS,
    };
    let start = Instant::now();
    let deadline = match p.budget {
        Budget::Time(d) => Some(start + d),
        Budget::Iters(_) => None,
    };
    let mut first: Option<Round> = None;
    let mut max_per_thread = 0.0f64;
    let mut rounds = 0u64;
    while rounds < max_rounds {
        let r = round(n, shape, p.seed ^ rounds, &mut handles);
        let per_thread = r.rss_live_kib.saturating_sub(r.rss_before_kib) as f64 / n as f64;
        max_per_thread = max_per_thread.max(per_thread);
        first.get_or_insert(r);
        rounds += 1;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    let elapsed = start.elapsed();
    let threads = rounds * n as u64;
    let first = first.expect("at least one round");
    let mut out = Outcome::rate(threads, elapsed);
    out.extra = vec![
        ("live_threads", n as f64),
        ("blocks_per_thread", shape.blocks as f64),
        ("rss_before_kib", first.rss_before_kib as f64),
        ("rss_live_kib", first.rss_live_kib as f64),
        (
            "rss_per_thread_kib",
            first.rss_live_kib.saturating_sub(first.rss_before_kib) as f64 / n as f64,
        ),
        (
            "start_us_per_thread",
            first.started.as_secs_f64() * 1e6 / n as f64,
        ),
        (
            "us_per_thread",
            elapsed.as_secs_f64() * 1e6 / threads as f64,
        ),
        ("first_round_ms", first.total.as_secs_f64() * 1e3),
        ("max_rss_per_thread_kib", max_per_thread),
        ("rounds", rounds as f64),
    ];
    out
}
