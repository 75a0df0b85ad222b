//! hz3-alloc — TEMPORARY STUB while the core is written. The public API below is the contract:
//! the types and functions keep these names; the bodies will become the real allocator.
use core::alloc::{GlobalAlloc, Layout};
use core::marker::PhantomData;

pub mod strategy {
    /// S121=0 owner stash (variant A).
    pub struct OwnerStash;
    /// S121-B page-local remote + pageq pop.
    pub struct PageQueuePop;
    /// S121-C drain-all.
    pub struct DrainAll;
    /// S121-D packets.
    pub struct Packets;
    /// S121-C with packed head+state word.
    pub struct DrainAllPacked;
}
/// Build flavours.
pub mod config {
    pub struct Fast;
    pub struct WithStats;
    pub struct Checked;
}

/// Counters summed over all threads (all zero unless the `WithStats` config is used).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub remote_frees: u64,
    pub head_cas: u64,
    pub state_swaps: u64,
    pub pageq_cas: u64,
    pub cas_retries: u64,
    pub empty_to_nonempty: u64,
    pub pageq_enqueues: u64,
    pub pageq_dequeues: u64,
    pub requeues: u64,
    pub drained_pages: u64,
    pub drained_objects: u64,
    pub packet_flushes: u64,
    pub packet_slot_hits: u64,
}

pub struct Hz3<R = strategy::DrainAll, C = config::Fast>(PhantomData<(R, C)>);
impl<R, C> Hz3<R, C> {
    pub const fn new() -> Self { Hz3(PhantomData) }
    pub fn stats() -> Stats { Stats::default() }
}
unsafe impl<R, C> GlobalAlloc for Hz3<R, C> {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { unsafe { std::alloc::System.alloc(l) } }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { unsafe { std::alloc::System.dealloc(p, l) } }
}
pub type Hz3A = Hz3<strategy::OwnerStash>;
pub type Hz3B = Hz3<strategy::PageQueuePop>;
pub type Hz3C = Hz3<strategy::DrainAll>;
pub type Hz3D = Hz3<strategy::Packets>;
pub type Hz3CPacked = Hz3<strategy::DrainAllPacked>;
