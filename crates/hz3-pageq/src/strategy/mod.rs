//! The remote-free strategies of the S121 experiment, each a type implementing [`RemoteFree`].
//!
//! A strategy decides what a thread does when it frees a block owned by another heap (the
//! *producer* side, [`RemoteFree::free_remote`]) and how the owner gets such blocks back
//! (the *consumer* side, [`RemoteFree::collect`]). The thread cache (hz3-tcache) is generic
//! over the strategy, so each strategy is its own monomorphised allocator and the local fast
//! path never branches on it.
//!
//! | type | S121 | producer (remote free) | owner (collect) |
//! |---|---|---|---|
//! | [`OwnerStash`] | A (S121=0) | CAS block onto the (owner, class) stash | swap the whole stash |
//! | [`PageQueuePop`] | B | CAS block onto `page.xremote`; on empty → non-empty: fence, swap state, if idle push page on pageq | pop one page per CAS |
//! | [`DrainAll`] | C | as B | swap the whole pageq, one `push_list` of requeues |
//! | [`Packets`] | D | as B, but newly queued pages wait in a thread-local packet of K pages per destination | as C |
//! | [`DrainAllPacked`] | C-packed | one CAS on the packed head+state word; push page if it was idle | as C, with a CAS `queued → idle` |
//! | [`CadenceCollect`] | E | CAS block onto `page.xremote`; only a flagged (full) page is queued | collect a page when it becomes the current slab, plus the queue |
//! | [`BatchedCadence`] | E-batch | as E, batched per page in a thread-local buffer | as E |
//! | [`BatchedStash`] | A-batch | batched per (owner, class) in a thread-local buffer, sent with one CAS | as A |
//! | [`CachedStash`] | A-cache | as A-batch, and the freeing thread first caches the block in its own bins | as A |
//!
//! One protocol per file: [`owner_stash`] (A), [`page_queue_pop`] (B), [`drain_all`] (C, and the
//! drain-all owner side shared with C-packed, D and E), [`drain_all_packed`] (C-packed),
//! [`packets`] (D), [`cadence`] (E, E-batch), [`batched`] (A-batch, A-cache); [`two_word`] is
//! the page protocol B, C and D share. A new strategy is one more file here plus one line in
//! hz3-alloc's strategy catalogue (`for_each_strategy!`).
//!
//! ## The two-word protocol (B, C, D) and why it needs `SeqCst` fences
//! Producer: `CAS head` … `swap state`. Owner after taking a page's chain: `store state = 0` …
//! `load head` (the "second look"). With only release/acquire this is the store-buffering
//! pattern: both loads may read the old values, so the owner sees an empty head while the
//! producer sees `state == 1`; the page is never queued again and its blocks are stranded.
//! A `fence(SeqCst)` on each side between the write and the read forbids that outcome (the
//! fences are totally ordered; whichever comes second sees the other side's write). The
//! `const FENCED: bool` parameter of [`two_word`] exists so the loom suite can show that
//! `FENCED = false` fails the model (`tests/loom_pageq.rs`).
//!
//! ## Invariants (checked by the loom models, T1/T2)
//! - **S1** (seed 1) `state == 1` ⇒ the page is in the pageq, in a producer's packet (D), or
//!   being processed by the owner.
//! - **S2** (seed 2) `head != null && state == 0` only transiently: the producer that made the
//!   list non-empty is about to swap the state (and then queues the page).
//! - **S3** (seed 3, no lost wakeup) when the owner finishes a page, either it sees the blocks
//!   pushed meanwhile and requeues the page, or the producer that pushed them sees `state == 0`
//!   and queues it.
//! - **S4** (seed 4) drain-all processes pages independently and requeues with one `push_list`.
//! - **S5** every block handed to `free_remote` is delivered to the owner's [`Sink`] exactly
//!   once (given that the owner keeps collecting and producers flush their outboxes).

use crate::counters::Counters;
use core::ptr::NonNull;
use hz3_page::{Block, PageMeta};

pub mod batched;
pub mod cadence;
pub mod drain_all;
pub mod drain_all_packed;
pub mod owner_stash;
pub mod packets;
pub mod page_queue_pop;
pub mod two_word;

pub use batched::{BatchedStash, CachedStash, StashGroups};
pub use cadence::{BatchedCadence, CadenceCollect, PageGroups};
pub use drain_all::DrainAll;
pub use drain_all_packed::DrainAllPacked;
pub use owner_stash::OwnerStash;
pub use packets::{PacketOutbox, PacketSlot, Packets, PACKET_PAGES, PACKET_SLOTS};
pub use page_queue_pop::PageQueuePop;

/// Where the owner's collect delivers blocks. Implemented by the thread cache.
pub trait Sink {
    /// A chain of free blocks of the collected class (variant A's stash), null-terminated.
    fn blocks(&mut self, head: NonNull<Block>);
    /// The blocks `head ..` (null-terminated) belong to `page` and are free again.
    fn page_blocks(&mut self, page: &PageMeta, head: NonNull<Block>);
    /// The strategy is finished with `page` and it is idle (not queued): the sink may now
    /// release it if it is empty.
    fn page_done(&mut self, page: &PageMeta);
}

