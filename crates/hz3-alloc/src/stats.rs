//! The statistics snapshot (`Hz3::<R, WithStats>::stats()`).

use hz3_pageq::{Counter, CounterArray};

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
}

impl Stats {
    pub(crate) fn from_counters(c: &CounterArray) -> Self {
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
    pub fn fields(&self) -> [(&'static str, u64); 16] {
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
