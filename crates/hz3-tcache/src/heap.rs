//! The per-thread heap: its layout (bins, spill, slab lists, segments, outbox; the shared
//! inboxes and counters), the bin fast paths, and the allocation slow path (refill from the
//! spill or the slabs). The bins themselves are [`crate::bin`]; collecting remote frees and
//! the homecoming pass are [`crate::collect`]; the free path and the journey home of foreign
//! blocks are [`crate::free`]; slabs and segments are [`crate::slab`].
//!
//! ```text
//! Heap<R, C>
//! ├── local (owner thread only)          ├── shared (any thread)
//! │   bins[class]   head/room/limit      │   id = heap address (the owner identity)
//! │   spill[class]  surplus blocks (A)   │   inbox[class]  R::Inbox, one cache line each
//! │   partial[class], full[class]        │   counters      thread-local stats (relaxed)
//! │   segments      owned segments       │   pool / registry links
//! │   outbox        R::Outbox (D)
//! ```
//!
//! Invariants (H1 and H5, the bins' own, are stated in [`crate::bin`]):
//! - **H2** Every block in a heap's bins or spill belongs to a slab of that heap and is counted
//!   in its slab's `used` (P3) — except that under the foreign-cache rule
//!   ([`Policy::CACHE_FOREIGN`](crate::Policy::CACHE_FOREIGN)) a bin may also hold live
//!   blocks of class `c` owned by other heaps, which leave only by being handed out or sent
//!   home through the strategy (`Heap::send_home`, [`crate::free`]). `bins[c].limit -
//!   bins[c].room` is the length of `bins[c].head`, and `bins[c].room >= 0` outside
//!   `free_local`/`flush_bin`.
//! - **H3** A slab head is on exactly one of `partial[class]` (it has free or uncarved blocks)
//!   or `full[class]` (it has none), recorded in `list_flags`; slabs with `used == 0` that are
//!   not the only partial slab of their class are released to their segment.
//! - **H4** Only the thread that holds the heap (its TLS slot points to it) touches `local`;
//!   a heap is held by at most one thread at a time (the registry hands it out under its lock).
//! - **H7** (adaptive limit) `base_limit(c) <= bins[c].limit <= max_limit(c)` for a held or
//!   pooled heap. A bin that overflows (`flush_bin`) after its class was refilled since its
//!   previous overflow is thrashing — the program frees and reallocates more blocks of the
//!   class than the bin holds, so every round trip goes through the slabs — and its limit
//!   doubles, up to `max_limit(c)` (`BIN_GROW_BYTES` of blocks). A homecoming pass that finds
//!   the class idle, `collect()` and thread exit set it back to `base_limit(c)`, with the bin
//!   empty. So a thread caches at most `max_limit` blocks in a class it keeps cycling, and its
//!   base amount in the others. A refill asks for `max(batch_for(c), limit / 4)` blocks (so a
//!   grown bin refills less often) and takes a slab's free blocks with one splice; a flush
//!   keeps `limit / 2` blocks and returns the rest a page's run at a time (one splice onto the
//!   slab's free list and one `used` update per run of consecutive blocks of one page).
//! - **H6** (homecoming) every class not refilled since the heap's last pass (once per purge
//!   delay, on the allocation slow path) has its inbox collected, its bin and spill returned
//!   to the slabs (foreign blocks sent home) and its empty slabs released; before mapping a
//!   new segment the heap also returns every other class's inbox and spill to their slabs.
//! - **H8** (reuse before mapping) a refill of class `c` takes a new slab only when
//!   `partial[c]` is empty and `inbox[c]` reports nothing pending, or after
//!   [`MAX_REFILL_COLLECTS`] collects of that refill: pages other threads freed into are
//!   reused before new memory is carved, whatever the strategy hands over per collect.

use crate::bin::{self, check_link};
pub use crate::bin::{
    base_limit, batch_for, max_limit, Bin, SentinelBins, BIN_GROW_BLOCKS, BIN_GROW_BYTES,
    DEAD_BINS, EMPTY_BINS,
};
use crate::config::Config;
pub use crate::page_list::{list_push, list_remove, ON_FULL, ON_PARTIAL};
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use hz3_page::{chain_len, Block, PageMeta, SegmentHeader, NUM_CLASSES, TAG_CLASS_SHIFT};
use hz3_pageq::{Counter, Counters, RemoteFree, NUM_COUNTERS};

