//! Deterministic, cheap pseudo-random numbers for the workloads (xorshift64, seeded by
//! splitmix64). Nothing here allocates.

/// xorshift64 (shifts 13, 7, 17: full period 2^64 − 1).
#[derive(Clone, Debug)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// A generator whose state is derived from `seed` by one splitmix64 step (never zero).
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        XorShift64(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// A generator for worker `index` of a run seeded with `seed`.
    pub fn for_thread(seed: u64, index: usize) -> Self {
        Self::new(seed ^ (index as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F))
    }

    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` for `n <= 2^32` (multiply-shift on the high half; bias < n / 2^32).
    #[inline(always)]
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    #[inline(always)]
    pub fn range_inclusive(&mut self, lo: usize, hi: usize) -> usize {
        debug_assert!(lo <= hi && hi - lo < u32::MAX as usize);
        lo + self.below((hi - lo + 1) as u32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = XorShift64::new(42);
        let mut b = XorShift64::new(42);
        for _ in 0..10_000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let v = a.range_inclusive(16, 2048);
            b.range_inclusive(16, 2048);
            assert!((16..=2048).contains(&v));
        }
        assert_ne!(XorShift64::new(1).next_u64(), XorShift64::new(2).next_u64());
    }

    #[test]
    fn below_covers_the_range() {
        let mut r = XorShift64::new(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[r.below(10) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.below(1), 0);
    }
}
