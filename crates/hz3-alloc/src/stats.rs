//! The statistics snapshot (`Hz3::<R, WithStats>::stats()`).

use hz3_pageq::{Counter, CounterArray};
use hz3_tcache::lock::LockStats;

/// Counters summed over every heap of an allocator instance (all zero unless the instance's
/// flavour counts, e.g. [`WithStats`](crate::config::WithStats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frees of blocks owned by another heap.
    pub remote_frees: u64,
    /// Successful CAS on remote list heads.
    pub head_cas: u64,
    /// Swaps of two-word page states.
    pub state_swaps: u64,
    /// Successful page-queue CAS/swaps.
    pub pageq_cas: u64,
    /// Failed CAS attempts.
    pub cas_retries: u64,
    /// Pushes that made a remote list non-empty.
    pub empty_to_nonempty: u64,
    /// Pages queued by producers.
    pub pageq_enqueues: u64,
    /// Pages dequeued by owners.
    pub pageq_dequeues: u64,
    /// Pages requeued by owners.
    pub requeues: u64,
    /// Remote lists taken (pages for B..; stash swaps for A).
    pub drained_pages: u64,
    /// Blocks received through collects.
    pub drained_objects: u64,
    /// Packets published (D).
    pub packet_flushes: u64,
    /// Pages added to an open packet (D).
    pub packet_slot_hits: u64,
    /// SeqCst fences on the remote path.
    pub fences: u64,
    /// Owner collect calls.
    pub collects: u64,
    /// Collect calls that found nothing.
    pub empty_collects: u64,
    // The global locks (the stats flavour counts them, `hz3_tcache::lock`). Ticks are
    // `hz3_tcache::lock::ticks()`: the TSC on x86-64, nanoseconds elsewhere.
    /// Heap-pool lock (the instance's pool of heaps: threads taking and returning heaps):
    /// acquisitions.
    pub lock_pool_acquires: u64,
    /// Heap-pool lock: acquisitions whose first attempt found it taken.
    pub lock_pool_contended: u64,
    /// Heap-pool lock: spin iterations of its waiters.
    pub lock_pool_spins: u64,
    /// Heap-pool lock: `sched_yield` calls of its waiters.
    pub lock_pool_yields: u64,
    /// Heap-pool lock: ticks its waiters waited.
    pub lock_pool_wait_ticks: u64,
    /// Heap-pool lock: ticks it was held.
    pub lock_pool_hold_ticks: u64,
    /// Fallback-heap lock (the instance's shared heap: allocations of young and exited
    /// threads): acquisitions.
    pub lock_fallback_acquires: u64,
    /// Fallback-heap lock: acquisitions whose first attempt found it taken.
    pub lock_fallback_contended: u64,
    /// Fallback-heap lock: spin iterations of its waiters.
    pub lock_fallback_spins: u64,
    /// Fallback-heap lock: `sched_yield` calls of its waiters.
    pub lock_fallback_yields: u64,
    /// Fallback-heap lock: ticks its waiters waited.
    pub lock_fallback_wait_ticks: u64,
    /// Fallback-heap lock: ticks it was held.
    pub lock_fallback_hold_ticks: u64,
    /// Segment-cache lock (process-wide: counted by every stats instance): acquisitions.
    pub lock_segment_cache_acquires: u64,
    /// Segment-cache lock: acquisitions whose first attempt found it taken.
    pub lock_segment_cache_contended: u64,
    /// Segment-cache lock: spin iterations of its waiters.
    pub lock_segment_cache_spins: u64,
    /// Segment-cache lock: `sched_yield` calls of its waiters.
    pub lock_segment_cache_yields: u64,
    /// Segment-cache lock: ticks its waiters waited.
    pub lock_segment_cache_wait_ticks: u64,
    /// Segment-cache lock: ticks it was held.
    pub lock_segment_cache_hold_ticks: u64,
    /// Large-cache lock (the large-mapping cache, process-wide: counted by every stats
    /// instance): acquisitions.
    pub lock_large_cache_acquires: u64,
    /// Large-cache lock: acquisitions whose first attempt found it taken.
    pub lock_large_cache_contended: u64,
    /// Large-cache lock: spin iterations of its waiters.
    pub lock_large_cache_spins: u64,
    /// Large-cache lock: `sched_yield` calls of its waiters.
    pub lock_large_cache_yields: u64,
    /// Large-cache lock: ticks its waiters waited.
    pub lock_large_cache_wait_ticks: u64,
    /// Large-cache lock: ticks it was held.
    pub lock_large_cache_hold_ticks: u64,
}

