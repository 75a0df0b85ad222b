//! The per-thread heap: bins (the thread cache), spill, the heap's slabs and segments, and the
//! owner's inboxes for remote frees.
//!
//! ```text
//! Heap<R, C>
//! ├── local (owner thread only)          ├── shared (any thread)
//! │   bins[class]   head/count/limit     │   id = heap address (the owner identity)
//! │   spill[class]  surplus blocks (A)   │   inbox[class]  R::Inbox, one cache line each
//! │   partial[class], full[class]        │   counters      thread-local stats (relaxed)
//! │   segments      owned segments       │   pool / registry links
//! │   outbox        R::Outbox (D)
//! ```
//!
//! Invariants:
//! - **H1** `bins` is the first field of `Local`, which is the first field of `Heap`
//!   (`repr(C)`), so the fast paths index bins from the heap pointer; the empty and dead
//!   sentinels ([`EMPTY_BINS`], [`DEAD_BINS`]) are just bins with null heads, which send every
//!   allocation to the slow path, and their address is never a slab owner, which sends every
//!   free to the slow path.
//! - **H2** Every block in a heap's bins or spill belongs to a slab of that heap and is counted
//!   in its slab's `used` (P3) — except that under `R::CACHE_FOREIGN` a bin may also hold live
//!   blocks of class `c` owned by other heaps, which leave only by being handed out or sent
//!   home through the strategy (`return_block`). `bins[c].count` is the length of
//!   `bins[c].head`, and `bins[c].count <= bins[c].limit` outside `free_local`/`flush_bin`.
//! - **H3** A slab head is on exactly one of `partial[class]` (it has free or uncarved blocks)
//!   or `full[class]` (it has none), recorded in `list_flags`; slabs with `used == 0` that are
//!   not the only partial slab of their class are released to their segment.
//! - **H4** Only the thread that holds the heap (its TLS slot points to it) touches `local`;
//!   a heap is held by at most one thread at a time (the registry hands it out under its lock).
//! - **H5** In the checked flavour a bin link is stored as `next ^ secret ^ block` (a
//!   per-process secret from `getrandom`); links of spill and slab free lists are plain. A link
//!   is decoded and validated (`check_link`) whenever it leaves the bin.
//! - **H6** (homecoming) every class not refilled since the heap's last pass (once per purge
//!   delay, on the allocation slow path) has its inbox collected, its bin and spill returned
//!   to the slabs (foreign blocks sent home) and its empty slabs released; before mapping a
//!   new segment the heap also returns every other class's inbox and spill to their slabs.

use crate::config::Config;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use hz3_page::{chain_len, meta_index, page_meta, Block, PageMeta, SegmentHeader, NUM_CLASSES};
use hz3_pageq::{Counter, Counters, RemoteFree, Sink, NUM_COUNTERS};

/// One size class of the thread cache: an intrusive LIFO of free blocks.
#[repr(C)]
#[derive(Debug)]
pub struct Bin {
    /// First free block (null = empty).
    pub head: *mut Block,
    /// Blocks in the list (H2).
    pub count: u32,
    /// Flush to the slabs when `count` exceeds this.
    pub limit: u32,
}

/// Bins of a sentinel heap (all empty).
#[repr(C, align(64))]
pub struct SentinelBins(pub [Bin; NUM_CLASSES]);

// SAFETY: the sentinel bins are never written (their heads are null, so no fast path pops;
// no slab is owned by their address, so no fast path pushes) — H1.
unsafe impl Sync for SentinelBins {}

const NULL_BIN: Bin = Bin {
    head: ptr::null_mut(),
    count: 0,
    limit: 0,
};
/// The heap of a thread that has not allocated yet.
pub static EMPTY_BINS: SentinelBins = SentinelBins([NULL_BIN; NUM_CLASSES]);
/// The heap of a thread whose heap was released at thread exit.
pub static DEAD_BINS: SentinelBins = SentinelBins([NULL_BIN; NUM_CLASSES]);

