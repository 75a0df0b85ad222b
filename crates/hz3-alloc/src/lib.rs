//! # hz3-alloc — the hz3 memory allocator
//!
//! A thread-caching allocator built around the hardest case for allocators: memory freed by
//! a thread other than the one that allocated it. Use it as the global allocator:
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: hz3_alloc::Hz3 = hz3_alloc::Hz3::new();
//!
//! let v: Vec<u64> = (0..1000).collect();
//! let h = std::thread::spawn(move || v.iter().sum::<u64>()); // freed on another thread
//! assert_eq!(h.join().unwrap(), 499_500);
//! ```
//!
//! `Hz3<R, C>` is generic over the remote-free strategy `R` (the S121 family:
//! [`strategy::OwnerStash`] = A, [`strategy::PageQueuePop`] = B, [`strategy::DrainAll`] = C,
//! [`strategy::Packets`] = D, [`strategy::DrainAllPacked`] = C-packed; and the strategies built
//! to beat the peers: [`strategy::CadenceCollect`] = E, [`strategy::BatchedCadence`],
//! [`strategy::BatchedStash`] and [`strategy::CachedStash`], the default) and the flavour `C`
//! ([`config::Fast`], [`config::WithStats`], [`config::Checked`]). Each pairing is its own
//! monomorphised allocator with its own thread-local state, so several may coexist in one
//! process (the test suite runs them side by side); memory must be freed through the same
//! pairing that allocated it.
//!
//! A pairing can also be used directly, next to the global allocator. Its associated functions
//! act on that pairing's state: [`Hz3::collect`] returns cached memory to the OS,
//! [`Hz3::stats`] sums the counters of the [`config::WithStats`] flavour:
//!
//! ```
//! use hz3_alloc::{config::WithStats, strategy::DrainAll, Hz3};
//! use std::alloc::{GlobalAlloc, Layout};
//!
//! /// Drain-all (C), counting: `Hz3C` is the same strategy without counters.
//! type Alloc = Hz3<DrainAll, WithStats>;
//! static ALLOC: Alloc = Alloc::new();
//! assert_eq!(Alloc::STRATEGY, "c");
//!
//! let layout = Layout::new::<[u64; 8]>();
//! // SAFETY: `layout` has a non-zero size.
//! let p = unsafe { ALLOC.alloc(layout) };
//! assert!(!p.is_null());
//! // SAFETY: `p` is a live block of `layout`'s size and alignment.
//! unsafe { p.cast::<[u64; 8]>().write([7; 8]) };
//! let addr = p as usize; // a raw pointer is not `Send`; its address is
//! std::thread::spawn(move || {
//!     // SAFETY: `addr` is the live block allocated above with `layout`, freed once, here.
//!     unsafe { ALLOC.dealloc(addr as *mut u8, layout) }
//! })
//! .join()
//! .unwrap();
//! assert_eq!(Alloc::stats().remote_frees, 1); // freed by a thread other than its owner
//! Alloc::collect(); // bring the block home, return empty slabs and segments to the OS
//! // SAFETY: no other thread uses `Alloc` now (the freeing thread has exited).
//! assert!(unsafe { Alloc::live_blocks() }.iter().all(|&n| n == 0));
//! ```
//!
//! The `Layout` passed to `dealloc` must be the one the block was allocated (or last
//! reallocated) with, as `GlobalAlloc` requires: strategies whose thread caches take any
//! owner's blocks (the default) free by the layout's size class without reading the block's
//! metadata. [`config::Checked`] verifies the layout and aborts on a mismatch.
//!
//! The C-style functions ([`Hz3::alloc_raw`], [`Hz3::free_raw`], [`Hz3::realloc_raw`],
//! [`Hz3::usable_size`]) need no layout; C `realloc` follows two rules of its own, which
//! `GlobalAlloc::realloc` cannot (there the new layout's size must name the block's class):
//!
//! - **R1** a block stays where it is while the new size fits it and fills at least half of
//!   it (a large block too, for a size of the small range);
//! - **R2** a block of [`REALLOC_HEADROOM_MIN`] bytes or more that must grow moves to a block
//!   of at least 1.5 × its usable size, and one of half the largest class (128 KiB) or more
//!   to a large block, which grows in place or by `mremap`: a buffer grown a step at a time
//!   is copied `O(log n)` times (`realloc_raw`'s blocks are therefore freed with `free_raw`).
//!
//! Layers (each a crate, depending only downward): hz3-page (size classes, segments, page
//! metadata, remote lists, OS) ← hz3-pageq (page queue, strategies) ← hz3-tcache (heaps, thread
//! cache, ownership) ← hz3-alloc (this crate: `GlobalAlloc`, large blocks). See
//! `docs/architecture.md` for the invariants referenced by `// SAFETY:` comments.

