//! The process-wide cache of freed large mappings (blocks above the size classes), so that a
//! program that frees a large block and allocates another reuses committed pages instead of
//! faulting a fresh mapping in (`malloc(1 MiB); memset; free` in a loop, large buffers
//! replaced one by one).
//!
//! Invariants:
//! - **LC1** every entry is a large mapping: a segment-aligned range of whole OS pages from
//!   `OsMemory::map(_, SEGMENT_SIZE)` — a whole mapping, or the part of one that a reuse split
//!   off past its block's segments, or the range that gathered ones were moved into — whose
//!   first segment is registered in the segment map (SM1) and whose header's page metas are
//!   zero (P2) and `kind` is `None` (L2); it holds no live block; no two entries overlap and no live block lies in
//!   an entry.
//! - **LC2** the entries' lengths sum to at most `purge::large_cache_bytes()` and there are
//!   at most [`LARGE_CACHE_MAX`]; an entry is unmapped once its deadline passed (on any
//!   heap's process-wide tick), when evicted (oldest first) to make room, or by `trim`
//!   (`collect()`).
//! - **LC3** with a purge delay of 0 nothing is cached: a freed large mapping is unmapped.
//!
//! The functions that unmap take the OS layer (`O`) of the calling instance; the cache is
//! process-wide, so every instance's OS layer must accept the others' mappings
//! ([`Config::Os`]), and the flavour (`C`) whose statistics count the
//! lock ([`crate::lock`]).

use crate::config::Config;
use crate::lock::{LockStats, SpinLock};
use core::cell::UnsafeCell;
use core::ptr;
use hz3_page::{purge, OsMemory};

/// Most mappings the cache holds.
pub const LARGE_CACHE_MAX: usize = 32;

#[derive(Clone, Copy)]
struct Entry {
    base: *mut u8,
    len: usize,
    expire: u64,
}

const NO_ENTRY: Entry = Entry {
    base: ptr::null_mut(),
    len: 0,
    expire: 0,
};

struct LargeCache {
    lock: SpinLock,
    /// Oldest first.
    slots: UnsafeCell<[Entry; LARGE_CACHE_MAX]>,
    len: UnsafeCell<usize>,
    bytes: UnsafeCell<usize>,
}

// SAFETY: the cells are only accessed with `lock` held.
unsafe impl Sync for LargeCache {}

static CACHE: LargeCache = LargeCache {
    lock: SpinLock::new(),
    slots: UnsafeCell::new([NO_ENTRY; LARGE_CACHE_MAX]),
    len: UnsafeCell::new(0),
    bytes: UnsafeCell::new(0),
};

/// Unmaps a mapping that leaves the cache (or never entered it, or could not be moved out of
/// it): out of the segment map, out of the mapped bytes, back to the OS.
///
/// # Safety
/// `base .. base + len` is a whole large mapping holding nothing live (LC1).
pub unsafe fn unmap<O: OsMemory>(base: *mut u8, len: usize) {
    hz3_page::segmap::unregister(base as usize);
    hz3_page::stats::unmapped(len);
    // SAFETY: per the contract.
    unsafe { O::unmap(base, len) };
}

/// Removes entry `i` (lock held).
///
/// # Safety
/// The cache lock is held and `i < len`.
unsafe fn remove(i: usize) -> Entry {
    // SAFETY: the lock is held (caller).
    unsafe {
        let len = &mut *CACHE.len.get();
        let slots = &mut *CACHE.slots.get();
        let e = slots[i];
        slots.copy_within(i + 1..*len, i);
        *len -= 1;
        *CACHE.bytes.get() -= e.len;
        e
    }
}

