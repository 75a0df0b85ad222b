//! loom models of the MPSC remote lists (testing.md T1).
//!
//! Run with `bash .ci/loom.sh` (or `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p hz3-page --test loom_remote`). Without `--cfg loom` this file is empty.
//!
//! - [`remote_list_*`]: two pushers (single blocks and `push_list` chains) against an owner that
//!   takes concurrently and once more after the joins. Every block is taken exactly once, every
//!   taken chain is acyclic and null-terminated, per-pusher LIFO order holds, and `notify` is
//!   true exactly on the pushes that made the list non-empty: the tail of every non-empty take
//!   is the last block of exactly one notifying push, so `#notify == #non-empty takes`.
//! - [`packed_*`]: the same for [`PackedRemoteList`] with the owner's
//!   `take_all_keep_queued` / `try_idle` protocol and a one-slot "page queue": exactly one
//!   notify per idle → queued transition (`#notify == #successful try_idle`), the page is never
//!   queued twice, a failed `try_idle` leaves `head | QUEUED` in the word, and the word ends 0.
//! - [`broken_*`]: local copies of the list with a `Relaxed` push CAS or a `Relaxed` take swap
//!   must make loom fail (a causality violation on the block link, which lives in a loom
//!   `UnsafeCell`), proving the model is able to see a missing release/acquire pair.
#![cfg(loom)]

use core::ptr::NonNull;
use hz3_page::sync::{AtomicUsize, Ordering};
use hz3_page::{Block, PackedRemoteList, RemoteList, QUEUED};
use loom::thread;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

// ------------------------------------------------------------------------------------------
// Harness helpers
// ------------------------------------------------------------------------------------------

/// A loom builder that honours `LOOM_MAX_PREEMPTIONS` and otherwise bounds preemptions to
/// `default_bound` (an unbounded search of these models takes minutes).
fn builder(default_bound: usize) -> Model {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(default_bound);
    }
    Model(b)
}

/// A loom builder that reports how many executions it explored.
struct Model(loom::model::Builder);

impl Model {
    fn check(&self, f: impl Fn() + Sync + Send + 'static) -> usize {
        use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering as StdOrdering};
        let n = Arc::new(StdAtomic::new(0));
        let n2 = n.clone();
        self.0.check(move || {
            n2.fetch_add(1, StdOrdering::Relaxed);
            f()
        });
        let n = n.load(StdOrdering::Relaxed);
        eprintln!(
            "explored {n} executions (preemption bound {:?})",
            self.0.preemption_bound
        );
        n
    }
}

/// Runs `f` (which calls loom) and returns the panic message it must produce.
fn expect_model_failure(what: &str, f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("loom accepted a broken ordering");
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic payload>".into());
    eprintln!("[{what}] loom failed as expected: {msg}");
    msg
}

/// Blocks owned by one model execution: boxed, handed around as addresses, freed at the end.
struct Blocks(Vec<usize>);

impl Blocks {
    fn new(n: usize) -> Self {
        Blocks(
            (0..n)
                .map(|_| Box::into_raw(Box::new(Block::new())) as usize)
                .collect(),
        )
    }
    fn ptr(&self, i: usize) -> *mut Block {
        self.0[i] as *mut Block
    }
    fn index_of(&self, b: *mut Block) -> usize {
        self.0
            .iter()
            .position(|&p| p == b as usize)
            .unwrap_or_else(|| panic!("foreign pointer {b:p} in a list"))
    }
    /// Walks a taken chain: returns the block indices, panicking on a cycle (a chain longer
    /// than the number of blocks) or a foreign pointer.
    fn walk(&self, head: *mut Block) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = head;
        while !cur.is_null() {
            assert!(
                out.len() < self.0.len(),
                "cyclic chain (or a block taken twice)"
            );
            out.push(self.index_of(cur));
            // SAFETY: `cur` was taken by this (the consumer) thread with acquire ordering.
            cur = unsafe { Block::next(cur) };
        }
        out
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return; // leak: the execution is being torn down
        }
        for &p in &self.0 {
            // SAFETY: allocated by `Blocks::new`, no list refers to it any more.
            drop(unsafe { Box::from_raw(p as *mut Block) });
        }
    }
}

/// One push of a pusher: the chain `first ..= last` (block indices, consecutive).
#[derive(Clone, Copy, Debug)]
struct PushRec {
    first: usize,
    last: usize,
    notify: bool,
}

