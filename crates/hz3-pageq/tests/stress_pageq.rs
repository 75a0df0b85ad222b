//! Real-thread stress of every strategy's notify/drain protocol (the loom models' big
//! brother, without a model checker).
//!
//! For every strategy (A, A-batch, B, C, D, C-packed, E, E-batch), 4 producer threads perform
//! 100 000 remote frees each (100 under Miri, with 8 blocks each instead of 256), spread
//! pseudo-randomly over 64 pages, while the owner thread collects concurrently (for E and
//! E-batch it also takes each page's unflagged blocks and flags it full on every round).
//! Blocks circulate like in the allocator: each producer starts with 256 blocks of its own;
//! the owner hands every block it receives back to the producer that owns it (in batches over
//! a channel), which frees it again. A producer that runs out of
//! blocks flushes its outbox (D's allocation slow path) and waits for returns.
//!
//! Checked: every delivery is of a block that is currently freed, exactly once (a per-block
//! in-flight flag set before `free_remote` and cleared by the owner's sink), to the right page;
//! a page being processed is claimed (S1); at the end all 400 000 frees were delivered, the
//! queue is empty, every page is idle (two-word state 0 / packed word 0 / flagged word 0 or
//! NOTIFY) and the queue balances (producer enqueues + owner requeues == owner dequeues ==
//! requeues + `page_done`s).
#![cfg(not(loom))]

use core::ptr::NonNull;
use hz3_page::{Block, PageMeta, RemoteList, NOTIFY, QUEUED};
use hz3_pageq::sync::Ordering as SyncOrdering;
use hz3_pageq::{
    BatchedCadence, BatchedStash, CadenceCollect, Counter, CounterArray, DrainAll, DrainAllPacked,
    OwnerStash, PacketOutbox, Packets, PageGroups, PageQueue, PageQueuePop, RemoteFree, Sink,
    StashGroups,
};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

const PRODUCERS: usize = 4;
// Miri interprets every instruction (about a thousand times slower): fewer frees and blocks
// still make the producers race the owner through every protocol state.
#[cfg(not(miri))]
const FREES_PER_PRODUCER: usize = 100_000;
#[cfg(miri)]
const FREES_PER_PRODUCER: usize = 100;
#[cfg(not(miri))]
const BLOCKS_PER_PRODUCER: usize = 256;
#[cfg(miri)]
const BLOCKS_PER_PRODUCER: usize = 8;
const PAGES: usize = 64;
const BLOCKS: usize = PRODUCERS * BLOCKS_PER_PRODUCER;
/// Blocks the owner returns to a producer per message.
const RETURN_BATCH: usize = 8;

/// Backing store of one block (blocks are 16-byte aligned in hz3; the packed word needs bit 0).
#[repr(C, align(16))]
struct Slot([u64; 2]);

/// The page block `i` lies in (a fixed pseudo-random spread).
fn block_page(i: usize) -> usize {
    ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Stash,
    TwoWord,
    Packed,
    /// Cadence (E): the owner also takes unflagged pages itself and flags pages full.
    Flagged,
}

trait Strategy: RemoteFree {
    const KIND: Kind;
    fn new_inbox() -> Self::Inbox;
    fn new_outbox() -> Option<Self::Outbox>;
}

impl Strategy for OwnerStash {
    const KIND: Kind = Kind::Stash;
    fn new_inbox() -> RemoteList {
        RemoteList::new()
    }
    fn new_outbox() -> Option<()> {
        None
    }
}
impl Strategy for PageQueuePop {
    const KIND: Kind = Kind::TwoWord;
    fn new_inbox() -> PageQueue {
        PageQueue::new()
    }
    fn new_outbox() -> Option<()> {
        None
    }
}
impl Strategy for DrainAll {
    const KIND: Kind = Kind::TwoWord;
    fn new_inbox() -> PageQueue {
        PageQueue::new()
    }
    fn new_outbox() -> Option<()> {
        None
    }
}
impl Strategy for Packets {
    const KIND: Kind = Kind::TwoWord;
    fn new_inbox() -> PageQueue {
        PageQueue::new()
    }
    fn new_outbox() -> Option<PacketOutbox> {
        Some(PacketOutbox::new())
    }
}
impl Strategy for BatchedStash {
    const KIND: Kind = Kind::Stash;
    fn new_inbox() -> RemoteList {
        RemoteList::new()
    }
    fn new_outbox() -> Option<StashGroups> {
        // SAFETY: all-zero is an empty buffer (RemoteFree contract 1).
        Some(unsafe { core::mem::zeroed() })
    }
}
impl Strategy for CadenceCollect {
    const KIND: Kind = Kind::Flagged;
    fn new_inbox() -> PageQueue {
        PageQueue::new()
    }
    fn new_outbox() -> Option<()> {
        None
    }
}
impl Strategy for BatchedCadence {
    const KIND: Kind = Kind::Flagged;
    fn new_inbox() -> PageQueue {
        PageQueue::new()
    }
    fn new_outbox() -> Option<PageGroups> {
        // SAFETY: all-zero is an empty buffer (RemoteFree contract 1).
        Some(unsafe { core::mem::zeroed() })
    }
}
impl Strategy for DrainAllPacked {
    const KIND: Kind = Kind::Packed;
    fn new_inbox() -> PageQueue {
        PageQueue::new()
    }
    fn new_outbox() -> Option<()> {
        None
    }
}