/// Gives a freed large mapping to the cache, or unmaps it (too big for the budget, delay 0).
/// Older entries are unmapped to make room (LC2).
///
/// # Safety
/// `base .. base + len` is a whole large mapping (segment aligned, registered) whose block
/// the caller gives up; nothing in it is live.
pub unsafe fn release<O: OsMemory, C: Config>(base: *mut u8, len: usize) {
    let budget = purge::large_cache_bytes();
    if purge::purge_delay_ms() == 0 || len > budget {
        // SAFETY: per the contract.
        return unsafe { unmap::<O>(base, len) };
    }
    let expire = purge::deadline(purge::now_ms());
    // At most EVICT_MAX older entries are evicted per release, plus the new one if it still
    // does not fit.
    const EVICT_MAX: usize = 4;
    let mut evicted = [NO_ENTRY; EVICT_MAX + 1];
    let mut n_evicted = 0;
    {
        let _g = CACHE.lock.lock_counted::<C>();
        // SAFETY: the lock is held.
        unsafe {
            while (*CACHE.len.get() == LARGE_CACHE_MAX || *CACHE.bytes.get() + len > budget)
                && *CACHE.len.get() > 0
                && n_evicted < EVICT_MAX
            {
                evicted[n_evicted] = remove(0);
                n_evicted += 1;
            }
            let len_now = &mut *CACHE.len.get();
            if *len_now < LARGE_CACHE_MAX && *CACHE.bytes.get() + len <= budget {
                (*CACHE.slots.get())[*len_now] = Entry { base, len, expire };
                *len_now += 1;
                *CACHE.bytes.get() += len;
            } else {
                evicted[n_evicted] = Entry { base, len, expire };
                n_evicted += 1;
            }
        }
    }
    for e in &evicted[..n_evicted] {
        // SAFETY: out of the cache: a whole unused mapping (LC1).
        unsafe { unmap::<O>(e.base, e.len) };
    }
}

/// Most cached mappings one allocation gathers ([`take`]).
pub const GATHER_MAX: usize = 4;

/// Takes cached mappings for a block needing `need` bytes of mapping into `out`, and returns
/// how many: one, the smallest of at least `need` bytes, when there is one; else, when `out`
/// holds more than one, the largest ones, largest first, until they add up to `need` or `out`
/// is full (the caller moves their pages into one new range with `OsMemory::move_to`:
/// committed pages are reused wherever they lie). 0 when nothing is taken.
pub fn take<C: Config>(need: usize, out: &mut [(*mut u8, usize)]) -> usize {
    let _g = CACHE.lock.lock_counted::<C>();
    // SAFETY: the lock is held.
    unsafe {
        let slots = &*CACHE.slots.get();
        let len = *CACHE.len.get();
        let fit = slots[..len]
            .iter()
            .enumerate()
            .filter(|(_, e)| e.len >= need)
            .min_by_key(|(_, e)| e.len);
        if let (Some((i, _)), Some(o)) = (fit, out.first_mut()) {
            let e = remove(i);
            *o = (e.base, e.len);
            return 1;
        }
        let mut n = 0;
        let mut sum = 0;
        while out.len() > 1 && sum < need && n < out.len() && *CACHE.len.get() > 0 {
            let slots = &*CACHE.slots.get();
            let len = *CACHE.len.get();
            let largest = slots[..len].iter().enumerate().max_by_key(|(_, e)| e.len);
            let Some((i, _)) = largest else { break };
            let e = remove(i);
            out[n] = (e.base, e.len);
            sum += e.len;
            n += 1;
        }
        n
    }
}

/// Unmaps cached mappings whose deadline passed (`force`: all of them). Without `force` it
/// never waits for the lock.
pub fn purge<O: OsMemory, C: Config>(now: u64, force: bool) {
    loop {
        let e = {
            let guard = if force {
                Some(CACHE.lock.lock_counted::<C>())
            } else {
                CACHE.lock.try_lock_counted::<C>()
            };
            let Some(_g) = guard else { return };
            // SAFETY: the lock is held.
            unsafe {
                let len = *CACHE.len.get();
                let slots = &*CACHE.slots.get();
                match slots[..len].iter().position(|e| force || e.expire <= now) {
                    Some(i) => remove(i),
                    None => return,
                }
            }
        };
        // SAFETY: out of the cache: a whole unused mapping (LC1).
        unsafe { unmap::<O>(e.base, e.len) };
    }
}

/// Unmaps every cached mapping (`collect()`).
pub fn trim<O: OsMemory, C: Config>() {
    purge::<O, C>(0, true);
}

/// Bytes of mappings in the cache (a snapshot).
pub fn cached_bytes() -> usize {
    let _g = CACHE.lock.lock();
    // SAFETY: the lock is held.
    unsafe { *CACHE.bytes.get() }
}

/// The cache lock's counters (counted by the stats flavours, `crate::lock`).
pub fn lock_stats() -> LockStats {
    CACHE.lock.counters()
}

/// Locks the cache across `fork` (prepare); released by [`after_fork`].
pub fn before_fork() {
    core::mem::forget(CACHE.lock.lock());
}

/// Releases the lock taken by [`before_fork`] (parent and child).
///
/// # Safety
/// Only after `before_fork` in the same thread (or in the child of that thread's fork).
pub unsafe fn after_fork() {
    // SAFETY: we hold the lock (forgotten guard).
    unsafe { CACHE.lock.force_unlock() };
}