/// Cache line padding for inboxes written by other threads.
#[repr(C, align(64))]
pub struct Padded<T>(pub T);

/// Owner-only state (H4).
#[repr(C)]
pub struct Local<R: RemoteFree> {
    /// The thread cache (H1).
    pub bins: [Bin; NUM_CLASSES],
    /// Surplus blocks taken from the owner stash (A), not counted.
    pub spill: [*mut Block; NUM_CLASSES],
    /// Slabs with free or uncarved blocks; the head is the current slab (H3).
    pub partial: [*mut PageMeta; NUM_CLASSES],
    /// Slabs with no free block (H3).
    pub full: [*mut PageMeta; NUM_CLASSES],
    /// Segments owned by this heap.
    pub segments: *mut SegmentHeader,
    /// The strategy's producer-side buffer.
    pub outbox: R::Outbox,
    /// Earliest `purge_at` of our segments with dirty pages (0 = none; PG2).
    pub purge_next: u64,
    /// When the next homecoming pass is due (`purge::now_ms` clock).
    pub tick_at: u64,
    /// Refills left before the clock is read again.
    pub tick_countdown: u32,
    /// Bit `c` set: class `c` was refilled since the last homecoming pass.
    pub refilled: u64,
    /// Bit `c` set: class `c` was refilled since bin `c` last overflowed (H7).
    pub refilled_since_flush: u64,
    /// Slabs released so far (wrapping; tells a pass whether it freed pages).
    pub slabs_released: u64,
    /// Never ask for huge pages for this heap's segments (G5): set on the fallback heap,
    /// whose slabs young threads share so that a thread with a few blocks stays small (O4).
    pub small_pages_only: bool,
}

/// Blocks one refill of bin `c` asks for: a batch ([`batch_for`]), or a quarter of the
/// limit once the limit has grown (H7: the class cycles more blocks than its base limit, so
/// a larger refill saves slow-path calls), never more than the bin has room for.
#[inline]
fn refill_want(c: usize, limit: u32, room: i32) -> u32 {
    let want = batch_for(c).max(limit / 4);
    want.min(room.max(0) as u32).max(1)
}

/// Collects one refill makes before it takes a new slab with the inbox still pending (H8).
/// A strategy that hands over one page per collect (B) gets up to this many pages a refill.
pub const MAX_REFILL_COLLECTS: u32 = 64;

/// Refills between two reads of the clock on the allocation slow path.
pub const TICK_REFILLS: u32 = 8;

/// State other threads touch.
#[repr(C)]
pub struct Shared<R: RemoteFree> {
    /// The owner identity: the heap's address (never reused for anything else).
    pub id: usize,
    /// Next heap in the registry's list of all heaps.
    pub all_next: AtomicPtr<u8>,
    /// Next heap in the registry's pool of abandoned heaps (under the registry lock).
    pub pool_next: AtomicPtr<u8>,
    /// Statistics, written only by the holder thread with relaxed load+store.
    pub counters: [AtomicU64; NUM_COUNTERS],
    /// Receiving end of remote frees, per class.
    pub inbox: [Padded<R::Inbox>; NUM_CLASSES],
}

/// A thread heap for strategy `R` and flavour `C`. Lives in OS memory from the registry and
/// is never freed (its address is the owner id of its slabs).
#[repr(C)]
pub struct Heap<R: RemoteFree, C: Config> {
    local: UnsafeCell<Local<R>>,
    /// The part other threads use.
    pub shared: Shared<R>,
    _c: PhantomData<C>,
}

/// Counters of a heap, active only when `C::STATS`.
pub struct HeapCounters<'a, C: Config> {
    arr: &'a [AtomicU64; NUM_COUNTERS],
    _c: PhantomData<C>,
}

impl<'a, C: Config> HeapCounters<'a, C> {
    /// Counters of `shared`.
    #[inline(always)]
    pub fn new<R: RemoteFree>(shared: &'a Shared<R>) -> Self {
        HeapCounters {
            arr: &shared.counters,
            _c: PhantomData,
        }
    }
}

impl<C: Config> Counters for HeapCounters<'_, C> {
    const ON: bool = C::STATS;
    #[inline(always)]
    fn add(&mut self, c: Counter, n: u64) {
        if C::STATS {
            // Only the holder thread writes its counters (H4): a plain load+store suffices.
            let a = &self.arr[c as usize];
            a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        }
    }
}

