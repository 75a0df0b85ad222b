//! Collecting: what other threads freed comes into the heap through the strategy's
//! [`Sink`] (into the spill, or straight back to its slab), the flush of everything at thread
//! exit or `collect()`, and the clock-driven homecoming pass (H6, see [`crate::heap`]).

use crate::bin::{self, base_limit};
use crate::config::Config;
use crate::heap::{Heap, Local};
use crate::page_list::{list_push, list_remove, ON_FULL, ON_PARTIAL};
use crate::registry::Instance;
use core::ptr::{self, NonNull};
use hz3_page::{chain_len, Block, PageMeta, NUM_CLASSES};
use hz3_pageq::{Counter, Counters, RemoteFree, Sink};

impl<R: RemoteFree, C: Config> Heap<R, C> {
    /// The sink through which the strategy hands class `c`'s blocks to this heap.
    #[inline(always)]
    pub(crate) fn sink<'a>(&'a self, local: &'a mut Local<R>, c: usize) -> HeapSink<'a, R, C> {
        HeapSink {
            heap: self,
            local,
            class: c,
        }
    }

    /// Takes what arrived for class `c` from other threads.
    pub(crate) fn collect_class(&self, local: &mut Local<R>, c: usize) -> bool {
        let mut sink = self.sink(local, c);
        let mut ctr = self.counters();
        // SAFETY: we hold the heap, so we are the only consumer of its inbox (Q2).
        unsafe { R::collect(&self.shared.inbox[c].0, &mut sink, &mut ctr) }
    }

    /// releases empty slabs and segments. Used at thread exit (`purge` false: free pages keep
    /// their deadlines, for the next holder to reuse) and by `collect()` (`purge` true: every
    /// dirty page is decommitted now).
    ///
    /// # Safety
    /// H4.
    pub unsafe fn flush_all(&self, purge: bool) {
        // SAFETY: H4.
        let local = unsafe { self.local() };
        // SAFETY: our outbox.
        unsafe { R::flush_outbox(&mut local.outbox, &mut self.counters()) };
        local.refilled_since_flush = 0;
        for c in 0..NUM_CLASSES {
            let b = core::mem::replace(&mut local.bins[c].head, ptr::null_mut());
            local.bins[c].limit = base_limit(c);
            local.bins[c].room = base_limit(c) as i32;
            // SAFETY: H2: bin blocks are ours; their links become plain first.
            unsafe {
                bin::decode_chain::<C>(b, c);
                self.return_chain(local, b);
            }
            // Collect until the inbox is empty (bounded: producers may keep pushing; B hands
            // over one page per call).
            for _ in 0..1_000_000 {
                let got = self.collect_class(local, c);
                let s = core::mem::replace(&mut local.spill[c], ptr::null_mut());
                // SAFETY: spill blocks are ours (H2).
                unsafe { self.return_chain(local, s) };
                if !got {
                    break;
                }
            }
            // Blocks freed to our slabs without notification (E); every empty slab, the last
            // partial one included, goes back.
            // SAFETY: H4.
            unsafe { self.release_empty_slabs(local, c) };
        }
        // Foreign blocks from the bins went to the outbox: publish them.
        // SAFETY: our outbox.
        unsafe { R::flush_outbox(&mut local.outbox, &mut self.counters()) };
        if purge {
            // SAFETY: H4.
            unsafe { self.purge_expired(local, 0, true) };
        }
    }

    /// The clock-driven part of the allocation slow path (every [`TICK_REFILLS`] refills):
    /// purges our segments whose deadline passed (PG2) and, once per purge delay, brings
    /// home what other threads freed into classes we no longer allocate and runs the
    /// process-wide purge (pooled heaps, segment and large-mapping caches).
    ///
    /// # Safety
    /// H4.
    #[cold]
    #[inline(never)]
    pub(crate) unsafe fn tick(&self, local: &mut Local<R>) {
        let now = hz3_page::purge::now_ms();
        if local.purge_next != 0 && now >= local.purge_next {
            // SAFETY: H4.
            unsafe { self.purge_expired(local, now, false) };
        }
        if now >= local.tick_at {
            local.tick_at = now + hz3_page::purge::purge_delay_ms().max(1);
            // SAFETY: H4.
            let _ = unsafe { self.homecoming(local, None) };
            Instance::<R, C>::global_tick(now);
        }
    }

