//! # hz3-capi — hz3 as a drop-in `malloc`
//!
//! Builds `libhz3_capi.so` (for `LD_PRELOAD`) and `libhz3_capi.a` (for linking) exporting the
//! C allocation API — `malloc`, `free`, `calloc`, `realloc`, `reallocarray`, `posix_memalign`,
//! `aligned_alloc`, `memalign`, `valloc`, `pvalloc`, `malloc_usable_size`, `free_sized`,
//! `free_aligned_sized`, `cfree`, `malloc_trim` and glibc's `__libc_*` aliases — plus the
//! hz3-specific functions declared in `include/hz3.h`.
//!
//! ```sh
//! cargo build --release -p hz3-capi
//! LD_PRELOAD=$PWD/target/release/libhz3_capi.so python3 -c 'print(sum(range(10**6)))'
//! ```
//!
//! C semantics: a null result sets `errno = ENOMEM` (including `calloc`/`reallocarray`
//! overflow and sizes above `PTRDIFF_MAX`); `posix_memalign` returns `EINVAL` for a bad
//! alignment and leaves the out-pointer untouched; `realloc(NULL, n) == malloc(n)` and
//! `realloc(p, 0)` frees `p` and returns NULL, as glibc does; `realloc` keeps a block that
//! still fits and is at least half used, and gives a growing block of 16 KiB or more 1.5× its
//! size (hz3-alloc's rules R1 and R2), so a buffer grown in small steps is rarely copied.
//! Nothing here panics, and the allocator needs no Rust runtime: it works from the first
//! `malloc` of a process, in threads created by C code (thread exit through a pthread key
//! destructor), and across `fork` (`pthread_atfork` handlers hold the allocator's global
//! locks).
//!
//! The strategy is the Rust default ([`hz3_alloc::Hz3`]) unless the build-time variable
//! `HZ3_STRATEGY` names another by its short name (`HZ3_STRATEGY=c cargo build --release -p
//! hz3-capi`; the names are `hz3_alloc::STRATEGIES`' second column), so each variant can be
//! preloaded. The flavour is
//! [`Fast`](hz3_alloc::config::Fast) unless the `checked` feature builds the guarded library
//! ([`Checked`](hz3_alloc::config::Checked): `free`/`realloc`/`delete` of a freed, interior,
//! stack, global or foreign pointer abort with a fixed line, see `docs/reliability.md`) or the
//! `stats` feature the counting one ([`WithStats`](hz3_alloc::config::WithStats): the
//! strategy counters join the statistics table).
//!
//! Also exported: the C++ `operator new`/`delete` family ([`cxx`]), the statistics
//! (`hz3_stats_print`, `malloc_stats`, `mallinfo2`, `mallinfo`: [`stats`]) and the options
//! from the environment ([`options`], `docs/options.md`).

#[cfg(not(feature = "no-override"))]
pub mod cxx;
pub mod options;
pub mod stats;

use core::ffi::{c_int, c_void};
use core::ptr;
use hz3_alloc::Hz3;

/// Declares `type Strategy` from the strategy catalogue (`hz3_alloc::for_each_strategy!`):
/// the strategy whose short name the build-time variable `HZ3_STRATEGY` gives (build.rs turns
/// it into the `hz3_strategy` cfg), else the Rust default. A name the catalogue lacks stops
/// the build. Nothing here names a strategy, so a new one needs no line in this crate.
macro_rules! pick_strategy {
    ($(($m:ident, $name:literal, $short:literal, $ty:ident, $alias:ident, $doc:literal);)*) => {
        $(
            #[cfg(hz3_strategy = $short)]
            type Strategy = hz3_alloc::strategy::$ty;
        )*
        #[cfg(not(hz3_strategy_set))]
        type Strategy = hz3_alloc::DefaultStrategy;
        #[cfg(all(hz3_strategy_set, not(any($(hz3_strategy = $short),*))))]
        compile_error!("HZ3_STRATEGY names no strategy of hz3_alloc::for_each_strategy!");
    };
}

hz3_alloc::for_each_strategy!(pick_strategy);

