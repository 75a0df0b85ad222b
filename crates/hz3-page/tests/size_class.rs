//! T0: the size-class tables, exhaustively over every size `0..=MAX_SMALL` and every
//! power-of-two alignment `1..=MAX_CLASS_ALIGN` (SC1..SC6 of `src/size_class.rs`).
//!
//! The reference class of a request is computed here independently of the crate's arithmetic:
//! a linear scan of `CLASS_SIZE` for the first class that is large enough (and a multiple of
//! the alignment).

// Index loops read the table under test and the reference side by side, by class or size.
#![allow(clippy::needless_range_loop)]

use hz3_page::{
    class_for, class_of, class_size, slab_capacity, slab_pages, CLASS_LUT, CLASS_SIZE,
    LINE_EXCLUSIVE, LUT_MAX, MAX_CLASS_ALIGN, MAX_SMALL, NUM_CLASSES, PAGES_PER_SEGMENT, PAGE_SIZE,
    SLAB_PAGES,
};

/// Every power of two from 1 to `max`.
fn pow2_upto(max: usize) -> impl Iterator<Item = usize> {
    (0..usize::BITS)
        .map(|i| 1usize << i)
        .take_while(move |&a| a <= max)
}

/// For one alignment, the reference class of every size `0..=MAX_SMALL` (ascending sizes, so
/// the cursor over the candidate classes only moves forward).
fn reference_classes(align: usize) -> Vec<usize> {
    let candidates: Vec<usize> = (0..NUM_CLASSES)
        .filter(|&c| class_size(c) % align == 0)
        .collect();
    let mut out = Vec::with_capacity(MAX_SMALL + 1);
    let mut i = 0;
    for n in 0..=MAX_SMALL {
        while class_size(candidates[i]) < n {
            i += 1;
        }
        out.push(candidates[i]);
    }
    out
}

#[test]
fn sc1_sizes_strictly_increasing_multiples_of_16() {
    assert!(NUM_CLASSES <= 64 && NUM_CLASSES <= u8::MAX as usize);
    assert_eq!(CLASS_SIZE.len(), NUM_CLASSES);
    for c in 0..NUM_CLASSES {
        let s = class_size(c);
        assert_eq!(s, CLASS_SIZE[c] as usize);
        assert!(
            s > 0 && s % 16 == 0,
            "class {c}: size {s} not a positive multiple of 16"
        );
        if c > 0 {
            assert!(
                s > class_size(c - 1),
                "class {c}: {s} <= class {}: {}",
                c - 1,
                class_size(c - 1)
            );
        }
    }
    assert_eq!(class_size(0), 16);
    assert_eq!(class_size(NUM_CLASSES - 1), MAX_SMALL);
}

