//! Message passing per destination (snmalloc's shape) on top of the owner stash (A).
//!
//! A remote free links the block into the freeing thread's group for the destination
//! (owner, class) — no atomic — and a group is sent with one CAS (`push_list`) onto the owner's
//! stash when it is full, when its slot is needed by another destination, on the thread's
//! allocation slow path and at thread exit. The owner takes its stash whole with one swap, as
//! in A.
//!
//! Invariant **B1**: a thread's buffer holds at most [`GROUP_SLOTS`] groups of at most
//! [`GROUP_MAX`] blocks and [`GROUP_BYTES`] bytes each; every group reaches its stash (full,
//! evicted, slow path or exit), and then A's R1–R3 apply.

use crate::counters::{Counter, Counters};
use crate::group::Groups;
use crate::strategy::{OwnerStash, RemoteFree, Sink};
use core::ptr::{self, NonNull};
use hz3_page::{class_size, Block, PageMeta, RemoteList};

/// Groups per thread.
pub const GROUP_SLOTS: usize = 16;
/// Blocks per group at most. 256 (was 64): a pure consumer of 64-byte blocks sends one CAS per
/// 16 KiB freed, as snmalloc posts its remote cache per 16 KiB; measured interleaved on 2
/// cores (docs/results.md): producer→consumer 1.08–1.10x through C and Rust, the other rows
/// within noise, the same instruction counts.
pub const GROUP_MAX: u32 = 256;
/// Bytes per group at most.
pub const GROUP_BYTES: usize = 64 * 1024;

/// A thread's groups (all-zero = empty).
pub type StashGroups = Groups<GROUP_SLOTS>;

/// Sends an A-batch group to the stash at `dest` with one CAS.
///
/// # Safety
/// The stash is valid (Q4) and the blocks are the caller's.
#[inline(always)]
unsafe fn send_stash_group<C: Counters>(
    dest: *const (),
    first: NonNull<Block>,
    last: NonNull<Block>,
    ctr: &mut C,
) {
    // SAFETY: per the contract.
    let push = unsafe { (*dest.cast::<RemoteList>()).push_list(first, last) };
    ctr.bump(Counter::HeadCas);
    ctr.add(Counter::CasRetries, push.retries as u64);
    if push.notify {
        ctr.bump(Counter::EmptyToNonempty);
    }
}

/// A with per-destination batching (B1).
#[derive(Debug)]
pub struct BatchedStash;

// SAFETY: (1) zero stash and zero buffer are empty; (2) B1 then R1–R3: each block reaches the
// stash once and the owner's swap hands it to the sink once; (3) no `page_done`; (4) atomics.
unsafe impl RemoteFree for BatchedStash {
    const NAME: &'static str = "a-batch";
    const ID: usize = 7;
    type Inbox = RemoteList;
    type Outbox = StashGroups;

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &RemoteList,
        page: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut StashGroups>,
        ctr: &mut C,
    ) {
        let Some(out) = out else {
            // SAFETY: forwarded.
            return unsafe { OwnerStash::free_remote(inbox, page, block, None, ctr) };
        };
        let max = || (GROUP_BYTES / class_size(page.class())).clamp(1, GROUP_MAX as usize) as u32;
        let key = ptr::from_ref(inbox).cast::<()>();
        // SAFETY: the caller gives up `block`; groups go to live stashes (Q4).
        unsafe {
            out.add(key, ptr::null(), 6, block, max, ctr, |k, _, f, l, c| {
                send_stash_group(k, f, l, c)
            })
        }
    }

    #[inline]
    unsafe fn free_remote_run<C: Counters>(
        inbox: &RemoteList,
        page: &PageMeta,
        first: NonNull<Block>,
        last: NonNull<Block>,
        n: u32,
        out: Option<&mut StashGroups>,
        ctr: &mut C,
    ) {
        let Some(out) = out else {
            // SAFETY: the run goes home with one CAS; it is the caller's (contract).
            return unsafe { send_stash_group(ptr::from_ref(inbox).cast(), first, last, ctr) };
        };
        let max = || (GROUP_BYTES / class_size(page.class())).clamp(1, GROUP_MAX as usize) as u32;
        let key = ptr::from_ref(inbox).cast::<()>();
        // SAFETY: the caller gives up the run; groups go to live stashes (Q4).
        unsafe {
            out.add_run(
                key,
                ptr::null(),
                6,
                first,
                last,
                n,
                max,
                ctr,
                |k, _, f, l, c| send_stash_group(k, f, l, c),
            )
        }
    }

    unsafe fn collect<S: Sink, C: Counters>(inbox: &RemoteList, sink: &mut S, ctr: &mut C) -> bool {
        // SAFETY: forwarded: same owner side as A.
        unsafe { OwnerStash::collect(inbox, sink, ctr) }
    }

    unsafe fn flush_outbox<C: Counters>(out: &mut StashGroups, ctr: &mut C) {
        // SAFETY: the caller's buffer; destinations valid (Q4).
        out.flush(ctr, |k, _, f, l, c| unsafe { send_stash_group(k, f, l, c) });
    }

    fn inbox_pending(inbox: &RemoteList) -> bool {
        !inbox.is_empty()
    }
}

/// A-batch plus foreign caching ([`RemoteFree::CACHE_FOREIGN`]): a remote free first lands in
/// the freeing thread's own thread cache, where that thread reuses it; only the cache's
/// overflow (and the whole cache at thread exit) travels home, grouped per destination and
/// sent with one CAS per group, to the owner's stash.
#[derive(Debug)]
pub struct CachedStash;

// SAFETY: as `BatchedStash` (same inbox, outbox and protocol); foreign caching happens in the
// thread cache above and reaches `free_remote` for every block that is not reused, so every
// block still arrives exactly once (B1, R1–R3) or is reallocated by its holder.
unsafe impl RemoteFree for CachedStash {
    const NAME: &'static str = "a-cache";
    const ID: usize = 8;
    type Inbox = RemoteList;
    type Outbox = StashGroups;
    const CACHE_FOREIGN: bool = true;

    #[inline]
    unsafe fn free_remote<C: Counters>(
        inbox: &RemoteList,
        page: &PageMeta,
        block: NonNull<Block>,
        out: Option<&mut StashGroups>,
        ctr: &mut C,
    ) {
        // SAFETY: forwarded.
        unsafe { BatchedStash::free_remote(inbox, page, block, out, ctr) }
    }

    #[inline]
    unsafe fn free_remote_run<C: Counters>(
        inbox: &RemoteList,
        page: &PageMeta,
        first: NonNull<Block>,
        last: NonNull<Block>,
        n: u32,
        out: Option<&mut StashGroups>,
        ctr: &mut C,
    ) {
        // SAFETY: forwarded.
        unsafe { BatchedStash::free_remote_run(inbox, page, first, last, n, out, ctr) }
    }

    unsafe fn collect<S: Sink, C: Counters>(inbox: &RemoteList, sink: &mut S, ctr: &mut C) -> bool {
        // SAFETY: forwarded: same owner side as A.
        unsafe { OwnerStash::collect(inbox, sink, ctr) }
    }

    unsafe fn flush_outbox<C: Counters>(out: &mut StashGroups, ctr: &mut C) {
        // SAFETY: forwarded.
        unsafe { BatchedStash::flush_outbox(out, ctr) }
    }

    fn inbox_pending(inbox: &RemoteList) -> bool {
        !inbox.is_empty()
    }
}
