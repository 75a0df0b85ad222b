//! Workloads at the OS boundary, single-threaded: blocks large enough that an allocator maps and
//! unmaps (or keeps and reuses) whole regions, and a buffer grown by `realloc`. What these measure
//! is mostly page faults, `mmap`/`munmap`/`mremap` and copying, so the run line's `minor_faults`
//! and `sys_s` (see [`crate::rusage`]) matter as much as the rate.
//!
//! Every step is expensive (tens of microseconds to milliseconds), so the loops read the clock
//! often (`bounded_loop`) and stop after a fixed number of steps as well, whatever the clock
//! says: one data point cannot run away however slow an allocator is on these shapes.

use crate::rng::XorShift64;
use crate::workloads::{alloc_obj, bounded_loop, fill_obj, free_obj, realloc_obj, Outcome, Params};

const MIB: usize = 1 << 20;

// ------------------------------------------------------------------------------------------
// large-1m: malloc(1 MiB), memset, free.
// ------------------------------------------------------------------------------------------

pub const LARGE_1M_SIZE: usize = MIB;
/// Most pairs in one timed run (a bound on the work, never reached at 1 s on this machine).
pub const LARGE_1M_MAX_PAIRS: u64 = 1_000_000;

/// large-1m: one thread allocates 1 MiB, writes all of it, frees it. Metric: pairs/s.
/// `Budget::Iters(n)`: n pairs.
pub fn large_1m(p: &Params) -> Outcome {
    let (pairs, elapsed) = bounded_loop(p.budget, 1, LARGE_1M_MAX_PAIRS, |i| {
        let o = alloc_obj(LARGE_1M_SIZE);
        // SAFETY: `o` is a live object of LARGE_1M_SIZE bytes.
        unsafe { fill_obj(o, 8, LARGE_1M_SIZE - 8, i as u8) };
        // SAFETY: `o` was allocated above and is freed once.
        unsafe { free_obj(o) };
    });
    Outcome::rate(pairs, elapsed)
}

// ------------------------------------------------------------------------------------------
// large-churn: 20 live blocks of 5–25 MiB; each step writes a new block and replaces a random one.
// ------------------------------------------------------------------------------------------

pub const LARGE_CHURN_SLOTS: usize = 20;
pub const LARGE_CHURN_MIN: usize = 5 * MIB;
pub const LARGE_CHURN_MAX: usize = 25 * MIB;
/// Most replacements in one timed run (about 10 GiB written at the mean size).
pub const LARGE_CHURN_MAX_REPLACEMENTS: u64 = 1_000;

/// large-churn: 20 slots hold blocks of a uniform random size in 5..=25 MiB (filled and written
/// before the clock starts: about 300 MiB live). Each step allocates a new block of a random
/// size, writes all of it (memset), then frees a random slot's block and puts the new one there.
/// Metric: replacements/s. `Budget::Iters(n)`: n replacements. Extra: `bytes_written`.
pub fn large_churn(p: &Params) -> Outcome {
    let mut rng = XorShift64::for_thread(p.seed, 0);
    // Untimed: the steady state (20 live, written blocks).
    let mut slots: Vec<*mut u8> = (0..LARGE_CHURN_SLOTS)
        .map(|i| {
            let size = rng.range_inclusive(LARGE_CHURN_MIN, LARGE_CHURN_MAX);
            let o = alloc_obj(size);
            // SAFETY: `o` is a live object of `size` bytes.
            unsafe { fill_obj(o, 8, size - 8, i as u8) };
            o
        })
        .collect();
    let mut written = 0u64;
    let (replacements, elapsed) = bounded_loop(p.budget, 1, LARGE_CHURN_MAX_REPLACEMENTS, |i| {
        let size = rng.range_inclusive(LARGE_CHURN_MIN, LARGE_CHURN_MAX);
        let o = alloc_obj(size);
        // SAFETY: `o` is a live object of `size` bytes.
        unsafe { fill_obj(o, 8, size - 8, i as u8) };
        written += size as u64;
        let slot = &mut slots[rng.below(LARGE_CHURN_SLOTS as u32) as usize];
        // SAFETY: every slot holds a live object from alloc_obj.
        unsafe { free_obj(*slot) };
        *slot = o;
    });
    for &o in &slots {
        // SAFETY: as above; each is freed once.
        unsafe { free_obj(o) };
    }
    let mut out = Outcome::rate(replacements, elapsed);
    out.extra = vec![("bytes_written", written as f64)];
    out
}