/// Blocks moved per refill from slabs or spill.
pub const fn batch_for(c: usize) -> u32 {
    let n = 16384 / hz3_page::size_class::CLASS_SIZE[c];
    if n < 2 {
        2
    } else if n > 32 {
        32
    } else {
        n
    }
}

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
    /// Slabs released so far (wrapping; tells a pass whether it freed pages).
    pub slabs_released: u64,
}

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

/// Flags in `PageMeta::list_flags`.
pub const ON_PARTIAL: u32 = 1;
/// Flags in `PageMeta::list_flags`.
pub const ON_FULL: u32 = 2;

impl<R: RemoteFree, C: Config> Heap<R, C> {
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
                bin.limit = batch_for(c) * 4;
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
    // Bin links (H5: encoded in the checked flavour)
    // --------------------------------------------------------------------------------------

    /// Reads a bin link: plain in the fast flavour; in the checked flavour links are stored
    /// XOR-ed with a per-process secret and the block's own address (H5), so a use-after-free
    /// write of any value decodes to an invalid link and is caught by `check_link`.
    ///
    /// # Safety
    /// `b` is a block in one of this thread's bins.
    #[inline(always)]
    unsafe fn bin_next(b: *mut Block) -> *mut Block {
        // SAFETY: forwarded.
        let raw = unsafe { Block::next(b) };
        if C::CHECKS {
            (raw as usize ^ link_secret() ^ b as usize) as *mut Block
        } else {
            raw
        }
    }

    /// Writes a bin link (encoded in the checked flavour, H5).
    ///
    /// # Safety
    /// `b` is a free block owned by this thread, entering or inside one of its bins.
    #[inline(always)]
    unsafe fn bin_set_next(b: *mut Block, next: *mut Block) {
        let v = if C::CHECKS {
            (next as usize ^ link_secret() ^ b as usize) as *mut Block
        } else {
            next
        };
        // SAFETY: forwarded.
        unsafe { Block::set_next(b, v) }
    }

