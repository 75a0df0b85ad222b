//! Cadence collection (S121-E, done as mimalloc does it) and its batched form.
//!
//! The common remote free is one CAS onto the page's list and notifies nobody. The owner
//! collects the list of the slab it is about to allocate from, on its own refill slow path
//! (a bounded cadence: once per refill batch), so the cost is proportional to the pages that
//! have something to collect — never a scan of the owner's pages. A page the owner is not
//! using (full) would never be looked at, so when the owner retires a page to its full list it
//! flags it [`NOTIFY`](hz3_page::NOTIFY): the first push after that queues the page on the
//! (owner, class) page queue, once (R5, R6), and the owner drains the queue like C.
//!
//! [`BatchedCadence`] adds producer-side batching: a thread groups its remote frees per
//! destination page in a small thread-local buffer and publishes each group with one CAS.
//!
//! Invariants (in addition to R5/R6):
//! - **E1** a block pushed on a page whose word is unflagged is collected by the owner the next
//!   time that page is its current slab (partial pages all become current in turn), or at
//!   thread exit / `collect()`.
//! - **E2** a block pushed on a flagged page reaches the owner's queue (the `NOTIFY` push queues
//!   it; `QUEUED` pushes find it queued or being processed, and the owner's `try_idle` fails
//!   and it re-takes).
//! - **E3** (batched) a thread's buffer holds at most [`BATCH_SLOTS`] groups of at most
//!   [`BATCH_MAX`] blocks and at most [`BATCH_BYTES`] bytes each; it is flushed when a group is
//!   full, when its slot is needed by another page, on the thread's allocation slow path and at
//!   thread exit.

use crate::counters::{Counter, Counters};
use crate::group::Groups;
use crate::queue::PageQueue;
use crate::strategy::drain_all::drain_all_collect;
use crate::strategy::{RemoteFree, Sink};
use core::ptr::{self, NonNull};
use hz3_page::{class_size, Block, PageMeta};

/// Takes a queued page's blocks, retrying `try_idle` a few times before requeueing.
fn take_queued<S: Sink, C: Counters>(page: &PageMeta, sink: &mut S, ctr: &mut C) -> bool {
    ctr.bump(Counter::DrainedPages);
    match NonNull::new(page.xremote_flagged().take_all_keep_queued()) {
        Some(head) => {
            sink.page_blocks(page, head);
            true
        }
        None => false,
    }
}

fn settle_queued<C: Counters>(page: &PageMeta, ctr: &mut C) -> bool {
    ctr.bump(Counter::StateSwaps);
    !page.xremote_flagged().try_idle()
}

/// Owner side shared by E and E-batched.
macro_rules! cadence_owner {
    () => {
        unsafe fn collect<S: Sink, C: Counters>(
            inbox: &PageQueue,
            sink: &mut S,
            ctr: &mut C,
        ) -> bool {
            drain_all_collect(inbox, sink, ctr, take_queued, settle_queued)
        }

        fn inbox_pending(inbox: &PageQueue) -> bool {
            !inbox.is_empty()
        }

        #[inline]
        unsafe fn collect_page<S: Sink, C: Counters>(
            page: &PageMeta,
            sink: &mut S,
            ctr: &mut C,
        ) -> bool {
            match NonNull::new(page.xremote_flagged().take_unflagged()) {
                Some(head) => {
                    ctr.bump(Counter::DrainedPages);
                    sink.page_blocks(page, head);
                    true
                }
                None => false,
            }
        }

        #[inline]
        unsafe fn on_page_full<S: Sink, C: Counters>(
            page: &PageMeta,
            sink: &mut S,
            ctr: &mut C,
        ) -> bool {
            let list = page.xremote_flagged();
            if list.try_mark_full() {
                return true;
            }
            // Blocks arrived (unflagged) or a flag is already set (a page that went full →
            // partial → full again keeps its NOTIFY or is queued): take unflagged blocks now.
            // SAFETY: forwarded (we own the page).
            if unsafe { Self::collect_page(page, sink, ctr) } {
                return false;
            }
            true
        }
    };
}

/// S121-E: cadence collect with a one-time notification for full pages.
#[derive(Debug)]
pub struct CadenceCollect;

