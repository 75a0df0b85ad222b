//! What a workload is given ([`Params`], [`Budget`]) and what it returns ([`Outcome`]): the
//! types every workload module and the callgrind workloads share, below all of them.

use std::time::Duration;

/// Live threads of `threads-many` when `--live-threads` is not given.
pub const THREADS_MANY_DEFAULT: usize = 1000;

/// Alignment of every object the workloads allocate (what a Rust `Box<[u64]>` asks for).
pub const ALIGN: usize = 8;

/// How long a workload runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Run for this long (wall clock), then stop.
    Time(Duration),
    /// Run a fixed amount of work: iterations per thread (per producer batch for xmalloc, per
    /// generation for larson). Deterministic; used by tests and the callgrind gate.
    Iters(u64),
}

/// Parameters common to all workloads.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Worker threads (xmalloc: producers, and as many consumers; single-thread workloads ignore it).
    pub threads: usize,
    pub budget: Budget,
    pub seed: u64,
    /// Threads alive at once in `threads-many` (the other workloads ignore it).
    pub live_threads: usize,
    /// Blocks each `threads-many` thread holds, of mixed sizes 8–608 B; `None` keeps its
    /// default shape (20 blocks of 16–2048 B). The other workloads ignore it.
    pub blocks_per_thread: Option<usize>,
}

impl Params {
    pub fn new(threads: usize, budget: Budget) -> Self {
        Params {
            threads: threads.max(1),
            budget,
            seed: 0x5121,
            live_threads: THREADS_MANY_DEFAULT,
            blocks_per_thread: None,
        }
    }

    /// The same parameters with `n` live threads for `threads-many`.
    pub fn with_live_threads(mut self, n: usize) -> Self {
        self.live_threads = n.max(1);
        self
    }
}

/// What a workload measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The metric value: `ops / elapsed` in `unit` (higher is better).
    pub value: f64,
    /// Operations counted (frees, alloc+free ops, or pairs: see the workload's `unit`).
    pub ops: u64,
    pub elapsed: Duration,
    /// False when the run broke a validity rule (mt-remote: fallback rate above 0.1%).
    pub valid: bool,
    /// Workload-specific figures, e.g. `fallback_rate` for mt-remote.
    pub extra: Vec<(&'static str, f64)>,
}

impl Outcome {
    pub(crate) fn rate(ops: u64, elapsed: Duration) -> Outcome {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Outcome {
            value: ops as f64 / secs,
            ops,
            elapsed,
            valid: true,
            extra: Vec::new(),
        }
    }
}
