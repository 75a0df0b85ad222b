//! T7 (basic) and T6 (small), for every strategy: thread lifecycle.
//!
//! - a thousand short threads allocate, hand their blocks to a long-lived thread that frees
//!   them, and exit: heaps are reused (the heap count stays small) and nothing leaks;
//! - a thread whose first allocator call is a free of another thread's block (owner alive, owner
//!   exited; small and large blocks);
//! - a `thread_local!` destructor that allocates and frees through hz3 (it runs before hz3's
//!   own exit hook), and a pthread-key destructor registered after hz3's that does the same
//!   after hz3 has released the thread's heap;
//! - producer/consumer where the consumer never allocates: the blocks freed remotely but not
//!   yet taken back by the producer stay bounded (measured with the oracle while both threads
//!   are parked), and everything is reclaimed at the end;
//! - young threads (O4): threads that allocate a little share the fallback heap's slabs (no
//!   heap of their own); a thread past the young phase, or one that asked for its heap with
//!   `init_thread`, owns what it allocates.

mod common;

use common::{isolated, scale, serial, Inst, Rng};
use core::alloc::Layout;
use hz3_alloc::{Config, Hz3, RemoteFree};
use hz3_page::{class_of, slab_capacity};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};

type Blocks = Vec<(usize, Layout)>;

fn fill_new<R: RemoteFree, C: Config>(l: Layout, tag: u8) -> usize {
    let p = Inst::<R, C>::alloc(l);
    assert!(!p.is_null() && p as usize % l.align() == 0);
    // SAFETY: fresh block of `l.size()` bytes.
    unsafe { core::ptr::write_bytes(p, tag, l.size()) };
    p as usize
}

/// Checks the fill and frees.
fn check_free<R: RemoteFree, C: Config>(p: usize, l: Layout, tag: u8) {
    // SAFETY: `p` is live with layout `l`, filled with `tag`.
    unsafe {
        let s = core::slice::from_raw_parts(p as *const u8, l.size());
        assert!(
            s.iter().all(|&b| b == tag),
            "block {p:#x} {l:?}: fill damaged"
        );
        Inst::<R, C>::dealloc(p as *mut u8, l);
    }
}

fn lay(n: usize, a: usize) -> Layout {
    Layout::from_size_align(n, a).unwrap()
}

/// A long-lived thread that frees whatever it receives; answers `None` messages (sync points).
fn spawn_freer<R: RemoteFree, C: Config>() -> (
    mpsc::Sender<Option<Blocks>>,
    mpsc::Receiver<()>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel::<Option<Blocks>>();
    let (atx, arx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        for m in rx {
            match m {
                Some(bs) => {
                    for (p, l) in bs {
                        check_free::<R, C>(p, l, 0x5c);
                    }
                }
                None => atx.send(()).unwrap(),
            }
        }
    });
    (tx, arx, h)
}

fn short_threads_reuse_heaps<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let before = Hz3::<R, C>::heap_count();
    let n_threads = 1000 * scale();
    let (tx, ack, freer) = spawn_freer::<R, C>();
    let wave = 4;
    for w in 0..n_threads / wave {
        let hs: Vec<_> = (0..wave)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let mut rng = Rng::new((w * wave + t) as u64);
                    let mut bs = Vec::new();
                    for k in 0..24 {
                        let l = if k == 0 && w % 16 == 0 {
                            lay(rng.range(300 << 10, 600 << 10), 8)
                        } else if k % 6 == 0 {
                            lay(rng.range(1, 8192), 1 << rng.range(0, 12))
                        } else {
                            lay(rng.range(1, 512), 8)
                        };
                        bs.push((fill_new::<R, C>(l, 0x5c), l));
                    }
                    // A few blocks freed locally before exit.
                    for _ in 0..4 {
                        let (p, l) = bs.pop().unwrap();
                        check_free::<R, C>(p, l, 0x5c);
                    }
                    tx.send(Some(bs)).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    tx.send(None).unwrap();
    ack.recv().unwrap();
    drop(tx);
    freer.join().unwrap();
    let created = Hz3::<R, C>::heap_count() - before;
    // `wave` threads at a time plus the freer: heaps of exited threads are reused.
    assert!(
        created <= 16,
        "{}: {created} heaps created for {n_threads} short threads",
        Inst::<R, C>::name()
    );
    assert!(Hz3::<R, C>::heap_count() <= 64);
    Inst::<R, C>::assert_empty("short_threads_reuse_heaps");
}

