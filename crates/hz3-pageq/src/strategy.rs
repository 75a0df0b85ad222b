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

use crate::counters::{Counter, Counters};
use crate::queue::PageQueue;
use crate::sync::{fence, Ordering};
use core::ptr::{self, NonNull};
use hz3_page::{Block, PageMeta, RemoteList};

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
pub unsafe trait RemoteFree: Sized + 'static {
    /// Short name used by the benchmark matrix (`hz3-<NAME>`).
    const NAME: &'static str;
    /// A small unique number (selects the thread-local slot of each allocator instance).
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

// ------------------------------------------------------------------------------------------
// A: owner stash
// ------------------------------------------------------------------------------------------

/// S121=0 (variant A): one MPSC block stack per (owner, size class). A remote free is one CAS;
/// the owner takes the whole stack with one swap on its slow path.
#[derive(Debug)]
pub struct OwnerStash;

// SAFETY: (1) a zero `RemoteList` is empty and `()` has no bytes; (2) each pushed block is in
// the stash until the single swap in `collect` hands the whole chain to the sink (R1–R3);
// (3) `page_done` is never called; (4) only atomics.
unsafe impl RemoteFree for OwnerStash {
    const NAME: &'static str = "a";
    const ID: usize = 0;
    type Inbox = RemoteList;
    type Outbox = ();

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &RemoteList,
        _page: &PageMeta,
        block: NonNull<Block>,
        _out: Option<&mut ()>,
        ctr: &mut C,
    ) {
        // SAFETY: the caller gives up `block` (trait contract).
        let push = unsafe { inbox.push(block) };
        ctr.bump(Counter::HeadCas);
        ctr.add(Counter::CasRetries, push.retries as u64);
        if push.notify {
            ctr.bump(Counter::EmptyToNonempty);
        }
    }

    #[inline]
    unsafe fn collect<S: Sink, C: Counters>(inbox: &RemoteList, sink: &mut S, ctr: &mut C) -> bool {
        ctr.bump(Counter::Collects);
        if inbox.is_empty() {
            ctr.bump(Counter::EmptyCollects);
            return false;
        }
        match NonNull::new(inbox.take_all()) {
            Some(head) => {
                ctr.bump(Counter::DrainedPages);
                sink.blocks(head);
                true
            }
            None => false,
        }
    }

    fn inbox_pending(inbox: &RemoteList) -> bool {
        !inbox.is_empty()
    }
}

// ------------------------------------------------------------------------------------------
// The two-word page protocol shared by B, C and D
// ------------------------------------------------------------------------------------------

/// The two-word (head, state) page protocol, parameterised by whether the `SeqCst` fences are
/// present. Shipped strategies use `FENCED = true`; `false` exists for the loom suite only.
pub mod two_word {
    use super::*;

    /// Producer: pushes `block` onto `page`'s remote list. Returns `true` when the caller won
    /// the idle → queued transition and must queue the page (S1).
    ///
    /// # Safety
    /// As [`RemoteFree::free_remote`].
    #[inline]
    pub unsafe fn push<const FENCED: bool, C: Counters>(
        page: &PageMeta,
        block: NonNull<Block>,
        ctr: &mut C,
    ) -> bool {
        // SAFETY: the caller gives up `block`.
        let push = unsafe { page.xremote.push(block) };
        ctr.bump(Counter::HeadCas);
        ctr.add(Counter::CasRetries, push.retries as u64);
        if !push.notify {
            return false;
        }
        ctr.bump(Counter::EmptyToNonempty);
        if FENCED {
            // Pairs with the owner's fence in `settle` (S3; store-buffering).
            fence(Ordering::SeqCst);
            ctr.bump(Counter::Fences);
        }
        ctr.bump(Counter::StateSwaps);
        page.xremote_state.swap(1, Ordering::AcqRel) == 0
    }

    /// Owner, after taking `page`'s chain and delivering it: resets the state with a second
    /// look. Returns `true` when blocks arrived meanwhile and the owner must requeue the page
    /// (it is then still `state == 1`); `false` when the page is idle.
    #[inline]
    pub fn settle<const FENCED: bool, C: Counters>(page: &PageMeta, ctr: &mut C) -> bool {
        // Under loom the reset is a swap whose result is ignored: loom 0.7 lets a plain store
        // slip between the read and the write of a concurrent RMW (the producer's state swap),
        // an execution C11 forbids (RMW atomicity; tokio-rs/loom#254), which makes this
        // protocol fail the model spuriously. The swap allows a subset of the store's
        // executions (it also extends release sequences, which nothing here relies on: a
        // producer that wins 0 -> 1 synchronises with this Release either way).
        #[cfg(not(loom))]
        page.xremote_state.store(0, Ordering::Release);
        #[cfg(loom)]
        page.xremote_state.swap(0, Ordering::Release);
        if FENCED {
            // Pairs with the producer's fence in `push` (S3).
            fence(Ordering::SeqCst);
            ctr.bump(Counter::Fences);
        }
        if page.xremote.is_empty() {
            return false;
        }
        ctr.bump(Counter::StateSwaps);
        // If a producer already won 0 → 1 it queued the page itself; otherwise we requeue.
        page.xremote_state.swap(1, Ordering::AcqRel) == 0
    }
}

