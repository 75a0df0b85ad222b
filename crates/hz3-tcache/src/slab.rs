//! Slabs and segments of a heap: carving a new slab out of an owned segment, giving a slab
//! back, and the process-wide cache of free segments.
//!
//! Invariants:
//! - **G1** A small segment is owned by exactly one heap (`SegmentHeader::owner`), which alone
//!   changes its `free_pages`, `dirty_pages` and `purge_at`; bit `i` of `free_pages` is set
//!   iff page `i` belongs to no slab.
//! - **G2** A segment whose pages are all free is unlinked from its heap and goes to the
//!   segment cache (its dirty pages still committed, on their deadline) or back to the OS; no
//!   block of it is live (P3).
//! - **G3** The segment cache holds at most [`SEGMENT_CACHE_MAX`] unowned segments; an entry
//!   records the segment's dirty pages and their deadline (PG1, PG2 of `hz3_page::purge`);
//!   the segment's header is zeroed when it leaves the cache.
//! - **G4** `dirty_pages ⊆ free_pages`: dirty pages are free pages that are still committed.
//!   They are decommitted when their segment's `purge_at` has passed (on the owner's slow
//!   path), when the process's dirty bytes exceed the cap (the releasing heap purges its own,
//!   oldest first), or at once by `collect()`; a new slab takes dirty pages first.
//! - **G5** `SegmentHeader::huge` (and a cache entry's `huge`) is true iff the segment's mapping
//!   was last advised for transparent huge pages. A heap that holds at least
//!   `purge::huge_min_bytes` of segments (this one included), touches what it allocates
//!   (`dense_heap`) and is not the fallback heap (`Local::small_pages_only`: young threads
//!   share it to stay small) advises a segment it takes from
//!   the OS or the cache, before the header is first touched (so the first touch of each
//!   2 MiB half can take a huge page); a lighter heap withdraws the advice when it carves a
//!   slab there; decommitting a segment's dirty pages withdraws it for good while the
//!   segment stays owned (the kernel would otherwise collapse a purged half back into a
//!   resident huge page).

use crate::config::Config;
use crate::heap::{Heap, Local};
use crate::lock::{LockStats, SpinLock};
use crate::page_list::{list_push, list_remove, ON_FULL, ON_PARTIAL};
use crate::policy::OsOf;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::Ordering;
use hz3_page::purge;
use hz3_page::{
    class_size, find_run, page_meta, page_start, run_mask, slab_capacity, slab_pages, OsMemory,
    PageMeta, SegmentHeader, SegmentKind, ALL_SLAB_PAGES, PAGE_SIZE, SEGMENT_SIZE,
};
use hz3_pageq::RemoteFree;

/// Free segments kept for reuse before unmapping.
pub const SEGMENT_CACHE_MAX: usize = 16;
/// Segments a heap purges per slow-path visit when their deadline passed (bounded work).
pub const PURGE_SEGMENTS_PER_VISIT: usize = 8;

/// Decommits every dirty page of `seg` (in maximal runs) and clears its deadline.
///
/// # Safety
/// The caller owns `seg` (G1), or holds the segment cache lock for a cached one.
pub unsafe fn decommit_dirty<O: OsMemory>(seg: *mut SegmentHeader) {
    // SAFETY: G1.
    let s = unsafe { &*seg };
    let dirty = s.dirty_pages.get();
    s.dirty_pages.set(0);
    s.purge_at.set(0);
    // SAFETY: forwarded; dirty pages are free (G4).
    unsafe { decommit_mask::<O>(seg, dirty) };
    if s.huge.get() {
        s.huge.set(false);
        // SAFETY: the whole segment mapping (`map(SEGMENT_SIZE, ..)`), live (G5).
        unsafe { O::advise_huge(seg.cast(), SEGMENT_SIZE, false) };
    }
}

