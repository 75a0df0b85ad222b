//! # hz3-tcache — the thread cache of the hz3 allocator
//!
//! Per-thread heaps ([`Heap`]) with one bin per size class (batch refill from slabs, batch
//! flush back), the heap's slabs and segments, ownership (owner = heap address, reused after
//! thread exit, no thread limit), thread exit through a pthread key destructor, and the
//! process-wide caches of free segments and freed large mappings. Generic over the remote-free strategy ([`RemoteFree`], from
//! hz3-pageq) and the build flavour ([`Config`]): every pairing is its own monomorphised
//! instance ([`Instance`]) with its own thread-local slot and registry.
//!
//! Invariants: H1, H5 ([`bin`]), H2–H4, H6–H8 ([`heap`]), G1–G4 ([`slab`]), O1–O4
//! ([`registry`]), LC1–LC3 ([`large_cache`]); the purge policy is `hz3_page::purge` (PG1–PG3).
//! The free path and the journey home of a foreign block are [`free`]; what makes one instance
//! differ from another (strategy, flavour, OS layer, foreign-cache rule) is its [`Policy`].
//!
//! A heap allocating and freeing through the thread cache, the way hz3-alloc drives it: pop
//! the bin (the fast path) or take the slow path (refill, or set the thread's heap up on its
//! first call); free onto the bin when this thread's heap owns the block, else through the
//! strategy's remote path. Here one block is freed by its owner and one by another thread, and
//! the empty-check oracle then finds nothing left allocated:
//!
//! ```
//! use hz3_pageq::DrainAll;
//! use hz3_tcache::{Fast, Heap, Instance};
//!
//! /// Strategy C (drain-all), fast flavour: its own thread-local heaps and registry.
//! type I = Instance<DrainAll, Fast>;
//!
//! fn alloc(c: usize) -> *mut u8 {
//!     // SAFETY: `heap` is this thread's heap pointer, as `pop_bin` and `alloc_slow` require.
//!     unsafe {
//!         let heap = I::current();
//!         let p = Heap::pop_bin(heap, c);
//!         if p.is_null() { I::alloc_slow(heap, c) } else { p }
//!     }
//! }
//!
//! /// # Safety
//! /// `p` is a live block from `alloc`, given up by the caller.
//! unsafe fn free(p: *mut u8) {
//!     // SAFETY: `p` is a live small block of `I` (caller), so its page meta is mapped (P1)
//!     // and owned by a heap of `I`; `heap` is this thread's heap pointer.
//!     unsafe {
//!         let heap = I::current();
//!         let meta = &*hz3_page::meta_of(p);
//!         if meta.owner() == heap as usize {
//!             Heap::free_local(heap, meta, p); // onto this thread's bin
//!         } else {
//!             I::free_remote(heap, meta, p); // to the owner's inbox
//!         }
//!     }
//! }
//!
//! // A heap of this thread's own now: without it the first few blocks of a thread come from
//! // the shared fallback heap (the young phase, O4).
//! assert!(I::init_thread());
//! let c = hz3_page::class_of(64);
//! let a = alloc(c);
//! let b = alloc(c);
//! assert!(!a.is_null() && !b.is_null() && a != b);
//! // SAFETY: both blocks are live and at least 64 bytes long.
//! unsafe {
//!     a.write_bytes(0xA5, 64);
//!     b.write_bytes(0x5A, 64);
//! }
//! // Both blocks belong to this thread's heap (the owner is the heap's address).
//! // SAFETY: `a` is live, so its meta is mapped (P1).
//! assert_eq!(unsafe { &*hz3_page::meta_of(a) }.owner(), I::current() as usize);
//!
//! // SAFETY: `a` is live and freed once, here.
//! unsafe { free(a) };
//! let b = b as usize; // a raw pointer is not `Send`; its address is
//! std::thread::spawn(move || {
//!     // SAFETY: `b` is live and freed once, here: a remote free.
//!     unsafe { free(b as *mut u8) }
//! })
//! .join()
//! .unwrap();
//!
//! I::collect(); // flush this thread's cache, collect its inboxes and the exited thread's heap
//! // SAFETY: no other thread uses `I` now (the freeing thread has exited).
//! assert_eq!(unsafe { I::live_blocks() }[c], 0);
//! ```

pub mod bin;
pub mod collect;
pub mod config;
pub mod free;
pub mod heap;
pub mod large_cache;
pub mod lock;
pub mod page_list;
pub mod policy;
pub mod registry;
pub mod slab;
pub mod tls;

pub use bin::{batch_for, Bin, DEAD_BINS, EMPTY_BINS};
pub use config::{Checked, Config, Fast, WithStats, MAX_CONFIGS};
pub use free::Unowned;
pub use heap::{Heap, HeapCounters, Local, Shared};
pub use hz3_pageq::RemoteFree;
pub use lock::SpinLock;
pub use policy::{OsOf, Policy};
pub use registry::{install_fork_handlers, Instance, MAX_INSTANCES, MAX_STRATEGIES};

/// The README's examples, run as doctests so they stay true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