mod catalogue;
mod check;
pub mod large;
use catalogue::{assert_unique_ids, define_aliases};
mod process_stats;
mod stats;

use core::alloc::{GlobalAlloc, Layout};
use core::marker::PhantomData;
use hz3_page::{
    class_for, class_size, fatal, meta_of, FatalKind, CLASS_LUT, CLASS_OFFSET_LUT, LUT_MAX,
    MAX_SMALL, NUM_CLASSES, TAG_CLASS_SHIFT,
};
use hz3_tcache::{Heap, Instance, OsOf};

pub use hz3_pageq::RemoteFree;
pub use hz3_tcache::Config;
pub use process_stats::{process_stats, ProcessStats};
pub use stats::Stats;

/// The remote-free strategies (S121 family).
pub mod strategy {
    pub use hz3_pageq::{
        BatchedCadence, BatchedStash, CachedStash, CadenceCollect, DrainAll, DrainAllPacked,
        OwnerStash, Packets, PageQueuePop, RemoteFree,
    };
}

/// Build flavours.
pub mod config {
    pub use hz3_tcache::{Checked, Config, Fast, WithStats};
}

/// The default strategy of [`Hz3`]: A-cache ([`strategy::CachedStash`]), the best measured
/// variant across the matrix's workloads (see `docs/results.md` and `docs/strategies.md`).
pub type DefaultStrategy = strategy::CachedStash;

/// The thread cache's hand-off for blocks without an owner (large blocks), through the OS
/// layer of the pairing's policy.
type LargeOf<R, C> = large::Large<OsOf<R, C>, C>;

/// The smallest usable size from which [`Hz3::realloc_raw`] (C `realloc`) gives a growing
/// block headroom (R2): below it a copy is short and a size class is close to the request.
/// Buffers that grow by small steps up to a cap below it keep the class that fits: redis's
/// list nodes (listpacks of up to 8 KiB, grown one element at a time) took 9 MB more with
/// headroom from 4 KiB on (a node ending at 7.2 KiB held a 10 KiB block).
pub const REALLOC_HEADROOM_MIN: usize = 16384;

/// The size [`Hz3::realloc_raw`] allocates for a small block of `usable` bytes that must move
/// to hold `new_size` (R2): a growing block of [`REALLOC_HEADROOM_MIN`] or more gets at least
/// 1.5 × its old usable size, and one of half the largest class or more becomes a large
/// block (which grows without copying, with room, `mremap`), so `n` growth steps copy
/// `O(log n)` times (glibc grows its top chunk in place; the size classes cannot); a
/// shrinking one gets exactly `new_size`.
#[inline]
fn realloc_target(new_size: usize, usable: usize) -> usize {
    if new_size <= usable || usable < REALLOC_HEADROOM_MIN {
        return new_size;
    }
    let want = new_size.max(usable + usable / 2);
    if usable >= MAX_SMALL / 2 {
        want.max(MAX_SMALL + 1)
    } else {
        want
    }
}

/// The hz3 allocator with remote-free strategy `R` and flavour `C`.
pub struct Hz3<R: RemoteFree = DefaultStrategy, C: Config = config::Fast>(
    PhantomData<fn() -> (R, C)>,
);

for_each_strategy!(define_aliases);
for_each_strategy!(assert_unique_ids);

impl<R: RemoteFree, C: Config> Default for Hz3<R, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: RemoteFree, C: Config> core::fmt::Debug for Hz3<R, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Hz3<{}, {}>", R::NAME, C::NAME)
    }
}

impl<R: RemoteFree, C: Config> Hz3<R, C> {
    /// The allocator (a zero-sized handle; all state is per instance type).
    pub const fn new() -> Self {
        Hz3(PhantomData)
    }

    /// The strategy's short name (`a`, `b`, `c`, `d`, `c-packed`).
    pub const STRATEGY: &'static str = R::NAME;

    /// Counters summed over all threads (zero unless `C` counts).
    pub fn stats() -> Stats {
        Stats::from_counters(
            &Instance::<R, C>::counters(),
            &Instance::<R, C>::lock_stats(),
        )
    }

    /// Gives the calling thread a heap of its own now. A thread starts young: its first
    /// small-block allocations (up to 256 of them or 128 KiB) go through a shared heap, so a
    /// thread that allocates little costs no memory of its own (docs/architecture.md, O4);
    /// call this in a thread that will allocate much to skip that phase. False when the OS
    /// refuses the memory.
    pub fn init_thread() -> bool {
        Instance::<R, C>::init_thread()
    }

