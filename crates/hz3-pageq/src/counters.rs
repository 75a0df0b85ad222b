//! Statistics hooks. Strategies report events through [`Counters`]; [`NoCounters`] makes every
//! report a no-op that the optimiser deletes, so the fast flavour pays nothing.

/// The events hz3 counts (S121 stats, in the spirit of the seed's `[HZ3_S121D_STATS]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// Frees of a block owned by another heap.
    RemoteFrees,
    /// Successful CAS on a remote list head (object stash or page-local list).
    HeadCas,
    /// Swaps of a page's two-word remote state (B, C, D).
    StateSwaps,
    /// Successful CAS/swap on a page queue (push, push_list, pop, drain_all).
    PageqCas,
    /// Failed CAS attempts on any of the above.
    CasRetries,
    /// Pushes that made a remote list non-empty (the notification case).
    EmptyToNonempty,
    /// Pages put on a page queue by producers.
    PageqEnqueues,
    /// Pages taken from a page queue by the owner.
    PageqDequeues,
    /// Pages the owner put back on its queue (objects arrived while processing).
    Requeues,
    /// Page remote lists taken by the owner (B..) or stash swaps (A).
    DrainedPages,
    /// Blocks received by the owner through collects.
    DrainedObjects,
    /// Packets published (D).
    PacketFlushes,
    /// Pages added to an already open packet slot for the same destination (D).
    PacketSlotHits,
    /// `fence(SeqCst)` executed on the remote path.
    Fences,
    /// Owner collect calls.
    Collects,
    /// Owner collect calls that found nothing.
    EmptyCollects,
}

/// Number of [`Counter`] kinds.
pub const NUM_COUNTERS: usize = Counter::EmptyCollects as usize + 1;

/// Every counter with its snake_case name, in index order.
pub const COUNTER_NAMES: [&str; NUM_COUNTERS] = [
    "remote_frees",
    "head_cas",
    "state_swaps",
    "pageq_cas",
    "cas_retries",
    "empty_to_nonempty",
    "pageq_enqueues",
    "pageq_dequeues",
    "requeues",
    "drained_pages",
    "drained_objects",
    "packet_flushes",
    "packet_slot_hits",
    "fences",
    "collects",
    "empty_collects",
];

/// A sink for counted events. Implementations must not allocate.
pub trait Counters {
    /// Whether counting is on (lets callers skip work done only to count).
    const ON: bool;
    /// Adds `n` to counter `c`.
    fn add(&mut self, c: Counter, n: u64);
    /// Adds 1 to counter `c`.
    #[inline(always)]
    fn bump(&mut self, c: Counter) {
        self.add(c, 1)
    }
}

/// Counts nothing; compiles away.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCounters;

impl Counters for NoCounters {
    const ON: bool = false;
    #[inline(always)]
    fn add(&mut self, _: Counter, _: u64) {}
}

/// A plain array of counters (thread-local use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterArray(pub [u64; NUM_COUNTERS]);

impl CounterArray {
    /// All zero.
    pub const fn new() -> Self {
        CounterArray([0; NUM_COUNTERS])
    }
    /// The value of `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
}

impl Default for CounterArray {
    fn default() -> Self {
        Self::new()
    }
}

impl Counters for CounterArray {
    const ON: bool = true;
    #[inline(always)]
    fn add(&mut self, c: Counter, n: u64) {
        self.0[c as usize] += n;
    }
}
