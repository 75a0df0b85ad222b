//! S121-C-packed: drain-all with the page's head and queued flag in one word.

use super::drain_all::drain_all_collect;
use crate::counters::{Counter, Counters};
use crate::queue::PageQueue;
use crate::strategy::{RemoteFree, Sink};
use core::ptr::NonNull;
use hz3_page::{Block, PageMeta};

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