/// Layouts of the first-op-is-free test: small, aligned, medium, large, large by alignment.
fn mixed_layouts() -> Vec<Layout> {
    vec![
        lay(8, 8),
        lay(64, 16),
        lay(100, 64),
        lay(3000, 4096),
        lay(70_000, 8),
        lay(300_000, 8),
        lay(10, 1 << 20),
    ]
}

fn first_op_is_free<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    // (a) the owner is alive (parked on a barrier) when the fresh thread frees its blocks.
    let bar = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel::<Blocks>();
    let b2 = bar.clone();
    let owner = std::thread::spawn(move || {
        let bs: Blocks = mixed_layouts()
            .into_iter()
            .flat_map(|l| {
                [
                    (fill_new::<R, C>(l, 0x5c), l),
                    (fill_new::<R, C>(l, 0x5c), l),
                ]
            })
            .collect();
        tx.send(bs).unwrap();
        b2.wait(); // the other thread frees now
        b2.wait();
        // The owner keeps allocating and freeing after the remote frees.
        for l in mixed_layouts() {
            let p = fill_new::<R, C>(l, 1);
            check_free::<R, C>(p, l, 1);
        }
    });
    let bs = rx.recv().unwrap();
    bar.wait();
    isolated(move || {
        // First allocator call of this thread: a free.
        for (p, l) in bs {
            check_free::<R, C>(p, l, 0x5c);
        }
        let p = fill_new::<R, C>(lay(48, 8), 2);
        check_free::<R, C>(p, lay(48, 8), 2);
    });
    bar.wait();
    owner.join().unwrap();

    // (b) the owner has exited before the fresh thread frees; (c) the freeing thread never
    // allocates.
    for allocate_after in [true, false] {
        let bs: Blocks = isolated(|| {
            mixed_layouts()
                .into_iter()
                .map(|l| (fill_new::<R, C>(l, 0x5c), l))
                .collect()
        });
        isolated(move || {
            for (p, l) in bs {
                check_free::<R, C>(p, l, 0x5c);
            }
            if allocate_after {
                let bs: Blocks = mixed_layouts()
                    .into_iter()
                    .map(|l| (fill_new::<R, C>(l, 3), l))
                    .collect();
                for (p, l) in bs {
                    check_free::<R, C>(p, l, 3);
                }
            }
        });
    }
    Inst::<R, C>::assert_empty("first_op_is_free");
}

/// What a TLS destructor does: frees the blocks it holds, allocates and frees, and lets some
/// blocks escape (freed later by the test).
struct DtorWork {
    held: Blocks,
    run: fn(Blocks),
}

impl Drop for DtorWork {
    fn drop(&mut self) {
        (self.run)(std::mem::take(&mut self.held));
    }
}

/// Blocks allocated in destructors that outlive their thread (freed by the test).
static ESCAPED: parking_lot::Mutex<Vec<(usize, usize, usize)>> =
    parking_lot::Mutex::new(Vec::new());
static DTOR_RUNS: AtomicUsize = AtomicUsize::new(0);

fn dtor_body<R: RemoteFree, C: Config>(held: Blocks) {
    for (p, l) in held {
        check_free::<R, C>(p, l, 0x5c);
    }
    for l in mixed_layouts() {
        let p = fill_new::<R, C>(l, 9);
        check_free::<R, C>(p, l, 9);
    }
    let l = lay(200, 8);
    let p = fill_new::<R, C>(l, 0x5c);
    ESCAPED.lock().push((R::ID * 4 + C::ID, p, l.size()));
    DTOR_RUNS.fetch_add(1, Ordering::SeqCst);
}