struct World<S: Strategy> {
    inbox: S::Inbox,
    pages: Vec<PageMeta>,
    /// Base of the `BLOCKS` slots (owned by `_store`).
    base: *mut Slot,
    _store: Vec<Slot>,
    /// Per block: freed and not yet delivered.
    in_flight: Vec<AtomicBool>,
    finished: AtomicUsize,
}

// SAFETY: the slots are only touched through raw pointers by the protocol under test (and by
// whoever holds the block); pages and inbox are shared exactly as in the allocator.
unsafe impl<S: Strategy> Send for World<S> {}
// SAFETY: as above.
unsafe impl<S: Strategy> Sync for World<S> {}

impl<S: Strategy> World<S> {
    fn block(&self, i: usize) -> NonNull<Block> {
        NonNull::new(self.base.wrapping_add(i).cast::<Block>()).unwrap()
    }
    fn index_of(&self, b: *mut Block) -> usize {
        let off = b.addr().wrapping_sub(self.base.addr());
        let i = off / core::mem::size_of::<Slot>();
        assert!(
            off % core::mem::size_of::<Slot>() == 0 && i < BLOCKS,
            "foreign block {b:p}"
        );
        i
    }
    fn page_index(&self, page: &PageMeta) -> usize {
        let off = core::ptr::from_ref(page)
            .addr()
            .wrapping_sub(self.pages.as_ptr().addr());
        let i = off / core::mem::size_of::<PageMeta>();
        assert!(i < PAGES, "foreign page {page:p}");
        i
    }
}

/// The owner's sink: checks each delivery and hands blocks back to their producers.
struct Owner<S: Strategy> {
    w: Arc<World<S>>,
    back: Vec<Sender<Vec<usize>>>,
    batches: Vec<Vec<usize>>,
    delivered: u64,
    page_done: u64,
}

impl<S: Strategy> Owner<S> {
    fn deliver(&mut self, head: NonNull<Block>, page: Option<usize>) {
        let mut cur = head.as_ptr();
        let mut n = 0;
        while !cur.is_null() {
            let i = self.w.index_of(cur);
            n += 1;
            assert!(n <= BLOCKS, "cyclic chain");
            if let Some(p) = page {
                assert_eq!(block_page(i), p, "block {i} delivered for the wrong page");
            }
            // SAFETY: the chain was handed to the owner by `collect`; read the link before the
            // block goes back to its producer.
            cur = unsafe { Block::next(cur) };
            let was = self.w.in_flight[i].swap(false, Ordering::Relaxed);
            assert!(was, "block {i} delivered twice, or while not freed");
            self.delivered += 1;
            let t = i / BLOCKS_PER_PRODUCER;
            self.batches[t].push(i);
            if self.batches[t].len() >= RETURN_BATCH {
                self.send(t);
            }
        }
    }
    fn send(&mut self, t: usize) {
        if !self.batches[t].is_empty() {
            let batch = core::mem::take(&mut self.batches[t]);
            // A producer that finished has dropped its receiver; its blocks stay with us.
            let _ = self.back[t].send(batch);
        }
    }
}

impl<S: Strategy> Sink for Owner<S> {
    fn blocks(&mut self, head: NonNull<Block>) {
        assert_eq!(S::KIND, Kind::Stash);
        self.deliver(head, None);
    }
    fn page_blocks(&mut self, page: &PageMeta, head: NonNull<Block>) {
        let pi = self.w.page_index(page);
        match S::KIND {
            Kind::TwoWord => {
                assert_eq!(
                    page.xremote_state.load(SyncOrdering::Relaxed),
                    1,
                    "S1, page {pi}"
                )
            }
            Kind::Packed => {
                assert!(page.xremote_packed().raw() & QUEUED != 0, "S1, page {pi}")
            }
            // From `collect_page` (unflagged) or `collect` (queued): nothing to assert.
            Kind::Flagged => {}
            Kind::Stash => panic!("page_blocks from the stash strategy"),
        }
        self.deliver(head, Some(pi));
        // Widen the window between the take and the second look (settle / try_idle), as an
        // allocator's sink does while it splices the chain, so producers hit the requeue path.
        for _ in 0..64 {
            core::hint::spin_loop();
        }
    }
    fn page_done(&mut self, page: &PageMeta) {
        assert_ne!(S::KIND, Kind::Stash);
        self.w.page_index(page);
        self.page_done += 1;
    }
}

