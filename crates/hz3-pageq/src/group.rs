//! A thread-local buffer of block groups, one open group per destination slot: the producer
//! side shared by the batching strategies (E-batch groups per page, A-batch and A-cache groups
//! per (owner, class) stash). Adding a block links it into its group with no atomic; a group
//! is handed to the strategy's `send` when it is full, when its slot is needed by another
//! destination, or when the whole buffer is flushed.
//!
//! Invariant **G-B**: at most `N` groups are open, each holds `1..=max` blocks for one
//! destination, linked `first ..= last` through their first words, and `open` is non-zero
//! while any is; all-zero bytes are an empty buffer.

use crate::counters::{Counter, Counters};
use core::ptr::{self, NonNull};
use hz3_page::Block;

/// One open group.
#[derive(Debug)]
struct Group {
    /// The destination (a page meta or a stash), kept as a pointer so that sending the group
    /// reaches it with its provenance.
    key: *const (),
    /// A second pointer the strategy needs to send the group (E-batch: the page's inbox).
    aux: *const (),
    first: *mut Block,
    last: *mut Block,
    len: u32,
    max: u32,
}

/// A thread's buffer of `N` direct-mapped groups (all-zero = empty).
#[derive(Debug)]
pub struct Groups<const N: usize> {
    slots: [Group; N],
    /// Zero only if no slot holds an open group (`len != 0`): set when a group opens, cleared
    /// by a flush, so that the flush of an empty buffer (on every allocation slow path) reads
    /// one word. Not cleared when a full group leaves, which keeps `add`'s hot path (and its
    /// registers) as they were without it.
    open: u32,
}

impl<const N: usize> Groups<N> {
    /// Blocks waiting in the buffer.
    pub fn pending(&self) -> usize {
        self.slots.iter().map(|s| s.len as usize).sum()
    }

    /// Adds `block` to the group for `key` (slot chosen by its address `>> shift`), starting a group of
    /// at most `max()` blocks if needed (computed only then: it costs a division). A group that is evicted or becomes full is passed to
    /// `send(key, aux, first, last, ctr)`.
    ///
    /// # Safety
    /// The caller gives up `block`; `send` must accept any group this buffer formed.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn add<C: Counters>(
        &mut self,
        key: *const (),
        aux: *const (),
        shift: u32,
        block: NonNull<Block>,
        max: impl FnOnce() -> u32,
        ctr: &mut C,
        mut send: impl FnMut(*const (), *const (), NonNull<Block>, NonNull<Block>, &mut C),
    ) {
        let Groups { slots, open } = self;
        let slot = &mut slots[(key.addr() >> shift) % N];
        let b = block.as_ptr();
        if slot.key == key && slot.len != 0 {
            ctr.bump(Counter::PacketSlotHits);
            // SAFETY: `b` is the caller's; it joins our private group.
            unsafe { Block::set_next(b, slot.first) };
            slot.first = b;
            slot.len += 1;
        } else {
            // Before the eviction's send, so that nothing after it needs `self`.
            *open = 1;
            if slot.len != 0 {
                slot.take(ctr, &mut send);
            }
            // SAFETY: `b` is the caller's.
            unsafe { Block::set_next(b, ptr::null_mut()) };
            *slot = Group {
                key,
                aux,
                first: b,
                last: b,
                len: 1,
                max: max(),
            };
        }
        if slot.len >= slot.max {
            slot.take(ctr, &mut send);
        }
    }

    /// Adds the run `first ..= last` of `n` blocks for `key` (linked through their first
    /// words) as [`add`](Self::add) adds one block: spliced in front of the open group when
    /// the group has room for all of it, else the open group is sent and the run starts a
    /// new one (or, when it alone fills a group, is sent at once).
    ///
    /// # Safety
    /// The caller gives up the run's blocks (`n >= 1`, `n - 1` links from `first` reach
    /// `last`); `send` must accept any group this buffer formed.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn add_run<C: Counters>(
        &mut self,
        key: *const (),
        aux: *const (),
        shift: u32,
        first: NonNull<Block>,
        last: NonNull<Block>,
        n: u32,
        max: impl FnOnce() -> u32,
        ctr: &mut C,
        mut send: impl FnMut(*const (), *const (), NonNull<Block>, NonNull<Block>, &mut C),
    ) {
        let slot = &mut self.slots[(key.addr() >> shift) % N];
        if slot.key == key && slot.len != 0 && slot.len + n <= slot.max {
            ctr.add(Counter::PacketSlotHits, n as u64);
            // SAFETY: the caller gives the run up; its last link joins the open group.
            unsafe { Block::set_next(last.as_ptr(), slot.first) };
            slot.first = first.as_ptr();
            slot.len += n;
            if slot.len >= slot.max {
                slot.take(ctr, &mut send);
            }
            return;
        }
        if slot.len != 0 {
            slot.take(ctr, &mut send);
        }
        let max = max();
        if n >= max {
            ctr.bump(Counter::PacketFlushes);
            send(key, aux, first, last, ctr);
            return;
        }
        // SAFETY: as above; the run becomes the slot's group (G-B: 1..max blocks).
        unsafe { Block::set_next(last.as_ptr(), ptr::null_mut()) };
        *slot = Group {
            key,
            aux,
            first: first.as_ptr(),
            last: last.as_ptr(),
            len: n,
            max,
        };
        self.open = 1;
    }

    /// Sends every open group.
    pub(crate) fn flush<C: Counters>(
        &mut self,
        ctr: &mut C,
        mut send: impl FnMut(*const (), *const (), NonNull<Block>, NonNull<Block>, &mut C),
    ) {
        if self.open == 0 {
            return;
        }
        self.open = 0;
        for slot in self.slots.iter_mut() {
            if slot.len != 0 {
                slot.take(ctr, &mut send);
            }
        }
    }
}

impl Group {
    /// Sends the group if it holds blocks, and empties the slot.
    #[inline(always)]
    fn take<C: Counters>(
        &mut self,
        ctr: &mut C,
        send: &mut impl FnMut(*const (), *const (), NonNull<Block>, NonNull<Block>, &mut C),
    ) {
        if let (Some(first), Some(last)) = (NonNull::new(self.first), NonNull::new(self.last)) {
            ctr.bump(Counter::PacketFlushes);
            send(self.key, self.aux, first, last, ctr);
        }
        self.first = ptr::null_mut();
        self.last = ptr::null_mut();
        self.len = 0;
    }
}
