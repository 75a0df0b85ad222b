//! Large blocks (above `MAX_SMALL`, or aligned above `MAX_CLASS_ALIGN`): one OS mapping each,
//! with a segment header placed so that `segment_of(p)` finds it (P1).
//!
//! Layout: for `align < SEGMENT_SIZE` the mapping starts at a segment boundary `base`, the
//! header is at `base` and the block at `base + max(PAGE_SIZE, align)`. For larger alignments
//! the block sits at an `align` boundary `p` and the header at `p - SEGMENT_SIZE` (so
//! `segment_of(p) = (p - 1) & !(SEGMENT_SIZE - 1)` is the header). The header's page metas
//! stay zero, so a free of a large block always reaches the slow path (P2).
//!
//! Mappings are reused: a freed block's mapping goes to the large-mapping cache
//! (`hz3_tcache::large_cache`, LC1–LC3) and the next large allocation takes what it needs of
//! it (committed pages, no faults; the rest stays cached), or gathers several cached mappings'
//! pages into one range when none is big enough; a resize grows the mapping in place (`mremap`) or moves its
//! pages to a new aligned range without copying (`OsMemory::move_to`), reserving room to
//! grow so that a buffer grown step by step costs amortised O(1) per byte.
//!
//! Invariants:
//! - **L1** `kind == Large`; `map_base`/`map_len` describe the whole mapping, `large_block`
//!   is the block's address and `large_size` its usable size (the request rounded up to whole
//!   OS pages); `large_block + large_size <= map_base + map_len` (the rest is the block's
//!   room to grow, reserved address space that is untouched or committed from a former use).
//! - **L2** a mapping in the large cache has `kind == None` (its header no longer names a
//!   block, so a stale free of it is an invalid free).

use core::ptr;
use core::sync::atomic::Ordering;
use hz3_page::{
    segment_of, OsMemory, SegmentHeader, SegmentKind, SystemOs, OS_PAGE, PAGE_SIZE, SEGMENT_SIZE,
};
use hz3_tcache::{large_cache, Config, Fast};

/// Room to grow reserved when a large block is resized upwards: the new mapping holds
/// `size + size / GROWTH_DIV` (address space only; pages are committed when touched).
const GROWTH_DIV: usize = 2;
/// A large block shrunk in place gives back the committed tail past its new size when the
/// tail is more than this (and the block lost more than half).
const TAIL_KEEP: usize = 1 << 20;

fn round_os(n: usize) -> Option<usize> {
    Some(n.checked_add(OS_PAGE - 1)? & !(OS_PAGE - 1))
}

/// Offset of the block in a mapping of alignment `align < SEGMENT_SIZE`.
fn block_offset(align: usize) -> usize {
    align.max(PAGE_SIZE)
}

/// Writes the header of a large block (L1).
///
/// # Safety
/// `base .. base + len` is a mapping nobody else uses, segment aligned at the header; `p`
/// and `size` lie inside it.
unsafe fn format(base: *mut u8, len: usize, p: usize, size: usize) -> *mut u8 {
    let hdr = segment_of(p as *const u8);
    // SAFETY: `hdr` lies inside the mapping (at `base` or `p - SEGMENT_SIZE >= base`), is
    // segment aligned; nobody else knows it yet.
    unsafe {
        let h = &*hdr;
        h.map_base.set(base);
        h.map_len.set(len);
        h.large_size.set(size);
        h.large_block.set(p as *mut u8);
        h.kind.store(SegmentKind::Large as u32, Ordering::Release);
    }
    p as *mut u8
}

