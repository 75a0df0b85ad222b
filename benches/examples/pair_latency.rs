//! The local alloc+free pair as a latency chain: how long one pair takes when the
//! CPU may overlap consecutive pairs, and when it may not.
//!
//! Every allocator is called directly (`GlobalAlloc` on a value, not as the global allocator),
//! monomorphised, in one process, each loop timed with `rdtsc` over many pairs; the figure is
//! the minimum over several trials (the least disturbed one), in TSC ticks and ns per pair.
//!
//! - `free-run`: `alloc(64)`, `free`, repeat — the matrix's `local-fixed`; only the
//!   allocator's own loop-carried state (its bin or stack head, stored and reloaded through
//!   memory) serialises the pairs.
//! - `ptr-chain`: the next size is computed from the previous pointer (`64 + (p >> 63)`, always
//!   64): each allocation waits for the previous one to return.
//! - `data-chain`: the next size is computed from a value stored into the block and read back
//!   (as `local-chain`): allocation, then a store and a load through the block, then the next.
//! - `batch-8`: allocate 8 blocks, free them in reverse order: pops and pushes of different
//!   blocks, so a pop does not reload the link the previous push just wrote.
//! - `tls-rmw` (the `floor` row): no allocator: a thread-local counter loaded, incremented
//!   and stored twice per iteration — two store-to-load round trips through memory.
//!
//! Rows: the allocators (inlined into the loop where Rust can: hz3; through calls: the C
//! peers); `hz3-call`: hz3 behind calls that are never inlined (as C programs call it); and
//! toy thread caches that isolate the bin's shape from the rest of an allocator: `toy-list`
//! (hz3's bin: intrusive LIFO with head, count, limit, the bins in a thread-local array),
//! `toy-heap` (the same bins behind a thread-local pointer, as hz3 reaches its heap),
//! `toy-stack` (jemalloc's shape: an array of pointers and a moving top), each also `-call`.
//!
//! Run: `cargo run --release -p hz3-bench --features peers --example pair_latency [pairs]`.

use core::arch::x86_64::_rdtsc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

const TRIALS: usize = 7;

fn ticks_per_ns() -> f64 {
    let t0 = Instant::now();
    // SAFETY: rdtsc has no preconditions on x86_64.
    let c0 = unsafe { _rdtsc() };
    while t0.elapsed().as_millis() < 200 {}
    // SAFETY: as above.
    let c1 = unsafe { _rdtsc() };
    (c1 - c0) as f64 / t0.elapsed().as_nanos() as f64
}

/// Minimum ticks per pair over `TRIALS` runs of `f(n)`.
fn min_ticks(n: usize, mut f: impl FnMut(usize)) -> f64 {
    f(n / 10); // warm up
    let mut best = f64::MAX;
    for _ in 0..TRIALS {
        // SAFETY: rdtsc has no preconditions on x86_64.
        let c0 = unsafe { _rdtsc() };
        f(n);
        // SAFETY: as above.
        let c1 = unsafe { _rdtsc() };
        best = best.min((c1 - c0) as f64 / n as f64);
    }
    best
}

#[inline(never)]
fn free_run<A: GlobalAlloc>(a: &A, n: usize) {
    let l = Layout::from_size_align(64, 8).unwrap();
    for _ in 0..n {
        // SAFETY: non-zero size; the block is freed with its layout.
        unsafe {
            let p = black_box(a.alloc(l));
            a.dealloc(p, l);
        }
    }
}

#[inline(never)]
fn ptr_chain<A: GlobalAlloc>(a: &A, n: usize) {
    let mut size = 64usize;
    for _ in 0..n {
        let l = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size; the block is freed with its layout.
        unsafe {
            let p = a.alloc(l);
            size = 64 + ((p as usize) >> 63);
            a.dealloc(p, l);
        }
    }
}

#[inline(never)]
fn data_chain<A: GlobalAlloc>(a: &A, n: usize) {
    let mut size = 64usize;
    for _ in 0..n {
        let l = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size (>= 64): the second word is in bounds; freed with its layout.
        unsafe {
            let p = a.alloc(l);
            let w = p.add(8).cast::<u64>();
            w.write_volatile(0);
            size = 64 + (w.read_volatile() as usize & 16);
            a.dealloc(p, l);
        }
    }
}

#[inline(never)]
fn batch8<A: GlobalAlloc>(a: &A, n: usize) {
    let l = Layout::from_size_align(64, 8).unwrap();
    let mut ps = [core::ptr::null_mut::<u8>(); 8];
    for _ in 0..n / 8 {
        // SAFETY: non-zero size; each block is freed once with its layout.
        unsafe {
            for p in ps.iter_mut() {
                *p = black_box(a.alloc(l));
            }
            for p in ps.iter().rev() {
                a.dealloc(*p, l);
            }
        }
    }
}