impl<R: RemoteFree, C: Config> Heap<R, C> {
    /// The foreign-cache rule of this instance's [`Policy`](crate::Policy) (H2).
    pub const CACHE_FOREIGN: bool = <(R, C) as crate::Policy>::CACHE_FOREIGN;

    /// Formats a heap in zeroed memory at `mem`.
    ///
    /// # Safety
    /// `mem` is zeroed, writable, suitably aligned memory of `size_of::<Self>()` bytes that
    /// nobody else uses. (All-zero is a valid `Local`/`Shared` by the `RemoteFree` contract and
    /// because every other field is a pointer, integer or atomic.)
    pub unsafe fn init_in(mem: *mut u8) -> *mut Self {
        let heap = mem.cast::<Self>();
        // SAFETY: zeroed memory is a valid heap (see above); we are its only user.
        unsafe {
            let local = &mut *(*heap).local.get();
            for (c, bin) in local.bins.iter_mut().enumerate() {
                bin.limit = base_limit(c);
                bin.room = base_limit(c) as i32;
            }
            ptr::addr_of_mut!((*heap).shared.id).write(heap as usize);
        }
        heap
    }

    /// The owner-only half.
    ///
    /// # Safety
    /// The calling thread holds the heap (H4) and creates no other reference to `local` while
    /// the returned one lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn local(&self) -> &mut Local<R> {
        // SAFETY: H4, per the caller's contract.
        unsafe { &mut *self.local.get() }
    }

    /// This heap's counters.
    #[inline(always)]
    pub fn counters(&self) -> HeapCounters<'_, C> {
        HeapCounters::new(&self.shared)
    }

    // --------------------------------------------------------------------------------------
    // Fast paths
    // --------------------------------------------------------------------------------------

    /// Pops a block of class `c` from `heap`'s bin; `None` when the bin is empty. `heap` may be
    /// a sentinel.
    ///
    /// # Safety
    /// `heap` is the calling thread's TLS heap pointer (a held heap or a sentinel, H1).
    #[inline(always)]
    pub unsafe fn pop_bin(heap: *mut Self, c: usize) -> *mut u8 {
        // SAFETY: forwarded; bin `c` is at byte offset `c << TAG_CLASS_SHIFT` (H1).
        unsafe { Self::pop_bin_at(heap, c << TAG_CLASS_SHIFT) }
    }

    /// [`pop_bin`](Self::pop_bin) with the bin named by its byte offset,
    /// `off = c << TAG_CLASS_SHIFT` (as `CLASS_OFFSET_LUT` gives it).
    ///
    /// # Safety
    /// As [`pop_bin`](Self::pop_bin) with `c = off >> TAG_CLASS_SHIFT`.
    #[inline(always)]
    pub unsafe fn pop_bin_at(heap: *mut Self, off: usize) -> *mut u8 {
        let c = off >> TAG_CLASS_SHIFT;
        // SAFETY: H1: bins are at offset 0 of the heap and of the sentinels, one every
        // `1 << TAG_CLASS_SHIFT` bytes; `off` is a class (< NUM_CLASSES) shifted so.
        unsafe {
            let bin = bin::bin_at(heap.cast(), off);
            let b = (*bin).head;
            if !b.is_null() {
                // Only a held heap has a non-null head; it is ours (H4) and `b` is a free
                // block of it (H2).
                let next = bin::next::<C>(b);
                if C::CHECKS {
                    check_link(
                        if Self::CACHE_FOREIGN {
                            0
                        } else {
                            heap as usize
                        },
                        c,
                        next,
                    );
                }
                (*bin).head = next;
                (*bin).room += 1;
            }
            b.cast()
        }
    }

    /// Frees `p`, a block of a slab owned by `heap` (the caller checked
    /// `meta.owner() == heap as usize`), into the thread cache.
    ///
    /// # Safety
    /// `heap` is held by the calling thread, `p` is a live block of one of its slabs and
    /// `meta = meta_of(p)`.
    #[inline(always)]
    pub unsafe fn free_local(heap: *mut Self, meta: &PageMeta, p: *mut u8) {
        // SAFETY: forwarded; `class << TAG_CLASS_SHIFT` is bin `class`'s byte offset (H1).
        unsafe { Self::free_local_at(heap, meta.class() << TAG_CLASS_SHIFT, p) }
    }

    /// [`free_local`](Self::free_local) with the bin named by its byte offset in the heap,
    /// `off = class << TAG_CLASS_SHIFT`: what the tag test `meta.tag() ^ heap` yields for our
    /// own block (hz3-page P6), so the bin's address is one `add` from that test.
    ///
    /// # Safety
    /// As [`free_local`](Self::free_local); `off` is `meta_of(p).class() << TAG_CLASS_SHIFT`.
    #[inline(always)]
    pub unsafe fn free_local_at(heap: *mut Self, off: usize, p: *mut u8) {
        // SAFETY: H1/H4: the heap is ours and its bins start at offset 0, one every
        // `1 << TAG_CLASS_SHIFT` bytes (asserted in bin.rs); `off` is a live slab's class
        // (< NUM_CLASSES) shifted so.
        unsafe {
            let bin = bin::bin_at(heap.cast(), off);
            bin::set_next::<C>(p.cast(), (*bin).head);
            (*bin).head = p.cast();
            (*bin).room -= 1;
            if (*bin).room < 0 {
                (*heap).flush_bin(off >> TAG_CLASS_SHIFT);
            }
        }
    }

    /// The sized free fast path of strategies that cache foreign blocks: pushes `p`, a block
    /// of class `c` owned by any heap, onto bin `c` when the bin is below its limit, without
    /// reading the block's page metadata. Returns false (nothing done) when the bin is full
    /// or `heap` is a sentinel (limit 0); the caller then takes the metadata path.
    ///
    /// # Safety
    /// `Self::CACHE_FOREIGN`; `heap` is the calling thread's TLS heap pointer (a held heap or a
    /// sentinel, H1); `p` is a live small block of class `c` that the caller gives up.
    #[inline(always)]
    pub unsafe fn try_free_sized(heap: *mut Self, c: usize, p: *mut u8) -> bool {
        // SAFETY: forwarded; bin `c` is at byte offset `c << TAG_CLASS_SHIFT` (H1).
        unsafe { Self::try_free_at(heap, c << TAG_CLASS_SHIFT, p) }
    }

    /// [`try_free_sized`](Self::try_free_sized) with the bin named by its byte offset,
    /// `off = c << TAG_CLASS_SHIFT` (the low bits of the block's page tag, hz3-page P6).
    ///
    /// # Safety
    /// As [`try_free_sized`](Self::try_free_sized) with `c = off >> TAG_CLASS_SHIFT`.
    #[inline(always)]
    pub unsafe fn try_free_at(heap: *mut Self, off: usize, p: *mut u8) -> bool {
        debug_assert!(Self::CACHE_FOREIGN);
        // SAFETY: H1: bins are at offset 0 of the heap and of the sentinels, one every
        // `1 << TAG_CLASS_SHIFT` bytes; `off` is a class (< NUM_CLASSES) shifted so.
        // A sentinel's limit is 0, so only a held heap (ours, H4) is written; under
        // CACHE_FOREIGN its bins may hold blocks of any heap (H2).
        unsafe {
            let bin = bin::bin_at(heap.cast(), off);
            if (*bin).room <= 0 {
                return false;
            }
            bin::set_next::<C>(p.cast(), (*bin).head);
            (*bin).head = p.cast();
            (*bin).room -= 1;
        }
        true
    }

    // --------------------------------------------------------------------------------------
    // Slow paths (owner)
    // --------------------------------------------------------------------------------------

    /// Refills the bin of class `c` and pops one block; null if the OS is out of memory.
    ///
    /// # Safety
    /// The calling thread holds this heap (H4).
    #[cold]
    #[inline(never)]
    pub unsafe fn alloc_refill(&self, c: usize) -> *mut u8 {
        // SAFETY: H4 per the caller.
        let local = unsafe { self.local() };
        local.refilled |= 1u64 << c;
        local.refilled_since_flush |= 1u64 << c;
        if local.tick_countdown == 0 {
            local.tick_countdown = TICK_REFILLS;
            // SAFETY: H4.
            unsafe { self.tick(local) };
        } else {
            local.tick_countdown -= 1;
        }
        // Publish our own buffered remote frees while we are on a slow path (D).
        // SAFETY: our outbox; destinations are live heaps (Q4).
        unsafe { R::flush_outbox(&mut local.outbox, &mut self.counters()) };
        if local.spill[c].is_null() {
            self.collect_class(local, c);
        }
        if !local.spill[c].is_null() {
            Self::refill_from_spill(local, c);
        } else {
            // SAFETY: H4.
            unsafe { self.refill_from_slabs(local, c) };
        }
        let bin = &mut local.bins[c];
        let b = bin.head;
        if !b.is_null() {
            // SAFETY: `b` is a free block in our bin (H2).
            bin.head = unsafe { bin::next::<C>(b) };
            bin.room += 1;
        }
        b.cast()
    }

    fn refill_from_spill(local: &mut Local<R>, c: usize) {
        let want = refill_want(c, local.bins[c].limit, local.bins[c].room);
        let head = local.spill[c];
        let mut last = head;
        let mut n = 1;
        // SAFETY: the spill is a null-terminated chain of our free blocks (H2).
        unsafe {
            while n < want {
                let next = Block::next(last);
                if next.is_null() {
                    break;
                }
                last = next;
                n += 1;
            }
            local.spill[c] = Block::next(last);
            Block::set_next(last, local.bins[c].head);
            if C::CHECKS {
                // The spill's links are plain; the bin's are encoded.
                let mut b = head;
                for _ in 0..n {
                    let next = Block::next(b);
                    bin::set_next::<C>(b, next);
                    b = next;
                }
            }
        }
        local.bins[c].head = head;
        local.bins[c].room -= n as i32;
    }

    /// Moves up to a batch of blocks from the current slabs into the bin.
    ///
    /// # Safety
    /// H4.
    unsafe fn refill_from_slabs(&self, local: &mut Local<R>, c: usize) {
        let want = refill_want(c, local.bins[c].limit, local.bins[c].room);
        let mut got = 0;
        // Pages other threads freed into come before a new slab (H8): a strategy that hands
        // over one page per collect (B) would otherwise leave its queue growing behind a
        // producer that maps slab after slab. Bounded, as producers may keep pushing.
        let mut collects = MAX_REFILL_COLLECTS;
        while got < want {
            let mut page = local.partial[c];
            if page.is_null()
                && collects != 0
                && R::inbox_pending(&self.shared.inbox[c].0)
                && self.collect_class(local, c)
            {
                collects -= 1;
                if !local.spill[c].is_null() {
                    // A stash strategy handed blocks, not pages.
                    Self::refill_from_spill(local, c);
                    break;
                }
                continue;
            }
            if page.is_null() {
                // SAFETY: H4.
                page = unsafe { self.new_slab(local, c) };
                if page.is_null() {
                    break;
                }
            }
            // SAFETY: `page` is a slab head on our partial list (H3).
            let meta = unsafe { &*page };
            if meta.free.get().is_null() {
                // Cadence collection (E): blocks freed to this page without notification.
                let mut sink = self.sink(&mut *local, c);
                // SAFETY: we own the page.
                unsafe { R::collect_page(meta, &mut sink, &mut self.counters()) };
            }
            got += Self::take_from_slab(local, meta, c, want - got);
            let exhausted = meta.free.get().is_null() && meta.carved.get() == meta.capacity.get();
            if got > 0 && !exhausted {
                // Stopped at the end of an OS page of fresh memory (see `take_from_slab`):
                // the next refill carves on.
                break;
            }
            if exhausted {
                let mut sink = self.sink(&mut *local, c);
                // SAFETY: we own the page.
                if unsafe { R::on_page_full(meta, &mut sink, &mut self.counters()) } {
                    list_remove(&mut local.partial[c], meta);
                    list_push(&mut local.full[c], meta);
                    meta.list_flags.set(ON_FULL);
                }
            }
        }
    }

    /// Moves up to `want` blocks of slab `meta` into bin `c`; returns how many.
    fn take_from_slab(local: &mut Local<R>, meta: &PageMeta, c: usize, want: u32) -> u32 {
        let bin = &mut local.bins[c];
        let mut n = 0;
        // Returned blocks first (warm), then fresh memory.
        let f = meta.free.get();
        if !f.is_null() && !C::CHECKS {
            // The first `want` blocks of the free list (or all of it) move to the bin with one
            // splice: walk to the cut, link the cut's block to the bin's head.
            let mut last = f;
            n = 1;
            // SAFETY: the slab's free list is a null-terminated chain of our free blocks,
            // which only we touch (P5).
            let mut rest = unsafe { Block::next(last) };
            while n < want && !rest.is_null() {
                last = rest;
                n += 1;
                // SAFETY: as above.
                rest = unsafe { Block::next(rest) };
            }
            // SAFETY: `f ..= last` are ours; they move from the slab list to the bin (R1),
            // whose links are plain in this flavour (H5).
            unsafe { Block::set_next(last, bin.head) };
            bin.head = f;
            meta.free.set(rest);
        } else {
            let mut f = f;
            while n < want && !f.is_null() {
                // SAFETY: `f` is on the slab's free list, which only we touch (P5).
                let next = unsafe { Block::next(f) };
                // SAFETY: `f` is ours; it moves from the slab list to the bin (R1).
                unsafe { bin::set_next::<C>(f, bin.head) };
                bin.head = f;
                f = next;
                n += 1;
            }
            meta.free.set(f);
        }
        let carved = meta.carved.get();
        let size = meta.block_size.get() as usize;
        let start = meta.start.get();
        // Fresh memory is carved up to the end of the OS page the next block starts in (at
        // least one block): carving writes a link into every block, so a bigger batch would
        // fault in pages a thread that allocates a few blocks never uses.
        let next = start as usize + carved as usize * size;
        let page_end = (next & !(hz3_page::OS_PAGE - 1)) + hz3_page::OS_PAGE;
        let in_page = ((page_end - next) / size).max(1) as u32;
        let fresh = (meta.capacity.get() - carved).min(want - n).min(in_page);
        if fresh > 0 {
            // Push in reverse so the bin hands out ascending addresses.
            let mut i = carved + fresh;
            while i > carved {
                i -= 1;
                // SAFETY: block `i < capacity` lies inside the slab (P3), untouched so far.
                let b = unsafe { start.add(i as usize * size) }.cast::<Block>();
                // SAFETY: fresh block owned by us.
                unsafe { bin::set_next::<C>(b, bin.head) };
                bin.head = b;
            }
            meta.carved.set(carved + fresh);
            n += fresh;
        }
        bin.room -= n as i32;
        meta.used.set(meta.used.get() + n);
        n
    }

    /// Returns the coldest blocks of bin `c` to their slabs, keeping half the limit; a bin
    /// that overflows again after a refill of its class doubles its limit (H7).
    #[cold]
    #[inline(never)]
    unsafe fn flush_bin(&self, c: usize) {
        // SAFETY: called from `free_local` by the holder (H4).
        let local = unsafe { self.local() };
        let thrash = local.refilled_since_flush & (1u64 << c) != 0;
        local.refilled_since_flush &= !(1u64 << c);
        let keep = local.bins[c].limit / 2;
        let bin = &mut local.bins[c];
        if thrash {
            bin.limit = (bin.limit * 2).min(max_limit(c));
        }
        let mut last = bin.head;
        // SAFETY: the bin holds `limit - room > limit >= keep` blocks (H2; `room` is -1).
        let rest = unsafe {
            for _ in 1..keep.max(1) {
                last = bin::next::<C>(last);
            }
            let rest = bin::next::<C>(last);
            bin::set_next::<C>(last, ptr::null_mut());
            bin::decode_chain::<C>(rest, c);
            rest
        };
        bin.room = bin.limit as i32 - keep.max(1) as i32;
        // SAFETY: `rest` is a chain of our free blocks (H2), now with plain links.
        unsafe { self.return_chain(local, rest) };
    }

    /// Blocks outside the slabs and not in this heap's bins/spill: live from the user's view.
    /// Per class. Only meaningful while no thread uses the heap.
    ///
    /// # Safety
    /// No thread holds the heap or it is the caller's; no concurrent frees to it.
    pub unsafe fn live_blocks(
        &self,
        used: &mut [u64; NUM_CLASSES],
        cached: &mut [u64; NUM_CLASSES],
    ) {
        // SAFETY: per the contract, nobody else touches `local` now.
        let local = unsafe { self.local() };
        for c in 0..NUM_CLASSES {
            for list in [local.partial[c], local.full[c]] {
                let mut p = list;
                while !p.is_null() {
                    // SAFETY: slab heads on the heap's lists.
                    let meta = unsafe { &*p };
                    used[c] += meta.used.get() as u64;
                    p = meta.next.get();
                }
            }
            // Bins may hold other heaps' blocks (CACHE_FOREIGN): the caller subtracts the
            // cached totals from the used totals over all heaps.
            cached[c] += (local.bins[c].limit as i64 - local.bins[c].room as i64) as u64;
            // SAFETY: spill chains are the heap's free blocks.
            cached[c] += unsafe { chain_len(local.spill[c]) }.0 as u64;
        }
    }
}
