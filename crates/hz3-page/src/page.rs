//! Segments and page metadata, and the O(1) map from a block pointer to its page.
//!
//! ```text
//! segment (SEGMENT_SIZE = 4 MiB, aligned to its size)
//! +----------------------+----------+----------+-----+-----------+
//! | page 0: header       | page 1   | page 2   | ... | page 63   |   PAGE_SIZE = 64 KiB each
//! | [PageMeta; 65] + ... | slab ... |          |     |           |
//! +----------------------+----------+----------+-----+-----------+
//! ```
//! A *slab* is a run of 1, 2, 4, 8 or 16 pages holding blocks of one size class; its first
//! page's [`PageMeta`] is the *slab head* and carries the free lists. Every page of a slab
//! carries the owner and class too, so the free fast path reads only the meta of the page the
//! pointer falls in.
//!
//! Invariants:
//! - **P1** `segment_of(p) = (p - 1) & !(SEGMENT_SIZE - 1)` and
//!   `meta_of(p) = segment_of(p) + ((p - segment_of(p)) / PAGE_SIZE) * size_of::<PageMeta>()`
//!   for every block hz3 returns (small or large). Page 0 never holds blocks, so `p - 1` never
//!   leaves a small block's own segment. (`p - 1` rather than `p` lets a large block aligned
//!   to a multiple of `SEGMENT_SIZE` keep its header in the segment just below it; its page
//!   index is then exactly 64, which is why `pages` has 65 entries.)
//! - **P2** `owner == 0` for every meta that does not belong to a live slab (free pages, page 0,
//!   large segments): a free whose meta reads owner 0 takes the slow path, which distinguishes
//!   large blocks by [`SegmentHeader::kind`].
//! - **P3** For a slab head `h`: `used == blocks handed out of the slab (to bins, users, or in
//!   remote transit) == carved - |free|`, and `carved <= capacity`. A slab whose `used` is 0
//!   has no block outside it, so it can be returned to its segment.
//! - **P4** `owner`, `class` and `head` of a slab's pages are written only while the slab has
//!   no block outside it (`used == 0`), by the owner; other threads read them only for a block
//!   they hold, which the owner handed out after writing them (happens-before through the
//!   user's hand-off).
//! - **P5** owner-only fields ([`OwnerCell`]) are touched only by the thread currently holding
//!   the owner heap.
//! - **P6** `tag == owner | class << TAG_CLASS_SHIFT` on every page (0 when `owner == 0`), and
//!   owner ids are multiples of [`TAG_OWNER_ALIGN`]. So for a heap id `h` (also a multiple of
//!   it), `tag ^ h < TAG_OWNER_ALIGN` exactly when `owner == h`, and then `tag ^ h` is
//!   `class << TAG_CLASS_SHIFT`: one load, one `xor` and one compare answer "is this block
//!   mine, and which bin" (mimalloc v3 tests owner and flags with one `xor` the same way).
//!   The tag is written with `owner` ([`PageMeta::assign`], [`PageMeta::unassign`]), under P4.

use crate::remote::{Block, FlaggedRemoteList, PackedRemoteList, RemoteList};
use crate::sync::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use core::cell::UnsafeCell;
use core::ptr;

pub use crate::geometry::{
    PAGES_PER_SEGMENT, PAGE_SHIFT, PAGE_SIZE, SEGMENT_SHIFT, SEGMENT_SIZE, TAG_CLASS_SHIFT,
    TAG_OWNER_ALIGN,
};

const _: () = assert!(
    (crate::size_class::NUM_CLASSES << TAG_CLASS_SHIFT as usize) <= TAG_OWNER_ALIGN,
    "P6: every class fits below the owner bits"
);

/// A field that only the owner thread touches (P5).
#[repr(transparent)]
pub struct OwnerCell<T: Copy>(UnsafeCell<T>);

// SAFETY: the type is only accessed by the owner thread (P5); other threads never read it.
unsafe impl<T: Copy + Send> Sync for OwnerCell<T> {}

impl<T: Copy> OwnerCell<T> {
    /// Wraps `v`.
    pub const fn new(v: T) -> Self {
        OwnerCell(UnsafeCell::new(v))
    }
    /// Reads the value. Owner only (P5).
    #[inline(always)]
    pub fn get(&self) -> T {
        // SAFETY: only the owner thread accesses the cell (P5), so there is no concurrent write.
        unsafe { *self.0.get() }
    }
    /// Writes the value. Owner only (P5).
    #[inline(always)]
    pub fn set(&self, v: T) {
        // SAFETY: as in `get`.
        unsafe { *self.0.get() = v }
    }
}