    /// Returns cached memory to the OS: flushes the calling thread's cache, collects heaps of
    /// exited threads, releases empty slabs and segments.
    pub fn collect() {
        Instance::<R, C>::collect()
    }

    /// The empty-check oracle: drains everything reachable and returns the number of blocks
    /// still allocated, per size class. Blocks in transit to a live thread's heap (in its
    /// inboxes, or in a live thread's producer-side buffer: D, E-batch, A-batch) count as
    /// allocated until that thread collects (`Hz3::collect()` on it) or exits.
    ///
    /// # Safety
    /// No other thread may use this allocator instance during the call (see
    /// [`Instance::live_blocks`]).
    pub unsafe fn live_blocks() -> [u64; NUM_CLASSES] {
        // SAFETY: forwarded.
        unsafe { Instance::<R, C>::live_blocks() }
    }

    /// Number of heaps (owner identities) created so far.
    pub fn heap_count() -> usize {
        Instance::<R, C>::heap_count()
    }

    /// The usable size of a block returned by this allocator (at least the requested size).
    ///
    /// # Safety
    /// `p` is a live block of this allocator instance.
    pub unsafe fn usable_size(p: *mut u8) -> usize {
        // SAFETY: P1: `p` is an hz3 block, so its meta is mapped.
        let meta = unsafe { &*meta_of(p) };
        if meta.owner() != 0 {
            return class_size(meta.class());
        }
        // SAFETY: owner 0 and a live hz3 block: a large block (P2).
        match unsafe { large::header(p) } {
            Some(h) => large::usable_size(h),
            None => fatal(FatalKind::InvalidFree),
        }
    }

    /// Allocates `size` bytes aligned to `align` (a power of two); null when out of memory or
    /// when the request cannot be represented (`size` near `usize::MAX`). `size == 0` returns
    /// a unique minimal block. This is the C-style entry point (no `Layout` needed).
    #[inline]
    pub fn alloc_raw(size: usize, align: usize) -> *mut u8 {
        debug_assert!(align.is_power_of_two());
        if size <= LUT_MAX && align <= 16 {
            return Self::alloc_at(CLASS_OFFSET_LUT[(size + 15) >> 4] as usize);
        }
        if size > isize::MAX as usize {
            return core::ptr::null_mut();
        }
        Self::alloc_general(size, align)
    }

    /// The cached fast path of [`alloc_raw`](Self::alloc_raw) with alignment 16, alone: a
    /// block popped from the calling thread's bin for `size`, or null when more is needed (an
    /// empty bin, a thread without a heap yet, a size above the small-size table). Null here is
    /// not a failure: the caller goes on to `alloc_raw`, which looks the class up again.
    ///
    /// For a C `malloc` whose slow path is a tail call, so that its fast path keeps no stack
    /// frame (hz3-capi). Never calls anything out of line.
    #[inline(always)]
    pub fn alloc_cached(size: usize) -> *mut u8 {
        if size > LUT_MAX {
            return core::ptr::null_mut();
        }
        let heap = Instance::<R, C>::current();
        // SAFETY: `heap` is this thread's TLS heap pointer, a held heap or a sentinel whose
        // bins are empty (H1); the table gives a class's bin offset.
        let p = unsafe { Heap::pop_bin_at(heap, CLASS_OFFSET_LUT[(size + 15) >> 4] as usize) };
        if C::CHECKS && !p.is_null() {
            // SAFETY: `p` is a small block we are about to hand out.
            unsafe { check::mark_alloc(p) };
        }
        p
    }

    /// Like [`alloc_raw`](Self::alloc_raw) but the memory reads zero.
    pub fn alloc_zeroed_raw(size: usize, align: usize) -> *mut u8 {
        if size > isize::MAX as usize {
            return core::ptr::null_mut();
        }
        if class_for(size, align).is_none() {
            // Fresh OS memory is already zero; a reused mapping is cleared.
            return large::alloc_zeroed_in::<OsOf<R, C>, C>(size, align);
        }
        let p = Self::alloc_raw(size, align);
        if !p.is_null() {
            // SAFETY: `p` has at least `size` writable bytes.
            unsafe { core::ptr::write_bytes(p, 0, size) };
        }
        p
    }

    /// Frees a block without its layout (C `free`).
    ///
    /// # Safety
    /// `p` is a live block of this allocator instance.
    #[inline]
    pub unsafe fn free_raw(p: *mut u8) {
        if C::CHECKS {
            // SAFETY: validates before touching anything.
            unsafe { check::check_free(p, None) };
        }
        let heap = Instance::<R, C>::current();
        // SAFETY: forwarded caller contract.
        unsafe { Instance::<R, C>::free::<LargeOf<R, C>>(heap, p) }
    }

