//! `epoch`: a lock-free hash set whose removed nodes are reclaimed by
//! crossbeam-epoch, the way Rust's lock-free collections free memory.
//!
//! The other workloads free an object either on the thread that allocated it or on a thread the
//! workload chose (a ring, an inbox, a successor thread). Here nobody chooses: a removed node is
//! retired into the remover's epoch bag (`Guard::defer_destroy`), the bag goes to the
//! collector's global queue when it is full, and the node is freed later, in a batch, by
//! whichever thread happens to collect once every thread has moved past the epoch in which it
//! was unlinked. So frees arrive in bursts of ~64 on a thread that is usually neither the
//! allocating nor the removing one, and the epoch machinery itself (bags, queue nodes) allocates
//! and frees beside the nodes.
//!
//! The structure: [`EPOCH_BUCKETS`] buckets, each a Harris–Michael sorted lock-free list (a
//! node is deleted by tagging its `next` link, then unlinked by a CAS on its predecessor; the
//! thread whose CAS unlinks it retires it, exactly once). Each node carries a payload object of
//! 16..=256 bytes (its size in the first word, its key in the second), allocated with the node
//! and freed by the node's destructor, as a map's value would be. Each operation pins the
//! epoch, as the collections do. The run has a collector of its own ([`Collector::new`]), so
//! its garbage is all freed, untimed, when the run ends.
//!
//! Every thread performs a fixed mix on uniform random keys in `0..EPOCH_KEYS`: 50% lookups
//! (a hit reads the payload and checks its key), 25% inserts, 25% removes, so about half of the
//! keys are present in the steady state; the set is filled to that level by the main thread
//! before the clock starts (its nodes are removed, and freed, by the workers).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use crossbeam_epoch::{self as epoch, Atomic, Collector, Guard, Owned, Shared};

use crate::rng::XorShift64;
use crate::workloads::{alloc_obj, free_obj, start_and_time, Budget, Outcome, Params};

/// Keys are drawn uniformly from `0..EPOCH_KEYS`.
pub const EPOCH_KEYS: u32 = 1 << 16;
/// Buckets of the hash set (about two live nodes per bucket in the steady state).
pub const EPOCH_BUCKETS: usize = 1 << 14;
/// Smallest payload object.
pub const EPOCH_VALUE_MIN: usize = 16;
/// Largest payload object.
pub const EPOCH_VALUE_MAX: usize = 256;
/// Percent of operations that are lookups; the rest are split evenly between inserts and removes.
pub const EPOCH_LOOKUP_PCT: u32 = 50;
/// Workers read the stop flag every this many operations.
const STOP_CHECK: u64 = 64;

/// A payload object (from `alloc_obj`; second word = the key).
struct Payload(*mut u8);
// SAFETY: the payload is a plain heap object owned by its node; it is written once, before the
// node is published, and only read afterwards.
unsafe impl Send for Payload {}
// SAFETY: as above (shared access only reads it).
unsafe impl Sync for Payload {}

struct Node {
    key: u64,
    value: Payload,
    /// Tag 1 = this node is logically deleted.
    next: Atomic<Node>,
}

impl Node {
    fn new(key: u64, size: usize) -> Node {
        let o = alloc_obj(size);
        // SAFETY: `o` is a live object of `size >= 16` bytes, so its second word is in bounds.
        unsafe { o.add(8).cast::<u64>().write(key) };
        Node {
            key,
            value: Payload(o),
            next: Atomic::null(),
        }
    }

    /// Whether the payload still holds this node's key (it would not if the allocator had
    /// handed the payload out again while the node was reachable).
    fn payload_ok(&self) -> bool {
        // SAFETY: a reachable node's payload is live (freed only by the node's destructor, which
        // runs after the node is unreachable to every pinned thread) and >= 16 bytes.
        unsafe { self.value.0.add(8).cast::<u64>().read() == self.key }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: the payload came from `alloc_obj` in `Node::new` and is freed once, here.
        unsafe { free_obj(self.value.0) };
    }
}

/// The hash set: buckets of Harris–Michael lists, sorted by key.
struct Set {
    buckets: Box<[Atomic<Node>]>,
}

#[inline(always)]
fn bucket_of(key: u64) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - EPOCH_BUCKETS.trailing_zeros())) as usize
}

impl Set {
    fn new() -> Set {
        Set {
            buckets: (0..EPOCH_BUCKETS).map(|_| Atomic::null()).collect(),
        }
    }

