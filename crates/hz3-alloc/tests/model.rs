//! T4: a state-machine test of every strategy against a reference model (proptest over
//! sequences of operations).
//!
//! Operations: `alloc(size, align)` (plain or zeroed), `free(i)`, `realloc(i, size)`,
//! `remote_free(i)` (the block goes over a channel to a long-lived worker thread that checks
//! and frees it), `sync` (an explicit sync point: the worker has freed everything sent and
//! flushed its buffers; then the per-class live counts of the oracle must equal the model's),
//! and `thread_exit` (a short thread frees some model blocks, allocates blocks that it hands to
//! the model, and exits).
//!
//! The model is the set of live blocks with their layout and fill tag. Every new block must be
//! aligned, have `usable_size >= size`, and overlap no live block; every block's fill pattern
//! is checked before it is freed or reallocated. At the end everything is freed and the empty
//! check must pass.

mod common;

use common::{isolated, scale, serial, Inst, Ranges};
use core::alloc::Layout;
use hz3_alloc::{Config, Hz3, RemoteFree};
use hz3_page::{class_for, class_size, MAX_SMALL, NUM_CLASSES};
use proptest::prelude::*;
use proptest::test_runner::{
    Config as PtConfig, FileFailurePersistence, TestCaseError, TestRunner,
};
use std::sync::mpsc;

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        size: usize,
        align: usize,
        zeroed: bool,
    },
    Free(usize),
    Realloc(usize, usize),
    RemoteFree(usize),
    Sync,
    ThreadExit {
        frees: Vec<usize>,
        allocs: Vec<(usize, usize)>,
    },
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 1usize..=256,
        4 => 257usize..=4096,
        2 => 4097usize..=MAX_SMALL,
        1 => (MAX_SMALL + 1)..=(2usize << 20),
    ]
}

fn align_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => (0u32..=4).prop_map(|s| 1usize << s),
        2 => (5u32..=16).prop_map(|s| 1usize << s),
        1 => (17u32..=22).prop_map(|s| 1usize << s),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (size_strategy(), align_strategy(), any::<bool>())
            .prop_map(|(size, align, zeroed)| Op::Alloc { size, align, zeroed }),
        4 => any::<usize>().prop_map(Op::Free),
        3 => (any::<usize>(), size_strategy()).prop_map(|(i, n)| Op::Realloc(i, n)),
        5 => any::<usize>().prop_map(Op::RemoteFree),
        1 => Just(Op::Sync),
        1 => (
            prop::collection::vec(any::<usize>(), 0..4),
            prop::collection::vec((size_strategy(), align_strategy()), 0..6)
        )
            .prop_map(|(frees, allocs)| Op::ThreadExit { frees, allocs }),
    ]
}

/// One case: the operations, and whether the remote-free worker allocates before its first
/// free (otherwise its first call is a free).
fn case_strategy() -> impl Strategy<Value = (Vec<Op>, bool)> {
    (prop::collection::vec(op_strategy(), 1..200), any::<bool>())
}

/// A live block of the model.
#[derive(Clone, Copy, Debug)]
struct Blk {
    p: usize,
    l: Layout,
    tag: u64,
}

fn pat(tag: u64) -> u8 {
    common::pattern_byte(tag)
}

/// The model's fill: every byte `pat(tag)`, the first word `tag`. A prefix of a filled block
/// is a filled block of the shorter length (used to check realloc).
unsafe fn fill(p: *mut u8, len: usize, tag: u64) {
    // SAFETY: `len` writable bytes.
    unsafe {
        core::ptr::write_bytes(p, pat(tag), len);
        if len >= 8 {
            (p as *mut u64).write_unaligned(tag);
        }
    }
}

unsafe fn check(p: *mut u8, len: usize, tag: u64) -> Result<(), String> {
    // SAFETY: forwarded.
    unsafe { check_prefix(p, len, len, tag) }
}

/// Checks the first `len` bytes of a block that was filled with `filled` bytes.
unsafe fn check_prefix(p: *mut u8, len: usize, filled: usize, tag: u64) -> Result<(), String> {
    // SAFETY: `len` readable bytes.
    let s = unsafe { core::slice::from_raw_parts(p, len) };
    let head = tag.to_le_bytes();
    let want = |i: usize| {
        if filled >= 8 && i < 8 {
            head[i]
        } else {
            pat(tag)
        }
    };
    match (0..len).find(|&i| s[i] != want(i)) {
        Some(i) => Err(format!(
            "block {p:p} ({len} of {filled} bytes): byte {i} is {:#x}, want {:#x}",
            s[i],
            want(i)
        )),
        None => Ok(()),
    }
}