    /// Homecoming (promise 5): for every class not refilled since the last pass, takes what
    /// other threads freed into its inbox, returns its bin and spill to the slabs (foreign
    /// blocks go home) and releases its empty slabs, so memory freed into a class the owner no
    /// longer uses becomes reusable for any size. With `need` (the heap is about to take a
    /// new segment for a slab of that class), the inboxes and spills of every other class go
    /// back to their slabs as well.
    ///
    /// Returns whether any slab was released.
    ///
    /// # Safety
    /// H4.
    pub(crate) unsafe fn homecoming(&self, local: &mut Local<R>, need: Option<usize>) -> bool {
        let idle = !local.refilled;
        local.refilled = 0;
        let mut sent = false;
        let released = local.slabs_released;
        for c in 0..NUM_CLASSES {
            // The class being refilled is never idle (the tick of this slow path may have
            // cleared its bit just before).
            let is_idle = idle & (1u64 << c) != 0 && need != Some(c);
            // Called for a new slab of class `need`: every other class's inbox and spill go
            // back to their slabs too (they are free blocks; only bins stay with active
            // classes), so that their empty slabs can serve the new one.
            let eager = need.is_some_and(|n| n != c);
            if !is_idle && !eager {
                continue;
            }
            if is_idle {
                // H7: an idle class's bin is emptied below (`flush_bin`) unless it is empty
                // already; its limit starts over.
                local.bins[c].limit = base_limit(c);
                local.bins[c].room = base_limit(c) as i32;
                local.refilled_since_flush &= !(1u64 << c);
            }
            let pending = R::inbox_pending(&self.shared.inbox[c].0);
            let flush_bin = is_idle && !local.bins[c].head.is_null();
            if !pending && !flush_bin && local.spill[c].is_null() && !self.has_empty_slab(local, c)
            {
                continue;
            }
            if pending {
                self.collect_class(local, c);
            }
            if flush_bin {
                let b = core::mem::replace(&mut local.bins[c].head, ptr::null_mut());
                sent = true;
                // SAFETY: H2: bin blocks are ours (or foreign under CACHE_FOREIGN, sent home
                // by `return_run`); their links become plain first (H5).
                unsafe {
                    bin::decode_chain::<C>(b, c);
                    self.return_chain(local, b);
                }
            }
            let s = core::mem::replace(&mut local.spill[c], ptr::null_mut());
            // SAFETY: H2: spill blocks are ours.
            unsafe {
                self.return_chain(local, s);
                if is_idle {
                    self.release_empty_slabs(local, c);
                }
            }
        }
        if sent {
            // Foreign blocks from the bins went to the outbox: publish them.
            // SAFETY: our outbox.
            unsafe { R::flush_outbox(&mut local.outbox, &mut self.counters()) };
        }
        local.slabs_released != released
    }

    /// Whether class `c` has an empty slab kept as its last partial one.
    fn has_empty_slab(&self, local: &Local<R>, c: usize) -> bool {
        let p = local.partial[c];
        // SAFETY: slab heads on our list (H3).
        !p.is_null() && unsafe { &*p }.used.get() == 0
    }

    /// Collects unnotified remote frees of class `c`'s partial slabs (E) and releases every
    /// empty slab of the class, the last partial one included.
    ///
    /// # Safety
    /// H4.
    unsafe fn release_empty_slabs(&self, local: &mut Local<R>, c: usize) {
        let mut p = local.partial[c];
        while !p.is_null() {
            // SAFETY: slab heads on our list.
            let meta = unsafe { &*p };
            p = meta.next.get();
            let mut sink = self.sink(&mut *local, c);
            // SAFETY: we own the page.
            unsafe { R::collect_page(meta, &mut sink, &mut self.counters()) };
        }
        let mut p = local.partial[c];
        while !p.is_null() {
            // SAFETY: slab heads on our list.
            let meta = unsafe { &*p };
            p = meta.next.get();
            if meta.used.get() == 0 {
                // SAFETY: H4; used == 0 (see slab_gained).
                unsafe { self.release_slab(local, meta) };
            }
        }
    }
}

/// The thread cache's side of a collect.
pub(crate) struct HeapSink<'a, R: RemoteFree, C: Config> {
    pub(crate) heap: &'a Heap<R, C>,
    pub(crate) local: &'a mut Local<R>,
    pub(crate) class: usize,
}

impl<R: RemoteFree, C: Config> Sink for HeapSink<'_, R, C> {
    fn blocks(&mut self, head: NonNull<Block>) {
        if C::STATS {
            // SAFETY: the chain was handed to us by the strategy (S5).
            let n = unsafe { chain_len(head.as_ptr()) }.0;
            self.heap.counters().add(Counter::DrainedObjects, n as u64);
        }
        let spill = &mut self.local.spill[self.class];
        if spill.is_null() {
            *spill = head.as_ptr();
        } else {
            // SAFETY: the new chain is ours; link its tail to the old spill.
            unsafe {
                let (_, last) = chain_len(head.as_ptr());
                Block::set_next(last, *spill);
            }
            *spill = head.as_ptr();
        }
    }

    fn page_blocks(&mut self, page: &PageMeta, head: NonNull<Block>) {
        // SAFETY: the chain came from `page`'s remote list and is ours now (S5).
        let (n, last) = unsafe { chain_len(head.as_ptr()) };
        self.heap.counters().add(Counter::DrainedObjects, n as u64);
        // SAFETY: `page` is a slab head of ours (only heads are queued), `last` ends the chain.
        unsafe { Block::set_next(last, page.free.get()) };
        page.free.set(head.as_ptr());
        let used = page.used.get() - n as u32;
        page.used.set(used);
        let c = page.class();
        if page.list_flags.get() == ON_FULL {
            list_remove(&mut self.local.full[c], page);
            list_push(&mut self.local.partial[c], page);
            page.list_flags.set(ON_PARTIAL);
        }
    }

    fn page_done(&mut self, page: &PageMeta) {
        let c = page.class();
        if page.used.get() == 0
            && !(ptr::eq(self.local.partial[c], page) && page.next.get().is_null())
        {
            // SAFETY: the strategy is done with the idle page and `used == 0`.
            unsafe { self.heap.release_slab(self.local, page) };
        }
    }
}
