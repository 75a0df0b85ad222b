//! The free path of the thread cache and the journey home of a foreign block.
//!
//! hz3-alloc turns a `Layout` into a size class and handles large blocks; everything else
//! about a free happens here:
//!
//! - [`Instance::free`]: the free that reads the block's page metadata (C `free`, and the
//!   sized free of layouts the class table does not cover): our own block goes onto its bin;
//!   under the foreign-cache rule another heap's block too while the bin has room; the rest
//!   takes the slow path.
//! - [`Instance::free_sized`]: the sized free of a strategy that caches foreign blocks (as
//!   jemalloc's `sdallocx`): the caller names the class, the block goes onto its bin without
//!   a metadata load while the bin has room (H2); a full bin or a sentinel goes out of line.
//! - [`Instance::free_remote`]: a block of another heap (or any block, when the thread holds
//!   no heap) leaves through the strategy's producer side.
//! - [`Heap::send_home`]: the journey home itself, the one place that finds a block's slab
//!   head and its owner's inbox; used by `free_remote` and by a heap returning a cached
//!   foreign block (`return_run`: bin flush, homecoming, thread exit).
//!
//! Blocks whose page has no owner (P2: large blocks, or not hz3's) are handed back to the layer
//! above through [`Unowned`].

use crate::bin::EMPTY;
use crate::config::Config;
use crate::heap::{Heap, Local};
use crate::registry::Instance;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use hz3_page::{meta_index, meta_of, page_meta, Block, PageMeta, LINE_EXCLUSIVE, PAGE_SIZE};
use hz3_page::{TAG_CLASS_SHIFT, TAG_OWNER_ALIGN};
use hz3_pageq::{Counter, Counters, NoCounters, RemoteFree};

/// What the layer above does with a block whose page has no owner (P2): a large block is
/// unmapped (or cached); anything else is an invalid free.
pub trait Unowned {
    /// Frees `p`, whose page metadata is mapped and has owner 0.
    ///
    /// # Safety
    /// `p` is a pointer of this allocator instance given up by the caller; `meta_of(p)` is
    /// mapped (P1) and its owner is 0.
    unsafe fn free_unowned(p: *mut u8);
}

impl<R: RemoteFree, C: Config> Heap<R, C> {
    /// The journey home: hands `block`, a live block of a slab owned by another heap, to its
    /// owner's inbox through the strategy's producer side. `out` is the calling thread's
    /// outbox, if it holds a heap.
    ///
    /// # Safety
    /// `meta` is `meta_of(block)`: a page of a live small slab whose owner (≠ 0) is a heap of
    /// this instance; the caller gives `block` up; `out` belongs to the calling thread.
    #[inline(always)]
    pub unsafe fn send_home<K: Counters>(
        meta: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut R::Outbox>,
        ctr: &mut K,
    ) {
        let owner = meta.owner() as *const Heap<R, C>;
        let c = meta.class();
        let (seg, _) = meta_index(meta);
        // SAFETY: P1/P4: the block is live, so its slab's head index, owner and class are
        // valid (every page of a slab carries them); heaps are never freed (O2).
        let (head, inbox) = unsafe {
            (
                &*page_meta(seg, meta.head.load(Ordering::Relaxed) as usize),
                &(*owner).shared.inbox[c].0,
            )
        };
        // SAFETY: the caller gives up `block`, a live block of `head`'s slab owned by `owner`,
        // whose inbox it is.
        unsafe { R::free_remote(inbox, head, block, out, ctr) };
    }

    /// Returns every block of a chain to its slab (foreign ones go home), one run at a time: a
    /// run is a stretch of consecutive blocks of the chain that lie in the same page, which is
    /// already a linked sub-chain, so it goes onto its slab's free list with one splice and
    /// one update of the slab's `used` (bins filled by frees in allocation order, as bulk frees
    /// are, hold long runs). The blocks of a run are not rewritten.
    ///
    /// # Safety
    /// H4; the chain's blocks are free and held by this heap: ours (H2), or foreign ones
    /// cached under the foreign-cache rule; their links are plain.
    pub unsafe fn return_chain(&self, local: &mut Local<R>, mut b: *mut Block) {
        while !b.is_null() {
            // The run `b ..= last` of `n` blocks in `b`'s page.
            let mut last = b;
            let mut n = 1u32;
            // SAFETY: `b` and the blocks after it are free blocks of the chain (plain links).
            let mut next = unsafe { Block::next(b) };
            // Null ends the run too, without a test of its own: `null ^ b` is `b`, an address
            // in a segment, never below `PAGE_SIZE` (segments are non-null and aligned to
            // `SEGMENT_SIZE > PAGE_SIZE`, P1). Two instructions less per block returned.
            while (next as usize ^ b as usize) < PAGE_SIZE {
                last = next;
                n += 1;
                // SAFETY: as above.
                next = unsafe { Block::next(next) };
            }
            // SAFETY: `b ..= last` is a chain of `n` blocks of one page (pages are
            // `PAGE_SIZE`-aligned, so equal bits above `PAGE_SHIFT` mean the same page, P1).
            unsafe { self.return_run(local, b, last, n) };
            b = next;
        }
    }