#[test]
fn sc1_class_spacing() {
    // 16..=128 in steps of 16.
    for c in 0..8 {
        assert_eq!(class_size(c), 16 * (c + 1));
    }
    // Exactly four classes in every doubling (2^k, 2^(k+1)] from 128 up to MAX_SMALL.
    let mut k = 128;
    while k < MAX_SMALL {
        let n = (0..NUM_CLASSES)
            .filter(|&c| class_size(c) > k && class_size(c) <= 2 * k)
            .count();
        assert_eq!(n, 4, "classes in ({k}, {}]", 2 * k);
        k *= 2;
    }
    // Every power of two from 16 to MAX_SMALL is a class (this is what makes SC3 possible).
    for p in pow2_upto(MAX_SMALL).filter(|&p| p >= 16) {
        assert!(
            (0..NUM_CLASSES).any(|c| class_size(c) == p),
            "{p} is not a class size"
        );
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe arithmetic over every size: no unsafe code for Miri to check"
)]
fn sc2_class_of_is_smallest_fitting_class_for_every_size() {
    let reference = reference_classes(1);
    for n in 0..=MAX_SMALL {
        let c = class_of(n);
        assert!(c < NUM_CLASSES);
        assert!(
            class_size(c) >= n,
            "size {n}: class {c} holds only {}",
            class_size(c)
        );
        assert_eq!(
            c, reference[n],
            "size {n}: class_of = {c}, smallest fitting = {}",
            reference[n]
        );
        if c > 0 {
            assert!(class_size(c - 1) < n, "size {n}: class {} also fits", c - 1);
        }
    }
    assert_eq!(class_of(MAX_SMALL), NUM_CLASSES - 1);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe arithmetic over every size: no unsafe code for Miri to check"
)]
fn lut_agrees_with_class_of_for_every_size() {
    assert_eq!(CLASS_LUT.len(), LUT_MAX / 16 + 1);
    let reference = reference_classes(1);
    for n in 0..=LUT_MAX {
        let via_lut = CLASS_LUT[(n + 15) >> 4] as usize;
        assert_eq!(via_lut, class_of(n), "size {n}");
        assert_eq!(via_lut, reference[n], "size {n}");
    }
    for (i, &c) in CLASS_LUT.iter().enumerate() {
        assert_eq!(c as usize, reference[i * 16], "LUT entry {i}");
    }
    // The LUT is monotonic.
    assert!(CLASS_LUT.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe arithmetic over every size: no unsafe code for Miri to check"
)]
fn sc3_class_for_every_size_and_alignment() {
    for align in pow2_upto(MAX_CLASS_ALIGN) {
        let reference = reference_classes(align);
        let mut prev = 0;
        for n in 0..=MAX_SMALL {
            let c = class_for(n, align).unwrap_or_else(|| panic!("class_for({n}, {align}) = None"));
            let s = class_size(c);
            assert!(s >= n, "class_for({n}, {align}) = {c}: size {s} too small");
            assert_eq!(
                s % align,
                0,
                "class_for({n}, {align}) = {c}: size {s} not a multiple"
            );
            assert_eq!(
                c, reference[n],
                "class_for({n}, {align}) = {c}, smallest = {}",
                reference[n]
            );
            // Monotonic in the size.
            assert!(c >= prev, "class_for not monotonic at ({n}, {align})");
            prev = c;
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe arithmetic over every size: no unsafe code for Miri to check"
)]
fn sc3_blocks_of_a_slab_are_aligned() {
    // Slabs start at PAGE_SIZE boundaries and blocks sit at multiples of the class size, so
    // every block of class_for(n, a) is a-aligned. Check the arithmetic for every block offset
    // of every slab of every class picked for each alignment.
    assert_eq!(MAX_CLASS_ALIGN, PAGE_SIZE);
    for align in pow2_upto(MAX_CLASS_ALIGN) {
        assert_eq!(PAGE_SIZE % align, 0);
        let mut classes: Vec<usize> = (0..=MAX_SMALL)
            .step_by(16)
            .filter_map(|n| class_for(n.max(1), align))
            .collect();
        classes.dedup();
        for c in classes {
            for i in 0..slab_capacity(c) {
                let off = i * class_size(c);
                assert_eq!(off % align, 0, "class {c}, block {i}, align {align}");
                assert!(off + class_size(c) <= slab_pages(c) * PAGE_SIZE);
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe arithmetic over every size: no unsafe code for Miri to check"
)]
fn sc4_internal_waste_is_bounded_for_every_size() {
    for n in 1..=MAX_SMALL {
        let s = class_size(class_of(n));
        if n <= 128 {
            assert!(
                s <= n + 15,
                "size {n}: class size {s} wastes more than 15 bytes"
            );
        } else {
            assert!(
                s * 4 <= n * 5,
                "size {n}: class size {s} wastes more than 25%"
            );
        }
    }
}

#[test]
fn sc5_slabs_hold_at_least_four_blocks() {
    for c in 0..NUM_CLASSES {
        let pages = slab_pages(c);
        assert_eq!(pages, SLAB_PAGES[c] as usize);
        assert!(
            [1, 2, 4, 8, 16].contains(&pages),
            "class {c}: {pages} pages"
        );
        assert!(
            pages < PAGES_PER_SEGMENT,
            "class {c}: slab does not fit a segment"
        );
        assert!(pages * PAGE_SIZE >= 4 * class_size(c), "class {c}: SC5");
        assert_eq!(slab_capacity(c), pages * PAGE_SIZE / class_size(c));
        assert!(slab_capacity(c) >= 4);
        if c > 0 {
            assert!(
                slab_pages(c) >= slab_pages(c - 1),
                "slab pages not monotonic at class {c}"
            );
        }
    }
}

#[test]
fn class_for_large_requests_is_none() {
    for align in pow2_upto(MAX_CLASS_ALIGN) {
        assert_eq!(class_for(MAX_SMALL + 1, align), None);
        assert_eq!(class_for(MAX_SMALL + 16, align), None);
        assert_eq!(class_for(2 * MAX_SMALL, align), None);
        assert_eq!(class_for(usize::MAX, align), None);
        assert_eq!(class_for(usize::MAX / 2 + 1, align), None);
    }
    for align in pow2_upto(1 << 40).filter(|&a| a > MAX_CLASS_ALIGN) {
        for n in [
            0,
            1,
            16,
            100,
            4096,
            PAGE_SIZE,
            MAX_SMALL - 1,
            MAX_SMALL,
            MAX_SMALL + 1,
        ] {
            assert_eq!(class_for(n, align), None, "class_for({n}, {align})");
        }
    }
    // The boundaries that are still classes.
    assert_eq!(class_for(MAX_SMALL, 1), Some(NUM_CLASSES - 1));
    assert_eq!(class_for(MAX_SMALL, MAX_CLASS_ALIGN), Some(NUM_CLASSES - 1));
    assert_eq!(
        class_size(class_for(1, MAX_CLASS_ALIGN).unwrap()),
        MAX_CLASS_ALIGN
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe arithmetic over every size: no unsafe code for Miri to check"
)]
fn small_alignments_do_not_change_the_class() {
    for align in [1, 2, 4, 8, 16] {
        for n in 0..=MAX_SMALL {
            assert_eq!(
                class_for(n, align),
                Some(class_of(n)),
                "class_for({n}, {align})"
            );
        }
    }
}

/// SC6: the classes of whole cache lines, and the ones that share lines.
#[test]
fn line_exclusive_classes_are_the_multiples_of_64() {
    for c in 0..NUM_CLASSES {
        let whole = LINE_EXCLUSIVE >> c & 1 == 1;
        assert_eq!(
            whole,
            class_size(c) % 64 == 0,
            "class {c} ({} B)",
            class_size(c)
        );
    }
    assert_eq!(LINE_EXCLUSIVE >> NUM_CLASSES, 0);
    let sharing: Vec<usize> = (0..NUM_CLASSES)
        .filter(|&c| LINE_EXCLUSIVE >> c & 1 == 0)
        .map(class_size)
        .collect();
    assert_eq!(sharing, [16, 32, 48, 80, 96, 112, 160, 224]);
}