/// Most blocks a producer frees as one run in the run-freeing variant.
const RUN_MAX: usize = 8;

/// With `RUNS`, a producer frees up to [`RUN_MAX`] held blocks of one page together through
/// `free_remote_run` (as the thread cache returns a bin's run of one page), else one block
/// at a time through `free_remote`.
fn producer<S: Strategy, const RUNS: bool>(
    w: &World<S>,
    t: usize,
    back: Receiver<Vec<usize>>,
) -> CounterArray {
    let mut ctr = CounterArray::new();
    let mut out = S::new_outbox();
    let mut held: Vec<usize> = (t * BLOCKS_PER_PRODUCER..(t + 1) * BLOCKS_PER_PRODUCER).collect();
    let mut frees = 0;
    while frees < FREES_PER_PRODUCER {
        match held.pop() {
            Some(i) if RUNS => {
                // The run: `i` and up to RUN_MAX - 1 more held blocks of its page.
                let mut run = vec![i];
                let mut k = held.len();
                while k > 0 && run.len() < RUN_MAX.min(FREES_PER_PRODUCER - frees) {
                    k -= 1;
                    if block_page(held[k]) == block_page(i) {
                        run.push(held.swap_remove(k));
                    }
                }
                for (j, &b) in run.iter().enumerate() {
                    w.in_flight[b].store(true, Ordering::Relaxed);
                    let next = run
                        .get(j + 1)
                        .map_or(core::ptr::null_mut(), |&n| w.block(n).as_ptr());
                    // SAFETY: block `b` is held by this thread (linked before it is given up).
                    unsafe { Block::set_next(w.block(b).as_ptr(), next) };
                }
                let page = &w.pages[block_page(i)];
                let last = w.block(*run.last().unwrap());
                // SAFETY: the run's blocks lie in `page`, are held by this thread, linked
                // first to last and given up here; the world outlives every thread.
                unsafe {
                    S::free_remote_run(
                        &w.inbox,
                        page,
                        w.block(i),
                        last,
                        run.len() as u32,
                        out.as_mut(),
                        &mut ctr,
                    )
                };
                frees += run.len();
            }
            Some(i) => {
                w.in_flight[i].store(true, Ordering::Relaxed);
                let page = &w.pages[block_page(i)];
                // SAFETY: block `i` lies in `page`, is held by this thread and given up here;
                // the world outlives every thread.
                unsafe { S::free_remote(&w.inbox, page, w.block(i), out.as_mut(), &mut ctr) };
                frees += 1;
            }
            None => {
                // Out of blocks: publish what the outbox holds (the allocation slow path),
                // then wait for the owner to hand blocks back.
                if let Some(out) = out.as_mut() {
                    // SAFETY: this thread's outbox; the inbox outlives it.
                    unsafe { S::flush_outbox(out, &mut ctr) };
                }
                match back.recv() {
                    Ok(batch) => held.extend(batch),
                    Err(_) => panic!("owner gone"),
                }
            }
        }
        while let Ok(batch) = back.try_recv() {
            held.extend(batch);
        }
    }
    if let Some(out) = out.as_mut() {
        // SAFETY: as above.
        unsafe { S::flush_outbox(out, &mut ctr) };
    }
    w.finished.fetch_add(1, Ordering::Release);
    ctr
}

fn stress<S: Strategy>() {
    stress_with::<S, false>();
}

/// [`stress`] with producers freeing runs of one page (`free_remote_run`).
fn stress_runs<S: Strategy>() {
    stress_with::<S, true>();
}