    /// Returns the run `first ..= last` of `n` blocks of one page to their slab (slab head
    /// found through `PageMeta::head`) with one splice, or, for foreign blocks cached under
    /// the foreign-cache rule, sends each home.
    ///
    /// # Safety
    /// As [`return_chain`](Self::return_chain); `first ..= last` is a linked run of `n` blocks
    /// of one page.
    unsafe fn return_run(&self, local: &mut Local<R>, first: *mut Block, last: *mut Block, n: u32) {
        // SAFETY: `first` is a block of a live slab (P1, P3), so its meta is mapped.
        let meta = unsafe { &*meta_of(first.cast()) };
        let (seg, _) = meta_index(meta);
        if Self::CACHE_FOREIGN && meta.owner() != self.shared.id {
            // The journey home of `send_home`, with the slab head and the owner's inbox looked
            // up once for the run.
            let owner = meta.owner() as *const Heap<R, C>;
            // SAFETY: P1/P4: the run's blocks are live, so their slab's head index, owner and
            // class are valid and stay so while we hold them; heaps are never freed (O2).
            let (head, inbox) = unsafe {
                (
                    &*page_meta(seg, meta.head.load(Ordering::Relaxed) as usize),
                    &(*owner).shared.inbox[meta.class()].0,
                )
            };
            let mut ctr = self.counters();
            // SAFETY: the run's blocks are live blocks of `head`'s slab owned by `owner`,
            // whose inbox it is, cached by us and given up here, linked `first ..= last`
            // with plain links; `local.outbox` is ours (H4).
            unsafe {
                R::free_remote_run(
                    inbox,
                    head,
                    NonNull::new_unchecked(first),
                    NonNull::new_unchecked(last),
                    n,
                    Some(&mut local.outbox),
                    &mut ctr,
                )
            };
            return;
        }
        // SAFETY: the run's blocks are of a live slab (P1, P3); its head index is valid.
        let head = unsafe { &*page_meta(seg, meta.head.load(Ordering::Relaxed) as usize) };
        // SAFETY: the run is ours and free; it goes onto the slab's free list whole.
        unsafe { Block::set_next(last, head.free.get()) };
        head.free.set(first);
        // SAFETY: H4.
        unsafe { self.slab_gained(local, head, n) };
    }
}

impl<R: RemoteFree, C: Config> Instance<R, C> {
    /// The foreign-cache rule of this instance's [`Policy`](crate::Policy): its bins take
    /// blocks of any owner, and [`free_sized`](Self::free_sized) may be used.
    pub const CACHE_FOREIGN: bool = Heap::<R, C>::CACHE_FOREIGN;

    /// The free path that reads the block's page metadata: our own block goes onto its bin
    /// (which flushes past its limit); under the foreign-cache rule the bin also takes
    /// another heap's small block while it has room, if its class is made of whole cache
    /// lines (hz3-page SC6; H2). Everything else takes the slow path (large, remote, sentinel
    /// heap).
    ///
    /// # Safety
    /// `heap` is `Self::current()`; `p` is a live block of this allocator instance that the
    /// caller gives up.
    #[inline(always)]
    pub unsafe fn free<U: Unowned>(heap: *mut Heap<R, C>, p: *mut u8) {
        // SAFETY: P1: `p` came from this allocator, so its meta is mapped.
        let meta = unsafe { &*meta_of(p) };
        // P6: below TAG_OWNER_ALIGN exactly when we own the slab, and then the bin's offset.
        // A sentinel `heap` never tests equal (H1), and neither does owner 0 (tag 0).
        let tag = meta.tag();
        let off = tag ^ heap as usize;
        if off < TAG_OWNER_ALIGN {
            // SAFETY: our own live small block (H2), `off` its bin's offset (P6); the bin
            // flushes past its limit.
            return unsafe { Heap::free_local_at(heap, off, p) };
        }
        if Self::CACHE_FOREIGN {
            // Only a class of whole cache lines (hz3-page SC6): the next allocation of the class
            // pops this block, and a block that shares a line with blocks other threads write
            // would make this thread's writes false-share with theirs (the false-sharing and
            // histogram-ring shapes through C: 1.6x and 1.3-1.4x, docs/results.md). The sized free
            // cannot tell ours from foreign without this metadata load, so it keeps the plain rule.
            let off = tag & (TAG_OWNER_ALIGN - 1);
            let whole_lines = (LINE_EXCLUSIVE >> (off >> TAG_CLASS_SHIFT)) & 1 != 0;
            // SAFETY: tag != 0 (owner != 0, P6): a live block of a small slab whose class's
            // bin offset is the tag's low bits; CACHE_FOREIGN lets the bin take it whoever
            // owns it (H2); a sentinel's limit is 0.
            if tag != 0 && whole_lines && unsafe { Heap::try_free_at(heap, off, p) } {
                // SAFETY: the push succeeded, so we hold `heap` (not a sentinel).
                unsafe { Self::count_cached_foreign(heap) };
                return;
            }
        }
        // SAFETY: forwarded caller contract.
        unsafe { Self::free_slow::<U>(heap, meta, p) }
    }