/// Takes `page`'s two-word remote chain and delivers it. Returns whether blocks were found.
#[inline]
fn take_two_word<S: Sink, C: Counters>(page: &PageMeta, sink: &mut S, ctr: &mut C) -> bool {
    ctr.bump(Counter::DrainedPages);
    match NonNull::new(page.xremote.take_all()) {
        Some(head) => {
            sink.page_blocks(page, head);
            true
        }
        None => false,
    }
}

/// S121-B: page-local remote lists plus the (owner, class) page queue; the owner pops one page
/// per CAS.
#[derive(Debug)]
pub struct PageQueuePop;

// SAFETY: (1) a zero `PageQueue` is empty; (2) a pushed block stays on its page's list until
// the owner takes the chain of a page it popped; S3 guarantees the page is (re)queued whenever
// its list is non-empty and nobody is processing it; (3) `page_done` only after `settle`
// reported idle; (4) only atomics.
unsafe impl RemoteFree for PageQueuePop {
    const NAME: &'static str = "b";
    const ID: usize = 1;
    type Inbox = PageQueue;
    type Outbox = ();

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &PageQueue,
        page: &PageMeta,
        block: NonNull<Block>,
        _out: Option<&mut ()>,
        ctr: &mut C,
    ) {
        // SAFETY: forwarded contract.
        if unsafe { two_word::push::<true, C>(page, block, ctr) } {
            // SAFETY: we won idle → queued, so the page is in no queue (Q1).
            let r = unsafe { inbox.push(page) };
            ctr.bump(Counter::PageqCas);
            ctr.add(Counter::CasRetries, r as u64);
            ctr.bump(Counter::PageqEnqueues);
        }
    }

    unsafe fn collect<S: Sink, C: Counters>(inbox: &PageQueue, sink: &mut S, ctr: &mut C) -> bool {
        ctr.bump(Counter::Collects);
        let mut got = false;
        // Pop pages one at a time until one yields blocks.
        while !got {
            let (page, retries) = inbox.pop_counted();
            ctr.add(Counter::CasRetries, retries as u64);
            let Some(page) = page else { break };
            ctr.bump(Counter::PageqCas);
            ctr.bump(Counter::PageqDequeues);
            got = take_two_word(page, sink, ctr);
            if two_word::settle::<true, C>(page, ctr) {
                ctr.bump(Counter::Requeues);
                ctr.bump(Counter::PageqCas);
                // SAFETY: `settle` returned true: we hold the page in state 1 and it is in no
                // queue (Q1).
                let r = unsafe { inbox.push(page) };
                ctr.add(Counter::CasRetries, r as u64);
            } else {
                sink.page_done(page);
            }
        }
        if !got {
            ctr.bump(Counter::EmptyCollects);
        }
        got
    }

    fn inbox_pending(inbox: &PageQueue) -> bool {
        !inbox.is_empty()
    }
}

/// The drain-all owner side shared by C and D: swap the queue, process every page, requeue
/// with one `push_list` (S4). `take` takes and delivers a page's chain; `settle` returns
/// whether to requeue.
#[inline]
pub(crate) fn drain_all_collect<S: Sink, C: Counters>(
    inbox: &PageQueue,
    sink: &mut S,
    ctr: &mut C,
    take: impl Fn(&PageMeta, &mut S, &mut C) -> bool,
    settle: impl Fn(&PageMeta, &mut C) -> bool,
) -> bool {
    ctr.bump(Counter::Collects);
    if inbox.is_empty() {
        ctr.bump(Counter::EmptyCollects);
        return false;
    }
    let mut cur = inbox.drain_all();
    ctr.bump(Counter::PageqCas);
    let mut got = false;
    let mut rq_first: *mut PageMeta = ptr::null_mut();
    let mut rq_last: *mut PageMeta = ptr::null_mut();
    while !cur.is_null() {
        // SAFETY: the drained chain is exclusively ours (Q2) and its pages valid (Q3).
        let page = unsafe { &*cur };
        cur = page.xqnext.load(Ordering::Relaxed);
        ctr.bump(Counter::PageqDequeues);
        got |= take(page, sink, ctr);
        if settle(page, ctr) {
            ctr.bump(Counter::Requeues);
            page.xqnext.store(rq_first, Ordering::Relaxed);
            if rq_last.is_null() {
                rq_last = page as *const PageMeta as *mut PageMeta;
            }
            rq_first = page as *const PageMeta as *mut PageMeta;
        } else {
            sink.page_done(page);
        }
    }
    if let (Some(first), Some(last)) = (NonNull::new(rq_first), NonNull::new(rq_last)) {
        // SAFETY: the requeued pages are held by us in state 1 and in no queue (Q1).
        let r = unsafe { inbox.push_list(first, last) };
        ctr.bump(Counter::PageqCas);
        ctr.add(Counter::CasRetries, r as u64);
    }
    if !got {
        ctr.bump(Counter::EmptyCollects);
    }
    got
}