/// Allocates and checks a new block (alignment, usable size, zeroing) and fills it.
fn new_block<R: RemoteFree, C: Config>(
    size: usize,
    align: usize,
    zeroed: bool,
    tag: u64,
) -> Result<Blk, String> {
    let l = Layout::from_size_align(size, align).unwrap();
    let p = if zeroed {
        Inst::<R, C>::alloc_zeroed(l)
    } else {
        Inst::<R, C>::alloc(l)
    };
    if p.is_null() {
        return Err(format!("alloc({l:?}) = null"));
    }
    if p as usize % align != 0 {
        return Err(format!("alloc({l:?}) = {p:p}: misaligned"));
    }
    // SAFETY: `p` is live.
    let usable = unsafe { Inst::<R, C>::usable(p) };
    if usable < size {
        return Err(format!("alloc({l:?}) = {p:p}: usable size {usable}"));
    }
    if zeroed {
        // SAFETY: `size` readable bytes.
        let s = unsafe { core::slice::from_raw_parts(p, size) };
        if let Some(i) = s.iter().position(|&b| b != 0) {
            return Err(format!(
                "alloc_zeroed({l:?}) = {p:p}: byte {i} is {:#x}",
                s[i]
            ));
        }
    }
    // SAFETY: `size` writable bytes.
    unsafe { fill(p, size, tag) };
    Ok(Blk {
        p: p as usize,
        l,
        tag,
    })
}

/// The address range a block may use (its usable size).
fn range_len<R: RemoteFree, C: Config>(b: &Blk) -> usize {
    // SAFETY: `b` is live.
    unsafe { Inst::<R, C>::usable(b.p as *mut u8) }
}

enum Msg {
    Free(Blk),
    /// Free everything before this, flush the thread's buffers, then answer.
    Sync(mpsc::Sender<Vec<String>>),
}

/// The long-lived remote-free worker: checks and frees blocks it receives.
fn worker<R: RemoteFree, C: Config>(rx: mpsc::Receiver<Msg>, has_heap: bool) -> Vec<String> {
    let mut errors = Vec::new();
    if has_heap {
        // Make the first call an allocation (a local alloc/free).
        let l = Layout::from_size_align(48, 8).unwrap();
        let p = Inst::<R, C>::alloc(l);
        // SAFETY: just allocated.
        unsafe { Inst::<R, C>::dealloc(p, l) };
    }
    for m in rx {
        match m {
            Msg::Free(b) => {
                // SAFETY: the model handed `b` over; it is live with layout `b.l`.
                unsafe {
                    if let Err(e) = check(b.p as *mut u8, b.l.size(), b.tag) {
                        errors.push(format!("remote free: {e}"));
                    }
                    Inst::<R, C>::dealloc(b.p as *mut u8, b.l);
                }
            }
            Msg::Sync(ack) => {
                // Publishes this thread's outbox (D, batched strategies), flushes its cache and
                // collects its own inboxes, so that the oracle sees every block this thread
                // freed. (A thread whose first call is a free gets a heap too, possibly the
                // pooled heap that owns the block; then that free lands in its own inbox.)
                Hz3::<R, C>::collect();
                ack.send(std::mem::take(&mut errors)).unwrap();
            }
        }
    }
    errors
}

/// Expected live blocks per class of the model's small blocks.
fn model_counts(live: &[Blk]) -> [u64; NUM_CLASSES] {
    let mut out = [0u64; NUM_CLASSES];
    for b in live {
        if let Some(c) = class_for(b.l.size(), b.l.align()) {
            out[c] += 1;
        }
    }
    out
}

