//! Owners: per-instance registries of heaps, the thread-local heap slot, thread exit, and the
//! fallback heap for threads past their exit.
//!
//! Each allocator instance `(R, C)` has a thread-local heap slot ([`crate::tls`]) and a
//! [`Registry`] (global). A thread's first allocation takes an abandoned heap from the
//! registry's pool (so owner identities — heap addresses — are reused after thread exit, with
//! the pages and pending remote frees they carry) or maps a new one: there is no thread limit.
//! A pthread key destructor flushes the heap at thread exit and returns it to the pool; it
//! allocates nothing (glibc's first 32 keys are static).
//!
//! Invariants:
//! - **O1** A heap is either held by exactly one thread (its TLS slot points to it) or in its
//!   registry's pool; moves between the two happen under the registry lock.
//! - **O2** Heaps are never unmapped: a heap address stays a valid owner id (remote frees may
//!   target an abandoned heap at any time; its inboxes keep the blocks until adoption, Q4).
//! - **O3** After its heap is abandoned, a thread's slot points to
//!   [`DEAD_BINS`](crate::bin::DEAD_BINS): its frees take the remote path, its allocations use
//!   the registry's fallback heap under the fallback lock.
//! - **O4** (young threads) A thread's first small-block allocations, until it has made
//!   `C::YOUNG_OPS` of them (256; 0 in the stats and checked flavours) or allocated
//!   `C::YOUNG_BYTES` (128 KiB of class sizes), whichever comes first, need no heap of its
//!   own: its slot stays `EMPTY` and they come from the fallback heap under the fallback
//!   lock. Its frees go straight home through
//!   the strategy with no outbox — the fallback heap's blocks always, other heaps' blocks
//!   `YOUNG_FOREIGN_FREES` (1) time (a spawned thread frees the closure its spawner boxed).
//!   The allocation after those, or the next free of another heap's block, takes a heap
//!   (O1): a successor that inherits blocks gains at once from the outbox and the
//!   foreign-cache rule. A thread that allocates little — most threads of a thousand-thread
//!   server — so costs no heap, no slabs and no segment, whose cost is about a 4 KiB page for
//!   each size class it touches: the byte bound lasts until its blocks outweigh that. Blocks
//!   it allocated belong to the fallback heap and go home to it like any remote free. The
//!   counts live beside the slot ([`crate::tls`]), in one word: allocations in bits 0–15,
//!   bytes in 16-byte units in bits 16–31 (saturating), foreign frees from bit 32.
//! - **O5** (adoption on free) A thread that takes a heap while freeing a block of heap `h`
//!   takes `h` itself when `h` is among the first `ADOPT_SCAN` (16) heaps of the pool, else
//!   the pool's first: a successor that inherits its predecessor's blocks (larson, a server's
//!   replacement worker) frees them into their own heap's bins instead of sending them home
//!   one by one (mimalloc reclaims an abandoned segment on free the same way). It changes
//!   which pooled heap is taken, never whether one is (O1 holds: the unlink is under the
//!   registry lock).

use crate::config::{Config, MAX_CONFIGS};
use crate::heap::Heap;
use crate::lock::{LockStats, SpinLock};
use crate::policy::OsOf;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use hz3_page::{OsMemory, NUM_CLASSES, OS_PAGE};
use hz3_pageq::{CounterArray, RemoteFree, NUM_COUNTERS};

pub use crate::bin::{DEAD, EMPTY};
pub use crate::config::{MAX_INSTANCES, MAX_STRATEGIES};

/// Global state of one allocator instance.
/// Frees of other heaps' blocks (not the fallback's) a young thread makes before it takes a
/// heap (O4): a spawned thread frees the closure its spawner boxed, a successor inheriting
/// blocks frees many.
pub const YOUNG_FOREIGN_FREES: usize = 1;

/// Pooled heaps a thread looks through for the owner of the block it frees when it attaches
/// on a free (O5); the walk runs under the registry lock, so it is bounded.
pub const ADOPT_SCAN: usize = 16;