    /// Harris–Michael search: returns the link `prev` and the node `curr` it points to, where
    /// `curr` is the first node not logically deleted with `key >= key` (or null). Unlinks (and
    /// retires) the deleted nodes it meets on the way. Returns how many it retired, too.
    fn find<'g>(&'g self, key: u64, guard: &'g Guard) -> (&'g Atomic<Node>, Shared<'g, Node>, u64) {
        let head = &self.buckets[bucket_of(key)];
        let mut retired = 0;
        'retry: loop {
            let mut prev = head;
            let mut curr = prev.load(Ordering::Acquire, guard);
            loop {
                // SAFETY: `curr` was read from a link under `guard`; a node is retired only
                // after it is unlinked, and freed only once every guard pinned before that has
                // gone, so it is valid while `guard` lives.
                let Some(c) = (unsafe { curr.as_ref() }) else {
                    return (prev, curr, retired);
                };
                let next = c.next.load(Ordering::Acquire, guard);
                if next.tag() == 1 {
                    // `c` is deleted: unlink it. The CAS fails if `prev`'s node was deleted in
                    // the meantime (its link is tagged) or `prev` moved on; start over.
                    match prev.compare_exchange(
                        curr,
                        next.with_tag(0),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                        guard,
                    ) {
                        Ok(_) => {
                            // SAFETY: this CAS unlinked `c`; a node is reachable from one link
                            // only, so no other thread unlinks (and retires) it, and no new
                            // reference to it can be made.
                            unsafe { guard.defer_destroy(curr) };
                            retired += 1;
                            curr = next.with_tag(0);
                            continue;
                        }
                        Err(_) => continue 'retry,
                    }
                }
                if c.key >= key {
                    return (prev, curr, retired);
                }
                prev = &c.next;
                curr = next;
            }
        }
    }

    /// Looks `key` up without helping; `Some(payload matches)` when present.
    fn lookup(&self, key: u64, guard: &Guard) -> Option<bool> {
        let mut curr = self.buckets[bucket_of(key)].load(Ordering::Acquire, guard);
        // SAFETY: as in `find`: nodes read under `guard` stay valid while it lives.
        while let Some(c) = unsafe { curr.as_ref() } {
            let next = c.next.load(Ordering::Acquire, guard);
            if c.key >= key {
                return (c.key == key && next.tag() == 0).then(|| c.payload_ok());
            }
            curr = next.with_tag(0);
        }
        None
    }

    /// Inserts `key` with a payload of `size` bytes; false (nothing allocated) when present.
    fn insert(&self, key: u64, size: usize, guard: &Guard) -> (bool, u64) {
        let mut node: Option<Owned<Node>> = None;
        let mut retired = 0;
        loop {
            let (prev, curr, r) = self.find(key, guard);
            retired += r;
            // SAFETY: as in `find`.
            if unsafe { curr.as_ref() }.is_some_and(|c| c.key == key) {
                // Present. A node allocated by an earlier, failed attempt is dropped here
                // (never published).
                return (false, retired);
            }
            let n = node
                .take()
                .unwrap_or_else(|| Owned::new(Node::new(key, size)));
            n.next.store(curr, Ordering::Relaxed);
            match prev.compare_exchange(curr, n, Ordering::Release, Ordering::Relaxed, guard) {
                Ok(_) => return (true, retired),
                Err(e) => node = Some(e.new),
            }
        }
    }

    /// Removes `key`; false when absent (or removed concurrently by another thread).
    fn remove(&self, key: u64, guard: &Guard) -> (bool, u64) {
        let mut retired = 0;
        loop {
            let (prev, curr, r) = self.find(key, guard);
            retired += r;
            // SAFETY: as in `find`.
            let Some(c) = (unsafe { curr.as_ref() }) else {
                return (false, retired);
            };
            if c.key != key {
                return (false, retired);
            }
            let next = c.next.load(Ordering::Acquire, guard);
            if next.tag() == 1 {
                continue; // deleted meanwhile: search again (and help unlink it)
            }
            // Logical deletion: tag `c`'s link. Whoever tags it has removed the key.
            if c.next
                .compare_exchange(
                    next,
                    next.with_tag(1),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                    guard,
                )
                .is_err()
            {
                continue;
            }
            // Physical deletion: unlink it, or leave that to the next search that passes.
            match prev.compare_exchange(curr, next, Ordering::AcqRel, Ordering::Acquire, guard) {
                Ok(_) => {
                    // SAFETY: this CAS unlinked `c` (see `find`).
                    unsafe { guard.defer_destroy(curr) };
                    retired += 1;
                }
                Err(_) => {
                    let (_, _, r) = self.find(key, guard);
                    retired += r;
                }
            }
            return (true, retired);
        }
    }

    /// Single-threaded, after the run: checks every bucket (keys strictly increasing, in their
    /// bucket, payloads intact) and counts the present keys.
    ///
    /// # Safety
    /// No other thread uses the set.
    unsafe fn check(&self) -> (u64, bool) {
        // SAFETY: no other thread uses the set (caller).
        let guard = unsafe { epoch::unprotected() };
        let (mut live, mut ok) = (0u64, true);
        for (b, head) in self.buckets.iter().enumerate() {
            let mut last: Option<u64> = None;
            let mut curr = head.load(Ordering::Acquire, guard);
            // SAFETY: linked nodes are not retired, so they are valid.
            while let Some(c) = unsafe { curr.as_ref() } {
                let next = c.next.load(Ordering::Acquire, guard);
                ok &= bucket_of(c.key) == b && last.is_none_or(|l| l < c.key) && c.payload_ok();
                last = Some(c.key);
                if next.tag() == 0 {
                    live += 1;
                }
                curr = next.with_tag(0);
            }
        }
        (live, ok)
    }
}