/// S121-C: as B, but the owner swaps the whole page queue and requeues with one `push_list`.
#[derive(Debug)]
pub struct DrainAll;

// SAFETY: as for `PageQueuePop`; the drained chain is processed page by page with the same
// `settle`, and requeued pages are pushed back in one `push_list` (S4).
unsafe impl RemoteFree for DrainAll {
    const NAME: &'static str = "c";
    const ID: usize = 2;
    type Inbox = PageQueue;
    type Outbox = ();

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &PageQueue,
        page: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut ()>,
        ctr: &mut C,
    ) {
        // SAFETY: same producer side as B.
        unsafe { PageQueuePop::free_remote(inbox, page, block, out, ctr) }
    }

    unsafe fn collect<S: Sink, C: Counters>(inbox: &PageQueue, sink: &mut S, ctr: &mut C) -> bool {
        drain_all_collect(inbox, sink, ctr, take_two_word, two_word::settle::<true, C>)
    }

    fn inbox_pending(inbox: &PageQueue) -> bool {
        !inbox.is_empty()
    }
}

/// S121-C-packed: drain-all with each page's head and queued flag in one word
/// ([`PackedRemoteList`](hz3_page::PackedRemoteList)). A remote free is one CAS; only the push
/// that finds the page idle queues it; the owner's `queued → idle` CAS fails exactly when a
/// push arrived, and then the owner requeues (no fence needed, R4).
#[derive(Debug)]
pub struct DrainAllPacked;

// SAFETY: (1) zero queue; (2) R4: a non-empty list is always flagged queued, the flag is set
// by exactly one push from idle (which queues the page) and cleared only by the owner's CAS
// from `QUEUED` (empty), so a non-empty page is always queued or being processed; (3)
// `page_done` only after `try_idle` succeeded; (4) only atomics.
unsafe impl RemoteFree for DrainAllPacked {
    const NAME: &'static str = "c-packed";
    const ID: usize = 4;
    type Inbox = PageQueue;
    type Outbox = ();

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &PageQueue,
        page: &PageMeta,
        block: NonNull<Block>,
        _out: Option<&mut ()>,
        ctr: &mut C,
    ) {
        // SAFETY: the caller gives up `block`; blocks are 16-byte aligned.
        let push = unsafe { page.xremote_packed().push(block) };
        ctr.bump(Counter::HeadCas);
        ctr.add(Counter::CasRetries, push.retries as u64);
        if push.notify {
            ctr.bump(Counter::EmptyToNonempty);
            // SAFETY: this push moved the word from idle, so the page is in no queue (R4, Q1).
            let r = unsafe { inbox.push(page) };
            ctr.bump(Counter::PageqCas);
            ctr.add(Counter::CasRetries, r as u64);
            ctr.bump(Counter::PageqEnqueues);
        }
    }

    unsafe fn collect<S: Sink, C: Counters>(inbox: &PageQueue, sink: &mut S, ctr: &mut C) -> bool {
        drain_all_collect(
            inbox,
            sink,
            ctr,
            |page, sink, ctr| {
                ctr.bump(Counter::DrainedPages);
                match NonNull::new(page.xremote_packed().take_all_keep_queued()) {
                    Some(head) => {
                        sink.page_blocks(page, head);
                        true
                    }
                    None => false,
                }
            },
            |page, ctr| {
                ctr.bump(Counter::StateSwaps);
                !page.xremote_packed().try_idle()
            },
        )
    }

    fn inbox_pending(inbox: &PageQueue) -> bool {
        !inbox.is_empty()
    }
}

// ------------------------------------------------------------------------------------------
// D: packets
// ------------------------------------------------------------------------------------------

/// Pages per packet (K) of [`Packets`].
pub const PACKET_PAGES: u32 = 4;
/// Packet slots per thread (N) of [`Packets`].
pub const PACKET_SLOTS: usize = 8;