/// Runs one case on the calling thread (the "model thread").
fn run_ops<R: RemoteFree, C: Config>(ops: Vec<Op>, worker_heap: bool) -> Result<(), String> {
    // Blocks already live in the instance (only non-zero after an earlier case failed and
    // leaked; counting relative to it keeps shrinking meaningful).
    let base = Inst::<R, C>::live();
    let (tx, rx) = mpsc::channel::<Msg>();
    let w = std::thread::spawn(move || worker::<R, C>(rx, worker_heap));
    let mut live: Vec<Blk> = Vec::new();
    let mut ranges = Ranges::default();
    let mut tag = 0x1000u64;
    let sync = |tx: &mpsc::Sender<Msg>| -> Result<(), String> {
        let (atx, arx) = mpsc::channel();
        tx.send(Msg::Sync(atx)).unwrap();
        let errs = arx.recv().unwrap();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    };
    let take = |live: &mut Vec<Blk>, ranges: &mut Ranges, i: usize| -> Result<Blk, String> {
        let b = live.swap_remove(i % live.len());
        ranges.remove(b.p);
        // SAFETY: `b` is live.
        unsafe { check(b.p as *mut u8, b.l.size(), b.tag) }.map(|_| b)
    };
    let trace = std::env::var_os("HZ3_MODEL_TRACE").is_some();
    for (step, op) in ops.into_iter().enumerate() {
        let ctx = |e: String| format!("step {step} ({op:?}): {e}");
        if trace {
            let v: Vec<String> = live
                .iter()
                .map(|b| {
                    format!(
                        "{:#x}:{}/{}:{:?}",
                        b.p,
                        b.l.size(),
                        b.l.align(),
                        class_for(b.l.size(), b.l.align())
                    )
                })
                .collect();
            eprintln!("TRACE step {step} {op:?} live=[{}]", v.join(" "));
        }
        match &op {
            Op::Alloc {
                size,
                align,
                zeroed,
            } => {
                tag += 1;
                let b = new_block::<R, C>(*size, *align, *zeroed, tag).map_err(ctx)?;
                ranges.insert(b.p, range_len::<R, C>(&b));
                live.push(b);
            }
            Op::Free(i) if !live.is_empty() => {
                let b = take(&mut live, &mut ranges, *i).map_err(ctx)?;
                // SAFETY: live block of the model.
                unsafe { Inst::<R, C>::dealloc(b.p as *mut u8, b.l) };
            }
            Op::RemoteFree(i) if !live.is_empty() => {
                let b = take(&mut live, &mut ranges, *i).map_err(ctx)?;
                tx.send(Msg::Free(b)).unwrap();
            }
            Op::Realloc(i, n) if !live.is_empty() => {
                let b = take(&mut live, &mut ranges, *i).map_err(ctx)?;
                let same_class = class_for(b.l.size(), b.l.align()).is_some()
                    && class_for(*n, b.l.align()) == class_for(b.l.size(), b.l.align());
                // SAFETY: live block; `n > 0`.
                let q = unsafe { Inst::<R, C>::realloc(b.p as *mut u8, b.l, *n) };
                if q.is_null() || q as usize % b.l.align() != 0 {
                    return Err(ctx(format!("realloc -> {q:p}")));
                }
                if same_class && q as usize != b.p {
                    return Err(ctx(format!(
                        "realloc within the class moved {:#x} -> {q:p}",
                        b.p
                    )));
                }
                // SAFETY: `q` is live with `n` bytes.
                unsafe {
                    check_prefix(q, b.l.size().min(*n), b.l.size(), b.tag)
                        .map_err(|e| ctx(format!("after realloc: {e}")))?;
                    if Inst::<R, C>::usable(q) < *n {
                        return Err(ctx("usable size after realloc".into()));
                    }
                    fill(q, *n, b.tag);
                }
                let nb = Blk {
                    p: q as usize,
                    l: Layout::from_size_align(*n, b.l.align()).unwrap(),
                    tag: b.tag,
                };
                ranges.insert(nb.p, range_len::<R, C>(&nb));
                live.push(nb);
            }
            Op::Sync => {
                // Publish this thread's own buffered remote frees first (D, batched
                // strategies): they may target the heap the worker holds, which only the
                // worker's collect drains.
                Hz3::<R, C>::collect();
                sync(&tx).map_err(ctx)?;
                // The worker is idle and flushed; this thread may run the oracle.
                let mut got = Inst::<R, C>::live();
                for c in 0..NUM_CLASSES {
                    got[c] = got[c].wrapping_sub(base[c]);
                }
                let want = model_counts(&live);
                if got != want {
                    let diff: Vec<_> = (0..NUM_CLASSES)
                        .filter(|&c| got[c] != want[c])
                        .map(|c| {
                            format!(
                                "class {c} ({} B): oracle {} model {}",
                                class_size(c),
                                got[c],
                                want[c]
                            )
                        })
                        .collect();
                    return Err(ctx(format!("live counts differ: {}", diff.join(", "))));
                }
            }
            Op::ThreadExit { frees, allocs } => {
                let mut given = Vec::new();
                for &i in frees {
                    if !live.is_empty() {
                        given.push(take(&mut live, &mut ranges, i).map_err(ctx)?);
                    }
                }
                let allocs = allocs.clone();
                let base = tag;
                tag += allocs.len() as u64 + 1;
                // The thread's first allocator call may be a free of another thread's block.
                let got = std::thread::spawn(move || -> Result<Vec<Blk>, String> {
                    for b in given {
                        // SAFETY: handed over by the model, live.
                        unsafe { Inst::<R, C>::dealloc(b.p as *mut u8, b.l) };
                    }
                    allocs
                        .iter()
                        .enumerate()
                        .map(|(k, &(n, a))| new_block::<R, C>(n, a, k % 2 == 0, base + k as u64))
                        .collect()
                })
                .join()
                .map_err(|_| ctx("short thread panicked".into()))?
                .map_err(ctx)?;
                for b in got {
                    ranges.insert(b.p, range_len::<R, C>(&b));
                    live.push(b);
                }
            }
            _ => {}
        }
    }
    // Free everything (half locally, half remotely), then stop the worker.
    for (k, b) in live.drain(..).enumerate() {
        ranges.remove(b.p);
        // SAFETY: live block.
        unsafe { check(b.p as *mut u8, b.l.size(), b.tag) }
            .map_err(|e| format!("final free: {e}"))?;
        if k % 2 == 0 {
            // SAFETY: live block.
            unsafe { Inst::<R, C>::dealloc(b.p as *mut u8, b.l) };
        } else {
            tx.send(Msg::Free(b)).unwrap();
        }
    }
    drop(tx);
    let errs = w.join().map_err(|_| "worker panicked".to_string())?;
    if !errs.is_empty() {
        return Err(errs.join("; "));
    }
    Ok(())
}