/// A mapping of at least `need` bytes at a segment boundary: from the cache (committed
/// pages; `dirty` tells the caller it may hold old data) or fresh. Null on OS failure.
/// With `growing` (the block of a resize that grows) all of a bigger cached mapping stays
/// with the block, as room to grow; otherwise what lies past the block's segments goes back
/// to the cache ([`split`]).
fn mapping<O: OsMemory, C: Config>(need: usize, growing: bool) -> (*mut u8, usize, bool) {
    let mut got = [(ptr::null_mut(), 0); large_cache::GATHER_MAX];
    // An OS layer that cannot move pages takes only a cached mapping that fits.
    let gather = if O::MOVES { got.len() } else { 1 };
    let n = large_cache::take::<C>(need, &mut got[..gather]);
    let keep = |(base, len): (*mut u8, usize)| match growing {
        true => (base, len, true),
        // SAFETY: a whole unused large mapping (from the cache or just gathered), ours alone.
        false => unsafe { split::<O, C>(base, len, need) },
    };
    if n == 1 && got[0].1 >= need {
        return keep(got[0]);
    }
    if n > 0 {
        // Not one big enough: move the committed pages of the biggest into one new range.
        let total = need.max(got[..n].iter().map(|g| g.1).sum());
        let target = O::map(total, SEGMENT_SIZE);
        if !target.is_null() {
            hz3_page::stats::mapped(total);
            let mut at = 0;
            for &(base, len) in &got[..n] {
                // SM1: `base` leaves the registry before `mremap` frees its range, which
                // another thread's `mmap` may take (and register) at once.
                hz3_page::segmap::unregister(base as usize);
                // SAFETY: `base .. base + len` is a whole unused cached mapping (LC1);
                // `target + at .. target + total` is the untouched rest of the fresh range.
                if unsafe { O::move_to(base, len, target.add(at), total - at) } {
                    hz3_page::stats::sub(hz3_page::stats::Stat::Mapped, len);
                    at += len;
                } else {
                    // A range the OS will not move in one piece goes back to the OS, not to
                    // the cache, where the next gather would pick it again (kernels before
                    // 6.17 do not move a range that spans several of their mappings, as a
                    // range gathered from several mappings does).
                    // SAFETY: still the whole unused cached mapping.
                    unsafe { large_cache::unmap::<O>(base, len) };
                }
            }
            hz3_page::segmap::register(target as usize);
            return keep((target, total));
        }
        for &(base, len) in &got[..n] {
            // SAFETY: the cached mapping is whole and unused; give it back.
            unsafe { large_cache::release::<O, C>(base, len) };
        }
    }
    let base = O::map(need, SEGMENT_SIZE);
    if !base.is_null() {
        hz3_page::segmap::register(base as usize);
        hz3_page::stats::mapped(need);
    }
    (base, need, false)
}

/// Keeps the segments that a block of `need` bytes needs of the reused mapping `base .. base
/// + len` and gives the rest back to the cache, when it holds at least one whole segment: a
/// mapping freed by a big block and reused by a small one does not pin the big one's
/// committed pages for the small one's life, and they serve the next allocation instead
/// (GNU `sort -S 64M` frees its 64 MiB buffer, then works in 32 MiB ones).
///
/// # Safety
/// `base .. base + len` is a whole unused large mapping, segment aligned and registered
/// (LC1), ours alone; `need <= len`.
unsafe fn split<O: OsMemory, C: Config>(
    base: *mut u8,
    len: usize,
    need: usize,
) -> (*mut u8, usize, bool) {
    let cut = need.next_multiple_of(SEGMENT_SIZE);
    if !O::UNMAPS_PARTS || len.saturating_sub(cut) < SEGMENT_SIZE {
        return (base, len, true);
    }
    // SAFETY: `cut < len`: the tail's first segment lies in the mapping.
    let tail = unsafe { base.add(cut) };
    // The tail's header holds the former block's bytes: zeroed, it reads as a fresh mapping's
    // (page metas zero, P2; `kind` None, L2), so a stale pointer into the tail is an invalid
    // free.
    // SAFETY: a segment-aligned range of the mapping, ours alone; the header fits in the
    // first segment.
    unsafe { ptr::write_bytes(tail, 0, core::mem::size_of::<SegmentHeader>()) };
    hz3_page::segmap::register(tail as usize);
    // SAFETY: the tail is a segment-aligned range of the mapping, unused and now registered
    // with a header naming no block (LC1).
    unsafe { large_cache::release::<O, C>(tail, len - cut) };
    (base, cut, true)
}

/// Maps a large block of `size` bytes with room to grow to `capacity` bytes; the bool says
/// whether its memory may hold old data (a reused mapping). Null on overflow or OS failure.
fn alloc_inner<O: OsMemory, C: Config>(
    size: usize,
    align: usize,
    capacity: usize,
) -> (*mut u8, bool) {
    let growing = capacity > size;
    let (Some(size), Some(capacity)) = (round_os(size), round_os(capacity.max(size))) else {
        return (ptr::null_mut(), false);
    };
    if align < SEGMENT_SIZE {
        let off = block_offset(align);
        let Some(need) = capacity.checked_add(off) else {
            return (ptr::null_mut(), false);
        };
        let (base, len, dirty) = mapping::<O, C>(need, growing);
        if base.is_null() {
            return (base, false);
        }
        hz3_page::stats::large_alloc(len);
        // SAFETY: a mapping only we know of, segment aligned; the block fits (`need <= len`).
        (
            unsafe { format(base, len, base as usize + off, size) },
            dirty,
        )
    } else {
        let Some(len) = size
            .checked_add(align)
            .and_then(|l| l.checked_add(SEGMENT_SIZE))
        else {
            return (ptr::null_mut(), false);
        };
        let base = O::map(len, SEGMENT_SIZE);
        if base.is_null() {
            return (base, false);
        }
        let p = (base as usize + SEGMENT_SIZE + align - 1) & !(align - 1);
        hz3_page::segmap::register(segment_of(p as *const u8) as usize);
        hz3_page::stats::mapped(len);
        hz3_page::stats::large_alloc(len);
        // SAFETY: a fresh mapping; header at `p - SEGMENT_SIZE >= base`, block inside.
        (unsafe { format(base, len, p, size) }, false)
    }
}