/// Assigns block indices to the pushers' chains: `plan[t]` lists the chain lengths pusher `t`
/// pushes, in order.
fn chains(plan: &[&[usize]]) -> (Vec<Vec<(usize, usize)>>, usize) {
    let mut next = 0;
    let mut out = Vec::new();
    for p in plan {
        let mut v = Vec::new();
        for &len in p.iter() {
            assert!(len >= 1);
            v.push((next, next + len - 1));
            next += len;
        }
        out.push(v);
    }
    (out, next)
}

// ------------------------------------------------------------------------------------------
// RemoteList (and broken copies of it)
// ------------------------------------------------------------------------------------------

/// The list operations the model needs, so the same harness runs the shipped list and the
/// broken copies.
trait Mpsc: Send + Sync + 'static {
    fn create() -> Self;
    /// # Safety
    /// As [`RemoteList::push_list`].
    unsafe fn push_chain(&self, first: NonNull<Block>, last: NonNull<Block>) -> bool;
    fn take(&self) -> *mut Block;
}

impl Mpsc for RemoteList {
    fn create() -> Self {
        RemoteList::new()
    }
    unsafe fn push_chain(&self, first: NonNull<Block>, last: NonNull<Block>) -> bool {
        // SAFETY: forwarded.
        let p = unsafe {
            if first == last {
                self.push(first)
            } else {
                self.push_list(first, last)
            }
        };
        p.notify
    }
    fn take(&self) -> *mut Block {
        self.take_all()
    }
}

/// A copy of [`RemoteList`] with configurable (wrong) orderings. The link is the real
/// [`Block`]'s, i.e. a loom `UnsafeCell`, so a missing happens-before edge between the
/// pusher's link write and the taker's link read is reported by loom.
struct BrokenList<const RELAXED_PUSH: bool, const RELAXED_TAKE: bool> {
    head: AtomicUsize,
}

impl<const RP: bool, const RT: bool> Mpsc for BrokenList<RP, RT> {
    fn create() -> Self {
        BrokenList {
            head: AtomicUsize::new(0),
        }
    }
    unsafe fn push_chain(&self, first: NonNull<Block>, last: NonNull<Block>) -> bool {
        let success = if RP {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        let mut old = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the caller owns the chain until the CAS publishes it.
            unsafe { Block::set_next(last.as_ptr(), old as *mut Block) };
            match self.head.compare_exchange_weak(
                old,
                first.as_ptr() as usize,
                success,
                Ordering::Relaxed,
            ) {
                Ok(_) => return old == 0,
                Err(cur) => old = cur,
            }
        }
    }
    fn take(&self) -> *mut Block {
        let order = if RT {
            Ordering::Relaxed
        } else {
            Ordering::Acquire
        };
        self.head.swap(0, order) as *mut Block
    }
}

struct ListWorld<L> {
    list: L,
    blocks: Blocks,
}

// SAFETY: the blocks are handed between threads only through the list under test.
unsafe impl<L: Send> Send for ListWorld<L> {}
// SAFETY: as above.
unsafe impl<L: Sync> Sync for ListWorld<L> {}