/// One open packet: pages newly queued for one destination inbox, linked through `xqnext`.
#[derive(Debug)]
pub struct PacketSlot {
    dest: *const PageQueue,
    first: *mut PageMeta,
    last: *mut PageMeta,
    len: u32,
}

/// A thread's packets (all-zero = every slot closed).
#[derive(Debug)]
pub struct PacketOutbox {
    slots: [PacketSlot; PACKET_SLOTS],
}

impl PacketOutbox {
    /// All slots empty.
    pub const fn new() -> Self {
        const EMPTY: PacketSlot = PacketSlot {
            dest: ptr::null(),
            first: ptr::null_mut(),
            last: ptr::null_mut(),
            len: 0,
        };
        PacketOutbox {
            slots: [EMPTY; PACKET_SLOTS],
        }
    }

    /// Pages waiting in open packets.
    pub fn pending_pages(&self) -> usize {
        self.slots.iter().map(|s| s.len as usize).sum()
    }
}

impl Default for PacketOutbox {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketSlot {
    /// Publishes the packet with one `push_list`.
    ///
    /// # Safety
    /// The destination queue is valid (Q4); the pages are held in state 1 by this thread.
    #[inline]
    unsafe fn flush<C: Counters>(&mut self, ctr: &mut C) {
        if let (Some(first), Some(last)) = (NonNull::new(self.first), NonNull::new(self.last)) {
            // SAFETY: per this function's contract.
            let r = unsafe { (*self.dest).push_list(first, last) };
            ctr.bump(Counter::PageqCas);
            ctr.add(Counter::CasRetries, r as u64);
            ctr.bump(Counter::PacketFlushes);
            ctr.add(Counter::PageqEnqueues, self.len as u64);
        }
        self.first = ptr::null_mut();
        self.last = ptr::null_mut();
        self.len = 0;
    }
}

/// S121-D: C with producer-side packets. A page the producer moved idle → queued is not pushed
/// at once; it waits in a thread-local packet (one of [`PACKET_SLOTS`] slots, direct-mapped by
/// destination) until [`PACKET_PAGES`] pages for that (owner, class) are collected, then all
/// are published with one `push_list`. Packets are flushed at thread exit and on the thread's
/// allocation slow path; a thread without an outbox pushes directly.
#[derive(Debug)]
pub struct Packets;

// SAFETY: (1) zero queue and zero outbox are empty; (2) a page in a packet is in state 1 and
// reaches its queue when the packet is flushed (full, evicted, thread exit or slow path; S1);
// (3) as C; (4) only atomics.
unsafe impl RemoteFree for Packets {
    const NAME: &'static str = "d";
    const ID: usize = 3;
    type Inbox = PageQueue;
    type Outbox = PacketOutbox;

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &PageQueue,
        page: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut PacketOutbox>,
        ctr: &mut C,
    ) {
        // SAFETY: forwarded contract.
        if !unsafe { two_word::push::<true, C>(page, block, ctr) } {
            return;
        }
        let Some(out) = out else {
            // SAFETY: we won idle → queued; the page is in no queue (Q1).
            let r = unsafe { inbox.push(page) };
            ctr.bump(Counter::PageqCas);
            ctr.add(Counter::CasRetries, r as u64);
            ctr.bump(Counter::PageqEnqueues);
            return;
        };
        let dest = inbox as *const PageQueue;
        let slot = &mut out.slots[(dest as usize >> 6) % PACKET_SLOTS];
        if slot.len != 0 && slot.dest != dest {
            // SAFETY: the slot's pages are ours in state 1; its destination is valid (Q4).
            unsafe { slot.flush(ctr) };
        }
        if slot.len != 0 {
            ctr.bump(Counter::PacketSlotHits);
        }
        slot.dest = dest;
        let p = page as *const PageMeta as *mut PageMeta;
        page.xqnext.store(slot.first, Ordering::Relaxed);
        if slot.last.is_null() {
            slot.last = p;
        }
        slot.first = p;
        slot.len += 1;
        if slot.len >= PACKET_PAGES {
            // SAFETY: as above.
            unsafe { slot.flush(ctr) };
        }
    }

    unsafe fn collect<S: Sink, C: Counters>(inbox: &PageQueue, sink: &mut S, ctr: &mut C) -> bool {
        drain_all_collect(inbox, sink, ctr, take_two_word, two_word::settle::<true, C>)
    }

    unsafe fn flush_outbox<C: Counters>(out: &mut PacketOutbox, ctr: &mut C) {
        for slot in out.slots.iter_mut() {
            if slot.len != 0 {
                // SAFETY: the caller's outbox; destinations valid (Q4).
                unsafe { slot.flush(ctr) };
            }
        }
    }

    fn inbox_pending(inbox: &PageQueue) -> bool {
        !inbox.is_empty()
    }
}
