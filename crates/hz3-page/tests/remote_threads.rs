//! Real threads on the remote lists, sized for the dynamic checkers: Miri (data races between
//! the pushers' link writes and the taker's reads, provenance of the heads, aliasing) and
//! ThreadSanitizer (happens-before of the same accesses in native executions). The loom models
//! in `loom_remote.rs` check the protocols exhaustively on tiny cases; these run the shipped
//! code with many blocks.
//!
//! Each producer owns its blocks, writes a payload word into each (a plain, non-atomic store,
//! like a user's last write before `free`), then pushes it; the consumer takes lists whole and
//! checks every block arrives exactly once with its payload (R1, R2, R3).
#![cfg(not(loom))]

use core::ptr::NonNull;
use hz3_page::{Block, PackedRemoteList, RemoteList, QUEUED};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

const PRODUCERS: usize = 3;
// Miri interprets every instruction: fewer blocks still interleave pushes with takes.
#[cfg(not(miri))]
const BLOCKS_PER_PRODUCER: usize = 20_000;
#[cfg(miri)]
const BLOCKS_PER_PRODUCER: usize = 60;
const BLOCKS: usize = PRODUCERS * BLOCKS_PER_PRODUCER;

/// One block: its first word is the list link, its second the payload (blocks are 16-byte
/// aligned in hz3, which the packed word's flag bit needs).
#[repr(C, align(16))]
struct Slot {
    link: usize,
    payload: usize,
}

/// The blocks, shared by raw pointer: each is touched by its producer until pushed and by the
/// consumer after it takes it (R1).
struct Store {
    base: *mut Slot,
    _slots: Vec<Slot>,
}

// SAFETY: the slots are only accessed through `base` by whoever holds the block under R1.
unsafe impl Send for Store {}
// SAFETY: as above.
unsafe impl Sync for Store {}

impl Store {
    fn new() -> Arc<Self> {
        let mut slots: Vec<Slot> = (0..BLOCKS)
            .map(|_| Slot {
                link: 0,
                payload: 0,
            })
            .collect();
        Arc::new(Store {
            base: slots.as_mut_ptr(),
            _slots: slots,
        })
    }
    fn slot(&self, i: usize) -> *mut Slot {
        self.base.wrapping_add(i)
    }
    fn index_of(&self, b: *mut Block) -> usize {
        let off = b.addr().wrapping_sub(self.base.addr());
        let i = off / core::mem::size_of::<Slot>();
        assert!(
            off % core::mem::size_of::<Slot>() == 0 && i < BLOCKS,
            "foreign block"
        );
        i
    }
    /// Producer side: fills the payload of block `i` and hands it out as a list node.
    fn give(&self, i: usize) -> NonNull<Block> {
        let s = self.slot(i);
        // SAFETY: block `i` belongs to the calling producer until it pushes it (R1).
        unsafe { (*s).payload = i * 7 + 1 };
        NonNull::new(s.cast::<Block>()).unwrap()
    }
    /// Consumer side: walks a taken chain, checks each block once with its payload.
    fn receive(&self, head: *mut Block, seen: &mut [bool]) -> usize {
        let mut n = 0;
        let mut cur = head;
        while !cur.is_null() {
            let i = self.index_of(cur);
            assert!(!seen[i], "block {i} delivered twice");
            seen[i] = true;
            // SAFETY: the consumer took the chain with an Acquire swap that pairs with the
            // pushers' Release (R2), so the payload and the link are visible and stable.
            let payload = unsafe { (*cur.cast::<Slot>()).payload };
            assert_eq!(payload, i * 7 + 1, "block {i}: payload lost");
            // SAFETY: as above.
            cur = unsafe { Block::next(cur) };
            n += 1;
        }
        n
    }
}