impl<T: Copy + core::fmt::Debug> core::fmt::Debug for OwnerCell<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.get().fmt(f)
    }
}

/// Metadata of one page. 128 bytes: the first cache line is written by the owner, the second by
/// other threads (remote frees), so they never share a line.
///
/// All-zero bytes are a valid, unused `PageMeta` (segments come zeroed from the OS).
#[repr(C, align(128))]
#[derive(Debug)]
pub struct PageMeta {
    // ---- line 1: owner-written ----
    /// Owner heap id (its address); 0 = not a live slab (P2). Read by freeing threads.
    pub owner: AtomicUsize,
    /// `owner | class << TAG_CLASS_SHIFT`, 0 when `owner == 0` (P6). Read by freeing threads.
    pub tag: AtomicUsize,
    /// Size class of the slab (valid while `owner != 0`). Read by freeing threads.
    pub class: AtomicU32,
    /// Index (in the segment) of the slab's head page.
    pub head: AtomicU32,
    /// Slab head: free blocks returned to this slab (owner only).
    pub free: OwnerCell<*mut Block>,
    /// Slab head: blocks outside the slab (P3).
    pub used: OwnerCell<u32>,
    /// Slab head: blocks carved from fresh memory so far (P3).
    pub carved: OwnerCell<u32>,
    /// Slab head: blocks the slab holds.
    pub capacity: OwnerCell<u32>,
    /// Slab head: block size in bytes.
    pub block_size: OwnerCell<u32>,
    /// Slab head: pages in the slab.
    pub slab_pages: OwnerCell<u32>,
    /// Slab head: flags of the owner's page lists (see hz3-tcache).
    pub list_flags: OwnerCell<u32>,
    /// Slab head: first byte of the slab.
    pub start: OwnerCell<*mut u8>,
    /// Slab head: links in the owner's per-class page lists.
    pub next: OwnerCell<*mut PageMeta>,
    /// Slab head: links in the owner's per-class page lists.
    pub prev: OwnerCell<*mut PageMeta>,
    // ---- line 2: written by other threads ----
    /// Page-local remote list (B, C, D: [`RemoteList`]; C-packed: [`PackedRemoteList`]).
    pub xremote: RemoteList,
    /// Queued/idle state for the two-word protocols (0 idle, 1 queued or being processed).
    pub xremote_state: AtomicU32,
    /// Link in a page queue (hz3-pageq).
    pub xqnext: AtomicPtr<PageMeta>,
}

const _: () = assert!(core::mem::size_of::<PageMeta>() == 128 || cfg!(loom));