/// Whether a heap whose segment list starts at `first`, plus `extra` more segments, holds at
/// least [`purge::huge_min_bytes`] of segments (never when that is 0). Walks at most that many
/// segments.
///
/// # Safety
/// `first` starts the caller's own segment list (G1).
unsafe fn heavy_heap(first: *mut SegmentHeader, extra: usize) -> bool {
    let min = purge::huge_min_bytes();
    if min == 0 {
        return false;
    }
    let need = min.div_ceil(SEGMENT_SIZE);
    let mut n = extra;
    let mut seg = first;
    while n < need && !seg.is_null() {
        n += 1;
        // SAFETY: segments on the caller's list are live and its own (G1).
        seg = unsafe { &*seg }.next.get();
    }
    n >= need
}

/// Resident share (percent) of the used slab pages of a heap's most recent segment without
/// huge pages at or above which the heap counts as touching what it allocates (G5).
pub const HUGE_DENSE_PCT: usize = 50;
/// Used slab pages a segment needs to be a sample of how densely its heap touches memory.
const HUGE_SAMPLE_MIN_PAGES: u32 = 16;
/// Segments [`dense_heap`] looks at, at most.
const HUGE_SAMPLE_WALK: usize = 8;

/// Whether the heap whose segment list starts at `first` touches what it allocates: of the
/// used slab pages of its most recent segment without huge pages (and with at least
/// [`HUGE_SAMPLE_MIN_PAGES`] used), at least [`HUGE_DENSE_PCT`] % of the OS pages are
/// resident. A program that writes a word of each big block (or reserves buffers it seldom
/// fills) would pay a whole 2 MiB page for a few touched KiB. True when there is no such
/// segment or the OS cannot tell (nothing to go by: the size rule alone decides).
///
/// # Safety
/// `first` starts the caller's own segment list (G1).
unsafe fn dense_heap<O: OsMemory>(first: *mut SegmentHeader) -> bool {
    const OS_PAGES: usize = SEGMENT_SIZE / hz3_page::os::OS_PAGE;
    const PER_PAGE: usize = PAGE_SIZE / hz3_page::os::OS_PAGE;
    let mut seg = first;
    let mut walked = 0;
    while !seg.is_null() && walked < HUGE_SAMPLE_WALK {
        walked += 1;
        // SAFETY: segments on the caller's list are live and its own (G1).
        let s = unsafe { &*seg };
        let used = !s.free_pages.get() & ALL_SLAB_PAGES;
        if !s.huge.get() && used.count_ones() >= HUGE_SAMPLE_MIN_PAGES {
            let mut vec = [0u8; OS_PAGES];
            // SAFETY: the whole live segment mapping, page aligned; `vec` covers it.
            if !unsafe { O::residency(seg.cast(), &mut vec) } {
                return true;
            }
            let resident: usize = vec
                .chunks_exact(PER_PAGE)
                .enumerate()
                .filter(|&(i, _)| used >> i & 1 != 0)
                .map(|(_, page)| page.iter().filter(|&&b| b & 1 != 0).count())
                .sum();
            let total = used.count_ones() as usize * PER_PAGE;
            return resident * 100 >= total * HUGE_DENSE_PCT;
        }
        seg = s.next.get();
    }
    true
}

/// Sets the huge-page advice of segment `seg` to `want` if it differs (G5).
///
/// # Safety
/// The caller owns `seg` (G1).
unsafe fn advise_segment<O: OsMemory>(seg: *mut SegmentHeader, want: bool) {
    // SAFETY: G1.
    let s = unsafe { &*seg };
    if s.huge.get() != want {
        s.huge.set(want);
        // SAFETY: the whole segment mapping (`map(SEGMENT_SIZE, ..)`), live.
        unsafe { O::advise_huge(seg.cast(), SEGMENT_SIZE, want) };
    }
}