    /// Resizes a block (C `realloc` without the null/zero special cases). A block stays in
    /// place while the new size fits it and uses at least half of it (R1). A small block that
    /// must grow moves to one with headroom (R2: at least 1.5 × its usable size from
    /// [`REALLOC_HEADROOM_MIN`] on, a large block from 128 KiB on), so a buffer grown step by
    /// step is copied a logarithmic number of times. A large block is resized without copying
    /// (in place, `mremap`, or its pages moved, see [`large::resize`]). Otherwise: allocate,
    /// copy, free. Null (and `p` untouched) on failure.
    ///
    /// Only the unsized interface may do this: a block that [`realloc_raw`](Self::realloc_raw)
    /// returned is freed with [`free_raw`](Self::free_raw) (or resized again here), never
    /// with a `Layout`, whose size names the block's class in `GlobalAlloc::dealloc`.
    ///
    /// # Safety
    /// `p` is a live block of this allocator instance, allocated with alignment `align`, and
    /// not to be freed with a `Layout` afterwards (the C API's contract).
    pub unsafe fn realloc_raw(p: *mut u8, new_size: usize, align: usize) -> *mut u8 {
        if C::CHECKS {
            // SAFETY: validates before touching anything (as `free_raw` does).
            unsafe { check::check_live(p, None) };
        }
        if new_size > isize::MAX as usize {
            return core::ptr::null_mut();
        }
        // SAFETY: P1: `p` is an hz3 block, so its meta is mapped.
        let meta = unsafe { &*meta_of(p) };
        // `Some(header)` for a large block (owner 0).
        let (usable, large_header) = if meta.owner() != 0 {
            (class_size(meta.class()), None)
        } else {
            // SAFETY: owner 0: a large block, or not ours at all.
            match unsafe { large::header(p) } {
                Some(h) => (large::usable_size(h), Some(h)),
                None => fatal(FatalKind::InvalidFree),
            }
        };
        // R1: it fits, wastes less than half, and is aligned as asked; for a large block
        // also below the large range (R2 makes large blocks of 128 KiB and more, which a
        // shrink must not send back to a size class at once).
        if new_size <= usable && new_size >= usable / 2 && p as usize & (align - 1) == 0 {
            return p;
        }
        let want = match large_header {
            None => realloc_target(new_size, usable),
            Some(h) => {
                // SAFETY: `h` is the header of the live large block `p` (forwarded contract).
                let q = unsafe { large::resize_in::<OsOf<R, C>, C>(h, p, new_size, align) };
                if !q.is_null() {
                    return q;
                }
                new_size
            }
        };
        let q = Self::alloc_for_resize(want, align);
        if !q.is_null() {
            // SAFETY: both blocks hold at least the copied length and do not overlap.
            unsafe {
                core::ptr::copy_nonoverlapping(p, q, usable.min(new_size));
                Self::free_raw(p);
            }
        }
        q
    }

    /// The resize that needs no copy under `GlobalAlloc`'s rule: the same block while its
    /// class is unchanged (the layout's size names the class), or a large block resized
    /// by [`large::resize`]. Otherwise null and the block's usable size.
    ///
    /// # Safety
    /// `p` is a live block of this allocator instance, allocated with alignment `align`.
    #[inline]
    unsafe fn resize_in_place(p: *mut u8, new_size: usize, align: usize) -> (*mut u8, usize) {
        // SAFETY: P1.
        let meta = unsafe { &*meta_of(p) };
        if meta.owner() != 0 {
            if class_for(new_size, align) == Some(meta.class()) {
                return (p, 0);
            }
            return (core::ptr::null_mut(), class_size(meta.class()));
        }
        // SAFETY: owner 0: a large block, or not ours at all.
        match unsafe { large::header(p) } {
            Some(h) => {
                // Read before resizing: a resize that moves the mapping unmaps `h`.
                let usable = large::usable_size(h);
                // SAFETY: `h` is the header of the live large block `p`.
                (
                    unsafe { large::resize_in::<OsOf<R, C>, C>(h, p, new_size, align) },
                    usable,
                )
            }
            None => fatal(FatalKind::InvalidFree),
        }
    }

    /// The new block of a resize that copies: a large one reserves room to grow.
    #[inline]
    fn alloc_for_resize(new_size: usize, align: usize) -> *mut u8 {
        if class_for(new_size, align).is_none() {
            large::alloc_with_room_in::<OsOf<R, C>, C>(new_size, align)
        } else {
            Self::alloc_raw(new_size, align)
        }
    }