/// The young word (`crate::tls::young`): allocations in bits 0–15, bytes allocated (class
/// sizes, in 16-byte units) in bits 16–31, foreign frees from bit 32 up.
pub(crate) const YOUNG_FOREIGN_SHIFT: u32 = 32;
/// Where the young word's byte count starts (16-byte units).
const YOUNG_BYTES_SHIFT: u32 = 16;
/// The mask of one 16-bit count of the young word.
const YOUNG_FIELD: usize = (1 << 16) - 1;

pub struct Registry {
    lock: SpinLock,
    /// Pool of abandoned heaps (linked through `Shared::pool_next`), under `lock`.
    pool: UnsafeCell<*mut u8>,
    /// Every heap ever created (push-only list through `Shared::all_next`).
    all: AtomicPtr<u8>,
    /// pthread key + 1 (0 = not created yet).
    key: AtomicUsize,
    /// When the next process-wide purge is due (`global_tick`).
    next_tick: AtomicU64,
    /// The fallback heap for dead threads and its lock.
    fallback_lock: SpinLock,
    fallback: UnsafeCell<*mut u8>,
    /// The fallback heap's address once it exists (0 before): the owner of young threads'
    /// blocks (O4), read without the lock.
    fallback_id: AtomicUsize,
}

// SAFETY: `pool` is only accessed with `lock` held and `fallback` with `fallback_lock` held;
// the rest is atomic.
unsafe impl Sync for Registry {}

impl Registry {
    const fn new() -> Self {
        Registry {
            lock: SpinLock::new(),
            pool: UnsafeCell::new(ptr::null_mut()),
            all: AtomicPtr::new(ptr::null_mut()),
            key: AtomicUsize::new(0),
            next_tick: AtomicU64::new(0),
            fallback_lock: SpinLock::new(),
            fallback: UnsafeCell::new(ptr::null_mut()),
            fallback_id: AtomicUsize::new(0),
        }
    }
}

static REGISTRIES: [Registry; MAX_INSTANCES] = [const { Registry::new() }; MAX_INSTANCES];

/// An allocator instance: the pairing of a strategy and a flavour, with its statics.
pub struct Instance<R: RemoteFree, C: Config>(core::marker::PhantomData<(R, C)>);

impl<R: RemoteFree, C: Config> Instance<R, C> {
    pub(crate) const SLOT: usize = {
        assert!(R::ID < MAX_STRATEGIES && C::ID < MAX_CONFIGS);
        R::ID * MAX_CONFIGS + C::ID
    };

    /// The flavour's young bounds fit the young word's 16-bit counts (O4).
    const YOUNG_BOUNDS: () = assert!(
        C::YOUNG_OPS <= crate::config::YOUNG_OPS_MAX
            && C::YOUNG_BYTES <= crate::config::YOUNG_BYTES_MAX,
        "Config::YOUNG_OPS / YOUNG_BYTES above their maximum"
    );