/// Decommits the pages of `mask` (free pages of `seg`) and takes them off the dirty count.
///
/// # Safety
/// The pages of `mask` belong to no slab of `seg`, a live segment.
unsafe fn decommit_mask<O: OsMemory>(seg: *mut SegmentHeader, mut mask: u64) {
    purge::sub_dirty(mask.count_ones() as usize * PAGE_SIZE);
    hz3_page::stats::add(
        hz3_page::stats::Stat::Purged,
        mask.count_ones() as usize * PAGE_SIZE,
    );
    while mask != 0 {
        let start = mask.trailing_zeros() as usize;
        let len = (!(mask >> start)).trailing_zeros() as usize;
        // SAFETY: free pages lie inside the segment and hold nothing live (caller, PG3).
        unsafe { O::decommit(page_start(seg, start), len * PAGE_SIZE) };
        mask &= !run_mask(start, len);
    }
}

#[derive(Clone, Copy)]
struct CachedSegment {
    seg: *mut SegmentHeader,
    dirty: u64,
    purge_at: u64,
    /// The segment is advised for huge pages (G5).
    huge: bool,
}

const NO_SEGMENT: CachedSegment = CachedSegment {
    seg: ptr::null_mut(),
    dirty: 0,
    purge_at: 0,
    huge: false,
};

struct SegmentCache {
    lock: SpinLock,
    /// Oldest first.
    slots: UnsafeCell<[CachedSegment; SEGMENT_CACHE_MAX]>,
    len: UnsafeCell<usize>,
}

// SAFETY: `slots` and `len` are only accessed with `lock` held.
unsafe impl Sync for SegmentCache {}

static SEGMENT_CACHE: SegmentCache = SegmentCache {
    lock: SpinLock::new(),
    slots: UnsafeCell::new([NO_SEGMENT; SEGMENT_CACHE_MAX]),
    len: UnsafeCell::new(0),
};

/// A fresh or cached segment with a zeroed header (its data pages may be dirty: the returned
/// mask and deadline say which; the flag says whether it is advised for huge pages, G5), or
/// null.
fn segment_acquire<O: OsMemory, C: Config>() -> (*mut SegmentHeader, u64, u64, bool) {
    let cached = {
        let _g = SEGMENT_CACHE.lock.lock_counted::<C>();
        // SAFETY: the lock is held (see `SegmentCache`).
        unsafe {
            let len = &mut *SEGMENT_CACHE.len.get();
            if *len > 0 {
                *len -= 1;
                hz3_page::stats::sub(hz3_page::stats::Stat::SegmentsCached, 1);
                // The cache is being drawn from: the entries left are likely wanted soon, so
                // their deadlines move with this use (purged only once the cache sits idle).
                let slots = &mut *SEGMENT_CACHE.slots.get();
                let at = purge::deadline(purge::now_ms());
                for e in slots[..*len].iter_mut().filter(|e| e.dirty != 0) {
                    e.purge_at = e.purge_at.max(at);
                }
                Some(slots[*len])
            } else {
                None
            }
        }
    };
    if let Some(e) = cached {
        // SAFETY: a cached segment is unowned and holds nothing live (G3); its header page is
        // committed; zeroing the header makes every meta read owner 0 again (P2).
        unsafe { ptr::write_bytes(e.seg.cast::<u8>(), 0, core::mem::size_of::<SegmentHeader>()) };
        return (e.seg, e.dirty, e.purge_at, e.huge);
    }
    let seg = O::map(SEGMENT_SIZE, SEGMENT_SIZE);
    if !seg.is_null() {
        hz3_page::segmap::register(seg as usize);
        hz3_page::stats::segment_mapped();
    }
    (seg.cast(), 0, 0, false)
}