/// Maps (or reuses) a large block; null on overflow or OS failure.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    alloc_in::<SystemOs, Fast>(size, align)
}

/// [`alloc`] through the OS layer `O`, for the flavour `C` (its statistics count the cache lock).
pub fn alloc_in<O: OsMemory, C: Config>(size: usize, align: usize) -> *mut u8 {
    alloc_inner::<O, C>(size, align, size).0
}

/// A large block for a resize that grows into the large range: reserves room to grow (as
/// [`resize`] does), so a buffer grown step by step is not copied again.
pub fn alloc_with_room(size: usize, align: usize) -> *mut u8 {
    alloc_with_room_in::<SystemOs, Fast>(size, align)
}

/// [`alloc_with_room`] through the OS layer `O`, for the flavour `C` (its statistics count
/// the cache lock).
pub fn alloc_with_room_in<O: OsMemory, C: Config>(size: usize, align: usize) -> *mut u8 {
    alloc_inner::<O, C>(size, align, size.saturating_add(size / GROWTH_DIV)).0
}

/// A large block that reads zero (fresh pages are zero; a reused mapping is cleared).
pub fn alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    alloc_zeroed_in::<SystemOs, Fast>(size, align)
}

/// [`alloc_zeroed`] through the OS layer `O`, for the flavour `C` (its statistics count the
/// cache lock).
pub fn alloc_zeroed_in<O: OsMemory, C: Config>(size: usize, align: usize) -> *mut u8 {
    let (p, dirty) = alloc_inner::<O, C>(size, align, size);
    if dirty {
        // SAFETY: the block has at least `size` writable bytes.
        unsafe { ptr::write_bytes(p, 0, size) };
    }
    p
}

/// The header of `p` if it is a large block.
///
/// # Safety
/// `p` was returned by hz3 and its meta reads owner 0.
#[inline]
pub unsafe fn header(p: *mut u8) -> Option<&'static SegmentHeader> {
    // SAFETY: P1: the segment of any hz3 block is mapped and starts with a header.
    let h = unsafe { &*segment_of(p) };
    (h.kind.load(Ordering::Relaxed) == SegmentKind::Large as u32).then_some(h)
}

/// Usable size of a large block.
pub fn usable_size(h: &SegmentHeader) -> usize {
    h.large_size.get()
}

/// Frees a large block: its mapping goes to the large-mapping cache (or is unmapped, LC3).
///
/// # Safety
/// `h` is the header of a live large block that the caller gives up.
pub unsafe fn free(h: *const SegmentHeader) {
    // SAFETY: forwarded.
    unsafe { free_in::<SystemOs, Fast>(h) }
}

/// [`free`] through the OS layer `O`, for the flavour `C` (its statistics count the cache
/// lock). Out of line, as the non-generic [`free`] is: the free paths of the thread cache
/// reach it from their slow branch, which must stay small.
///
/// Takes the header as a raw pointer, not a reference: a reference argument stays protected
/// (must stay dereferenceable) for the whole call, and this call unmaps or recycles the
/// mapping the header lives in (Miri's Stacked Borrows reported exactly that).
///
/// # Safety
/// `h` is the header of a live large block that the caller gives up, and the caller holds
/// no reference into its mapping past this call.
#[inline(never)]
pub unsafe fn free_in<O: OsMemory, C: Config>(h: *const SegmentHeader) {
    // SAFETY: the header is live until the mapping is released below; this reference ends
    // before that.
    let hr = unsafe { &*h };
    let (base, len) = (hr.map_base.get(), hr.map_len.get());
    let hdr = h as usize;
    hz3_page::stats::large_free(len);
    if hdr != base as usize {
        // A block aligned to a segment or more: its header is not at the mapping's start, so
        // the mapping is not reusable by `mapping`; unmap it.
        hz3_page::segmap::unregister(hdr);
        hz3_page::stats::unmapped(len);
        // SAFETY: L1: the mapping came from `O::map(len, ..)`; nothing in it is live.
        return unsafe { O::unmap(base, len) };
    }
    // L2: the header no longer names a block.
    hr.kind.store(SegmentKind::None as u32, Ordering::Release);
    // SAFETY: L1: a whole segment-aligned mapping, registered, nothing live in it.
    unsafe { large_cache::release::<O, C>(base, len) };
}