/// T1: `plan[0]` and `plan[1]` are the two pushers' chain lengths; the owner (the model's main
/// thread) takes `owner_takes` times while they run, then once more after the joins.
fn remote_list_model<L: Mpsc>(plan: &'static [&'static [usize]], owner_takes: usize) {
    let (chain_plan, nblocks) = chains(plan);
    let chain_plan = Arc::new(chain_plan);
    let world = Arc::new(ListWorld {
        list: L::create(),
        blocks: Blocks::new(nblocks),
    });

    let mut handles = Vec::new();
    for t in 0..plan.len() {
        let world = world.clone();
        let chain_plan = chain_plan.clone();
        handles.push(thread::spawn(move || {
            let mut recs = Vec::new();
            for &(first, last) in &chain_plan[t] {
                for i in first..last {
                    // SAFETY: this pusher owns blocks `first ..= last` until it pushes them.
                    unsafe { Block::set_next(world.blocks.ptr(i), world.blocks.ptr(i + 1)) };
                }
                let (f, l) = (world.blocks.ptr(first), world.blocks.ptr(last));
                // SAFETY: the chain is linked, owned by this thread and pushed once; the blocks
                // outlive the model execution.
                let notify = unsafe {
                    world
                        .list
                        .push_chain(NonNull::new(f).unwrap(), NonNull::new(l).unwrap())
                };
                recs.push(PushRec {
                    first,
                    last,
                    notify,
                });
            }
            recs
        }));
    }

    // The owner thread: takes concurrently with the pushers, reading every link it takes.
    let owner = {
        let world = world.clone();
        thread::spawn(move || {
            let mut takes: Vec<Vec<usize>> = Vec::new();
            for _ in 0..owner_takes {
                let chain = world.blocks.walk(world.list.take());
                if !chain.is_empty() {
                    takes.push(chain);
                }
            }
            takes
        })
    };
    let pushes: Vec<Vec<PushRec>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut takes = owner.join().unwrap();
    // The final take after the joins (the main thread is the owner now).
    let chain = world.blocks.walk(world.list.take());
    if !chain.is_empty() {
        takes.push(chain);
    }
    assert!(
        world.list.take().is_null(),
        "list not empty after the final take"
    );

    // Every block taken exactly once.
    let mut seen = vec![None; nblocks];
    for (ti, take) in takes.iter().enumerate() {
        for (pos, &b) in take.iter().enumerate() {
            assert!(seen[b].is_none(), "block {b} taken twice");
            seen[b] = Some((ti, pos));
        }
    }
    assert!(
        seen.iter().all(|s| s.is_some()),
        "a block was lost: {seen:?}"
    );

    // Every pushed chain arrives contiguous and in order; a pusher's later chain is taken in
    // the same take before (LIFO) or in a later take.
    for recs in &pushes {
        for r in recs {
            let (t, p) = seen[r.first].unwrap();
            for (k, b) in (r.first..=r.last).enumerate() {
                assert_eq!(seen[b], Some((t, p + k)), "chain {r:?} torn");
            }
        }
        for w in recs.windows(2) {
            let (t0, p0) = seen[w[0].first].unwrap();
            let (t1, p1) = seen[w[1].last].unwrap();
            assert!(
                t0 < t1 || (t0 == t1 && p1 < p0),
                "LIFO order violated: {recs:?} {takes:?}"
            );
        }
    }

    // notify marks exactly the empty -> non-empty transitions: the tail of every non-empty
    // take was pushed by a notifying push, and every notifying push is such a tail.
    let mut tails: Vec<usize> = takes.iter().map(|t| *t.last().unwrap()).collect();
    let mut notified: Vec<usize> = pushes
        .iter()
        .flatten()
        .filter(|r| r.notify)
        .map(|r| r.last)
        .collect();
    tails.sort_unstable();
    notified.sort_unstable();
    assert_eq!(
        tails, notified,
        "notify != empty -> non-empty (takes {takes:?}, pushes {pushes:?})"
    );
    assert_eq!(notified.len(), takes.len());
}

#[test]
fn remote_list_1x1() {
    builder(3).check(|| remote_list_model::<RemoteList>(&[&[1], &[1]], 2));
}

#[test]
fn remote_list_2x1() {
    builder(2).check(|| remote_list_model::<RemoteList>(&[&[1, 1], &[1]], 2));
}

#[test]
fn remote_list_push_list() {
    // One pusher pushes two single blocks, the other a two-block chain with push_list.
    builder(2).check(|| remote_list_model::<RemoteList>(&[&[1, 1], &[2]], 2));
}

#[test]
fn remote_list_2x2_three_takes() {
    builder(2).check(|| remote_list_model::<RemoteList>(&[&[1, 1], &[1, 2]], 3));
}

/// The harness itself accepts a correct copy (so the failures below are the orderings').
#[test]
fn broken_list_harness_control() {
    builder(2).check(|| remote_list_model::<BrokenList<false, false>>(&[&[1, 1], &[1]], 2));
}

#[test]
fn broken_list_relaxed_push_fails() {
    let msg = expect_model_failure("relaxed push CAS", || {
        builder(2).check(|| remote_list_model::<BrokenList<true, false>>(&[&[1, 1], &[1]], 2));
    });
    assert!(
        msg.contains("Causality violation"),
        "unexpected failure: {msg}"
    );
}

#[test]
fn broken_list_relaxed_take_fails() {
    let msg = expect_model_failure("relaxed take swap", || {
        builder(2).check(|| remote_list_model::<BrokenList<false, true>>(&[&[1, 1], &[1]], 2));
    });
    assert!(
        msg.contains("Causality violation"),
        "unexpected failure: {msg}"
    );
}

// ------------------------------------------------------------------------------------------
// PackedRemoteList: take_all_keep_queued / try_idle
// ------------------------------------------------------------------------------------------

struct PackedWorld {
    list: PackedRemoteList,
    /// A one-slot page queue: 1 = the page is queued. The pusher that wins idle -> queued puts
    /// the page in it; the owner takes it out before processing.
    queued: AtomicUsize,
    blocks: Blocks,
}