/// Gives an empty segment back (G2, G3): into the cache with its dirty pages, evicting (and
/// unmapping) the oldest entry when full.
///
/// # Safety
/// No page of `seg` is in use and no heap links it.
unsafe fn segment_release<O: OsMemory, C: Config>(seg: *mut SegmentHeader) {
    // SAFETY: the segment is unlinked and unused: we are its only user.
    let (dirty, purge_at, huge) = unsafe {
        (
            (*seg).dirty_pages.get(),
            (*seg).purge_at.get(),
            (*seg).huge.get(),
        )
    };
    let entry = CachedSegment {
        seg,
        dirty,
        purge_at: if dirty != 0 { purge_at.max(1) } else { 0 },
        huge,
    };
    if purge::purge_delay_ms() == 0 {
        // Eager return: the segment goes back to the OS at once.
        // SAFETY: unused segment from `map(SEGMENT_SIZE, ..)`.
        unsafe { unmap_segment::<O>(entry) };
        return;
    }
    let evicted = {
        let _g = SEGMENT_CACHE.lock.lock_counted::<C>();
        // SAFETY: the lock is held.
        unsafe {
            let len = &mut *SEGMENT_CACHE.len.get();
            let slots = &mut *SEGMENT_CACHE.slots.get();
            let evicted = if *len == SEGMENT_CACHE_MAX {
                let old = slots[0];
                slots.copy_within(1.., 0);
                *len -= 1;
                hz3_page::stats::sub(hz3_page::stats::Stat::SegmentsCached, 1);
                Some(old)
            } else {
                None
            };
            slots[*len] = entry;
            *len += 1;
            hz3_page::stats::add(hz3_page::stats::Stat::SegmentsCached, 1);
            evicted
        }
    };
    if let Some(old) = evicted {
        // SAFETY: evicted from the cache: unused (G3).
        unsafe { unmap_segment::<O>(old) };
    }
}

/// Unmaps a segment that left the cache (or never entered it).
///
/// # Safety
/// `e.seg` is unused, came from `map(SEGMENT_SIZE, ..)` and `e.dirty` is its dirty mask.
unsafe fn unmap_segment<O: OsMemory>(e: CachedSegment) {
    purge::sub_dirty(e.dirty.count_ones() as usize * PAGE_SIZE);
    hz3_page::segmap::unregister(e.seg as usize);
    hz3_page::stats::segment_unmapped();
    // SAFETY: per the contract.
    unsafe { O::unmap(e.seg.cast(), SEGMENT_SIZE) };
}

/// Decommits the dirty pages of cached segments whose deadline passed (`force`: all, and
/// unmaps every cached segment). Skips the work if another thread holds the cache lock and
/// `force` is false.
pub fn segment_cache_purge<O: OsMemory, C: Config>(now: u64, force: bool) {
    if force {
        return segment_cache_trim::<O, C>();
    }
    let Some(_g) = SEGMENT_CACHE.lock.try_lock_counted::<C>() else {
        return;
    };
    // SAFETY: the lock is held; cached segments are unused (G3), their pages free.
    unsafe {
        let len = *SEGMENT_CACHE.len.get();
        let slots = &mut *SEGMENT_CACHE.slots.get();
        for e in slots[..len].iter_mut() {
            if e.dirty != 0 && e.purge_at <= now {
                decommit_mask::<O>(e.seg, e.dirty);
                e.dirty = 0;
                e.purge_at = 0;
                if e.huge {
                    // G5: a cached segment's advice goes with its purge.
                    e.huge = false;
                    O::advise_huge(e.seg.cast(), SEGMENT_SIZE, false);
                }
            }
        }
    }
}

/// Unmaps every cached segment (used by `collect`).
pub fn segment_cache_trim<O: OsMemory, C: Config>() {
    loop {
        let e = {
            let _g = SEGMENT_CACHE.lock.lock_counted::<C>();
            // SAFETY: the lock is held.
            unsafe {
                let len = &mut *SEGMENT_CACHE.len.get();
                if *len == 0 {
                    return;
                }
                *len -= 1;
                hz3_page::stats::sub(hz3_page::stats::Stat::SegmentsCached, 1);
                (*SEGMENT_CACHE.slots.get())[*len]
            }
        };
        // SAFETY: cached segments are unused and came from `map(SEGMENT_SIZE, ..)` (G3).
        unsafe { unmap_segment::<O>(e) };
    }
}

/// The segment cache lock's counters (counted by the stats flavours, `crate::lock`).
pub fn segment_cache_lock_stats() -> LockStats {
    SEGMENT_CACHE.lock.counters()
}