    #[inline(always)]
    fn alloc_class(c: usize) -> *mut u8 {
        Self::alloc_at(c << TAG_CLASS_SHIFT)
    }

    /// [`alloc_class`](Self::alloc_class) with the class as its bin's byte offset
    /// (`c << TAG_CLASS_SHIFT`, as `CLASS_OFFSET_LUT` gives it): no shift between the table
    /// load and the bin load.
    #[inline(always)]
    fn alloc_at(off: usize) -> *mut u8 {
        let heap = Instance::<R, C>::current();
        // SAFETY: `heap` is this thread's TLS heap pointer (H1); `off` is a class's bin offset.
        let p = unsafe {
            let p = Heap::pop_bin_at(heap, off);
            if !p.is_null() {
                p
            } else {
                Instance::<R, C>::alloc_slow(heap, off >> TAG_CLASS_SHIFT)
            }
        };
        if C::CHECKS && !p.is_null() {
            // SAFETY: `p` is a small block we are about to hand out.
            unsafe { check::mark_alloc(p) };
        }
        p
    }

    #[inline(never)]
    fn alloc_general(size: usize, align: usize) -> *mut u8 {
        match class_for(size, align) {
            Some(c) => Self::alloc_class(c),
            None => large::alloc_in::<OsOf<R, C>, C>(size, align),
        }
    }
}

// SAFETY: `alloc` returns null or a block of at least `layout.size()` bytes aligned to
// `layout.align()` (SC2/SC3 for classes, L1 for large blocks) that no other live allocation
// overlaps (H2, P3); `dealloc` accepts exactly those blocks. No method unwinds or allocates
// through the global allocator.
unsafe impl<R: RemoteFree, C: Config> GlobalAlloc for Hz3<R, C> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let size = layout.size();
        if size <= LUT_MAX && layout.align() <= 16 {
            return Self::alloc_class(CLASS_LUT[(size + 15) >> 4] as usize);
        }
        Self::alloc_general(size, layout.align())
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if C::CHECKS {
            // SAFETY: validates before touching anything.
            unsafe { check::check_free(p, Some(layout)) };
        }
        let heap = Instance::<R, C>::current();
        // Sized free (as jemalloc's `sdallocx`): under the foreign-cache rule (bins take blocks
        // of any owner), the layout names the class (the same table `alloc` used; `realloc` keeps a
        // block in place only while its class is unchanged), so the block goes onto its bin
        // without a metadata load. Full bins, sentinels and other layouts take the metadata
        // path, out of line so that this path stays small enough to inline everywhere. The
        // stats flavour takes the same path and reads the metadata only to count foreign
        // blocks as remote frees.
        if Instance::<R, C>::CACHE_FOREIGN {
            let size = layout.size();
            if size <= LUT_MAX && layout.align() <= 16 {
                // SAFETY: the foreign-cache rule; `heap` is our TLS heap pointer; `p` is a live
                // block allocated with `layout`, hence of this class (SC1, the realloc rule
                // above).
                return unsafe {
                    Instance::<R, C>::free_sized::<LargeOf<R, C>>(
                        heap,
                        CLASS_LUT[(size + 15) >> 4] as usize,
                        p,
                    )
                };
            }
            // SAFETY: forwarded caller contract.
            return unsafe { Instance::<R, C>::free_outlined::<LargeOf<R, C>>(heap, p) };
        }
        // SAFETY: forwarded caller contract.
        unsafe { Instance::<R, C>::free::<LargeOf<R, C>>(heap, p) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let size = layout.size();
        if class_for(size, layout.align()).is_none() {
            // Fresh OS memory is already zero; a reused mapping is cleared.
            return large::alloc_zeroed_in::<OsOf<R, C>, C>(size, layout.align());
        }
        // SAFETY: forwarded layout contract.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: `p` has at least `size` writable bytes.
            unsafe { core::ptr::write_bytes(p, 0, size) };
        }
        p
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if C::CHECKS {
            // SAFETY: validates before touching anything (as `dealloc` does).
            unsafe { check::check_live(p, Some(layout)) };
        }
        // SAFETY: the GlobalAlloc contract: `p` is live, allocated with `layout`.
        let (q, _) = unsafe { Self::resize_in_place(p, new_size, layout.align()) };
        if !q.is_null() {
            return q;
        }
        let q = Self::alloc_for_resize(new_size, layout.align());
        if !q.is_null() {
            // SAFETY: both blocks hold at least the copied length and do not overlap.
            unsafe {
                core::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
        }
        q
    }
}

/// The README's examples, run as doctests so they stay true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