    /// [`free`](Self::free) out of line, for the sized free of layouts the class table does
    /// not cover.
    ///
    /// # Safety
    /// As [`free`](Self::free).
    #[inline(never)]
    pub unsafe fn free_outlined<U: Unowned>(heap: *mut Heap<R, C>, p: *mut u8) {
        // SAFETY: forwarded.
        unsafe { Self::free::<U>(heap, p) }
    }

    /// The sized free under the foreign-cache rule (bins take blocks of any owner):
    /// `c` is the block's class (the one its allocation used), so the block goes onto bin `c`
    /// without a metadata load while the bin has room. A full bin or a sentinel goes out of
    /// line to the metadata path. The stats flavour reads the metadata only to count foreign
    /// blocks as remote frees.
    ///
    /// # Safety
    /// `Self::CACHE_FOREIGN`; `heap` is `Self::current()`; `p` is a live small block of class `c`
    /// of this allocator instance that the caller gives up.
    #[inline(always)]
    pub unsafe fn free_sized<U: Unowned>(heap: *mut Heap<R, C>, c: usize, p: *mut u8) {
        // SAFETY: CACHE_FOREIGN; `heap` is our TLS heap pointer; `p` is a live block of class
        // `c` (caller).
        if unsafe { Heap::try_free_sized(heap, c, p) } {
            // SAFETY: P1: `p` is ours, so its meta is mapped.
            if C::STATS && unsafe { (*meta_of(p)).owner() } != heap as usize {
                // SAFETY: the push succeeded, so `heap` is held (not a sentinel).
                unsafe { Self::count_cached_foreign(heap) };
            }
            return;
        }
        // SAFETY: forwarded caller contract; `heap` is our TLS heap pointer.
        unsafe { Self::free_bin_full::<U>(heap, p) }
    }

    /// Counts a foreign block cached by this thread as a remote free (stats flavour only).
    ///
    /// # Safety
    /// The calling thread holds `heap` (not a sentinel).
    #[inline(always)]
    unsafe fn count_cached_foreign(heap: *mut Heap<R, C>) {
        if C::STATS {
            // SAFETY: per the contract.
            Counters::bump(&mut unsafe { (*heap).counters() }, Counter::RemoteFrees);
        }
    }

    /// The free of a block whose bin is full (or whose heap is a sentinel), for strategies
    /// that cache foreign blocks: our own block goes onto the bin, which then flushes; another
    /// heap's block goes home at once (a full bin has no room for it); a block with owner 0
    /// goes to [`Unowned`].
    ///
    /// # Safety
    /// `heap` is `Self::current()`; `p` is a live block the caller gives up.
    #[inline(never)]
    unsafe fn free_bin_full<U: Unowned>(heap: *mut Heap<R, C>, p: *mut u8) {
        // SAFETY: P1: `p` came from this allocator, so its meta is mapped.
        let meta = unsafe { &*meta_of(p) };
        let owner = meta.owner();
        if owner == heap as usize {
            // SAFETY: our own live block (H2); the bin flushes past its limit.
            unsafe { Heap::free_local(heap, meta, p) };
        } else if owner != 0 {
            // Straight to the remote path rather than through `free_slow`: a pure consumer
            // (full bin of foreign blocks) takes this branch on every free, and one call less
            // keeps the callgrind gate's `remote_free` figure down.
            // SAFETY: a live small block of another heap (or we hold no heap).
            unsafe { Self::free_remote(heap, meta, p) };
        } else {
            // SAFETY: forwarded caller contract (owner 0: large, or not ours).
            unsafe { U::free_unowned(p) };
        }
    }