impl Stats {
    pub(crate) fn from_counters(c: &CounterArray, locks: &[(&'static str, LockStats); 4]) -> Self {
        let [pool, fallback, segment_cache, large_cache] = locks.map(|(_, l)| l);
        Stats {
            remote_frees: c.get(Counter::RemoteFrees),
            head_cas: c.get(Counter::HeadCas),
            state_swaps: c.get(Counter::StateSwaps),
            pageq_cas: c.get(Counter::PageqCas),
            cas_retries: c.get(Counter::CasRetries),
            empty_to_nonempty: c.get(Counter::EmptyToNonempty),
            pageq_enqueues: c.get(Counter::PageqEnqueues),
            pageq_dequeues: c.get(Counter::PageqDequeues),
            requeues: c.get(Counter::Requeues),
            drained_pages: c.get(Counter::DrainedPages),
            drained_objects: c.get(Counter::DrainedObjects),
            packet_flushes: c.get(Counter::PacketFlushes),
            packet_slot_hits: c.get(Counter::PacketSlotHits),
            fences: c.get(Counter::Fences),
            collects: c.get(Counter::Collects),
            empty_collects: c.get(Counter::EmptyCollects),
            lock_pool_acquires: pool.acquires,
            lock_pool_contended: pool.contended,
            lock_pool_spins: pool.spins,
            lock_pool_yields: pool.yields,
            lock_pool_wait_ticks: pool.wait_ticks,
            lock_pool_hold_ticks: pool.hold_ticks,
            lock_fallback_acquires: fallback.acquires,
            lock_fallback_contended: fallback.contended,
            lock_fallback_spins: fallback.spins,
            lock_fallback_yields: fallback.yields,
            lock_fallback_wait_ticks: fallback.wait_ticks,
            lock_fallback_hold_ticks: fallback.hold_ticks,
            lock_segment_cache_acquires: segment_cache.acquires,
            lock_segment_cache_contended: segment_cache.contended,
            lock_segment_cache_spins: segment_cache.spins,
            lock_segment_cache_yields: segment_cache.yields,
            lock_segment_cache_wait_ticks: segment_cache.wait_ticks,
            lock_segment_cache_hold_ticks: segment_cache.hold_ticks,
            lock_large_cache_acquires: large_cache.acquires,
            lock_large_cache_contended: large_cache.contended,
            lock_large_cache_spins: large_cache.spins,
            lock_large_cache_yields: large_cache.yields,
            lock_large_cache_wait_ticks: large_cache.wait_ticks,
            lock_large_cache_hold_ticks: large_cache.hold_ticks,
        }
    }

    /// Atomic read-modify-writes (head CAS, state swaps, page-queue CAS, failed CAS) per remote
    /// free. Includes the owner's share (pops, drains, requeues).
    pub fn rmw_per_remote_free(&self) -> f64 {
        ratio(
            self.head_cas + self.state_swaps + self.pageq_cas + self.cas_retries,
            self.remote_frees,
        )
    }

    /// Blocks per drained page (per stash swap for A).
    pub fn objects_per_drained_page(&self) -> f64 {
        ratio(self.drained_objects, self.drained_pages)
    }

    /// Share of remote frees that made a list non-empty.
    pub fn empty_to_nonempty_share(&self) -> f64 {
        ratio(self.empty_to_nonempty, self.remote_frees)
    }

    /// `(name, value)` for every counter, for printing without a formatter dependency.
    pub fn fields(&self) -> [(&'static str, u64); 40] {
        [
            ("remote_frees", self.remote_frees),
            ("head_cas", self.head_cas),
            ("state_swaps", self.state_swaps),
            ("pageq_cas", self.pageq_cas),
            ("cas_retries", self.cas_retries),
            ("empty_to_nonempty", self.empty_to_nonempty),
            ("pageq_enqueues", self.pageq_enqueues),
            ("pageq_dequeues", self.pageq_dequeues),
            ("requeues", self.requeues),
            ("drained_pages", self.drained_pages),
            ("drained_objects", self.drained_objects),
            ("packet_flushes", self.packet_flushes),
            ("packet_slot_hits", self.packet_slot_hits),
            ("fences", self.fences),
            ("collects", self.collects),
            ("empty_collects", self.empty_collects),
            ("lock_pool_acquires", self.lock_pool_acquires),
            ("lock_pool_contended", self.lock_pool_contended),
            ("lock_pool_spins", self.lock_pool_spins),
            ("lock_pool_yields", self.lock_pool_yields),
            ("lock_pool_wait_ticks", self.lock_pool_wait_ticks),
            ("lock_pool_hold_ticks", self.lock_pool_hold_ticks),
            ("lock_fallback_acquires", self.lock_fallback_acquires),
            ("lock_fallback_contended", self.lock_fallback_contended),
            ("lock_fallback_spins", self.lock_fallback_spins),
            ("lock_fallback_yields", self.lock_fallback_yields),
            ("lock_fallback_wait_ticks", self.lock_fallback_wait_ticks),
            ("lock_fallback_hold_ticks", self.lock_fallback_hold_ticks),
            (
                "lock_segment_cache_acquires",
                self.lock_segment_cache_acquires,
            ),
            (
                "lock_segment_cache_contended",
                self.lock_segment_cache_contended,
            ),
            ("lock_segment_cache_spins", self.lock_segment_cache_spins),
            ("lock_segment_cache_yields", self.lock_segment_cache_yields),
            (
                "lock_segment_cache_wait_ticks",
                self.lock_segment_cache_wait_ticks,
            ),
            (
                "lock_segment_cache_hold_ticks",
                self.lock_segment_cache_hold_ticks,
            ),
            ("lock_large_cache_acquires", self.lock_large_cache_acquires),
            (
                "lock_large_cache_contended",
                self.lock_large_cache_contended,
            ),
            ("lock_large_cache_spins", self.lock_large_cache_spins),
            ("lock_large_cache_yields", self.lock_large_cache_yields),
            (
                "lock_large_cache_wait_ticks",
                self.lock_large_cache_wait_ticks,
            ),
            (
                "lock_large_cache_hold_ticks",
                self.lock_large_cache_hold_ticks,
            ),
        ]
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