// SAFETY: (1) zero queue; (2) E1/E2: every pushed block is taken by `collect_page`,
// `collect`, or the owner's exit flush; (3) `page_done` only after `try_idle` succeeded;
// (4) only atomics.
unsafe impl RemoteFree for CadenceCollect {
    const NAME: &'static str = "e";
    const ID: usize = 5;
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
        // SAFETY: the caller gives up `block`.
        unsafe { publish(inbox, page, block, block, ctr) }
    }

    cadence_owner!();
}

/// Pushes a chain on `page` and queues the page if this push consumed its NOTIFY flag.
///
/// # Safety
/// The caller gives up the chain's blocks, all of `page`, owned by `inbox`'s heap.
#[inline]
unsafe fn publish<C: Counters>(
    inbox: &PageQueue,
    page: &PageMeta,
    first: NonNull<Block>,
    last: NonNull<Block>,
    ctr: &mut C,
) {
    // SAFETY: forwarded.
    let push = unsafe { page.xremote_flagged().push_list(first, last) };
    ctr.bump(Counter::HeadCas);
    ctr.add(Counter::CasRetries, push.retries as u64);
    if push.notify {
        ctr.bump(Counter::EmptyToNonempty);
        // SAFETY: R6: the unique push that consumed NOTIFY; the page is in no queue (Q1).
        let r = unsafe { inbox.push(page) };
        ctr.bump(Counter::PageqCas);
        ctr.add(Counter::CasRetries, r as u64);
        ctr.bump(Counter::PageqEnqueues);
    }
}

/// Groups per thread in [`BatchedCadence`]'s buffer.
pub const BATCH_SLOTS: usize = 16;
/// Blocks per group at most.
pub const BATCH_MAX: u32 = 32;
/// Bytes per group at most (large classes flush at once).
pub const BATCH_BYTES: usize = 32 * 1024;

/// A thread's buffer of per-page groups (all-zero = empty).
pub type PageGroups = Groups<BATCH_SLOTS>;

/// Sends an E-batch group: its blocks belong to the page at `page`, owned through `inbox`.
///
/// # Safety
/// The page and inbox are valid and the blocks live (P3, Q4).
#[inline(always)]
unsafe fn send_page_group<C: Counters>(
    page: *const (),
    inbox: *const (),
    first: NonNull<Block>,
    last: NonNull<Block>,
    ctr: &mut C,
) {
    // SAFETY: per the contract (groups are formed per page, E3).
    unsafe {
        publish(
            &*inbox.cast::<PageQueue>(),
            &*page.cast::<PageMeta>(),
            first,
            last,
            ctr,
        )
    }
}

/// E with producer-side batching: a remote free links the block into the thread's group for
/// its page (no atomic); a full group, an evicted group, the thread's allocation slow path and
/// thread exit publish a group with one CAS (E3). Notification as E.
#[derive(Debug)]
pub struct BatchedCadence;

// SAFETY: (1) zero queue, zero buffer; (2) E1/E2 once published, and E3 bounds how long a
// block waits in a buffer (flushed on the holder's slow path and at exit); (3) as E; (4) only
// atomics.
unsafe impl RemoteFree for BatchedCadence {
    const NAME: &'static str = "e-batch";
    const ID: usize = 6;
    type Inbox = PageQueue;
    type Outbox = PageGroups;

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &PageQueue,
        page: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut PageGroups>,
        ctr: &mut C,
    ) {
        let Some(out) = out else {
            // SAFETY: the caller gives up `block`.
            return unsafe { publish(inbox, page, block, block, ctr) };
        };
        let max = || (BATCH_BYTES / class_size(page.class())).clamp(1, BATCH_MAX as usize) as u32;
        let (key, aux) = (
            ptr::from_ref(page).cast::<()>(),
            ptr::from_ref(inbox).cast::<()>(),
        );
        // SAFETY: the caller gives up `block`; every group is sent to its own page (E3).
        unsafe {
            out.add(key, aux, 7, block, max, ctr, |k, a, f, l, c| {
                send_page_group(k, a, f, l, c)
            })
        }
    }

    unsafe fn flush_outbox<C: Counters>(out: &mut PageGroups, ctr: &mut C) {
        // SAFETY: the caller's buffer; its groups' pages and inboxes are valid.
        out.flush(ctr, |k, a, f, l, c| unsafe {
            send_page_group(k, a, f, l, c)
        });
    }

    cadence_owner!();
}