/// Resets the cache lock in a fork child.
///
/// # Safety
/// Only in the child right after `fork`, single-threaded.
pub unsafe fn segment_cache_after_fork_child() {
    // SAFETY: forwarded.
    unsafe { SEGMENT_CACHE.lock.force_unlock() };
}

/// Locks the segment cache across `fork` (prepare); the guard is forgotten and released by
/// [`segment_cache_after_fork_parent`] / `_child`.
pub fn segment_cache_before_fork() {
    core::mem::forget(SEGMENT_CACHE.lock.lock());
}

/// Releases the lock taken by [`segment_cache_before_fork`] in the parent.
///
/// # Safety
/// Only after `segment_cache_before_fork` in the same thread.
pub unsafe fn segment_cache_after_fork_parent() {
    // SAFETY: we hold the lock (forgotten guard).
    unsafe { SEGMENT_CACHE.lock.force_unlock() };
}

impl<R: RemoteFree, C: Config> Heap<R, C> {
    /// Carves a new slab of class `c` from an owned segment (or a new one) and puts it at the
    /// front of `partial[c]`. Dirty (still committed) free pages are taken first, so reuse
    /// does not fault (G4). Null if the OS is out of memory.
    ///
    /// # Safety
    /// H4.
    pub(crate) unsafe fn new_slab(&self, local: &mut Local<R>, c: usize) -> *mut PageMeta {
        let n = slab_pages(c);
        let mut found = None;
        // Passes over our segments: a run of dirty pages, then any free run; if neither, bring
        // home what other threads freed into classes we no longer allocate (it may empty
        // slabs) and look once more before taking a new segment: reuse before mapping.
        for pass in 0..3 {
            let dirty_only = pass == 0;
            if pass == 2 {
                // SAFETY: H4.
                if !unsafe { self.homecoming(local, Some(c)) } {
                    break;
                }
            }
            let mut seg = local.segments;
            while !seg.is_null() {
                // SAFETY: segments on our list are live and ours (G1).
                let s = unsafe { &*seg };
                let mask = if dirty_only {
                    s.dirty_pages.get()
                } else {
                    s.free_pages.get()
                };
                if let Some(i) = find_run(mask, n) {
                    found = Some((seg, i));
                    break;
                }
                seg = s.next.get();
            }
            if found.is_some() {
                break;
            }
        }
        let (seg, idx) = match found {
            Some(f) => f,
            None => {
                let (seg, dirty, purge_at, huge) = segment_acquire::<OsOf<R, C>, C>();
                if seg.is_null() {
                    return ptr::null_mut();
                }
                // G5, before the header of a fresh segment is first read or written (a touch
                // would back its first 2 MiB with small pages): our list plus this segment.
                // SAFETY: our own list (G1).
                let want = !local.small_pages_only
                    && unsafe {
                        heavy_heap(local.segments, 1) && dense_heap::<OsOf<R, C>>(local.segments)
                    };
                if want != huge {
                    // SAFETY: the whole mapping of a segment that is ours alone.
                    unsafe { OsOf::<R, C>::advise_huge(seg.cast(), SEGMENT_SIZE, want) };
                }
                // SAFETY: a fresh/cached segment with a zeroed header, ours alone.
                let s = unsafe { &*seg };
                s.huge.set(want);
                s.kind.store(SegmentKind::Small as u32, Ordering::Relaxed);
                s.owner.set(self.shared.id);
                s.free_pages.set(ALL_SLAB_PAGES);
                s.dirty_pages.set(dirty);
                s.purge_at.set(purge_at);
                if purge_at != 0 && (local.purge_next == 0 || purge_at < local.purge_next) {
                    local.purge_next = purge_at;
                }
                s.prev.set(ptr::null_mut());
                s.next.set(local.segments);
                if !local.segments.is_null() {
                    // SAFETY: our segment list.
                    unsafe { &*local.segments }.prev.set(seg);
                }
                local.segments = seg;
                let run = find_run(dirty, n).or_else(|| find_run(ALL_SLAB_PAGES, n));
                (seg, run.unwrap_or(1))
            }
        };
        // G5 for a segment we already own: withdrawn if we got lighter, never given again (its
        // free pages may have been decommitted: with the advice back, the kernel would
        // collapse a half with a few resident pages into a whole resident 2 MiB page whose
        // free part no purge would see).
        // SAFETY: G1: we own the segment (found on our list, or just acquired).
        let huge = unsafe { &*seg }.huge.get();
        let lighter = found.is_some()
            && huge
            && (local.small_pages_only || {
                // SAFETY: `local.segments` starts our own list (G1).
                !unsafe { heavy_heap(local.segments, 0) }
            });
        if lighter {
            // SAFETY: our own segment (G1).
            unsafe { advise_segment::<OsOf<R, C>>(seg, false) };
        }
        // SAFETY: G1: we own the segment.
        let s = unsafe { &*seg };
        let run = run_mask(idx, n);
        s.free_pages.set(s.free_pages.get() & !run);
        let reused = s.dirty_pages.get() & run;
        if reused != 0 {
            s.dirty_pages.set(s.dirty_pages.get() & !run);
            if s.dirty_pages.get() == 0 {
                s.purge_at.set(0);
            } else {
                // The segment is in use: its remaining dirty pages are likely wanted soon.
                s.purge_at.set(purge::deadline(purge::now_ms()));
            }
            purge::sub_dirty(reused.count_ones() as usize * PAGE_SIZE);
        }
        // SAFETY: `idx + n <= 64` (found in the mask); metas of a live segment.
        let head = unsafe { &*page_meta(seg, idx) };
        head.free.set(ptr::null_mut());
        head.used.set(0);
        head.carved.set(0);
        head.capacity.set(slab_capacity(c) as u32);
        head.block_size.set(class_size(c) as u32);
        head.slab_pages.set(n as u32);
        head.start.set(page_start(seg, idx));
        head.list_flags.set(ON_PARTIAL);
        for i in idx..idx + n {
            // SAFETY: as above.
            let m = unsafe { &*page_meta(seg, i) };
            // P4/P6: class, head, tag, owner last; the slab has no block outside it yet.
            m.assign(self.shared.id, c, idx);
        }
        list_push(&mut local.partial[c], head);
        head as *const PageMeta as *mut PageMeta
    }