std::thread_local! {
    static TLS_WORK: RefCell<Option<DtorWork>> = const { RefCell::new(None) };
}

fn free_escaped<R: RemoteFree, C: Config>() -> usize {
    let mine: Vec<_> = {
        let mut e = ESCAPED.lock();
        let (mine, rest) = e.drain(..).partition(|&(id, _, _)| id == R::ID * 4 + C::ID);
        *e = rest;
        mine
    };
    let n = mine.len();
    isolated(move || {
        for (_, p, size) in mine {
            check_free::<R, C>(p, lay(size, 8), 0x5c);
        }
    });
    n
}

fn tls_destructor_allocates<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let runs = DTOR_RUNS.load(Ordering::SeqCst);
    let threads = 32;
    let hs: Vec<_> = (0..threads)
        .map(|i| {
            std::thread::spawn(move || {
                let held: Blocks = mixed_layouts()
                    .into_iter()
                    .map(|l| (fill_new::<R, C>(l, 0x5c), l))
                    .collect();
                // Some threads' last regular call is an allocation, others' a free.
                if i % 2 == 0 {
                    let p = fill_new::<R, C>(lay(32, 8), 4);
                    check_free::<R, C>(p, lay(32, 8), 4);
                }
                TLS_WORK.with(|w| {
                    *w.borrow_mut() = Some(DtorWork {
                        held,
                        run: dtor_body::<R, C>,
                    })
                });
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(DTOR_RUNS.load(Ordering::SeqCst) >= runs + threads);
    assert_eq!(free_escaped::<R, C>(), threads);
    Inst::<R, C>::assert_empty("tls_destructor_allocates");
}

struct KeyArg {
    held: Blocks,
    run: fn(Blocks),
}

extern "C" fn key_dtor(arg: *mut libc::c_void) {
    // SAFETY: `arg` is the `Box<KeyArg>` leaked by the thread below.
    let a = unsafe { Box::from_raw(arg.cast::<KeyArg>()) };
    (a.run)(a.held);
}

/// A pthread key created after hz3's own: glibc runs key destructors in key order, so this one
/// runs after hz3 released the thread's heap (frees then take the heap-less path and
/// allocations the fallback heap).
fn pthread_key_destructor_after_hz3<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    // Make sure hz3's key for this instance exists (created on a thread's first attach).
    isolated(|| {
        let p = fill_new::<R, C>(lay(16, 8), 1);
        check_free::<R, C>(p, lay(16, 8), 1);
    });
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: valid out pointer and destructor.
    let rc = unsafe { libc::pthread_key_create(&mut key, Some(key_dtor)) };
    assert_eq!(rc, 0);
    let runs = DTOR_RUNS.load(Ordering::SeqCst);
    let threads = 16;
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let held: Blocks = mixed_layouts()
                    .into_iter()
                    .map(|l| (fill_new::<R, C>(l, 0x5c), l))
                    .collect();
                let arg = Box::into_raw(Box::new(KeyArg {
                    held,
                    run: dtor_body::<R, C>,
                }));
                // SAFETY: our key; the value is consumed by `key_dtor`.
                assert_eq!(unsafe { libc::pthread_setspecific(key, arg.cast()) }, 0);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(DTOR_RUNS.load(Ordering::SeqCst) >= runs + threads);
    assert_eq!(free_escaped::<R, C>(), threads);
    // SAFETY: our key, no thread uses it any more.
    unsafe { libc::pthread_key_delete(key) };
    Inst::<R, C>::assert_empty("pthread_key_destructor_after_hz3");
}

enum Msg {
    Batch(Vec<usize>),
    Checkpoint,
}

/// T6 (small): the producer allocates, the consumer only frees. At checkpoints both threads
/// park and the oracle counts blocks of the producer's class that are still outside the slabs:
/// with nothing in flight, that is the backlog of remote frees the producer has not taken back.
/// It must stay bounded (not grow with the number of blocks ever allocated).
fn consumer_never_allocates<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    const SIZE: usize = 64;
    const BATCH: usize = 256;
    const CAP: usize = 4;
    let batches = 600 * scale();
    let every = 50;
    let class = class_of(SIZE);
    let l = lay(SIZE, 8);
    let bar = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::sync_channel::<Msg>(CAP);
    let b1 = bar.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..batches {
            let v: Vec<usize> = (0..BATCH).map(|_| fill_new::<R, C>(l, 0x5c)).collect();
            tx.send(Msg::Batch(v)).unwrap();
            if (i + 1) % every == 0 {
                tx.send(Msg::Checkpoint).unwrap();
                b1.wait();
                b1.wait();
            }
        }
    });
    let b2 = bar.clone();
    let consumer = std::thread::spawn(move || {
        for m in rx {
            match m {
                Msg::Batch(v) => {
                    for p in v {
                        check_free::<R, C>(p, l, 0x5c);
                    }
                }
                Msg::Checkpoint => {
                    b2.wait();
                    b2.wait();
                }
            }
        }
    });
    let mut backlog = Vec::new();
    for _ in 0..batches / every {
        bar.wait();
        // Both threads are parked: the oracle may read their heaps.
        backlog.push(Inst::<R, C>::live()[class]);
        bar.wait();
    }
    producer.join().unwrap();
    consumer.join().unwrap();
    let total = (batches * BATCH) as u64;
    let bound = (4 * (CAP + 2) * BATCH + 4 * slab_capacity(class)) as u64;
    println!("{}: backlog of {SIZE}-byte blocks at checkpoints: {backlog:?} (bound {bound}, {total} allocated)", Inst::<R, C>::name());
    let max = *backlog.iter().max().unwrap();
    assert!(
        max <= bound,
        "{}: remote-free backlog {max} > {bound} (checkpoints {backlog:?})",
        Inst::<R, C>::name()
    );
    // No growth trend: the second half is not above the first half's peak plus slack.
    let half = backlog.len() / 2;
    let first = *backlog[..half].iter().max().unwrap();
    let second = *backlog[half..].iter().max().unwrap();
    assert!(
        second <= first + slab_capacity(class) as u64 + (CAP * BATCH) as u64,
        "{}: backlog grows: {backlog:?}",
        Inst::<R, C>::name()
    );
    Inst::<R, C>::assert_empty("consumer_never_allocates");
}