// SAFETY: blocks move between threads only through the list.
unsafe impl Send for PackedWorld {}
// SAFETY: as above.
unsafe impl Sync for PackedWorld {}

#[derive(Default, Debug)]
struct PackedOwner {
    takes: Vec<Vec<usize>>,
    idles: usize,
    requeues: usize,
}

impl PackedOwner {
    /// The owner processes the page it dequeued until `try_idle` succeeds.
    fn process(&mut self, w: &PackedWorld) {
        loop {
            let chain = w.blocks.walk(w.list.take_all_keep_queued());
            if !chain.is_empty() {
                self.takes.push(chain);
            }
            if w.list.try_idle() {
                self.idles += 1;
                return;
            }
            // R4: the CAS failed only because blocks arrived; the page stays queued and the
            // owner (not a pusher) must requeue it.
            let word = w.list.raw();
            assert!(
                word & QUEUED != 0,
                "failed try_idle but word {word:#x} not queued"
            );
            assert!(
                word & !QUEUED != 0,
                "failed try_idle but word {word:#x} holds no blocks"
            );
            self.requeues += 1;
        }
    }

    /// Dequeues and processes the page if it is queued.
    fn poll(&mut self, w: &PackedWorld) {
        if w.queued.swap(0, Ordering::Acquire) == 1 {
            self.process(w);
        }
    }
}

fn packed_model(per_pusher: &'static [usize], owner_polls: usize) -> PackedOwner {
    let total: usize = per_pusher.iter().sum();
    let world = Arc::new(PackedWorld {
        list: PackedRemoteList::new(),
        queued: AtomicUsize::new(0),
        blocks: Blocks::new(total),
    });
    let mut handles = Vec::new();
    let mut next = 0;
    for &n in per_pusher {
        let world = world.clone();
        let range = next..next + n;
        next += n;
        handles.push(thread::spawn(move || {
            let mut notifies = 0;
            for i in range {
                let b = NonNull::new(world.blocks.ptr(i)).unwrap();
                // SAFETY: the block is this pusher's, pushed once, and outlives the execution;
                // Box<Block> is word aligned so the QUEUED bit is free.
                if unsafe { world.list.push(b) }.notify {
                    notifies += 1;
                    let prev = world.queued.swap(1, Ordering::Release);
                    assert_eq!(prev, 0, "page queued twice (two idle -> queued notifies)");
                }
            }
            notifies
        }));
    }
    let owner = {
        let world = world.clone();
        thread::spawn(move || {
            let mut owner = PackedOwner::default();
            for _ in 0..owner_polls {
                owner.poll(&world);
            }
            owner
        })
    };
    let notifies: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let mut owner = owner.join().unwrap();
    owner.poll(&world);
    assert_eq!(
        world.queued.load(Ordering::Relaxed),
        0,
        "queued after the final poll"
    );
    assert_eq!(world.list.raw(), 0, "word not idle+empty at the end");

    let mut seen = vec![0u32; total];
    for b in owner.takes.iter().flatten() {
        seen[*b] += 1;
    }
    assert!(
        seen.iter().all(|&c| c == 1),
        "blocks not taken exactly once: {seen:?}"
    );
    // Every idle -> queued transition (a notify) is matched by exactly one queued -> idle.
    assert_eq!(
        notifies, owner.idles,
        "notifies vs idle transitions: {owner:?}"
    );
    owner
}

#[test]
fn packed_1x1() {
    builder(3).check(|| {
        packed_model(&[1, 1], 2);
    });
}

#[test]
fn packed_2x1() {
    builder(2).check(|| {
        packed_model(&[2, 1], 2);
    });
}

#[test]
fn packed_2x2_three_polls() {
    builder(2).check(|| {
        packed_model(&[2, 2], 3);
    });
}

#[test]
fn packed_requeue_is_reached() {
    // Coverage: some execution of the 2x1 model takes the failed-try_idle (requeue) path.
    use std::sync::atomic::{AtomicUsize as StdAtomic, Ordering as StdOrdering};
    let hits = Arc::new(StdAtomic::new(0));
    let h = hits.clone();
    builder(2).check(move || {
        if packed_model(&[2, 1], 2).requeues > 0 {
            h.fetch_add(1, StdOrdering::Relaxed);
        }
    });
    let hits = hits.load(StdOrdering::Relaxed);
    eprintln!("{hits} executions requeued");
    assert!(hits > 0, "no execution reached a failed try_idle");
}