impl PageMeta {
    /// A fresh, unused meta (segments get theirs zeroed from the OS; this is for tests and
    /// models).
    pub fn new() -> Self {
        PageMeta {
            owner: AtomicUsize::new(0),
            tag: AtomicUsize::new(0),
            class: AtomicU32::new(0),
            head: AtomicU32::new(0),
            free: OwnerCell::new(ptr::null_mut()),
            used: OwnerCell::new(0),
            carved: OwnerCell::new(0),
            capacity: OwnerCell::new(0),
            block_size: OwnerCell::new(0),
            slab_pages: OwnerCell::new(0),
            list_flags: OwnerCell::new(0),
            start: OwnerCell::new(ptr::null_mut()),
            next: OwnerCell::new(ptr::null_mut()),
            prev: OwnerCell::new(ptr::null_mut()),
            xremote: RemoteList::new(),
            xremote_state: AtomicU32::new(0),
            xqnext: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The page-local remote list viewed as a packed head+state word (C-packed).
    #[inline(always)]
    pub fn xremote_packed(&self) -> &PackedRemoteList {
        // SAFETY: both types are `#[repr(transparent)]` over the same `AtomicPtr<Block>`; a
        // strategy uses exactly one view for the whole life of the process.
        unsafe { &*(&self.xremote as *const RemoteList as *const PackedRemoteList) }
    }

    /// The page-local remote list viewed as a flagged word (cadence collect, E).
    #[inline(always)]
    pub fn xremote_flagged(&self) -> &FlaggedRemoteList {
        // SAFETY: both types are `#[repr(transparent)]` over the same `AtomicPtr<Block>`; a
        // strategy uses exactly one view for the whole life of the process.
        unsafe { &*(&self.xremote as *const RemoteList as *const FlaggedRemoteList) }
    }

    /// Owner, releasing a slab with no block outside it: clears the remote word and state
    /// (flags such as `NOTIFY` may remain; no pusher can exist, P3).
    #[inline]
    pub fn reset_remote(&self) {
        debug_assert!(self.xremote.raw() & !crate::remote::FLAGS == 0);
        self.xremote.reset();
        self.xremote_state.store(0, Ordering::Relaxed);
    }

    /// The owner id (relaxed: P4 gives the needed ordering).
    #[inline(always)]
    pub fn owner(&self) -> usize {
        self.owner.load(Ordering::Relaxed)
    }

    /// The size class.
    #[inline(always)]
    pub fn class(&self) -> usize {
        self.class.load(Ordering::Relaxed) as usize
    }

    /// The owner-and-class word (P6; relaxed, as [`owner`](Self::owner)).
    ///
    /// ```
    /// use hz3_page::{PageMeta, TAG_OWNER_ALIGN};
    /// let m = PageMeta::new();
    /// let heap = 5 * TAG_OWNER_ALIGN;
    /// assert!(m.tag() ^ heap >= TAG_OWNER_ALIGN); // unowned: not ours
    /// m.assign(heap, 3, 0);
    /// let off = m.tag() ^ heap;
    /// assert!(off < TAG_OWNER_ALIGN); // ours, and the bin is at byte offset 3 << 4
    /// assert_eq!(off, 3 << hz3_page::TAG_CLASS_SHIFT);
    /// assert!(m.tag() ^ (6 * TAG_OWNER_ALIGN) >= TAG_OWNER_ALIGN); // another heap's
    /// m.unassign();
    /// assert_eq!((m.owner(), m.tag()), (0, 0));
    /// ```
    #[inline(always)]
    pub fn tag(&self) -> usize {
        self.tag.load(Ordering::Relaxed)
    }

    /// Makes this page part of a slab of class `class` whose head is page `head` of the
    /// segment, owned by `owner` (a multiple of [`TAG_OWNER_ALIGN`], not 0): class, head, tag,
    /// then owner (P4, P6). The owner calls it while the slab has no block outside it (P4).
    #[inline]
    pub fn assign(&self, owner: usize, class: usize, head: usize) {
        debug_assert!(
            owner != 0 && owner % TAG_OWNER_ALIGN == 0,
            "P6: owner alignment"
        );
        debug_assert!(class < crate::size_class::NUM_CLASSES);
        self.class.store(class as u32, Ordering::Relaxed);
        self.head.store(head as u32, Ordering::Relaxed);
        self.tag
            .store(owner | class << TAG_CLASS_SHIFT, Ordering::Relaxed);
        // P4: owner last; the slab has no block outside it yet.
        self.owner.store(owner, Ordering::Relaxed);
    }

    /// Takes this page out of its slab: owner and tag 0 (P2, P6). The owner calls it while
    /// the slab has no block outside it (P4).
    #[inline]
    pub fn unassign(&self) {
        self.owner.store(0, Ordering::Relaxed);
        self.tag.store(0, Ordering::Relaxed);
    }
}

impl Default for PageMeta {
    fn default() -> Self {
        Self::new()
    }
}

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum SegmentKind {
    /// Not formatted.
    None = 0,
    /// Slabs of size classes, owned by one heap.
    Small = 1,
    /// One large block.
    Large = 2,
}

/// The header in page 0 of every segment. `pages` comes first so `meta_of` is pure arithmetic.
#[repr(C)]
pub struct SegmentHeader {
    /// Metadata of each page (index 64 exists for P1's boundary case and stays zero).
    pub pages: [PageMeta; PAGES_PER_SEGMENT + 1],
    /// What the segment holds. Written before any block of it is handed out.
    pub kind: AtomicU32,
    /// Small: the owning heap id. Owner only.
    pub owner: OwnerCell<usize>,
    /// Small: bit `i` set = page `i` is free. Owner only.
    pub free_pages: OwnerCell<u64>,
    /// Small: free pages that were used and not yet decommitted (subset of `free_pages`).
    /// Owner only.
    pub dirty_pages: OwnerCell<u64>,
    /// Small: when the dirty pages are due to be decommitted (`purge::now_ms` clock; 0 = no
    /// dirty page, PG2). Owner only.
    pub purge_at: OwnerCell<u64>,
    /// Small: links in the owner's segment list. Owner only.
    pub next: OwnerCell<*mut SegmentHeader>,
    /// Small: links in the owner's segment list. Owner only.
    pub prev: OwnerCell<*mut SegmentHeader>,
    /// Large: start of the OS mapping.
    pub map_base: OwnerCell<*mut u8>,
    /// Large: length of the OS mapping.
    pub map_len: OwnerCell<usize>,
    /// Large: the block's usable size.
    pub large_size: OwnerCell<usize>,
    /// Large: the block's address (the checked flavour rejects interior pointers).
    pub large_block: OwnerCell<*mut u8>,
    /// Small: the segment's mapping is advised for transparent huge pages
    /// ([`OsMemory::advise_huge`](crate::OsMemory::advise_huge)). Owner only.
    pub huge: OwnerCell<bool>,
}

/// Offset, in page 0 of a segment, of the checked flavour's allocation bitmaps: slab head page
/// `i` has [`CHECK_BITMAP_BYTES`] bytes at `segment + CHECK_BITMAP_OFFSET + i * CHECK_BITMAP_BYTES`,
/// one bit per block (set = handed to the user).
pub const CHECK_BITMAP_OFFSET: usize = 16 * 1024;
/// Bytes of allocation bitmap per slab (enough for the largest slab capacity, 4096 blocks).
pub const CHECK_BITMAP_BYTES: usize = 512;

const _: () = assert!(core::mem::size_of::<SegmentHeader>() <= CHECK_BITMAP_OFFSET || cfg!(loom));
const _: () = assert!(CHECK_BITMAP_OFFSET + PAGES_PER_SEGMENT * CHECK_BITMAP_BYTES <= PAGE_SIZE);

const _: () = assert!(core::mem::size_of::<SegmentHeader>() <= PAGE_SIZE || cfg!(loom));

/// Mask of the pages a small segment can give out (all but page 0).
pub const ALL_SLAB_PAGES: u64 = !1u64;

/// The segment a block lies in (P1).
///
/// The result has the segment's *exposed* provenance, not `p`'s: a block pointer (or a
/// reference to one page's meta) may carry a provenance that covers only that block — under
/// Stacked Borrows a `Box` or `&T` narrows it so — while the header is elsewhere in the
/// mapping. Every segment's provenance is exposed when it is registered (its address is taken
/// for [`segmap::register`](crate::segmap::register)) and by the OS layers
/// ([`SystemOs`](crate::SystemOs)). Natively the same `and` as integer arithmetic.
#[inline(always)]
pub fn segment_of(p: *const u8) -> *mut SegmentHeader {
    ptr::with_exposed_provenance_mut(p.addr().wrapping_sub(1) & !(SEGMENT_SIZE - 1))
}

/// The meta of the page a block lies in (P1). Pure arithmetic; the result is only meaningful
/// for pointers hz3 returned. Exposed provenance, as [`segment_of`].
#[inline(always)]
pub fn meta_of(p: *const u8) -> *mut PageMeta {
    let a = p.addr();
    let seg = a.wrapping_sub(1) & !(SEGMENT_SIZE - 1);
    let idx = a.wrapping_sub(seg) >> PAGE_SHIFT;
    ptr::with_exposed_provenance_mut(seg + idx * core::mem::size_of::<PageMeta>())
}

/// The meta of page `idx` of `seg`.
///
/// # Safety
/// `seg` is a live segment and `idx <= PAGES_PER_SEGMENT`.
#[inline(always)]
pub unsafe fn page_meta(seg: *mut SegmentHeader, idx: usize) -> *mut PageMeta {
    // SAFETY: in bounds of the `pages` array by the caller's contract.
    unsafe { ptr::addr_of_mut!((*seg).pages).cast::<PageMeta>().add(idx) }
}

/// The index of `meta` within its segment and the segment (exposed provenance, as
/// [`segment_of`]: `meta` is usually a reference to one page's meta, which does not cover the
/// rest of the segment).
#[inline(always)]
pub fn meta_index(meta: *const PageMeta) -> (*mut SegmentHeader, usize) {
    let seg = meta.addr() & !(SEGMENT_SIZE - 1);
    (
        ptr::with_exposed_provenance_mut(seg),
        (meta.addr() - seg) / core::mem::size_of::<PageMeta>(),
    )
}

/// The first byte of page `idx` of `seg`.
#[inline(always)]
pub fn page_start(seg: *mut SegmentHeader, idx: usize) -> *mut u8 {
    seg.cast::<u8>().wrapping_add(idx << PAGE_SHIFT)
}

/// Finds `n` consecutive set bits in `mask`; returns the lowest start index.
#[inline]
pub fn find_run(mask: u64, n: usize) -> Option<usize> {
    let mut m = mask;
    let mut i = 1;
    while i < n {
        m &= mask >> i;
        i += 1;
    }
    if m == 0 {
        None
    } else {
        Some(m.trailing_zeros() as usize)
    }
}

/// A mask of `n` bits starting at `start`.
#[inline]
pub fn run_mask(start: usize, n: usize) -> u64 {
    (if n >= 64 { !0u64 } else { (1u64 << n) - 1 }) << start
}