    /// Rewrites a bin chain (null-terminated) with plain links, before it leaves the bin.
    ///
    /// # Safety
    /// `b` starts a chain taken out of one of this thread's bins.
    unsafe fn decode_chain(mut b: *mut Block, c: usize) {
        if !C::CHECKS {
            return;
        }
        while !b.is_null() {
            // SAFETY: a block of the chain.
            unsafe {
                let next = Self::bin_next(b);
                check_link(0, c, next);
                Block::set_next(b, next);
                b = next;
            }
        }
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
        // SAFETY: H1: bins are at offset 0 of the heap and of the sentinels; `c < NUM_CLASSES`.
        unsafe {
            let bin = heap.cast::<Bin>().add(c);
            let b = (*bin).head;
            if !b.is_null() {
                // Only a held heap has a non-null head; it is ours (H4) and `b` is a free
                // block of it (H2).
                let next = Self::bin_next(b);
                if C::CHECKS {
                    check_link(if R::CACHE_FOREIGN { 0 } else { heap as usize }, c, next);
                }
                (*bin).head = next;
                (*bin).count -= 1;
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
        let c = meta.class();
        // SAFETY: H1/H4: the heap is ours; `c` is the class of a live slab (< NUM_CLASSES).
        unsafe {
            let bin = heap.cast::<Bin>().add(c);
            Self::bin_set_next(p.cast(), (*bin).head);
            (*bin).head = p.cast();
            (*bin).count += 1;
            if (*bin).count > (*bin).limit {
                (*heap).flush_bin(c);
            }
        }
    }

    /// The sized free fast path of strategies that cache foreign blocks: pushes `p`, a block
    /// of class `c` owned by any heap, onto bin `c` when the bin is below its limit, without
    /// reading the block's page metadata. Returns false (nothing done) when the bin is full
    /// or `heap` is a sentinel (limit 0); the caller then takes the metadata path.
    ///
    /// # Safety
    /// `R::CACHE_FOREIGN`; `heap` is the calling thread's TLS heap pointer (a held heap or a
    /// sentinel, H1); `p` is a live small block of class `c` that the caller gives up.
    #[inline(always)]
    pub unsafe fn try_free_sized(heap: *mut Self, c: usize, p: *mut u8) -> bool {
        debug_assert!(R::CACHE_FOREIGN);
        // SAFETY: H1: bins are at offset 0 of the heap and of the sentinels; `c < NUM_CLASSES`.
        // A sentinel's limit is 0, so only a held heap (ours, H4) is written; under
        // CACHE_FOREIGN its bins may hold blocks of any heap (H2).
        unsafe {
            let bin = heap.cast::<Bin>().add(c);
            if (*bin).count >= (*bin).limit {
                return false;
            }
            Self::bin_set_next(p.cast(), (*bin).head);
            (*bin).head = p.cast();
            (*bin).count += 1;
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
            bin.head = unsafe { Self::bin_next(b) };
            bin.count -= 1;
        }
        b.cast()
    }

    /// Takes what arrived for class `c` from other threads.
    fn collect_class(&self, local: &mut Local<R>, c: usize) -> bool {
        let mut sink = HeapSink::<R, C> {
            heap: self,
            local,
            class: c,
        };
        let mut ctr = self.counters();
        // SAFETY: we hold the heap, so we are the only consumer of its inbox (Q2).
        unsafe { R::collect(&self.shared.inbox[c].0, &mut sink, &mut ctr) }
    }

    fn refill_from_spill(local: &mut Local<R>, c: usize) {
        let want = batch_for(c);
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
                    Self::bin_set_next(b, next);
                    b = next;
                }
            }
        }
        local.bins[c].head = head;
        local.bins[c].count += n;
    }

    /// Moves up to a batch of blocks from the current slabs into the bin.
    ///
    /// # Safety
    /// H4.
    unsafe fn refill_from_slabs(&self, local: &mut Local<R>, c: usize) {
        let want = batch_for(c);
        let mut got = 0;
        while got < want {
            let mut page = local.partial[c];
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
                let mut sink = HeapSink::<R, C> {
                    heap: self,
                    local: &mut *local,
                    class: c,
                };
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
                let mut sink = HeapSink::<R, C> {
                    heap: self,
                    local: &mut *local,
                    class: c,
                };
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
        let mut f = meta.free.get();
        while n < want && !f.is_null() {
            // SAFETY: `f` is on the slab's free list, which only we touch (P5).
            let next = unsafe { Block::next(f) };
            // SAFETY: `f` is ours; it moves from the slab list to the bin (R1).
            unsafe { Self::bin_set_next(f, bin.head) };
            bin.head = f;
            f = next;
            n += 1;
        }
        meta.free.set(f);
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
                unsafe { Self::bin_set_next(b, bin.head) };
                bin.head = b;
            }
            meta.carved.set(carved + fresh);
            n += fresh;
        }
        bin.count += n;
        meta.used.set(meta.used.get() + n);
        n
    }

    /// Returns the coldest blocks of bin `c` to their slabs, keeping half the limit.
    #[cold]
    #[inline(never)]
    unsafe fn flush_bin(&self, c: usize) {
        // SAFETY: called from `free_local` by the holder (H4).
        let local = unsafe { self.local() };
        let keep = local.bins[c].limit / 2;
        let bin = &mut local.bins[c];
        let mut last = bin.head;
        // SAFETY: the bin holds `count > limit >= keep` blocks (H2).
        let rest = unsafe {
            for _ in 1..keep.max(1) {
                last = Self::bin_next(last);
            }
            let rest = Self::bin_next(last);
            Self::bin_set_next(last, ptr::null_mut());
            Self::decode_chain(rest, c);
            rest
        };
        bin.count = keep.max(1);
        // SAFETY: `rest` is a chain of our free blocks (H2), now with plain links.
        unsafe { self.return_chain(local, rest) };
    }

    /// Returns every block of a chain to its slab.
    ///
    /// # Safety
    /// H4; the chain's blocks are ours and free.
    pub unsafe fn return_chain(&self, local: &mut Local<R>, mut b: *mut Block) {
        while !b.is_null() {
            // SAFETY: `b` is one of our free blocks.
            let next = unsafe { Block::next(b) };
            // SAFETY: as above; its slab is live (its `used` counts it, P3).
            unsafe { self.return_block(local, b) };
            b = next;
        }
    }

    /// Returns one block to its slab (slab head found through `PageMeta::head`), or, for a
    /// foreign block cached under `R::CACHE_FOREIGN`, sends it home through the strategy.
    unsafe fn return_block(&self, local: &mut Local<R>, b: *mut Block) {
        let meta = hz3_page::meta_of(b.cast());
        let (seg, _) = meta_index(meta);
        // SAFETY: `b` is a block of a live slab (P1, P3); its head index is valid.
        let head = unsafe { &*page_meta(seg, (*meta).head.load(Ordering::Relaxed) as usize) };
        if R::CACHE_FOREIGN {
            let owner = head.owner();
            if owner != self.shared.id {
                let owner = owner as *const Heap<R, C>;
                // SAFETY: heaps are never freed (O2); the block is ours to give up, and it is
                // a live block of `head`'s slab owned by `owner`.
                unsafe {
                    let inbox = &(*owner).shared.inbox[head.class()].0;
                    R::free_remote(
                        inbox,
                        head,
                        NonNull::new_unchecked(b),
                        Some(&mut local.outbox),
                        &mut self.counters(),
                    );
                }
                return;
            }
        }
        // SAFETY: `b` is ours and free.
        unsafe { Block::set_next(b, head.free.get()) };
        head.free.set(b);
        // SAFETY: H4.
        unsafe { self.slab_gained(local, head, 1) };
    }

    /// `n` blocks went back to slab `head`: update `used`, its list, and release it if empty
    /// and not needed (H3).
    unsafe fn slab_gained(&self, local: &mut Local<R>, head: &PageMeta, n: u32) {
        let used = head.used.get() - n;
        head.used.set(used);
        let c = head.class();
        if head.list_flags.get() == ON_FULL {
            list_remove(&mut local.full[c], head);
            list_push(&mut local.partial[c], head);
            head.list_flags.set(ON_PARTIAL);
        }
        if used == 0 && !(ptr::eq(local.partial[c], head) && head.next.get().is_null()) {
            // SAFETY: H4; `used == 0` so nothing of the slab is outside it and it is in no
            // queue or packet (a queued page has remote blocks, which count in `used`).
            unsafe { self.release_slab(local, head) };
        }
    }

    /// Flushes everything the thread holds back to the slabs, collects every inbox and
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
        for c in 0..NUM_CLASSES {
            let b = core::mem::replace(&mut local.bins[c].head, ptr::null_mut());
            local.bins[c].count = 0;
            // SAFETY: H2: bin blocks are ours; their links become plain first.
            unsafe {
                Self::decode_chain(b, c);
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
    unsafe fn tick(&self, local: &mut Local<R>) {
        let now = hz3_page::purge::now_ms();
        if local.purge_next != 0 && now >= local.purge_next {
            // SAFETY: H4.
            unsafe { self.purge_expired(local, now, false) };
        }
        if now >= local.tick_at {
            local.tick_at = now + hz3_page::purge::purge_delay_ms().max(1);
            // SAFETY: H4.
            let _ = unsafe { self.homecoming(local, None) };
            crate::registry::Instance::<R, C>::global_tick(now);
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
            let pending = R::inbox_pending(&self.shared.inbox[c].0);
            let flush_bin = is_idle && local.bins[c].count != 0;
            if !pending && !flush_bin && local.spill[c].is_null() && !self.has_empty_slab(local, c)
            {
                continue;
            }
            if pending {
                self.collect_class(local, c);
            }
            if flush_bin {
                let b = core::mem::replace(&mut local.bins[c].head, ptr::null_mut());
                local.bins[c].count = 0;
                sent = true;
                // SAFETY: H2: bin blocks are ours (or foreign under CACHE_FOREIGN, sent home
                // by `return_block`); their links become plain first (H5).
                unsafe {
                    Self::decode_chain(b, c);
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
            let mut sink = HeapSink::<R, C> {
                heap: self,
                local: &mut *local,
                class: c,
            };
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
            cached[c] += local.bins[c].count as u64;
            // SAFETY: spill chains are the heap's free blocks.
            cached[c] += unsafe { chain_len(local.spill[c]) }.0 as u64;
        }
    }
}

static LINK_SECRET: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// The per-process secret of the checked flavour's encoded links (H5): from `getrandom(2)`,
/// set once (the first value stored wins, so every thread uses the same one).
#[inline]
fn link_secret() -> usize {
    let s = LINK_SECRET.load(Ordering::Relaxed);
    if s != 0 {
        return s;
    }
    link_secret_init()
}

#[cold]
fn link_secret_init() -> usize {
    let mut v: usize = 0;
    // SAFETY: `v` is a valid 8-byte buffer; getrandom does not allocate.
    let n = unsafe {
        libc::getrandom(
            (&mut v as *mut usize).cast(),
            core::mem::size_of::<usize>(),
            0,
        )
    };
    if n != core::mem::size_of::<usize>() as isize || v == 0 {
        v = (&v as *const usize as usize).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    }
    match LINK_SECRET.compare_exchange(0, v | 1, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => v | 1,
        Err(winner) => winner,
    }
}

/// Checked flavour: a bin link must be null or a block of the same heap and class, else the
/// block was written after it was freed.
#[cold]
fn check_link_failed() -> ! {
    hz3_page::fatal(hz3_page::FatalKind::CorruptFreeList)
}

#[inline]
fn check_link(heap: usize, c: usize, next: *mut Block) {
    if next.is_null() {
        return;
    }
    let p = next.cast::<u8>();
    if (p as usize) & 15 != 0 || !hz3_page::segmap::contains(hz3_page::segment_of(p) as usize) {
        check_link_failed();
    }
    // SAFETY: the segment is hz3's and mapped (SM1).
    let meta = unsafe { &*hz3_page::meta_of(p) };
    // `heap == 0`: the bin may hold foreign blocks, so only the class is checked.
    if meta.owner() == 0 || (heap != 0 && meta.owner() != heap) || meta.class() != c {
        check_link_failed();
    }
}

/// The thread cache's side of a collect.
struct HeapSink<'a, R: RemoteFree, C: Config> {
    heap: &'a Heap<R, C>,
    local: &'a mut Local<R>,
    class: usize,
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

/// Pushes `meta` at the front of the list `head`.
pub fn list_push(head: &mut *mut PageMeta, meta: &PageMeta) {
    let p = meta as *const PageMeta as *mut PageMeta;
    meta.prev.set(ptr::null_mut());
    meta.next.set(*head);
    if !head.is_null() {
        // SAFETY: list members are live slab heads of this heap.
        unsafe { &**head }.prev.set(p);
    }
    *head = p;
}

/// Unlinks `meta` from the list `head`.
pub fn list_remove(head: &mut *mut PageMeta, meta: &PageMeta) {
    let (prev, next) = (meta.prev.get(), meta.next.get());
    if prev.is_null() {
        *head = next;
    } else {
        // SAFETY: list members are live slab heads.
        unsafe { &*prev }.next.set(next);
    }
    if !next.is_null() {
        // SAFETY: as above.
        unsafe { &*next }.prev.set(prev);
    }
    meta.prev.set(ptr::null_mut());
    meta.next.set(ptr::null_mut());
}