thread_local! { static CELL: Cell<u64> = const { Cell::new(0) }; }

#[inline(never)]
fn tls_rmw(n: usize) {
    for _ in 0..n {
        CELL.with(|c| {
            let p = c.as_ptr();
            // SAFETY: `p` is this thread's cell.
            unsafe { p.write_volatile(p.read_volatile() + 1) };
            // SAFETY: as above.
            unsafe { p.write_volatile(p.read_volatile() + 1) };
        });
    }
}

fn row<A: GlobalAlloc>(name: &str, a: &A, n: usize, tpn: f64) {
    let cols = [
        min_ticks(n, |k| free_run(a, k)),
        min_ticks(n, |k| ptr_chain(a, k)),
        min_ticks(n, |k| data_chain(a, k)),
        min_ticks(n, |k| batch8(a, k)),
    ];
    print!("{name:<12}");
    for t in cols {
        print!(" {:>7.1} {:>6.2}", t, t / tpn);
    }
    println!();
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let tpn = ticks_per_ns();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!("# pair latency, {n} pairs x {TRIALS} trials (min), TSC {tpn:.3} ticks/ns, {cpu}");
    println!(
        "{:<12} {:>14} {:>14} {:>14} {:>14}",
        "allocator", "free-run", "ptr-chain", "data-chain", "batch-8"
    );
    println!("{:<12}{}", "", " ticks     ns".repeat(4));
    let floor = min_ticks(n, tls_rmw);
    println!(
        "{:<12} {:>7.1} {:>6.2}  (tls-rmw: two load-add-store round trips)",
        "floor",
        floor,
        floor / tpn
    );
    row(
        "hz3-a-cache",
        &hz3_alloc::Hz3::<hz3_alloc::strategy::CachedStash>::new(),
        n,
        tpn,
    );
    row(
        "hz3-a",
        &hz3_alloc::Hz3::<hz3_alloc::strategy::OwnerStash>::new(),
        n,
        tpn,
    );
    #[cfg(feature = "peers")]
    {
        row("jemalloc", &tikv_jemallocator::Jemalloc, n, tpn);
        row("mimalloc", &mimalloc::MiMalloc, n, tpn);
        row("snmalloc", &snmalloc_rs::SnMalloc, n, tpn);
    }
    row("system", &System, n, tpn);
    row(
        "hz3-call",
        &Call(hz3_alloc::Hz3::<hz3_alloc::strategy::CachedStash>::new()),
        n,
        tpn,
    );
    toy::init();
    row("toy-list-call", &Call(toy::ToyList), n, tpn);
    toy::init_heap();
    row("toy-heap", &toy::ToyHeap, n, tpn);
    row("toy-heap-call", &Call(toy::ToyHeap), n, tpn);
    row("toy-list", &toy::ToyList, n, tpn);
    row("toy-stack", &toy::ToyStack, n, tpn);
}

/// Toy thread caches over a pool of 64-byte blocks, to tell the bin's shape from the rest of
/// an allocator: `ToyList` is hz3's bin (intrusive LIFO, head + count + limit), `ToyStack`
/// jemalloc's (an array of pointers and a moving top).
mod toy {
    use super::*;
    use std::cell::UnsafeCell;

    #[repr(C)]
    pub struct Bin {
        head: *mut u8,
        count: u32,
        limit: u32,
    }
    #[repr(C)]
    pub struct Stack {
        top: *mut *mut u8,
        slots: [*mut u8; 64],
    }
    pub struct Lists(pub UnsafeCell<[Bin; 16]>);
    pub struct Stacks(pub UnsafeCell<[Stack; 4]>);
    thread_local! {
        pub static LISTS: Lists = const { Lists(UnsafeCell::new([const { Bin { head: core::ptr::null_mut(), count: 0, limit: 64 } }; 16])) };
        pub static STACKS: Stacks = const { Stacks(UnsafeCell::new([const { Stack { top: core::ptr::null_mut(), slots: [core::ptr::null_mut(); 64] } }; 4])) };
    }
    static LUT: [u8; 33] = {
        let mut t = [0u8; 33];
        let mut i = 0;
        while i < 33 {
            t[i] = (i / 8) as u8;
            i += 1;
        }
        t
    };