/// O4 in the fast flavour: blocks that young threads allocate, at the same time, belong to
/// one owner (the fallback heap); a thread past its young phase — by its allocations' count
/// (`YOUNG_OPS`) or their bytes (`YOUNG_BYTES`) — and one that called `init_thread`, owns its
/// own blocks; everything is freed and reclaimed.
fn young_threads_share_a_heap<R: RemoteFree, C: Config>() {
    if C::YOUNG_OPS == 0 {
        return; // the stats and checked flavours give every thread a heap at once
    }
    let _g = serial::<R, C>();
    let owner = |p: usize| {
        // SAFETY: P1: `p` is a live small block of hz3, so its page metadata is mapped.
        unsafe { (*hz3_page::meta_of(p as *const u8)).owner() }
    };
    let run = |l: Layout, blocks: usize, init: bool, barrier: Arc<Barrier>| {
        std::thread::spawn(move || {
            if init {
                assert!(Hz3::<R, C>::init_thread());
            }
            let v: Vec<usize> = (0..blocks)
                .map(|_| Inst::<R, C>::alloc(l) as usize)
                .collect();
            let last = *v.last().unwrap();
            barrier.wait(); // both threads alive, each holding its blocks
            for &p in &v {
                // SAFETY: allocated above with `l`, freed once.
                unsafe { Inst::<R, C>::dealloc(p as *mut u8, l) };
            }
            (owner(v[0]), owner(last))
        })
    };
    let small = Layout::from_size_align(48, 8).unwrap();
    let page = Layout::from_size_align(4096, 8).unwrap();
    // 48-byte blocks end the young phase by their count, 4 KiB ones by their bytes.
    assert!(C::YOUNG_OPS * 48 < C::YOUNG_BYTES && C::YOUNG_BYTES / 4096 < C::YOUNG_OPS);
    let few = (C::YOUNG_OPS / 4).max(1);
    for (l, blocks, init, shared) in [
        (small, few, false, true),
        (small, few, true, false),
        (small, C::YOUNG_OPS + 64, false, false),
        (page, (C::YOUNG_BYTES / 4096 / 2).max(1), false, true),
        (page, C::YOUNG_BYTES / 4096 + 8, false, false),
    ] {
        let b = Arc::new(Barrier::new(2));
        let (t1, t2) = (run(l, blocks, init, b.clone()), run(l, blocks, init, b));
        let ((first1, last1), (first2, last2)) = (t1.join().unwrap(), t2.join().unwrap());
        let size = l.size();
        // The first blocks of a thread that did not call init_thread come from the fallback.
        assert_eq!(
            first1 == first2,
            !init,
            "{blocks} blocks of {size}, init {init}: first owners"
        );
        assert_eq!(
            last1 == last2,
            shared,
            "{blocks} blocks of {size}, init {init}: last owners"
        );
    }
    Inst::<R, C>::assert_empty("young_threads_share_a_heap");
}

