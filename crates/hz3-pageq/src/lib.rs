//! # hz3-pageq — the owner × size-class page queue and the S121 remote-free strategies
//!
//! - [`PageQueue`]: an MPSC Treiber stack of pages with `push`, `push_list`, `pop` (one page
//!   per CAS; ABA-free because only the owner pops, Q3) and `drain_all` (one swap).
//! - [`RemoteFree`]: the strategy trait the thread cache is generic over, with the five
//!   strategies of the S121 experiment: [`OwnerStash`] (A), [`PageQueuePop`] (B),
//!   [`DrainAll`] (C), [`Packets`] (D) and [`DrainAllPacked`] (C-packed), plus the
//!   strategies built to beat the peers: [`CadenceCollect`] (E, mimalloc's rhythm),
//!   [`BatchedCadence`] (E with per-page batching of remote frees) and [`BatchedStash`] (A with
//!   per-destination message batching, snmalloc's shape) and [`CachedStash`] (A-batch whose
//!   freeing threads first reuse foreign blocks from their own cache, jemalloc's shape).
//! - [`Counters`]: statistics hooks that compile away ([`NoCounters`]).
//!
//! Depends only on hz3-page. Invariants Q1–Q4 (queue) and S1–S5 (strategies) are stated in
//! the module docs and model-checked with loom (`RUSTFLAGS="--cfg loom" cargo test -p
//! hz3-pageq --release --test loom_pageq`).
//!
//! A [`PageQueue`] holds the pages ([`PageMeta`](hz3_page::PageMeta)) that have remote frees
//! waiting for the queue's owner. Any thread pushes a page, or a chain of pages linked through
//! `xqnext` with one CAS (`push_list`); only the owner pops one page or takes them all with one
//! swap (`drain_all`):
//!
//! ```
//! use core::ptr::{self, NonNull};
//! use core::sync::atomic::Ordering;
//! use hz3_page::PageMeta;
//! use hz3_pageq::PageQueue;
//!
//! let queue = PageQueue::new();
//! let pages: Vec<PageMeta> = (0..4).map(|_| PageMeta::new()).collect();
//! let link = |a: usize, b: usize| {
//!     pages[a].xqnext.store(&pages[b] as *const PageMeta as *mut PageMeta, Ordering::Relaxed)
//! };
//! // A producer links pages 0 -> 1 -> 2 and pushes the chain with one CAS...
//! link(0, 1);
//! link(1, 2);
//! // SAFETY: the pages are in no queue and outlive the queue's use of them (Q1).
//! unsafe { queue.push_list(NonNull::from(&pages[0]), NonNull::from(&pages[2])) };
//! // ...and another pushes page 3 alone.
//! // SAFETY: as above.
//! unsafe { queue.push(&pages[3]) };
//!
//! // The owner takes everything at once: a null-terminated chain, the latest push first.
//! let mut order = Vec::new();
//! let mut p = queue.drain_all();
//! while !p.is_null() {
//!     order.push(pages.iter().position(|m| ptr::eq(m, p)).unwrap());
//!     // SAFETY: `drain_all` handed the chain to this thread; `p` is one of `pages`.
//!     p = unsafe { &*p }.xqnext.load(Ordering::Relaxed);
//! }
//! assert_eq!(order, [3, 0, 1, 2]);
//! assert!(queue.is_empty() && queue.pop().is_none());
//! ```
//!
//! The strategies drive the queue (and the pages' remote lists) through [`RemoteFree`]:
//! producers call `free_remote`, the owner calls `collect` with a [`Sink`] that receives the
//! blocks:
//!
//! ```
//! use core::ptr::NonNull;
//! use hz3_page::{Block, PageMeta};
//! use hz3_pageq::{DrainAll, NoCounters, PageQueue, RemoteFree, Sink};
//!
//! struct Collected(usize);
//! impl Sink for Collected {
//!     fn blocks(&mut self, _: NonNull<Block>) {}
//!     fn page_blocks(&mut self, _: &PageMeta, head: NonNull<Block>) {
//!         // SAFETY: the chain was handed to us by `collect`.
//!         self.0 += unsafe { hz3_page::chain_len(head.as_ptr()) }.0;
//!     }
//!     fn page_done(&mut self, _: &PageMeta) {}
//! }
//!
//! let inbox = PageQueue::new();
//! let page = PageMeta::new();
//! let mut blocks = [Block::new(), Block::new()];
//! for b in blocks.iter_mut() {
//!     // SAFETY: the blocks and the page outlive the collect below; each is freed once.
//!     unsafe { DrainAll::free_remote(&inbox, &page, NonNull::from(b), None, &mut NoCounters) };
//! }
//! let mut sink = Collected(0);
//! // SAFETY: this thread is the only consumer of `inbox`.
//! assert!(unsafe { DrainAll::collect(&inbox, &mut sink, &mut NoCounters) });
//! assert_eq!(sink.0, 2);
//! ```
#![cfg_attr(not(loom), no_std)]

pub mod counters;
pub mod group;
pub mod queue;
pub mod strategy;
pub mod sync;

pub use counters::{Counter, CounterArray, Counters, NoCounters, COUNTER_NAMES, NUM_COUNTERS};
pub use group::Groups;
pub use queue::PageQueue;
pub use strategy::{batched, cadence};
pub use strategy::{
    two_word, BatchedCadence, BatchedStash, CachedStash, CadenceCollect, DrainAll, DrainAllPacked,
    OwnerStash, PacketOutbox, Packets, PageGroups, PageQueuePop, RemoteFree, Sink, StashGroups,
    PACKET_PAGES, PACKET_SLOTS,
};

/// The README's examples, run as doctests so they stay true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