fn model<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let name = Inst::<R, C>::name();
    let mut runner = TestRunner::new(PtConfig {
        cases: 64 * scale() as u32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/model.proptest-regressions",
        ))),
        max_shrink_iters: 512,
        ..PtConfig::default()
    });
    let res = runner.run(&case_strategy(), |(ops, worker_heap)| {
        let before = Inst::<R, C>::live();
        let ops2 = ops.clone();
        let r = std::thread::spawn(move || run_ops::<R, C>(ops, worker_heap))
            .join()
            .unwrap_or_else(|_| Err("model thread panicked".into()));
        if let Err(e) = r {
            if std::env::var_os("HZ3_MODEL_VERBOSE").is_some() {
                eprintln!("case failed: {e}\nOPS {worker_heap} {ops2:?}");
            }
            return Err(TestCaseError::fail(e));
        }
        let after = Inst::<R, C>::live();
        if after != before {
            return Err(TestCaseError::fail(format!(
                "empty check: live blocks {after:?}, before the case {before:?}"
            )));
        }
        Ok(())
    });
    if let Err(e) = res {
        panic!("{name}: {e}");
    }
    Inst::<R, C>::assert_empty("model");
}

per_strategy!(model);

/// A single fixed sequence with many remote frees to one class between sync points, as a
/// plain regression test (no shrinking needed to read it).
fn remote_frees_then_sync<R: RemoteFree, C: Config>() {
    let _g = serial::<R, C>();
    let mut ops = Vec::new();
    for round in 0..4 {
        for _ in 0..3000 {
            ops.push(Op::Alloc {
                size: 64,
                align: 8,
                zeroed: false,
            });
        }
        for i in 0..3000 {
            ops.push(Op::RemoteFree(i * 7 + round));
        }
        ops.push(Op::Sync);
    }
    for worker_heap in [false, true] {
        let ops = ops.clone();
        let r = isolated(move || run_ops::<R, C>(ops, worker_heap));
        if let Err(e) = r {
            panic!("{} (worker_heap {worker_heap}): {e}", Inst::<R, C>::name());
        }
    }
    Inst::<R, C>::assert_empty("remote_frees_then_sync");
}

mod fixed {
    use crate::per_strategy_modules;
    crate::per_strategy!(remote_frees_then_sync);
    use super::remote_frees_then_sync;
}
