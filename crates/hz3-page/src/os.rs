//! The OS layer: reserve, commit, decommit and release address space.
//!
//! Everything hz3 owns — segments, large blocks, heap metadata — comes from here, never from
//! the global allocator (rule 1). The contract is the [`OsMemory`] trait; [`SystemOs`] is the
//! Linux/`mmap` implementation.

use core::ptr;

/// Granularity of the OS page size hz3 assumes for `madvise` (x86-64 and aarch64 Linux).
pub const OS_PAGE: usize = 4096;

/// A source of address space.
///
/// # Safety
/// Implementations promise:
/// 1. [`map`](OsMemory::map) returns null or a pointer `p` aligned to `align` such that
///    `p .. p + size` is readable and writable, zero-filled, and not used by anyone else until it
///    is passed to [`unmap`](OsMemory::unmap).
/// 2. [`decommit`](OsMemory::decommit) leaves the range mapped, readable and writable; the
///    contents become zero, and the physical memory may be returned to the OS.
/// 3. No method allocates through the global allocator or panics.
/// 4. [`discard`](OsMemory::discard) leaves the range mapped, readable and writable; the
///    contents become unspecified (old bytes or zero) and the OS may take the physical pages
///    back when it needs memory.
/// 5. [`grow_in_place`](OsMemory::grow_in_place) either extends a mapping at its address
///    (old contents kept, the new tail zero-filled) and returns true, or changes nothing and
///    returns false.
/// 6. [`move_to`](OsMemory::move_to) either moves the pages of one mapping (or part of one) to
///    a range inside one that `map` returned (contents kept, any tail beyond the old length
///    zero-filled; the old range and the target's previous pages are gone) and returns true,
///    or changes nothing and returns false.
/// 7. [`advise_huge`](OsMemory::advise_huge) changes no contents and leaves the range mapped,
///    readable and writable; only how the OS backs pages touched later may change.
///    [`residency`](OsMemory::residency) changes nothing.
pub unsafe trait OsMemory {
    /// Whether [`unmap`](OsMemory::unmap) takes a page-aligned part of a mapping as well as a
    /// whole one. When it does, hz3 may split a cached large mapping and give its parts back
    /// one by one; otherwise it unmaps only whole mappings, at the length `map` was given.
    const UNMAPS_PARTS: bool = true;
    /// Whether [`move_to`](OsMemory::move_to) can move pages (the default `move_to` cannot).
    /// Only then does hz3 gather several cached large mappings into one range.
    const MOVES: bool = false;
    /// Maps `size` bytes aligned to `align` (`size` and `align` are multiples of [`OS_PAGE`],
    /// `align` a power of two). Returns null on failure.
    fn map(size: usize, align: usize) -> *mut u8;
    /// Releases a range obtained from [`map`](OsMemory::map).
    ///
    /// # Safety
    /// `p .. p + size` was returned by `map` with this `size` (or, where
    /// [`UNMAPS_PARTS`](OsMemory::UNMAPS_PARTS), is a page-aligned sub-range of such a
    /// mapping) and is not used afterwards.
    unsafe fn unmap(p: *mut u8, size: usize);
    /// Gives the physical pages of `p .. p + size` back; the range stays usable and reads zero.
    ///
    /// # Safety
    /// The range lies inside a live mapping and is page aligned; nothing in it is live.
    unsafe fn decommit(p: *mut u8, size: usize);
    /// Lets the OS take the physical pages of `p .. p + size` back when it needs memory; the
    /// range stays usable, its contents unspecified (contract 4). The default decommits.
    ///
    /// # Safety
    /// As [`decommit`](OsMemory::decommit).
    unsafe fn discard(p: *mut u8, size: usize) {
        // SAFETY: forwarded; decommit meets the weaker contract 4.
        unsafe { Self::decommit(p, size) }
    }
    /// Extends the mapping `p .. p + old` to `p .. p + new` without moving it (contract 5).
    /// The default cannot.
    ///
    /// # Safety
    /// `p .. p + old` is a whole live mapping from `map` (or what earlier calls made of one);
    /// `old <= new`, both multiples of [`OS_PAGE`].
    unsafe fn grow_in_place(_p: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }
    /// Moves the mapping `old_p .. old_p + old` onto `new_p .. new_p + new` (contract 5),
    /// without copying its pages (contract 6). The default cannot.
    ///
    /// # Safety
    /// `old_p .. old_p + old` is a live mapping, or a page-aligned part of one that nothing else
    /// uses; `new_p .. new_p + new` is a page-aligned part of a mapping from `map` that holds
    /// nothing live; `old <= new`, both multiples of [`OS_PAGE`].
    unsafe fn move_to(_old_p: *mut u8, _old: usize, _new_p: *mut u8, _new: usize) -> bool {
        false
    }
    /// Asks the OS to back `p .. p + size` with transparent huge pages (`on`) or no longer
    /// (`!on`): a hint, contents unchanged (contract 7). The default ignores it.
    ///
    /// # Safety
    /// `p .. p + size` is a whole live mapping from [`map`](OsMemory::map), page aligned.
    unsafe fn advise_huge(_p: *mut u8, _size: usize, _on: bool) {}
    /// Which [`OS_PAGE`]s of `p .. p + vec.len() * OS_PAGE` are resident: bit 0 of `vec[i]`
    /// for page `i` (contract 7). False if the OS cannot tell (the default); `vec` is then
    /// unspecified.
    ///
    /// # Safety
    /// The range lies inside a live mapping from [`map`](OsMemory::map), page aligned.
    unsafe fn residency(_p: *mut u8, _vec: &mut [u8]) -> bool {
        false
    }
}

