//! # hz3-tcache — the thread cache of the hz3 allocator
//!
//! Per-thread heaps ([`Heap`]) with one bin per size class (batch refill from slabs, batch
//! flush back), the heap's slabs and segments, ownership (owner = heap address, reused after
//! thread exit, no thread limit), thread exit through a pthread key destructor, and the
//! process-wide caches of free segments and freed large mappings. Generic over the remote-free strategy ([`RemoteFree`], from
//! hz3-pageq) and the build flavour ([`Config`]): every pairing is its own monomorphised
//! instance ([`Instance`]) with its own thread-local slot and registry.
//!
//! Invariants: H1–H6 ([`heap`]), G1–G4 ([`slab`]), O1–O3 ([`registry`]), LC1–LC3
//! ([`large_cache`]); the purge policy is `hz3_page::purge` (PG1–PG3).
//!
//! ```
//! use hz3_pageq::DrainAll;
//! use hz3_tcache::{Fast, Heap, Instance};
//! type I = Instance<DrainAll, Fast>;
//! let c = hz3_page::class_of(64);
//! // SAFETY: `current()` is this thread's heap pointer; the block is freed below by its owner.
//! unsafe {
//!     let heap = I::current();
//!     let mut p = Heap::pop_bin(heap, c);
//!     if p.is_null() {
//!         p = I::alloc_slow(heap, c);
//!     }
//!     assert!(!p.is_null());
//!     let heap = I::current();
//!     let meta = &*hz3_page::meta_of(p);
//!     assert_eq!(meta.owner(), heap as usize);
//!     Heap::free_local(heap, meta, p);
//! }
//! ```

pub mod config;
pub mod heap;
pub mod large_cache;
pub mod lock;
pub mod registry;
pub mod slab;
pub mod tls;

pub use config::{Checked, Config, Fast, WithStats, MAX_CONFIGS};
pub use heap::{batch_for, Bin, Heap, HeapCounters, Local, Shared, DEAD_BINS, EMPTY_BINS};
pub use hz3_pageq::RemoteFree;
pub use lock::SpinLock;
pub use registry::{install_fork_handlers, Instance, MAX_INSTANCES, MAX_STRATEGIES};