/// A remote-free strategy.
///
/// # Safety
/// Implementations promise:
/// 1. All-zero bytes are a valid empty [`Inbox`](RemoteFree::Inbox) and a valid empty
///    [`Outbox`](RemoteFree::Outbox) (the thread cache places them in zeroed OS memory).
/// 2. Every block passed to `free_remote` for an inbox is delivered exactly once to a
///    [`Sink`] of a later `collect` on that inbox, provided outboxes are flushed (S5).
/// 3. `page_done` is called only for a page that is idle and in no queue or packet.
/// 4. Nothing allocates, panics, or blocks on a lock.
/// 5. [`ID`](RemoteFree::ID) is unique among the strategies of a process and below
///    `hz3_tcache::MAX_STRATEGIES` (16). It selects the allocator instance's thread-local heap
///    slot and its registry: two strategies with one `ID` would share heaps, so one would
///    treat the other's heaps (with a different [`Inbox`](RemoteFree::Inbox) layout) as its
///    own. The shipped strategies use 0–8 (hz3-alloc checks at compile time that its catalogue
///    has no two alike); a new one takes the next free number.
pub unsafe trait RemoteFree: Sized + 'static {
    /// Short name used by the benchmark matrix (`hz3-<NAME>`).
    const NAME: &'static str;
    /// A small number, unique per strategy (safety promise 5): it selects the thread-local
    /// heap slot and the registry of each allocator instance.
    const ID: usize;
    /// The owner's receiving end for one size class.
    type Inbox: Sync;
    /// A producer thread's private buffer (unit for all but [`Packets`]).
    type Outbox;

    /// Producer: frees `block`, which lies in `page`, whose owner receives through `inbox`.
    /// `out` is the calling thread's outbox, if it has one.
    ///
    /// # Safety
    /// `block` is a live block of `page`, owned by the heap that owns `inbox`, given up by the
    /// caller; `inbox` and `page` stay valid (P3, Q4).
    unsafe fn free_remote<C: Counters>(
        inbox: &Self::Inbox,
        page: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut Self::Outbox>,
        ctr: &mut C,
    );

    /// Producer: frees the run `first ..= last` of `n` blocks, linked through their first
    /// words (plain links), all of `page`, whose owner receives through `inbox`, as `n` calls
    /// of [`free_remote`](Self::free_remote) would. The batching strategies add the run to
    /// their group for the destination with one splice. Default: one `free_remote` per block.
    ///
    /// # Safety
    /// As [`free_remote`](Self::free_remote) for each block of the run; `n >= 1` and following
    /// `n - 1` links from `first` reaches `last`.
    #[inline(always)]
    unsafe fn free_remote_run<C: Counters>(
        inbox: &Self::Inbox,
        page: &PageMeta,
        first: NonNull<Block>,
        _last: NonNull<Block>,
        n: u32,
        mut out: Option<&mut Self::Outbox>,
        ctr: &mut C,
    ) {
        let mut b = first.as_ptr();
        for _ in 0..n {
            // SAFETY: a block of the run (the contract); its link is read before it leaves.
            let next = unsafe { Block::next(b) };
            // SAFETY: the caller gives the run's blocks up; each is a live block of `page`.
            unsafe {
                Self::free_remote(
                    inbox,
                    page,
                    NonNull::new_unchecked(b),
                    out.as_deref_mut(),
                    ctr,
                )
            };
            b = next;
        }
    }

    /// Owner: takes what arrived in `inbox` and hands it to `sink`. Returns whether anything
    /// was delivered.
    ///
    /// # Safety
    /// Only the owner of `inbox` calls this (Q2), and every page it may find is valid.
    unsafe fn collect<S: Sink, C: Counters>(inbox: &Self::Inbox, sink: &mut S, ctr: &mut C)
        -> bool;

    /// Publishes everything buffered in `out` (thread exit, idle). No-op by default.
    ///
    /// # Safety
    /// `out` belongs to the calling thread; the inboxes it refers to are valid (Q4).
    #[inline(always)]
    unsafe fn flush_outbox<C: Counters>(_out: &mut Self::Outbox, _ctr: &mut C) {}

    /// Whether `inbox` may hold something (relaxed snapshot).
    fn inbox_pending(inbox: &Self::Inbox) -> bool;

    /// When true, a thread that holds a heap keeps blocks it frees for other owners in its own
    /// thread cache (reusing them for its own allocations, as jemalloc and tcmalloc do) and
    /// sends them home through `free_remote` only when its cache overflows or it exits. The
    /// owner's slab keeps counting such a block as used the whole time (P3).
    const CACHE_FOREIGN: bool = false;

    /// Owner, about to refill from `page` (the current slab of its class, whose free list is
    /// empty): takes blocks that arrived on the page without notification and hands them to
    /// `sink`. Default: nothing (notifying strategies deliver through `collect`).
    ///
    /// # Safety
    /// The caller owns `page` (a live slab head of its heap).
    #[inline(always)]
    unsafe fn collect_page<S: Sink, C: Counters>(
        _page: &PageMeta,
        _sink: &mut S,
        _ctr: &mut C,
    ) -> bool {
        false
    }

    /// Owner: `page` has no free block left and is about to move to the full list. Returns
    /// `false` when it must stay (blocks arrived meanwhile and were handed to `sink`).
    /// Default: `true`.
    ///
    /// # Safety
    /// The caller owns `page` (a live slab head of its heap).
    #[inline(always)]
    unsafe fn on_page_full<S: Sink, C: Counters>(
        _page: &PageMeta,
        _sink: &mut S,
        _ctr: &mut C,
    ) -> bool {
        true
    }
}