    /// Gives slab `head` back to its segment (its pages become dirty, G4), and the segment to
    /// the cache if it is empty.
    ///
    /// # Safety
    /// H4; `head.used == 0` and the slab is in no queue or packet (H3).
    pub(crate) unsafe fn release_slab(&self, local: &mut Local<R>, head: &PageMeta) {
        let c = head.class();
        match head.list_flags.get() {
            ON_PARTIAL => list_remove(&mut local.partial[c], head),
            ON_FULL => list_remove(&mut local.full[c], head),
            _ => {}
        }
        head.list_flags.set(0);
        local.slabs_released = local.slabs_released.wrapping_add(1);
        let (seg, idx) = hz3_page::meta_index(head);
        let n = head.slab_pages.get() as usize;
        for i in idx..idx + n {
            // SAFETY: pages of the slab in a live segment.
            let m = unsafe { &*page_meta(seg, i) };
            m.unassign();
        }
        // No block is outside the slab, so no pusher exists: clear flags a strategy left
        // (E's NOTIFY). A remote block left here would be a lost block (S5, checked inside).
        head.reset_remote();
        // SAFETY: G1: we own the segment.
        let s = unsafe { &*seg };
        let run = run_mask(idx, n);
        let free = s.free_pages.get() | run;
        s.free_pages.set(free);
        s.dirty_pages.set(s.dirty_pages.get() | run);
        purge::add_dirty(n * PAGE_SIZE);
        if purge::purge_delay_ms() == 0 {
            // Eager return (delay 0).
            // SAFETY: G1; the pages are free (`used == 0`).
            unsafe { decommit_dirty::<OsOf<R, C>>(seg) };
        } else {
            // The deadline moves with the latest release: pages freed while the segment is in
            // use are likely reused soon (PG2: `purge_next` stays at most every deadline).
            let at = purge::deadline(purge::now_ms());
            s.purge_at.set(at);
            if local.purge_next == 0 || at < local.purge_next {
                local.purge_next = at;
            }
        }
        if free == ALL_SLAB_PAGES {
            let (prev, next) = (s.prev.get(), s.next.get());
            if prev.is_null() {
                local.segments = next;
            } else {
                // SAFETY: our segment list.
                unsafe { &*prev }.next.set(next);
            }
            if !next.is_null() {
                // SAFETY: our segment list.
                unsafe { &*next }.prev.set(prev);
            }
            // SAFETY: every page is free and the segment is unlinked (G2).
            unsafe { segment_release::<OsOf<R, C>, C>(seg) };
        } else if purge::over_cap() {
            // SAFETY: H4.
            unsafe { self.purge_oldest_until_under_cap(local) };
        }
    }