    fn registry() -> &'static Registry {
        &REGISTRIES[Self::SLOT]
    }

    /// The calling thread's heap pointer (a held heap, EMPTY or DEAD). One TLS load.
    #[inline(always)]
    pub fn current() -> *mut Heap<R, C> {
        crate::tls::get(Self::SLOT).cast()
    }

    fn set_current(p: *mut u8) {
        crate::tls::set(Self::SLOT, p);
    }

    /// Whether `heap` is a sentinel rather than a held heap.
    #[inline(always)]
    pub fn is_sentinel(heap: *mut Heap<R, C>) -> bool {
        heap.cast::<u8>() == EMPTY || heap.cast::<u8>() == DEAD
    }

    /// Allocation slow path: refill `heap`'s bin of class `c`, or set the thread up first.
    ///
    /// # Safety
    /// `heap` is `Self::current()`.
    #[cold]
    #[inline(never)]
    pub unsafe fn alloc_slow(heap: *mut Heap<R, C>, c: usize) -> *mut u8 {
        if heap.cast::<u8>() == DEAD {
            return Self::alloc_fallback(c);
        }
        let heap = if heap.cast::<u8>() == EMPTY {
            // O4: a young thread allocates from the shared fallback heap until it has made
            // `YOUNG_OPS` allocations or allocated `YOUNG_BYTES`, whichever comes first.
            let () = Self::YOUNG_BOUNDS;
            let y = crate::tls::young(Self::SLOT);
            let ops = y & YOUNG_FIELD;
            let units = (y >> YOUNG_BYTES_SHIFT) & YOUNG_FIELD;
            if ops < C::YOUNG_OPS && units < C::YOUNG_BYTES / 16 {
                // Both counts stay within their 16 bits: `ops < YOUNG_OPS <= YOUNG_OPS_MAX`,
                // and the byte count saturates.
                let units = (units + hz3_page::class_size(c) / 16).min(YOUNG_FIELD);
                let foreign = y & !((1 << YOUNG_FOREIGN_SHIFT) - 1);
                crate::tls::set_young(
                    Self::SLOT,
                    foreign | (units << YOUNG_BYTES_SHIFT) | (ops + 1),
                );
                return Self::alloc_fallback(c);
            }
            let h = Self::attach();
            if h.is_null() {
                return ptr::null_mut();
            }
            h
        } else {
            heap
        };
        // SAFETY: `heap` is held by this thread (O1), hence H4.
        unsafe {
            let p = Heap::pop_bin(heap, c);
            if !p.is_null() {
                return p;
            }
            (*heap).alloc_refill(c)
        }
    }

    /// Whether `owner` is the fallback heap (whose blocks young threads allocate, O4).
    #[inline]
    pub(crate) fn is_fallback(owner: usize) -> bool {
        owner == Self::registry().fallback_id.load(Ordering::Relaxed)
    }

    /// Gives the calling thread a heap of its own now, skipping the young phase (O4): for a
    /// thread that will allocate much (a worker of a pool), or a test of the thread cache.
    /// Returns false when the OS refuses the memory (or the thread is past its exit).
    pub fn init_thread() -> bool {
        let heap = Self::current();
        if heap.cast::<u8>() == EMPTY {
            return !Self::attach().is_null();
        }
        heap.cast::<u8>() != DEAD
    }

    /// Gives this thread a heap: an abandoned one from the pool, or a new one.
    #[cold]
    pub(crate) fn attach() -> *mut Heap<R, C> {
        Self::attach_preferring(0)
    }

    /// [`attach`](Self::attach) for a thread that is freeing a block of heap `owner`: if
    /// `owner` waits in the pool within its first [`ADOPT_SCAN`] heaps, the thread takes that
    /// one (O5), else the pool's first. A successor thread that inherits its predecessor's
    /// blocks (larson, a server's replacement worker) so adopts the heap that owns them and
    /// frees them locally, as mimalloc reclaims an abandoned segment on free.
    #[cold]
    pub(crate) fn attach_preferring(owner: usize) -> *mut Heap<R, C> {
        install_fork_handlers();
        let reg = Self::registry();
        let key = Self::key();
        let heap = {
            let _g = reg.lock.lock_counted::<C>();
            // SAFETY: the lock is held.
            let pool = unsafe { &mut *reg.pool.get() };
            // SAFETY: the lock is held; pooled heaps are valid (O2).
            let h = unsafe { Self::pool_take(pool, owner) };
            if !h.is_null() {
                hz3_page::stats::sub(hz3_page::stats::Stat::HeapsPooled, 1);
            }
            h.cast::<Heap<R, C>>()
        };
        let heap = if heap.is_null() { Self::create() } else { heap };
        if heap.is_null() {
            return heap;
        }
        Self::set_current(heap.cast());
        if let Some(key) = key {
            // SAFETY: `key` was created by pthread_key_create; setspecific does not allocate
            // for the first 32 keys.
            unsafe { libc::pthread_setspecific(key, heap.cast()) };
        }
        heap
    }

    /// Unlinks and returns heap `owner` if it is among the pool's first [`ADOPT_SCAN`]
    /// entries, else the pool's first heap (null when the pool is empty).
    ///
    /// # Safety
    /// The registry lock is held and `pool` is its pool list.
    unsafe fn pool_take(pool: &mut *mut u8, owner: usize) -> *mut u8 {
        let first = *pool;
        if first.is_null() {
            return first;
        }
        let next_of = |h: *mut u8| -> &AtomicPtr<u8> {
            // SAFETY: pooled heaps are valid and never freed (O2).
            unsafe { &(*h.cast::<Heap<R, C>>()).shared.pool_next }
        };
        if owner != 0 && owner != first as usize {
            let mut prev = first;
            for _ in 1..ADOPT_SCAN {
                let h = next_of(prev).load(Ordering::Relaxed);
                if h.is_null() {
                    break;
                }
                if h as usize == owner {
                    next_of(prev).store(next_of(h).load(Ordering::Relaxed), Ordering::Relaxed);
                    return h;
                }
                prev = h;
            }
        }
        *pool = next_of(first).load(Ordering::Relaxed);
        first
    }

    /// Maps and registers a new heap.
    fn create() -> *mut Heap<R, C> {
        let size = (core::mem::size_of::<Heap<R, C>>() + OS_PAGE - 1) & !(OS_PAGE - 1);
        let mem = OsOf::<R, C>::map(size, OS_PAGE);
        if mem.is_null() {
            return ptr::null_mut();
        }
        hz3_page::stats::heap_created(size);
        // SAFETY: fresh zeroed memory of the right size, page aligned (>= 64).
        let heap = unsafe { Heap::<R, C>::init_in(mem) };
        let reg = Self::registry();
        let mut head = reg.all.load(Ordering::Relaxed);
        loop {
            // SAFETY: `heap` is ours until published.
            unsafe { &*heap }
                .shared
                .all_next
                .store(head, Ordering::Relaxed);
            match reg.all.compare_exchange_weak(
                head,
                heap.cast(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return heap,
                Err(h) => head = h,
            }
        }
    }

    /// The instance's pthread key (created on first use), or `None` if the OS refused.
    fn key() -> Option<libc::pthread_key_t> {
        let reg = Self::registry();
        let k = reg.key.load(Ordering::Acquire);
        if k != 0 {
            return Some((k - 1) as libc::pthread_key_t);
        }
        let _g = reg.lock.lock_counted::<C>();
        let k = reg.key.load(Ordering::Relaxed);
        if k != 0 {
            return Some((k - 1) as libc::pthread_key_t);
        }
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is a valid out pointer; the destructor is a plain extern "C" fn.
        let rc = unsafe { libc::pthread_key_create(&mut key, Some(Self::on_thread_exit)) };
        if rc != 0 {
            return None;
        }
        reg.key.store(key as usize + 1, Ordering::Release);
        Some(key)
    }

    /// pthread key destructor: flush the heap and return it to the pool (O1, O3).
    unsafe extern "C" fn on_thread_exit(arg: *mut libc::c_void) {
        let heap = arg.cast::<Heap<R, C>>();
        if heap.is_null() || Self::current() != heap {
            return;
        }
        // SAFETY: the exiting thread holds `heap` (O1). Free pages keep their deadlines: the
        // next thread to adopt the heap reuses them warm, or the process-wide purge
        // (`global_tick`) returns them.
        unsafe { (*heap).flush_all(false) };
        Self::set_current(DEAD);
        Self::detach(heap);
    }

    /// Puts a heap the caller held into the pool.
    fn detach(heap: *mut Heap<R, C>) {
        let reg = Self::registry();
        let _g = reg.lock.lock_counted::<C>();
        // SAFETY: the lock is held; `heap` is valid (O2).
        unsafe {
            let pool = &mut *reg.pool.get();
            (*heap).shared.pool_next.store(*pool, Ordering::Relaxed);
            *pool = heap.cast();
            hz3_page::stats::add(hz3_page::stats::Stat::HeapsPooled, 1);
        }
    }

    /// Allocation for a thread past its exit (O3).
    #[cold]
    fn alloc_fallback(c: usize) -> *mut u8 {
        let reg = Self::registry();
        let _g = reg.fallback_lock.lock_counted::<C>();
        // SAFETY: `fallback` is accessed with `fallback_lock` held.
        let slot = unsafe { &mut *reg.fallback.get() };
        if slot.is_null() {
            *slot = Self::create().cast();
            if slot.is_null() {
                return ptr::null_mut();
            }
            reg.fallback_id.store(*slot as usize, Ordering::Relaxed);
            // SAFETY: the fallback heap is held by whoever holds `fallback_lock` (we do).
            unsafe { (*slot.cast::<Heap<R, C>>()).local().small_pages_only = true };
        }
        let heap = slot.cast::<Heap<R, C>>();
        // SAFETY: the fallback heap is held by whoever holds `fallback_lock` (O1 variant).
        unsafe {
            let p = Heap::pop_bin(heap, c);
            if !p.is_null() {
                return p;
            }
            (*heap).alloc_refill(c)
        }
    }

    /// Sums the counters of every heap of this instance (threads may be running: values are
    /// a relaxed snapshot).
    pub fn counters() -> CounterArray {
        let mut out = CounterArray::new();
        let mut h = Self::registry().all.load(Ordering::Acquire);
        while !h.is_null() {
            // SAFETY: registered heaps are never freed (O2).
            let heap = unsafe { &*h.cast::<Heap<R, C>>() };
            for i in 0..NUM_COUNTERS {
                out.0[i] += heap.shared.counters[i].load(Ordering::Relaxed);
            }
            h = heap.shared.all_next.load(Ordering::Relaxed);
        }
        out
    }

    /// The lock counters of this instance (the stats flavour, [`crate::lock`]; all zero in the
    /// others): its registry's heap-pool and fallback-heap locks, then the process-wide
    /// segment-cache and large-mapping-cache locks, whose counts cover every stats instance
    /// of the process.
    pub fn lock_stats() -> [(&'static str, LockStats); 4] {
        let reg = Self::registry();
        let on = |s: LockStats| if C::STATS { s } else { LockStats::default() };
        [
            ("pool", on(reg.lock.counters())),
            ("fallback", on(reg.fallback_lock.counters())),
            ("segment_cache", on(crate::slab::segment_cache_lock_stats())),
            ("large_cache", on(crate::large_cache::lock_stats())),
        ]
    }

    /// Flushes the calling thread's heap and collects every pooled heap, releasing empty slabs
    /// and segments to the OS.
    pub fn collect() {
        let heap = Self::current();
        if !Self::is_sentinel(heap) {
            // SAFETY: held by us (O1).
            unsafe { (*heap).flush_all(true) };
        }
        let reg = Self::registry();
        {
            let _g = reg.lock.lock_counted::<C>();
            // SAFETY: the lock is held; pooled heaps are held by nobody, the lock makes us
            // their temporary holder (O1).
            unsafe {
                let mut h = *reg.pool.get();
                while !h.is_null() {
                    let heap = &*h.cast::<Heap<R, C>>();
                    heap.flush_all(true);
                    h = heap.shared.pool_next.load(Ordering::Relaxed);
                }
            }
        }
        {
            // Young threads (O4) leave blocks in the fallback heap's bins and inbox.
            let _g = reg.fallback_lock.lock_counted::<C>();
            // SAFETY: fallback lock held.
            let f = unsafe { *reg.fallback.get() };
            if !f.is_null() {
                // SAFETY: we hold the fallback heap while holding its lock.
                unsafe { (*f.cast::<Heap<R, C>>()).flush_all(true) };
            }
        }
        crate::slab::segment_cache_trim::<OsOf<R, C>, C>();
        crate::large_cache::trim::<OsOf<R, C>, C>();
    }

    /// The process-wide purge, run by any heap's slow path at most once per purge delay:
    /// purges the expired dirty pages of pooled heaps (if the registry lock is free), and the
    /// expired entries of the segment and large-mapping caches. Never waits for a lock.
    pub fn global_tick(now: u64) {
        let reg = Self::registry();
        let due = reg.next_tick.load(Ordering::Relaxed);
        if now < due
            || reg
                .next_tick
                .compare_exchange(
                    due,
                    now + hz3_page::purge::purge_delay_ms().max(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        if let Some(_g) = reg.lock.try_lock_counted::<C>() {
            // SAFETY: the lock is held; pooled heaps are held by nobody, the lock makes us
            // their temporary holder (O1).
            unsafe {
                let mut h = *reg.pool.get();
                while !h.is_null() {
                    let heap = &*h.cast::<Heap<R, C>>();
                    heap.purge_due(now);
                    h = heap.shared.pool_next.load(Ordering::Relaxed);
                }
            }
        }
        if let Some(_g) = reg.fallback_lock.try_lock_counted::<C>() {
            // SAFETY: fallback lock held: we hold the fallback heap (young threads, O4).
            unsafe {
                let f = *reg.fallback.get();
                if !f.is_null() {
                    (*f.cast::<Heap<R, C>>()).purge_due(now);
                }
            }
        }
        crate::slab::segment_cache_purge::<OsOf<R, C>, C>(now, false);
        crate::large_cache::purge::<OsOf<R, C>, C>(now, false);
    }

    /// Drains everything reachable and returns the blocks still live per class (the
    /// empty-check oracle). Flushes the calling thread's heap and every pooled and fallback
    /// heap.
    ///
    /// # Safety
    /// No other thread may be using this instance (allocating or freeing) during the call, and
    /// heaps held by other live threads are read without their consent: call it when every
    /// other user thread of the instance has exited or is parked.
    pub unsafe fn live_blocks() -> [u64; NUM_CLASSES] {
        Self::collect();
        let reg = Self::registry();
        let mut used = [0u64; NUM_CLASSES];
        let mut cached = [0u64; NUM_CLASSES];
        let mut h = reg.all.load(Ordering::Acquire);
        while !h.is_null() {
            // SAFETY: registered heaps are valid (O2); quiescence per the caller's contract.
            let heap = unsafe { &*h.cast::<Heap<R, C>>() };
            // SAFETY: as above.
            unsafe { heap.live_blocks(&mut used, &mut cached) };
            h = heap.shared.all_next.load(Ordering::Relaxed);
        }
        let mut out = [0u64; NUM_CLASSES];
        for c in 0..NUM_CLASSES {
            out[c] = used[c].wrapping_sub(cached[c]);
        }
        out
    }

    /// Number of heaps ever created for this instance (owner identities in use or pooled).
    pub fn heap_count() -> usize {
        let mut n = 0;
        let mut h = Self::registry().all.load(Ordering::Acquire);
        while !h.is_null() {
            n += 1;
            // SAFETY: registered heaps are valid (O2).
            h = unsafe { &*h.cast::<Heap<R, C>>() }
                .shared
                .all_next
                .load(Ordering::Relaxed);
        }
        n
    }
}

// ------------------------------------------------------------------------------------------
// fork
// ------------------------------------------------------------------------------------------

static FORK_HANDLERS: AtomicUsize = AtomicUsize::new(0);

/// Installs `pthread_atfork` handlers (once per process) that hold every global allocator
/// lock across `fork`, so a child of a multithreaded parent never inherits a lock held by a
/// thread that does not exist in it. Lock order: registry locks (pool, then fallback) in slot
/// order, then the segment cache — the same order every other path uses.
pub fn install_fork_handlers() {
    if FORK_HANDLERS.load(Ordering::Acquire) != 0
        || FORK_HANDLERS
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    // SAFETY: the handlers are plain extern "C" fns that only touch static locks.
    unsafe { libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child)) };
}

unsafe extern "C" fn fork_prepare() {
    for reg in REGISTRIES.iter() {
        core::mem::forget(reg.lock.lock());
        core::mem::forget(reg.fallback_lock.lock());
    }
    crate::slab::segment_cache_before_fork();
    crate::large_cache::before_fork();
}

unsafe extern "C" fn fork_parent() {
    // SAFETY: this thread took every lock in `fork_prepare`.
    unsafe {
        crate::large_cache::after_fork();
        crate::slab::segment_cache_after_fork_parent();
        for reg in REGISTRIES.iter() {
            reg.fallback_lock.force_unlock();
            reg.lock.force_unlock();
        }
    }
}

unsafe extern "C" fn fork_child() {
    // SAFETY: the child has one thread, which took every lock in `fork_prepare`.
    unsafe {
        crate::large_cache::after_fork();
        crate::slab::segment_cache_after_fork_child();
        for reg in REGISTRIES.iter() {
            reg.fallback_lock.force_unlock();
            reg.lock.force_unlock();
        }
    }
}