    /// The slow free: owner 0 goes to [`Unowned`], a block of another heap goes home.
    ///
    /// # Safety
    /// `heap` is `Self::current()`; `p` is a live block the caller gives up, `meta` its meta,
    /// and its owner is not `heap`.
    #[inline(never)]
    unsafe fn free_slow<U: Unowned>(heap: *mut Heap<R, C>, meta: &PageMeta, p: *mut u8) {
        if meta.owner() == 0 {
            // SAFETY: `p` is an hz3 pointer with owner 0: large, or not ours at all.
            unsafe { U::free_unowned(p) }
        } else {
            // SAFETY: a live small block owned by another heap (or we hold no heap).
            unsafe { Self::free_remote(heap, meta, p) }
        }
    }

    /// The free that takes the thread's heap (O5: the block's owner, if it waits in the
    /// pool): a block of the heap just taken goes onto its bin, any other takes the remote
    /// path with the new heap's outbox.
    ///
    /// # Safety
    /// The calling thread holds no heap (its slot is `EMPTY`); `p` is a live block of a small
    /// slab, `meta = meta_of(p)`, and `meta.owner() != 0` is a heap of this instance.
    #[cold]
    #[inline(never)]
    unsafe fn free_attaching(meta: &PageMeta, p: *mut u8) {
        let heap = Self::attach_preferring(meta.owner());
        if !heap.is_null() && meta.owner() == heap as usize {
            // SAFETY: we hold `heap` (O1), which owns `p`, a live small block (H2).
            return unsafe { Heap::free_local(heap, meta, p) };
        }
        // SAFETY: `heap` is now `Self::current()` (or null: the OS refused a heap, and the
        // block goes home without an outbox); forwarded caller contract.
        unsafe { Self::free_remote(heap, meta, p) }
    }

    /// Frees `p`, a block of a slab owned by another heap (or any block, when the caller's
    /// heap is a sentinel), through the strategy's remote path.
    ///
    /// # Safety
    /// `heap` is `Self::current()`; `p` is a live block of a small slab, `meta = meta_of(p)`,
    /// and `meta.owner() != 0` is a heap of this instance.
    #[inline(never)]
    pub unsafe fn free_remote(heap: *mut Heap<R, C>, meta: &PageMeta, p: *mut u8) {
        // SAFETY: blocks are at least 16 bytes and 16-aligned.
        let block = unsafe { NonNull::new_unchecked(p.cast::<Block>()) };
        // A young thread (O4) frees straight home: the fallback heap's blocks always, other
        // heaps' blocks `YOUNG_FOREIGN_FREES` times; its next free of another heap's block
        // takes a heap — the block's owner if it waits in the pool (O5) — (a thread that frees
        // others' memory, as a successor inheriting blocks does, gains from its own bins, its
        // outbox (D), the foreign-cache rule and its counters). Not after thread exit (DEAD):
        // that path stays heap-less.
        let heap = if heap.cast::<u8>() == EMPTY && C::YOUNG_OPS > 0 {
            let y = crate::tls::young(Self::SLOT);
            if Self::is_fallback(meta.owner()) {
                heap
            } else if y >> crate::registry::YOUNG_FOREIGN_SHIFT
                < crate::registry::YOUNG_FOREIGN_FREES
            {
                crate::tls::set_young(Self::SLOT, y + (1 << crate::registry::YOUNG_FOREIGN_SHIFT));
                heap
            } else {
                // SAFETY: forwarded caller contract.
                return unsafe { Self::free_attaching(meta, p) };
            }
        } else if heap.cast::<u8>() == EMPTY {
            // SAFETY: forwarded caller contract.
            return unsafe { Self::free_attaching(meta, p) };
        } else {
            heap
        };
        if heap.is_null() || Self::is_sentinel(heap) {
            // SAFETY: the caller gives up `p`, a live block of `meta`'s slab.
            unsafe { Heap::<R, C>::send_home(meta, block, None, &mut NoCounters) };
        } else {
            // SAFETY: we hold `heap` (O1, H4); contract as above.
            unsafe {
                let h = &*heap;
                let mut ctr = h.counters();
                ctr.bump(Counter::RemoteFrees);
                Heap::<R, C>::send_home(meta, block, Some(&mut h.local().outbox), &mut ctr);
            }
        }
    }
}