/// `PRODUCERS` threads push all their blocks (singly and in short chains) onto one
/// [`RemoteList`] while the consumer takes it whole; `notify` marks exactly the empty →
/// non-empty transitions.
#[test]
fn remote_list_producers_and_a_taker() {
    let store = Store::new();
    let list = Arc::new(RemoteList::new());
    let notifies = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|t| {
            let (store, list, notifies) = (store.clone(), list.clone(), notifies.clone());
            thread::spawn(move || {
                let mut i = t * BLOCKS_PER_PRODUCER;
                let end = i + BLOCKS_PER_PRODUCER;
                while i < end {
                    // Every third push is a chain of two (the batching strategies' push_list).
                    let (push, n) = if i % 3 == 0 && i + 1 < end {
                        let (first, last) = (store.give(i), store.give(i + 1));
                        // SAFETY: both blocks are this producer's; link them, then give them up.
                        let push = unsafe {
                            Block::set_next(first.as_ptr(), last.as_ptr());
                            list.push_list(first, last)
                        };
                        (push, 2)
                    } else {
                        // SAFETY: block `i` is this producer's and is pushed once (R1).
                        (unsafe { list.push(store.give(i)) }, 1)
                    };
                    i += n;
                    if push.notify {
                        notifies.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let mut seen = vec![false; BLOCKS];
    let (mut got, mut takes) = (0, 0);
    while got < BLOCKS {
        let head = list.take_all();
        if head.is_null() {
            thread::yield_now();
            continue;
        }
        takes += 1;
        got += store.receive(head, &mut seen);
    }
    for p in producers {
        p.join().unwrap();
    }
    assert!(list.is_empty());
    // Each non-empty take ended a run that began with exactly one notifying push.
    assert_eq!(notifies.load(Ordering::Relaxed), takes);
}

/// The packed word: a push that finds the word idle must "queue the page" (here: count a
/// pending notification); the consumer processes only notified lists, takes them keeping the
/// queued flag and tries to go idle, processing again when a push arrived meanwhile (R4). No
/// block may be stranded, and every notification is consumed by exactly one `try_idle`.
#[test]
fn packed_list_queued_flag_handshake() {
    let store = Store::new();
    let list = Arc::new(PackedRemoteList::new());
    let pending = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|t| {
            let (store, list, pending) = (store.clone(), list.clone(), pending.clone());
            thread::spawn(move || {
                for i in t * BLOCKS_PER_PRODUCER..(t + 1) * BLOCKS_PER_PRODUCER {
                    // SAFETY: block `i` is this producer's and is pushed once (R1).
                    if unsafe { list.push(store.give(i)) }.notify {
                        // Release: the "queue" hands the page to the consumer (as a page
                        // queue's push does).
                        pending.fetch_add(1, Ordering::Release);
                    }
                }
            })
        })
        .collect();
    let mut seen = vec![false; BLOCKS];
    let (mut got, mut rounds) = (0, 0);
    while got < BLOCKS {
        if pending.load(Ordering::Acquire) == 0 {
            thread::yield_now();
            continue;
        }
        pending.fetch_sub(1, Ordering::Relaxed);
        rounds += 1;
        loop {
            assert!(list.raw() & QUEUED != 0, "R4: a notified list is queued");
            got += store.receive(list.take_all_keep_queued(), &mut seen);
            if list.try_idle() {
                break;
            }
        }
    }
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(list.raw(), 0, "R4: idle and empty at the end");
    assert_eq!(
        pending.load(Ordering::Relaxed),
        0,
        "a notification was not consumed"
    );
    assert!(rounds >= 1);
}

/// Built with `--cfg hz3_broken_ordering`, [`RemoteList`]'s push publishes with a `Relaxed`
/// CAS instead of `Release` (R2 broken): the taker's reads of a block's link and payload then
/// race with the pusher's writes. Miri and ThreadSanitizer must both report the data race;
/// in a normal build this is the plain producer/consumer test above and passes. Run with
///
/// ```text
/// RUSTFLAGS="--cfg hz3_broken_ordering" cargo +nightly miri test -p hz3-page \
///     --test remote_threads -- --ignored broken_r2
/// ```
/// (`.ci/miri.sh` does, in its own target directory, and requires Miri to report
/// "Data race"; `.ci/tsan.sh` does the same under ThreadSanitizer).
#[test]
#[ignore = "must fail: run with RUSTFLAGS=\"--cfg hz3_broken_ordering\" under Miri or TSan (see its doc)"]
fn broken_r2_is_caught() {
    remote_list_producers_and_a_taker();
}