// ------------------------------------------------------------------------------------------
// realloc-grow: a buffer grown by realloc(b, len + 4096) from 4 KiB to 16 MiB, then freed.
// ------------------------------------------------------------------------------------------

pub const REALLOC_GROW_STEP: usize = 4096;
pub const REALLOC_GROW_START: usize = 4096;
pub const REALLOC_GROW_MAX: usize = 16 * MIB;
/// realloc calls per cycle (4 KiB → 16 MiB in 4 KiB steps).
pub const REALLOC_GROW_CALLS_PER_CYCLE: u64 =
    ((REALLOC_GROW_MAX - REALLOC_GROW_START) / REALLOC_GROW_STEP) as u64;
/// The clock is read every this many realloc calls (a call that copies 16 MiB takes milliseconds).
const REALLOC_GROW_CHECK: u64 = 16;
/// Most realloc calls in one timed run (2 442 cycles).
pub const REALLOC_GROW_MAX_CALLS: u64 = 10_000_000;

/// realloc-grow: one thread allocates 4 KiB and writes it, then grows the buffer with
/// `realloc(b, len + 4096)`, writing the new 4 KiB after each call, until it is 16 MiB; frees it
/// and starts again. The allocator's `realloc` is used (the C `realloc` for `bench-system` and the
/// preload row, `GlobalAlloc::realloc` otherwise): an allocator that grows in place or remaps
/// does little work per call, one that copies does up to 16 MiB. A stop in the middle of a cycle
/// frees the buffer untimed. Metric: reallocs/s. `Budget::Iters(n)`: n realloc calls. Extra:
/// `cycles` (buffers started), `moved_share` (share of calls that returned a new address).
pub fn realloc_grow(p: &Params) -> Outcome {
    let mut buf: *mut u8 = core::ptr::null_mut();
    let mut len = 0usize;
    let (mut cycles, mut moved) = (0u64, 0u64);
    let (calls, elapsed) =
        bounded_loop(p.budget, REALLOC_GROW_CHECK, REALLOC_GROW_MAX_CALLS, |i| {
            if buf.is_null() {
                buf = alloc_obj(REALLOC_GROW_START);
                len = REALLOC_GROW_START;
                // SAFETY: `buf` is a live object of `len` bytes.
                unsafe { fill_obj(buf, 8, len - 8, i as u8) };
                cycles += 1;
            }
            // SAFETY: `buf` is the live buffer (from alloc_obj or realloc_obj); it is replaced at once.
            let grown = unsafe { realloc_obj(buf, len + REALLOC_GROW_STEP) };
            moved += u64::from(grown != buf);
            // SAFETY: `grown` is live with `len + REALLOC_GROW_STEP` bytes; `len >= 8`.
            unsafe { fill_obj(grown, len, REALLOC_GROW_STEP, i as u8) };
            buf = grown;
            len += REALLOC_GROW_STEP;
            if len >= REALLOC_GROW_MAX {
                // SAFETY: the buffer is live and freed once.
                unsafe { free_obj(buf) };
                buf = core::ptr::null_mut();
            }
        });
    if !buf.is_null() {
        // SAFETY: the buffer of an unfinished cycle is live; freed once, untimed.
        unsafe { free_obj(buf) };
    }
    let mut out = Outcome::rate(calls, elapsed);
    let moved_share = if calls == 0 {
        0.0
    } else {
        moved as f64 / calls as f64
    };
    out.extra = vec![("cycles", cycles as f64), ("moved_share", moved_share)];
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Budget;

    #[test]
    fn realloc_grow_cycle_length() {
        assert_eq!(REALLOC_GROW_CALLS_PER_CYCLE, 4095);
        let o = realloc_grow(&Params::new(
            1,
            Budget::Iters(REALLOC_GROW_CALLS_PER_CYCLE + 3),
        ));
        assert_eq!(o.ops, REALLOC_GROW_CALLS_PER_CYCLE + 3);
        assert_eq!(o.extra[0], ("cycles", 2.0));
    }

    #[test]
    fn large_churn_writes_what_it_allocates() {
        let o = large_churn(&Params::new(1, Budget::Iters(4)));
        assert_eq!(o.ops, 4);
        let written = o.extra[0].1;
        assert!(
            (4.0 * LARGE_CHURN_MIN as f64..=4.0 * LARGE_CHURN_MAX as f64).contains(&written),
            "{written}"
        );
    }
}