    pub struct ToyList;
    /// `ToyList` whose bins sit behind a thread-local pointer (as hz3's heap).
    pub struct ToyHeap;
    thread_local! {
        pub static HEAP: core::cell::Cell<*mut Bin> = const { core::cell::Cell::new(core::ptr::null_mut()) };
    }
    // SAFETY: as `ToyList`.
    unsafe impl GlobalAlloc for ToyHeap {
        #[inline(always)]
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let c = LUT[(l.size() + 15) >> 4] as usize;
            let h = HEAP.with(|h| h.get());
            // SAFETY: per the impl's contract.
            unsafe {
                let bin = h.add(c);
                let p = (*bin).head;
                if p.is_null() {
                    std::process::abort();
                }
                (*bin).head = p.cast::<*mut u8>().read();
                (*bin).count -= 1;
                p
            }
        }
        #[inline(always)]
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            let c = LUT[(l.size() + 15) >> 4] as usize;
            let h = HEAP.with(|h| h.get());
            // SAFETY: per the impl's contract.
            unsafe {
                let bin = h.add(c);
                if (*bin).count >= (*bin).limit {
                    std::process::abort();
                }
                p.cast::<*mut u8>().write((*bin).head);
                (*bin).head = p;
                (*bin).count += 1;
            }
        }
    }
    pub struct ToyStack;

    pub fn init_heap() {
        let pool: &'static mut [u64] = Box::leak(vec![0u64; 8 * 64].into_boxed_slice());
        let bins: &'static mut [Bin] = Box::leak(
            (0..16)
                .map(|_| Bin {
                    head: core::ptr::null_mut(),
                    count: 0,
                    limit: 64,
                })
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        for k in 0..32 {
            let p = pool[k * 8..].as_mut_ptr().cast::<u8>();
            // SAFETY: `p` is a 64-byte block of the pool.
            unsafe { p.cast::<*mut u8>().write(bins[0].head) };
            bins[0].head = p;
            bins[0].count += 1;
        }
        HEAP.with(|h| h.set(bins.as_mut_ptr()));
    }

    pub fn init() {
        let pool: &'static mut [u64] = Box::leak(vec![0u64; 8 * 256].into_boxed_slice());
        LISTS.with(|l| {
            // SAFETY: this thread's toy state, not borrowed elsewhere.
            let bins = unsafe { &mut *l.0.get() };
            for k in 0..32 {
                let p = pool[k * 8..].as_mut_ptr().cast::<u8>();
                // SAFETY: `p` is a 64-byte block of the pool.
                unsafe { p.cast::<*mut u8>().write(bins[0].head) };
                bins[0].head = p;
                bins[0].count += 1;
            }
        });
        STACKS.with(|s| {
            // SAFETY: as above.
            let st = unsafe { &mut *s.0.get() };
            st[0].top = st[0].slots.as_mut_ptr();
            for k in 32..64 {
                // SAFETY: `top` stays inside `slots` (32 of 64 used).
                unsafe {
                    *st[0].top = pool[k * 8..].as_mut_ptr().cast::<u8>();
                    st[0].top = st[0].top.add(1);
                }
            }
        });
    }

    // SAFETY: toy allocators for a measurement: only 64-byte layouts, one thread, pool blocks.
    unsafe impl GlobalAlloc for ToyList {
        #[inline(always)]
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let c = LUT[(l.size() + 15) >> 4] as usize;
            LISTS.with(|b| {
                // SAFETY: per the impl's contract.
                unsafe {
                    let bin = (b.0.get() as *mut Bin).add(c);
                    let p = (*bin).head;
                    (*bin).head = p.cast::<*mut u8>().read();
                    (*bin).count -= 1;
                    p
                }
            })
        }
        #[inline(always)]
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            let c = LUT[(l.size() + 15) >> 4] as usize;
            LISTS.with(|b| {
                // SAFETY: per the impl's contract.
                unsafe {
                    let bin = (b.0.get() as *mut Bin).add(c);
                    if (*bin).count >= (*bin).limit {
                        std::process::abort();
                    }
                    p.cast::<*mut u8>().write((*bin).head);
                    (*bin).head = p;
                    (*bin).count += 1;
                }
            })
        }
    }
    // SAFETY: as above.
    unsafe impl GlobalAlloc for ToyStack {
        #[inline(always)]
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let c = LUT[(l.size() + 15) >> 4] as usize;
            STACKS.with(|s| {
                // SAFETY: per the impl's contract.
                unsafe {
                    let st = (s.0.get() as *mut Stack).add(c);
                    let t = (*st).top.sub(1);
                    (*st).top = t;
                    *t
                }
            })
        }
        #[inline(always)]
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            let c = LUT[(l.size() + 15) >> 4] as usize;
            STACKS.with(|s| {
                // SAFETY: per the impl's contract.
                unsafe {
                    let st = (s.0.get() as *mut Stack).add(c);
                    let t = (*st).top;
                    if t == (*st).slots.as_mut_ptr().add(64) {
                        std::process::abort();
                    }
                    *t = p;
                    (*st).top = t.add(1);
                }
            })
        }
    }
}

/// Forwards to `A` through calls that are never inlined (as a program whose allocator lives in
/// another object file calls it).
struct Call<A>(A);
// SAFETY: forwards the contract unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Call<A> {
    #[inline(never)]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { self.0.alloc(l) }
    }
    #[inline(never)]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded.
        unsafe { self.0.dealloc(p, l) }
    }
}