impl Drop for Set {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other thread uses the set.
        let guard = unsafe { epoch::unprotected() };
        for head in self.buckets.iter() {
            let mut curr = head.load(Ordering::Relaxed, guard);
            while !curr.is_null() {
                // SAFETY: every node still linked (deleted or not) was never retired, so it is
                // freed here, once.
                let node = unsafe { curr.into_owned() };
                curr = node.next.load(Ordering::Relaxed, guard).with_tag(0);
                drop(node);
            }
        }
    }
}

#[derive(Default, Clone, Copy)]
struct EpochCounts {
    ops: u64,
    lookups: u64,
    hits: u64,
    bad_payloads: u64,
    inserts: u64,
    removes: u64,
    retired: u64,
}

/// A payload size in `EPOCH_VALUE_MIN..=EPOCH_VALUE_MAX`.
#[inline(always)]
fn value_size(rng: &mut XorShift64) -> usize {
    rng.range_inclusive(EPOCH_VALUE_MIN, EPOCH_VALUE_MAX)
}

/// epoch: `threads` workers run the fixed mix on the shared set (see the module doc). Metric:
/// ops/s, ops = set operations (lookups + insert attempts + remove attempts). `Budget::Iters(n)`:
/// n operations per thread. The run is invalid unless the set checks out afterwards: every
/// bucket sorted and hashed right, every payload intact (also on every lookup hit), and the
/// present keys = prefill + successful inserts − successful removes. Extra: `inserts`,
/// `removes` (successful), `lookups`, `hits`, `retired` (nodes unlinked and handed to the
/// collector), `live_end`, `bad_payloads`.
pub fn epoch(p: &Params) -> Outcome {
    let t = p.threads;
    let collector = Collector::new();
    let set = Arc::new(Set::new());
    // Untimed prefill to the steady state: each key present with probability 1/2.
    let mut prefill = 0u64;
    {
        let handle = collector.register();
        let guard = handle.pin();
        let mut rng = XorShift64::for_thread(p.seed, t);
        for key in 0..EPOCH_KEYS as u64 {
            if rng.below(2) == 0 && set.insert(key, value_size(&mut rng), &guard).0 {
                prefill += 1;
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(t + 1));
    let mut handles = Vec::with_capacity(t);
    for i in 0..t {
        let (set, stop, barrier) = (set.clone(), stop.clone(), barrier.clone());
        let collector = collector.clone();
        let (budget, seed) = (p.budget, p.seed);
        handles.push(std::thread::spawn(move || {
            let handle = collector.register();
            let mut rng = XorShift64::for_thread(seed, i);
            let max_ops = match budget {
                Budget::Iters(n) => n,
                Budget::Time(_) => u64::MAX,
            };
            let mut c = EpochCounts::default();
            barrier.wait();
            while c.ops < max_ops {
                if c.ops % STOP_CHECK == 0 && stop.load(Ordering::Relaxed) {
                    break;
                }
                c.ops += 1;
                let key = rng.below(EPOCH_KEYS) as u64;
                let op = rng.below(100);
                let guard = handle.pin();
                if op < EPOCH_LOOKUP_PCT {
                    c.lookups += 1;
                    if let Some(ok) = set.lookup(key, &guard) {
                        c.hits += 1;
                        c.bad_payloads += u64::from(!ok);
                    }
                } else if op % 2 == 0 {
                    let (done, r) = set.insert(key, value_size(&mut rng), &guard);
                    c.inserts += u64::from(done);
                    c.retired += r;
                } else {
                    let (done, r) = set.remove(key, &guard);
                    c.removes += u64::from(done);
                    c.retired += r;
                }
            }
            (c, Instant::now())
        }));
    }
    let start = start_and_time(&barrier, p.budget, &stop);
    let results: Vec<(EpochCounts, Instant)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    let elapsed = results.iter().map(|r| r.1).max().unwrap_or(start) - start;
    let mut total = EpochCounts::default();
    for (c, _) in &results {
        total.ops += c.ops;
        total.lookups += c.lookups;
        total.hits += c.hits;
        total.bad_payloads += c.bad_payloads;
        total.inserts += c.inserts;
        total.removes += c.removes;
        total.retired += c.retired;
    }
    // Untimed: check the set, free what is still linked, then the collector's garbage (the
    // last reference to the collector runs every deferred destructor left).
    // SAFETY: every worker has exited; this thread is the set's only user.
    let (live_end, sorted_ok) = unsafe { set.check() };
    drop(set);
    drop(collector);
    let consistent =
        sorted_ok && total.bad_payloads == 0 && live_end + total.removes == prefill + total.inserts;
    let mut out = Outcome::rate(total.ops, elapsed);
    out.valid = consistent;
    out.extra = vec![
        ("inserts", total.inserts as f64),
        ("removes", total.removes as f64),
        ("lookups", total.lookups as f64),
        ("hits", total.hits as f64),
        ("retired", total.retired as f64),
        ("live_end", live_end as f64),
        ("bad_payloads", total.bad_payloads as f64),
    ];
    out
}
