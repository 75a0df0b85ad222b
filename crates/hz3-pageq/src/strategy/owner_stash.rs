//! S121=0 (variant A): the owner stash.

use crate::counters::{Counter, Counters};
use crate::strategy::{RemoteFree, Sink};
use core::ptr::NonNull;
use hz3_page::{Block, PageMeta, RemoteList};

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
