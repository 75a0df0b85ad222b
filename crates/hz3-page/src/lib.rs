//! # hz3-page — the page layer of the hz3 allocator
//!
//! The lowest layer of hz3: it knows nothing about threads or heaps. It provides
//!
//! - [`size_class`]: the size-class table (four classes per doubling above 128 bytes);
//! - [`page`]: segments (4 MiB, aligned), pages (64 KiB), [`PageMeta`], and the O(1)
//!   pointer → page map [`meta_of`];
//! - [`remote`]: the MPSC intrusive block lists ([`RemoteList`], [`PackedRemoteList`]) that
//!   carry remote frees;
//! - [`os`]: the OS layer ([`OsMemory`], [`SystemOs`]);
//! - [`purge`]: when free memory goes back to the OS (delay, caps, the clock);
//! - [`stats`]: process statistics (bytes mapped, purged, in large blocks, …), slow paths only;
//! - [`mod@fatal`]: fixed-message aborts that never allocate;
//! - [`sync`]: the loom / core switch for atomics and cells.
//!
//! Invariants are numbered in each module (SC*, P*, R*) and referenced from `// SAFETY:`
//! comments across the workspace; `docs/architecture.md` collects them.
//!
//! ```
//! use hz3_page::{class_for, class_size, slab_pages, PAGE_SIZE};
//! let c = class_for(100, 8).unwrap();
//! assert_eq!(class_size(c), 112);
//! assert!(slab_pages(c) * PAGE_SIZE >= 4 * class_size(c));
//! // A 4 KiB-aligned request is served by a class whose size is a multiple of 4096.
//! let c = class_for(5000, 4096).unwrap();
//! assert_eq!(class_size(c) % 4096, 0);
//! ```
//!
//! A [`RemoteList`] carries blocks freed on other threads to the thread that owns them: any
//! number of threads push (one CAS each), and the owner takes the whole list with one swap.
//! Here two threads each give up 1000 blocks while the owner takes and frees them as they
//! arrive:
//!
//! ```
//! use core::ptr::NonNull;
//! use hz3_page::{Block, RemoteList};
//!
//! const PER_THREAD: usize = 1000;
//! let inbox = RemoteList::new();
//! let mut received = 0;
//! std::thread::scope(|s| {
//!     for _ in 0..2 {
//!         s.spawn(|| {
//!             for _ in 0..PER_THREAD {
//!                 let b = NonNull::from(Box::leak(Box::new(Block::new())));
//!                 // SAFETY: `b` is a fresh block this thread owns; the push gives it up to the
//!                 // list's single consumer (R1), which frees it.
//!                 unsafe { inbox.push(b) };
//!             }
//!         });
//!     }
//!     // The consumer (this thread only, R3): take everything pushed so far, walk the chain.
//!     while received < 2 * PER_THREAD {
//!         let mut b = inbox.take_all();
//!         if b.is_null() {
//!             std::thread::yield_now();
//!         }
//!         while !b.is_null() {
//!             // SAFETY: `take_all` handed the chain to us with its links visible (R2); each
//!             // block came from `Box::leak` above and is taken exactly once.
//!             unsafe {
//!                 let next = Block::next(b);
//!                 drop(Box::from_raw(b));
//!                 b = next;
//!             }
//!             received += 1;
//!         }
//!     }
//! });
//! assert_eq!(received, 2 * PER_THREAD);
//! assert!(inbox.is_empty());
//! ```
#![cfg_attr(not(loom), no_std)]

pub mod fatal;
pub mod geometry;
pub mod os;
pub mod page;
pub mod purge;
pub mod remote;
pub mod segmap;
pub mod size_class;
pub mod stats;
pub mod sync;

pub use fatal::{fatal, FatalKind};
pub use os::{OsMemory, SystemOs, OS_PAGE};
pub use page::{
    find_run, meta_index, meta_of, page_meta, page_start, run_mask, segment_of, OwnerCell,
    PageMeta, SegmentHeader, SegmentKind, ALL_SLAB_PAGES, CHECK_BITMAP_BYTES, CHECK_BITMAP_OFFSET,
    PAGES_PER_SEGMENT, PAGE_SHIFT, PAGE_SIZE, SEGMENT_SHIFT, SEGMENT_SIZE, TAG_CLASS_SHIFT,
    TAG_OWNER_ALIGN,
};
pub use remote::{
    chain_len, Block, FlaggedRemoteList, PackedRemoteList, Push, RemoteList, FLAGS, NOTIFY, QUEUED,
};
pub use size_class::{
    class_for, class_of, class_size, slab_capacity, slab_pages, SizeClass, CLASS_LUT,
    CLASS_OFFSET_LUT, CLASS_SIZE, LINE_EXCLUSIVE, LUT_MAX, MAX_CLASS_ALIGN, MAX_SMALL, NUM_CLASSES,
    SLAB_PAGES,
};

/// The README's examples, run as doctests so they stay true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