/// O5: a thread that takes a heap while freeing blocks of a pooled heap takes that heap, even
/// when another heap was pooled after it; the blocks it then allocates are that heap's.
fn successor_adopts_owner_heap<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let l = Layout::from_size_align(48, 8).unwrap();
    let owner = |p: usize| {
        // SAFETY: P1: `p` is a live small block of hz3, so its page metadata is mapped.
        unsafe { (*hz3_page::meta_of(p as *const u8)).owner() }
    };
    let (held, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    // A bystander holds a heap while the predecessor runs, and pools it after the
    // predecessor's, so the predecessor's heap is not the pool's first.
    let bystander = {
        let (held, release) = (held.clone(), release.clone());
        std::thread::spawn(move || {
            assert!(Hz3::<R, C>::init_thread());
            let p = Inst::<R, C>::alloc(l) as usize;
            held.wait();
            release.wait();
            // SAFETY: allocated above with `l`, freed once.
            unsafe { Inst::<R, C>::dealloc(p as *mut u8, l) };
            owner(p)
        })
    };
    held.wait();
    let inherited: Vec<usize> = std::thread::spawn(move || {
        assert!(Hz3::<R, C>::init_thread());
        (0..8).map(|_| Inst::<R, C>::alloc(l) as usize).collect()
    })
    .join()
    .unwrap();
    release.wait();
    let other = bystander.join().unwrap();
    let pred = owner(inherited[0]);
    assert_ne!(
        pred,
        other,
        "{}: two live threads, two heaps",
        Inst::<R, C>::name()
    );
    let fresh = std::thread::spawn(move || {
        for &p in &inherited {
            // SAFETY: allocated by the predecessor with `l`, handed over, freed once.
            unsafe { Inst::<R, C>::dealloc(p as *mut u8, l) };
        }
        let q = Inst::<R, C>::alloc(l) as usize;
        let o = owner(q);
        // SAFETY: allocated above with `l`.
        unsafe { Inst::<R, C>::dealloc(q as *mut u8, l) };
        o
    })
    .join()
    .unwrap();
    assert_eq!(
        fresh,
        pred,
        "{}: the successor took the owner's heap",
        Inst::<R, C>::name()
    );
    Inst::<R, C>::assert_empty("successor_adopts_owner_heap");
}

per_strategy!(
    successor_adopts_owner_heap,
    young_threads_share_a_heap,
    short_threads_reuse_heaps,
    first_op_is_free,
    tls_destructor_allocates,
    pthread_key_destructor_after_hz3,
    consumer_never_allocates,
);
