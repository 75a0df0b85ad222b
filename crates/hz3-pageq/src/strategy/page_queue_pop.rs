//! S121-B: page-local remote lists plus the (owner, class) page queue, popped one page at a
//! time.

use super::two_word::{self, take_two_word};
use crate::counters::{Counter, Counters};
use crate::queue::PageQueue;
use crate::strategy::{RemoteFree, Sink};
use core::ptr::NonNull;
use hz3_page::{Block, PageMeta};

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