/// The thread cache's hand-off for blocks whose page has no owner (P2): a large block is
/// freed through the OS layer `O` (flavour `C`), anything else is an invalid free.
pub(crate) struct Large<O, C>(core::marker::PhantomData<(O, C)>);

impl<O: OsMemory, C: Config> hz3_tcache::Unowned for Large<O, C> {
    #[inline(always)]
    unsafe fn free_unowned(p: *mut u8) {
        // SAFETY: `p` is an hz3 pointer with owner 0 (the trait's contract): large, or not ours.
        match unsafe { header(p) } {
            // SAFETY: the caller gives up the live large block.
            Some(h) => unsafe { free_in::<O, C>(h as *const SegmentHeader) },
            None => hz3_page::fatal(hz3_page::FatalKind::InvalidFree),
        }
    }
}

/// Resizes large block `p` (header `h`) to `new_size` without copying its bytes: in place
/// when the mapping has room (growing it with `mremap` if the address space after it is
/// free), else by moving the mapping's pages to a new aligned range with room to grow.
/// Returns the block's (possibly new) address, or null when the caller must allocate, copy
/// and free (the new size belongs to a size class, a segment alignment, or the OS refused).
///
/// # Safety
/// `h` is the header of the live large block `p`, allocated with alignment `align`.
pub unsafe fn resize(h: &SegmentHeader, p: *mut u8, new_size: usize, align: usize) -> *mut u8 {
    // SAFETY: forwarded.
    unsafe { resize_in::<SystemOs, Fast>(h, p, new_size, align) }
}

/// [`resize`] through the OS layer `O` and flavour `C` (out of line, as the non-generic
/// [`resize`] is).
///
/// # Safety
/// As [`resize`].
#[inline(never)]
pub unsafe fn resize_in<O: OsMemory, C: Config>(
    h: &SegmentHeader,
    p: *mut u8,
    new_size: usize,
    align: usize,
) -> *mut u8 {
    let Some(size) = round_os(new_size) else {
        return ptr::null_mut();
    };
    if hz3_page::class_for(new_size, align).is_some() {
        return ptr::null_mut();
    }
    let (base, len) = (h.map_base.get(), h.map_len.get());
    let end = base as usize + len;
    let room = end - p as usize;
    let old = h.large_size.get();
    if size <= room {
        if size < old / 2 && room - size > TAIL_KEEP {
            // Shrinking a lot: give the committed tail back (the range stays reserved).
            // SAFETY: the tail past the new size is part of our block, no longer used.
            unsafe { O::decommit(p.add(size), room - size) };
            hz3_page::stats::add(hz3_page::stats::Stat::Purged, room - size);
        }
        // No statistics here: the gauge counts mappings (an atomic read-modify-write waits for
        // the store buffer to drain, 3 % of a page-by-page `realloc` loop's time).
        h.large_size.set(size);
        return p;
    }
    if align >= SEGMENT_SIZE || !ptr::eq(h as *const SegmentHeader, base as *const SegmentHeader) {
        return ptr::null_mut();
    }
    let off = p as usize - base as usize;
    let Some(want) = size
        .checked_add(size / GROWTH_DIV)
        .and_then(round_os)
        .and_then(|w| w.checked_add(off))
    else {
        return ptr::null_mut();
    };
    // SAFETY: `base .. base + len` is the block's whole mapping (L1); `len <= want`.
    if unsafe { O::grow_in_place(base, len, want) } {
        hz3_page::stats::add(hz3_page::stats::Stat::Mapped, want - len);
        hz3_page::stats::large_resized(len, want);
        h.map_len.set(want);
        h.large_size.set(size);
        return p;
    }
    let target = O::map(want, SEGMENT_SIZE);
    if target.is_null() {
        return ptr::null_mut();
    }
    hz3_page::stats::mapped(want);
    // SM1: `base` leaves the registry before `mremap` frees its range (see `mapping`).
    hz3_page::segmap::unregister(base as usize);
    // SAFETY: the whole mapping moves (header and block, the block stays live) onto a fresh
    // reservation of `want > len` bytes; no other thread reads a large header except for a
    // block it holds, and the caller holds this one.
    if !unsafe { O::move_to(base, len, target, want) } {
        hz3_page::segmap::register(base as usize);
        // SAFETY: the reservation holds nothing.
        unsafe { O::unmap(target, want) };
        hz3_page::stats::unmapped(want);
        return ptr::null_mut();
    }
    hz3_page::stats::sub(hz3_page::stats::Stat::Mapped, len);
    hz3_page::stats::large_resized(len, want);
    hz3_page::segmap::register(target as usize);
    // SAFETY: the header moved with the mapping to `target`, which only we know of.
    unsafe { format(target, want, target as usize + off, size) }
}