    /// `n` blocks went back to slab `head`: update `used`, its list, and release it if empty
    /// and not needed (H3).
    pub(crate) unsafe fn slab_gained(&self, local: &mut Local<R>, head: &PageMeta, n: u32) {
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

    /// [`purge_expired`](Self::purge_expired) if a deadline has passed (PG2): the visit of the
    /// process-wide tick to a heap it holds for the moment (pooled, fallback).
    ///
    /// # Safety
    /// As `purge_expired`.
    pub unsafe fn purge_due(&self, now: u64) {
        // SAFETY: forwarded (H4 per the caller).
        unsafe {
            let local = self.local();
            if local.purge_next != 0 && local.purge_next <= now {
                self.purge_expired(local, now, false);
            }
        }
    }

    /// Decommits the dirty pages of our segments whose deadline has passed (`force`: all of
    /// them), at most [`PURGE_SEGMENTS_PER_VISIT`] segments unless forced, and recomputes
    /// `purge_next` (PG2).
    ///
    /// # Safety
    /// H4 (the caller holds the heap, or is its temporary holder under the registry lock).
    pub unsafe fn purge_expired(&self, local: &mut Local<R>, now: u64, force: bool) {
        let mut next = 0u64;
        let mut budget = PURGE_SEGMENTS_PER_VISIT;
        let mut seg = local.segments;
        while !seg.is_null() {
            // SAFETY: our segments (G1).
            let s = unsafe { &*seg };
            if s.dirty_pages.get() != 0 {
                if force || (s.purge_at.get() <= now && budget > 0) {
                    budget = budget.saturating_sub(1);
                    // SAFETY: G1.
                    unsafe { decommit_dirty::<OsOf<R, C>>(seg) };
                } else {
                    let at = if s.purge_at.get() <= now {
                        now
                    } else {
                        s.purge_at.get()
                    };
                    if next == 0 || at < next {
                        next = at;
                    }
                }
            } else {
                s.purge_at.set(0);
            }
            seg = s.next.get();
        }
        local.purge_next = next;
    }

    /// Decommits our dirty segments, oldest deadline first, until the process is under the
    /// dirty cap or we have none left.
    ///
    /// # Safety
    /// H4.
    unsafe fn purge_oldest_until_under_cap(&self, local: &mut Local<R>) {
        while purge::over_cap() {
            let mut oldest: *mut SegmentHeader = ptr::null_mut();
            let mut at = u64::MAX;
            let mut seg = local.segments;
            while !seg.is_null() {
                // SAFETY: our segments (G1).
                let s = unsafe { &*seg };
                if s.dirty_pages.get() != 0 && s.purge_at.get() < at {
                    at = s.purge_at.get();
                    oldest = seg;
                }
                seg = s.next.get();
            }
            if oldest.is_null() {
                return;
            }
            // SAFETY: G1.
            unsafe { decommit_dirty::<OsOf<R, C>>(oldest) };
        }
    }
}
