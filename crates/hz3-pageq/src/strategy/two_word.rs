//! The two-word (head, state) page protocol shared by B, C and D, parameterised by whether
//! the `SeqCst` fences are present. Shipped strategies use `FENCED = true`; `false` exists for
//! the loom suite only (see the module documentation of [`crate::strategy`]).

use crate::counters::{Counter, Counters};
use crate::strategy::Sink;
use crate::sync::{fence, Ordering};
use core::ptr::NonNull;
use hz3_page::{Block, PageMeta};

/// Producer: pushes `block` onto `page`'s remote list. Returns `true` when the caller won
/// the idle → queued transition and must queue the page (S1).
///
/// # Safety
/// As [`RemoteFree::free_remote`](crate::RemoteFree::free_remote).
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

/// Takes `page`'s two-word remote chain and delivers it. Returns whether blocks were found.
#[inline]
pub(crate) fn take_two_word<S: Sink, C: Counters>(
    page: &PageMeta,
    sink: &mut S,
    ctr: &mut C,
) -> bool {
    ctr.bump(Counter::DrainedPages);
    match NonNull::new(page.xremote.take_all()) {
        Some(head) => {
            sink.page_blocks(page, head);
            true
        }
        None => false,
    }
}