/// Linux `mmap`/`munmap`/`madvise`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemOs;

// SAFETY: mmap of anonymous private memory is zero-filled and exclusive (1); MADV_DONTNEED on
// private anonymous memory keeps the mapping and zero-fills on next touch (2); libc calls do
// not allocate through Rust's global allocator and cannot panic (3); MADV_HUGEPAGE and
// MADV_NOHUGEPAGE only set a flag on the mapping (7).
unsafe impl OsMemory for SystemOs {
    const MOVES: bool = true;

    fn map(size: usize, align: usize) -> *mut u8 {
        debug_assert!(align.is_power_of_two() && size % OS_PAGE == 0);
        if align <= OS_PAGE {
            return raw_map(size);
        }
        // Over-reserve and trim both ends so the result is aligned.
        let Some(total) = size.checked_add(align) else {
            return ptr::null_mut();
        };
        let p = raw_map(total);
        if p.is_null() {
            return p;
        }
        let aligned = p.map_addr(|a| (a + align - 1) & !(align - 1));
        let head = aligned.addr() - p.addr();
        let tail = total - head - size;
        // SAFETY: both trimmed pieces lie inside the mapping just created and are page aligned
        // (mmap returns page-aligned memory; `align` and `size` are page multiples).
        unsafe {
            if head != 0 {
                libc::munmap(p.cast(), head);
            }
            if tail != 0 {
                libc::munmap(aligned.add(size).cast(), tail);
            }
        }
        aligned
    }

    unsafe fn unmap(p: *mut u8, size: usize) {
        // SAFETY: the caller passes a range obtained from `map` (trait contract).
        unsafe { libc::munmap(p.cast(), size) };
    }

    unsafe fn decommit(p: *mut u8, size: usize) {
        // SAFETY: the caller passes a page-aligned range inside a live private anonymous
        // mapping with nothing live in it.
        unsafe { libc::madvise(p.cast(), size, libc::MADV_DONTNEED) };
    }

    unsafe fn discard(p: *mut u8, size: usize) {
        // SAFETY: the caller passes a page-aligned range inside a live private anonymous
        // mapping with nothing live in it; MADV_FREE keeps the mapping, and the pages read
        // either their old bytes or zero (4). Kernels without MADV_FREE: decommit instead.
        if unsafe { libc::madvise(p.cast(), size, libc::MADV_FREE) } != 0 {
            // SAFETY: as above.
            unsafe { Self::decommit(p, size) };
        }
    }

    unsafe fn grow_in_place(p: *mut u8, old: usize, new: usize) -> bool {
        // SAFETY: without MREMAP_MAYMOVE the kernel either extends the private anonymous
        // mapping in place (the tail zero-filled) or fails and leaves it unchanged (5).
        let r = unsafe { libc::mremap(p.cast(), old, new, 0) };
        r != libc::MAP_FAILED
    }

    unsafe fn move_to(old_p: *mut u8, old: usize, new_p: *mut u8, new: usize) -> bool {
        debug_assert!(old <= new);
        // SAFETY: MREMAP_MAYMOVE | MREMAP_FIXED moves the page tables of the old mapping onto
        // the first `old` bytes of `new_p .. new_p + new` (first unmapping that part of the
        // reservation, which holds nothing live per the caller); the rest of the reservation
        // stays as it was: fresh, zero-filled pages (6). The mapping is moved at its own
        // length rather than grown by mremap, which valgrind's memcheck does not track for
        // fixed moves. On failure nothing changes.
        let r = unsafe {
            libc::mremap(
                old_p.cast(),
                old,
                old,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                new_p.cast::<libc::c_void>(),
            )
        };
        r != libc::MAP_FAILED
    }

    unsafe fn advise_huge(p: *mut u8, size: usize, on: bool) {
        let advice = if on {
            libc::MADV_HUGEPAGE
        } else {
            libc::MADV_NOHUGEPAGE
        };
        // SAFETY: the caller passes a page-aligned range of a live private anonymous mapping;
        // the advice changes how later faults are backed, never the contents (7). A kernel
        // without transparent huge pages answers EINVAL, which changes nothing: ignored.
        unsafe { libc::madvise(p.cast(), size, advice) };
    }

    unsafe fn residency(p: *mut u8, vec: &mut [u8]) -> bool {
        // SAFETY: the caller passes a page-aligned range of a live mapping; `vec` has one byte
        // per page of it, which is what mincore writes; it changes nothing (7).
        unsafe { libc::mincore(p.cast(), vec.len() * OS_PAGE, vec.as_mut_ptr()) == 0 }
    }
}

/// Private anonymous memory, not counted against the commit limit until touched.
#[cfg(not(miri))]
const MAP_FLAGS: libc::c_int = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
/// Miri's `mmap` accepts no other flags; `MAP_NORESERVE` changes only the kernel's accounting
/// (the segment registry's lazily touched bitmap is the one mapping Miri runs through here).
#[cfg(miri)]
const MAP_FLAGS: libc::c_int = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;

fn raw_map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at a kernel-chosen address has no preconditions.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            MAP_FLAGS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        // The metadata lookups (`segment_of`, P1) find a mapping again from an address.
        let _ = p.expose_provenance();
        p.cast()
    }
}
