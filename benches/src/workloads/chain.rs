//! `local-chain`: the local alloc+free pair as a *latency* chain.
//!
//! `local-fixed` and `local-mixed` let the CPU overlap consecutive pairs: the size of the next
//! allocation is known before the previous one returns, so only the allocator's own
//! loop-carried state (the bin head it stores and reloads) serialises the iterations. Real
//! programs often cannot: what they allocate next depends on data they have just read. Here the
//! size of the next allocation is computed from a value read back out of the block the allocator
//! just returned, so every iteration waits for the previous allocation to return its pointer,
//! for the store and load through that pointer, and for the size-class lookup of the new size —
//! the pair's latency, not its throughput, sets the rate. The sizes themselves are deterministic
//! (the same sequence for every allocator); only the dependency goes through the block.

use crate::rng::XorShift64;
use crate::workloads::{alloc_obj, free_obj, single_thread_loop, Outcome, Params};

/// Smallest local-chain size.
pub const LOCAL_CHAIN_MIN: usize = 16;
/// Largest local-chain size: 16..=128 B covers the eight smallest 16-byte size steps, around
/// local-fixed's 64 B.
pub const LOCAL_CHAIN_MAX: usize = 128;

/// The size the chain value `v` selects: uniform in `LOCAL_CHAIN_MIN..=LOCAL_CHAIN_MAX`
/// (multiply-shift on the high half, no division).
#[inline(always)]
pub fn local_chain_size(v: u64) -> usize {
    let span = (LOCAL_CHAIN_MAX - LOCAL_CHAIN_MIN + 1) as u64;
    LOCAL_CHAIN_MIN + (((v >> 32) * span) >> 32) as usize
}

/// The chain's next value (one xorshift64 step: full period, never zero from non-zero).
#[inline(always)]
fn next_value(v: u64) -> u64 {
    let mut x = v;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// local-chain: one thread; each iteration allocates `local_chain_size(v)` bytes, stores the
/// chain's next value in the block's second word (volatile), reads it back from the block
/// (volatile: a real load through the returned pointer), frees the block, and uses the value
/// read to size the next allocation. Metric: pairs/s. `Budget::Iters(n)`: n pairs. Extra:
/// `final_size` (the size the chain ended on: the same for every allocator given the seed and n).
pub fn local_chain(p: &Params) -> Outcome {
    let mut v = XorShift64::for_thread(p.seed, 0).next_u64() | 1;
    let mut last_size = 0usize;
    let (iters, elapsed) = single_thread_loop(p.budget, || {
        let size = local_chain_size(v);
        let o = alloc_obj(size);
        let next = next_value(v);
        // SAFETY: `o` is a live object of `size >= 16` bytes: the second word is in bounds and
        // 8-aligned.
        unsafe {
            let w = o.add(8).cast::<u64>();
            w.write_volatile(next);
            v = w.read_volatile();
        }
        // SAFETY: `o` was allocated above and is freed once.
        unsafe { free_obj(o) };
        last_size = size;
    });
    let mut out = Outcome::rate(iters, elapsed);
    out.extra = vec![("final_size", last_size as f64)];
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::Budget;

    #[test]
    fn sizes_cover_the_range() {
        let mut v = 1u64;
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        for _ in 0..100_000 {
            v = next_value(v);
            let s = local_chain_size(v);
            lo = lo.min(s);
            hi = hi.max(s);
        }
        assert_eq!((lo, hi), (LOCAL_CHAIN_MIN, LOCAL_CHAIN_MAX));
    }

    #[test]
    fn the_chain_is_deterministic() {
        let a = local_chain(&Params::new(1, Budget::Iters(1000)));
        let b = local_chain(&Params::new(1, Budget::Iters(1000)));
        assert_eq!(a.ops, 1000);
        assert_eq!(a.extra, b.extra);
    }
}