#[cfg(feature = "checked")]
pub type Flavour = hz3_alloc::config::Checked;
/// The flavour of this build (`checked` and `stats` features; `checked` wins if both are set).
#[cfg(all(not(feature = "checked"), feature = "stats"))]
pub type Flavour = hz3_alloc::config::WithStats;
/// The flavour of this build (`checked` and `stats` features; `checked` wins if both are set).
#[cfg(not(any(feature = "checked", feature = "stats")))]
pub type Flavour = hz3_alloc::config::Fast;

/// The allocator instance behind the C API.
pub type CAlloc = Hz3<Strategy, Flavour>;

/// `malloc`'s guaranteed alignment (`alignof(max_align_t)` on x86-64 and aarch64 Linux; also
/// `__STDCPP_DEFAULT_NEW_ALIGNMENT__`).
const MIN_ALIGN: usize = 16;
/// The page size `valloc`/`pvalloc` fall back to if `sysconf` fails.
const PAGE: usize = 4096;

#[inline(always)]
fn set_errno(e: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

#[inline(always)]
fn enomem_if_null(p: *mut u8) -> *mut c_void {
    if p.is_null() {
        set_errno(libc::ENOMEM);
    }
    p.cast()
}

/// Allocation with C semantics (ENOMEM on failure): the bin's block, else a tail call to
/// [`c_malloc_slow`]. With no call to return from, `malloc` keeps no stack frame (two
/// instructions, a push and a pop, fewer per call than when the slow path returned here to
/// set errno).
#[inline(always)]
fn c_malloc(size: usize) -> *mut c_void {
    let p = CAlloc::alloc_cached(size);
    if !p.is_null() {
        return p.cast();
    }
    c_malloc_slow(size)
}

/// `malloc` past its bin: refill, a large block, or the thread's first allocation; ENOMEM on
/// failure.
#[inline(never)]
fn c_malloc_slow(size: usize) -> *mut c_void {
    enomem_if_null(CAlloc::alloc_raw(size, MIN_ALIGN))
}

/// `free` with C semantics (null is a no-op).
///
/// # Safety
/// `p` is null or a live block of this allocator.
#[inline(always)]
unsafe fn c_free(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: the C contract: `p` came from this allocator and is live.
        unsafe { CAlloc::free_raw(p.cast()) }
    }
}

fn c_calloc(n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => enomem_if_null(CAlloc::alloc_zeroed_raw(total, MIN_ALIGN)),
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

unsafe fn c_realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return c_malloc(size);
    }
    if size == 0 {
        // SAFETY: C contract.
        unsafe { c_free(p) };
        return ptr::null_mut();
    }
    // SAFETY: C contract: `p` is a live block of this allocator.
    enomem_if_null(unsafe { CAlloc::realloc_raw(p.cast(), size, MIN_ALIGN) })
}

fn c_aligned(align: usize, size: usize) -> *mut c_void {
    enomem_if_null(CAlloc::alloc_raw(size, align.max(MIN_ALIGN)))
}

fn c_memalign(align: usize, size: usize) -> *mut c_void {
    // glibc rounds a non-power-of-two alignment up to the next power of two; an alignment
    // that cannot be satisfied is an out-of-memory condition, as in glibc.
    match align.checked_next_power_of_two() {
        Some(a) if a <= isize::MAX as usize / 2 => c_aligned(a, size),
        Some(_) => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
        None => {
            // The rounding itself overflows: glibc reports EINVAL.
            set_errno(libc::EINVAL);
            ptr::null_mut()
        }
    }
}

/// The OS page size (`sysconf(_SC_PAGESIZE)`, read once; 4096 if unavailable).
fn page_size() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE_SIZE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf has no preconditions and does not allocate.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let v = if v > 0 && (v as usize).is_power_of_two() {
        v as usize
    } else {
        PAGE
    };
    PAGE_SIZE.store(v, Ordering::Relaxed);
    v
}