fn stress_with<S: Strategy, const RUNS: bool>() {
    let start = Instant::now();
    let mut store: Vec<Slot> = (0..BLOCKS).map(|_| Slot([0; 2])).collect();
    let base = store.as_mut_ptr();
    let w = Arc::new(World::<S> {
        inbox: S::new_inbox(),
        pages: (0..PAGES).map(|_| PageMeta::new()).collect(),
        base,
        _store: store,
        in_flight: (0..BLOCKS).map(|_| AtomicBool::new(false)).collect(),
        finished: AtomicUsize::new(0),
    });

    let mut senders = Vec::new();
    let mut producers = Vec::new();
    for t in 0..PRODUCERS {
        let (tx, rx) = channel();
        senders.push(tx);
        let w = w.clone();
        producers.push(thread::spawn(move || producer::<S, RUNS>(&w, t, rx)));
    }

    let owner = {
        let w = w.clone();
        thread::spawn(move || {
            let mut sink = Owner::<S> {
                w: w.clone(),
                back: senders,
                batches: vec![Vec::new(); PRODUCERS],
                delivered: 0,
                page_done: 0,
            };
            let mut ctr = CounterArray::new();
            loop {
                let finished = w.finished.load(Ordering::Acquire) == PRODUCERS;
                // SAFETY: this thread is the inbox's only consumer.
                let mut got = unsafe { S::collect(&w.inbox, &mut sink, &mut ctr) };
                if S::KIND == Kind::Flagged {
                    // Cadence, compressed: every page in turn is the current slab (take what
                    // arrived unflagged) and then retired full (flag it, or take late blocks).
                    for page in &w.pages {
                        // SAFETY: the owner owns its pages.
                        unsafe {
                            got |= S::collect_page(page, &mut sink, &mut ctr);
                            got |= !S::on_page_full(page, &mut sink, &mut ctr);
                        }
                    }
                }
                if finished && !got && !S::inbox_pending(&w.inbox) {
                    break;
                }
                for t in 0..PRODUCERS {
                    sink.send(t);
                }
                if !got {
                    thread::yield_now();
                }
            }
            (sink.delivered, sink.page_done, ctr)
        })
    };

    let mut enqueues = 0;
    for p in producers {
        enqueues += p.join().unwrap().get(Counter::PageqEnqueues);
    }
    let (delivered, page_done, ctr) = owner.join().unwrap();

    let total = (PRODUCERS * FREES_PER_PRODUCER) as u64;
    assert_eq!(delivered, total, "{}: frees not all delivered", S::NAME);
    let stuck = w
        .in_flight
        .iter()
        .filter(|f| f.load(Ordering::Relaxed))
        .count();
    assert_eq!(stuck, 0, "{}: blocks freed but never delivered", S::NAME);
    assert!(!S::inbox_pending(&w.inbox), "{}: inbox not empty", S::NAME);
    for (i, page) in w.pages.iter().enumerate() {
        match S::KIND {
            Kind::Stash | Kind::TwoWord => {
                assert!(
                    page.xremote.is_empty(),
                    "{}: page {i} list not empty",
                    S::NAME
                );
                assert_eq!(
                    page.xremote_state.load(SyncOrdering::Relaxed),
                    0,
                    "page {i} state"
                );
            }
            Kind::Packed => {
                assert_eq!(page.xremote_packed().raw(), 0, "{}: page {i} word", S::NAME)
            }
            Kind::Flagged => {
                let word = page.xremote_flagged().raw();
                assert!(
                    word == 0 || word == NOTIFY,
                    "{}: page {i} word {word:#x}",
                    S::NAME
                )
            }
        }
    }
    let (dequeues, requeues) = (ctr.get(Counter::PageqDequeues), ctr.get(Counter::Requeues));
    if S::KIND != Kind::Stash {
        assert_eq!(
            enqueues + requeues,
            dequeues,
            "{}: queue entries vs dequeues",
            S::NAME
        );
        assert_eq!(
            dequeues,
            requeues + page_done,
            "{}: dequeue outcomes",
            S::NAME
        );
    }
    eprintln!(
        "{}: {total} frees of {BLOCKS} blocks over {PAGES} pages in {:?}: {} collects, \
         {} drained lists, {dequeues} dequeues, {requeues} requeues",
        S::NAME,
        start.elapsed(),
        ctr.get(Counter::Collects),
        ctr.get(Counter::DrainedPages),
    );
}

#[test]
fn stress_a_owner_stash() {
    stress::<OwnerStash>();
}

#[test]
fn stress_b_pageq_pop() {
    stress::<PageQueuePop>();
}

#[test]
fn stress_c_drain_all() {
    stress::<DrainAll>();
}

#[test]
fn stress_d_packets() {
    stress::<Packets>();
}

#[test]
fn stress_c_packed() {
    stress::<DrainAllPacked>();
}

#[test]
fn stress_a_batch() {
    stress::<BatchedStash>();
}

#[test]
fn stress_e_cadence() {
    stress::<CadenceCollect>();
}

#[test]
fn stress_e_batch() {
    stress::<BatchedCadence>();
}

#[test]
fn stress_a_batch_runs() {
    stress_runs::<BatchedStash>();
}

#[test]
fn stress_a_owner_stash_runs() {
    stress_runs::<OwnerStash>();
}

#[test]
fn stress_e_batch_runs() {
    stress_runs::<BatchedCadence>();
}
