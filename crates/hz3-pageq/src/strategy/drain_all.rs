//! S121-C: drain-all. Also the drain-all owner side shared by C, C-packed, D and E.

use super::two_word::{self, take_two_word};
use super::PageQueuePop;
use crate::counters::{Counter, Counters};
use crate::queue::PageQueue;
use crate::strategy::{RemoteFree, Sink};
use crate::sync::Ordering;
use core::ptr::{self, NonNull};
use hz3_page::{Block, PageMeta};

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