unsafe fn c_posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || !align.is_multiple_of(core::mem::size_of::<*mut c_void>()) {
        return libc::EINVAL;
    }
    let p = CAlloc::alloc_raw(size, align.max(MIN_ALIGN));
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: the caller passes a valid out-pointer (C contract).
    unsafe { *out = p.cast() };
    0
}

fn c_aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    }
    c_aligned(align, size)
}

fn c_pvalloc(size: usize) -> *mut c_void {
    let page = page_size();
    match size.checked_add(page - 1) {
        Some(s) => c_aligned(page, (s & !(page - 1)).max(page)),
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

unsafe fn c_usable_size(p: *mut c_void) -> usize {
    if p.is_null() {
        0
    } else {
        // SAFETY: C contract: a live block of this allocator.
        unsafe { CAlloc::usable_size(p.cast()) }
    }
}

/// Declares each C symbol twice: under its standard name (unless `no-override`) and under an
/// `hz3_` name that is always exported.
macro_rules! export {
    ($( $(#[$m:meta])* fn $name:ident / $hz3:ident ( $($a:ident : $t:ty),* ) -> $r:ty = $body:expr; )*) => {$(
        $(#[$m])*
        ///
        /// # Safety
        /// The C contract of the standard function of the same name.
        #[cfg_attr(not(feature = "no-override"), no_mangle)]
        pub unsafe extern "C" fn $name($($a: $t),*) -> $r {
            // SAFETY: forwarded C contract.
            #[allow(unused_unsafe)]
            unsafe { $body }
        }
        $(#[$m])*
        ///
        /// # Safety
        /// The C contract of the standard function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $hz3($($a: $t),*) -> $r {
            // SAFETY: forwarded C contract.
            #[allow(unused_unsafe)]
            unsafe { $body }
        }
    )*};
}

export! {
    /// C `malloc`.
    fn malloc / hz3_malloc(size: usize) -> *mut c_void = c_malloc(size);
    /// C `free`.
    fn free / hz3_free(p: *mut c_void) -> () = c_free(p);
    /// C `calloc`.
    fn calloc / hz3_calloc(n: usize, size: usize) -> *mut c_void = c_calloc(n, size);
    /// C `realloc`.
    fn realloc / hz3_realloc(p: *mut c_void, size: usize) -> *mut c_void = c_realloc(p, size);
    /// C `reallocarray`.
    fn reallocarray / hz3_reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void =
        match n.checked_mul(size) {
            Some(total) => c_realloc(p, total),
            None => { set_errno(libc::ENOMEM); ptr::null_mut() }
        };
    /// C `posix_memalign`.
    fn posix_memalign / hz3_posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int =
        c_posix_memalign(out, align, size);
    /// C11 `aligned_alloc`.
    fn aligned_alloc / hz3_aligned_alloc(align: usize, size: usize) -> *mut c_void =
        c_aligned_alloc(align, size);
    /// `memalign`.
    fn memalign / hz3_memalign(align: usize, size: usize) -> *mut c_void = c_memalign(align, size);
    /// `valloc`.
    fn valloc / hz3_valloc(size: usize) -> *mut c_void = c_aligned(page_size(), size);
    /// `pvalloc`.
    fn pvalloc / hz3_pvalloc(size: usize) -> *mut c_void = c_pvalloc(size);
    /// `malloc_usable_size`.
    fn malloc_usable_size / hz3_malloc_usable_size(p: *mut c_void) -> usize = c_usable_size(p);
    /// C23 `free_sized`.
    fn free_sized / hz3_free_sized(p: *mut c_void, _size: usize) -> () = c_free(p);
    /// C23 `free_aligned_sized`.
    fn free_aligned_sized / hz3_free_aligned_sized(p: *mut c_void, _align: usize, _size: usize) -> () =
        c_free(p);
    /// `cfree` (obsolete alias of `free`).
    fn cfree / hz3_cfree(p: *mut c_void) -> () = c_free(p);
    /// glibc alias of `malloc`.
    fn __libc_malloc / hz3___libc_malloc(size: usize) -> *mut c_void = c_malloc(size);
    /// glibc alias of `free`.
    fn __libc_free / hz3___libc_free(p: *mut c_void) -> () = c_free(p);
    /// glibc alias of `calloc`.
    fn __libc_calloc / hz3___libc_calloc(n: usize, size: usize) -> *mut c_void = c_calloc(n, size);
    /// glibc alias of `realloc`.
    fn __libc_realloc / hz3___libc_realloc(p: *mut c_void, size: usize) -> *mut c_void =
        c_realloc(p, size);
    /// glibc alias of `memalign`.
    fn __libc_memalign / hz3___libc_memalign(align: usize, size: usize) -> *mut c_void =
        c_memalign(align, size);
    /// glibc alias of `valloc`.
    fn __libc_valloc / hz3___libc_valloc(size: usize) -> *mut c_void = c_aligned(page_size(), size);
    /// glibc alias of `pvalloc`.
    fn __libc_pvalloc / hz3___libc_pvalloc(size: usize) -> *mut c_void = c_pvalloc(size);
    /// glibc alias of `posix_memalign`.
    fn __posix_memalign / hz3___posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int =
        c_posix_memalign(out, align, size);
    /// `malloc_trim`: returns cached memory to the OS; always reports 1.
    fn malloc_trim / hz3_malloc_trim(_pad: usize) -> c_int = { CAlloc::collect(); 1 };
    /// glibc's `malloc_stats`: the statistics table on standard error.
    fn malloc_stats / hz3_malloc_stats() -> () = stats::print_fd(2);
    /// glibc's `mallinfo2`, filled from the process statistics (`include/hz3.h`).
    fn mallinfo2 / hz3_mallinfo2() -> stats::Mallinfo2 = stats::mallinfo2();
    /// glibc's `mallinfo` (`int` fields, saturating).
    fn mallinfo / hz3_mallinfo() -> stats::Mallinfo = stats::mallinfo();
}

/// Returns cached memory to the OS (flushes the calling thread's cache, collects heaps of
/// exited threads, releases empty segments).
#[no_mangle]
pub extern "C" fn hz3_collect() {
    CAlloc::collect();
}

/// The current value of an option by its lower-case name without the `HZ3_` prefix
/// (`purge_delay_ms`, `purge_cap_mb`, `large_cache_mb`, `thp_min_mb`, see `docs/options.md`); -1 for an
/// unknown name or a null pointer.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hz3_option(name: *const core::ffi::c_char) -> i64 {
    if name.is_null() {
        return -1;
    }
    // SAFETY: a NUL-terminated string per the contract.
    let name = unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes();
    options::get(name).map_or(-1, |v| v.min(i64::MAX as u64) as i64)
}

/// The strategy of this build as a NUL-terminated string (`"a"`, `"c"`, `"a-cache"`, …).
#[no_mangle]
pub extern "C" fn hz3_strategy() -> *const u8 {
    /// A `match` of the strategy's short name to its NUL-terminated copy, one arm per
    /// strategy of the catalogue.
    macro_rules! c_names {
        ($(($m:ident, $name:literal, $short:literal, $ty:ident, $alias:ident, $doc:literal);)*) => {
            match CAlloc::STRATEGY {
                $($short => concat!($short, "\0").as_ptr(),)*
                _ => b"?\0".as_ptr(),
            }
        };
    }
    hz3_alloc::for_each_strategy!(c_names)
}

#[cfg(test)]
mod tests {
    /// `hz3_strategy()` returns this build's short name.
    #[test]
    fn strategy_name_is_the_builds() {
        // SAFETY: `hz3_strategy` returns a static NUL-terminated string.
        let name = unsafe { core::ffi::CStr::from_ptr(super::hz3_strategy().cast()) };
        assert_eq!(name.to_str().unwrap(), super::CAlloc::STRATEGY);
        // The build-time choice reached the library (`HZ3_STRATEGY`, build.rs).
        if let Some(want) = option_env!("HZ3_STRATEGY").filter(|s| !s.is_empty()) {
            assert_eq!(name.to_str().unwrap(), want);
        }
    }
}
