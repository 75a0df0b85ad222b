//! S121-D: drain-all with producer-side packets of queued pages.

use super::drain_all::drain_all_collect;
use super::two_word::{self, take_two_word};
use crate::counters::{Counter, Counters};
use crate::queue::PageQueue;
use crate::strategy::{RemoteFree, Sink};
use crate::sync::Ordering;
use core::ptr::{self, NonNull};
use hz3_page::{Block, PageMeta};

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
        let slot = &mut out.slots[(dest.addr() >> 6) % PACKET_SLOTS];
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
