//! Statistics a C program can see: `hz3_stats_print`, `hz3_stats_print_fd`, `hz3_stat`, glibc's
//! `malloc_stats`, `mallinfo2` and `mallinfo`, the `HZ3_SHOW_STATS=1` table at exit and the
//! `HZ3_VERBOSE=1` options line at start (the load-time hook that reads the options lives here,
//! beside the exit hook, so [`options`] needs nothing from this module).
//!
//! Nothing here allocates: text is formatted into a buffer on the stack and written with
//! `write(2)` (a `FILE *` is flushed first and written through its descriptor, so its
//! buffered text keeps its order). The figures come from `hz3_alloc::process_stats()`
//! (slow-path counters, every flavour), the resident set size from `/proc/self/statm` and
//! `getrusage`, and, in a build with the `stats` feature, the strategy counters of
//! `Hz3::<_, WithStats>::stats()`.

use crate::{options, CAlloc, Flavour};
use core::ffi::{c_char, c_int};
use hz3_alloc::{process_stats, Config, ProcessStats};

/// Where a table goes.
#[derive(Clone, Copy)]
enum Sink {
    /// A file descriptor (`write(2)`).
    Fd(c_int),
    /// A stream without a descriptor (`fwrite`).
    File(*mut libc::FILE),
}

/// A buffer on the stack, written to its sink when full and when dropped.
struct Out {
    sink: Sink,
    buf: [u8; 1024],
    len: usize,
}

impl Out {
    fn new(sink: Sink) -> Self {
        Out {
            sink,
            buf: [0; 1024],
            len: 0,
        }
    }

    fn bytes(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        self
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    fn u64(&mut self, mut v: u64) -> &mut Self {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&d[i..])
    }

    /// `v` bytes as `12.3 MiB` (one decimal, binary units).
    fn size(&mut self, v: u64) -> &mut Self {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut unit = 0;
        let mut scale = 1u64;
        while unit + 1 < UNITS.len() && v >= scale * 1024 {
            scale *= 1024;
            unit += 1;
        }
        if unit == 0 {
            return self.u64(v).str(" B");
        }
        let tenths = (v as u128 * 10 + scale as u128 / 2) / scale as u128;
        self.u64((tenths / 10) as u64)
            .str(".")
            .u64((tenths % 10) as u64)
            .str(" ")
            .str(UNITS[unit])
    }

    /// A `name value` line; `bytes` adds the value in binary units.
    fn field(&mut self, name: &str, v: u64, bytes: bool) -> &mut Self {
        self.str("hz3:   ").str(name);
        for _ in name.len()..18 {
            self.str(" ");
        }
        self.u64(v);
        if bytes {
            self.str(" (").size(v).str(")");
        }
        self.str("\n")
    }

    fn flush(&mut self) {
        let fd = match self.sink {
            Sink::Fd(fd) => fd,
            Sink::File(f) => {
                // SAFETY: `f` is a valid stream (`hz3_stats_print`'s contract); `buf[..len]`
                // is initialised.
                unsafe { libc::fwrite(self.buf.as_ptr().cast(), 1, self.len, f) };
                self.len = 0;
                return;
            }
        };
        let mut off = 0;
        while off < self.len {
            // SAFETY: `buf[off..len]` is initialised; write(2) does not allocate.
            let n = unsafe { libc::write(fd, self.buf[off..].as_ptr().cast(), self.len - off) };
            if n <= 0 {
                if n < 0 && errno() == libc::EINTR {
                    continue;
                }
                break;
            }
            off += n as usize;
        }
        self.len = 0;
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.flush();
    }
}

fn errno() -> c_int {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Resident set size now and at its peak, in bytes (`/proc/self/statm`, `getrusage`); 0 if
/// unavailable.
fn rss() -> (u64, u64) {
    let mut cur = 0u64;
    let path = b"/proc/self/statm\0";
    // SAFETY: a NUL-terminated path; open/read/close are plain system calls.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            let mut b = [0u8; 128];
            let n = libc::read(fd, b.as_mut_ptr().cast(), b.len());
            libc::close(fd);
            if n > 0 {
                // Second field: resident pages.
                let mut fields = b[..n as usize].split(|&c| c == b' ');
                let pages = fields.nth(1).map_or(0, |f| {
                    f.iter()
                        .take_while(|c| c.is_ascii_digit())
                        .fold(0u64, |a, &c| a * 10 + (c - b'0') as u64)
                });
                cur = pages * crate::page_size() as u64;
            }
        }
    }
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: a valid out pointer.
    let peak = if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
        ru.ru_maxrss.max(0) as u64 * 1024
    } else {
        0
    };
    (cur, peak)
}

/// Writes the statistics table to `fd`.
pub fn print_fd(fd: c_int) {
    print(Sink::Fd(fd));
}

fn print(sink: Sink) {
    let s = process_stats();
    let (rss, rss_peak) = rss();
    let mut o = Out::new(sink);
    o.str("hz3: process statistics (strategy ")
        .str(CAlloc::STRATEGY)
        .str(", flavour ")
        .str(Flavour::NAME)
        .str(")\n");
    for (name, v) in s.fields() {
        let bytes = matches!(
            name,
            "mapped" | "mapped_peak" | "dirty" | "purged" | "large_bytes" | "large_cached"
        );
        o.field(name, v, bytes);
    }
    o.field("rss", rss, true);
    o.field("rss_peak", rss_peak, true);
    if Flavour::STATS {
        o.str("hz3: strategy counters (all threads)\n");
        for (name, v) in CAlloc::stats().fields() {
            o.field(name, v, false);
        }
    }
}

/// Writes the options line (`HZ3_VERBOSE=1`) to standard error.
pub fn print_options() {
    let mut o = Out::new(Sink::Fd(2));
    o.str("hz3: options:");
    for name in options::NAMES {
        o.str(" ")
            .str(name)
            .str("=")
            .u64(options::get(name.as_bytes()).unwrap_or(0));
    }
    o.str(" (strategy ")
        .str(CAlloc::STRATEGY)
        .str(", flavour ")
        .str(Flavour::NAME)
        .str(")\n");
}

/// Prints the process statistics to `fd` (a file descriptor; 2 = standard error).
#[no_mangle]
pub extern "C" fn hz3_stats_print_fd(fd: c_int) {
    print_fd(fd);
}

/// Prints the process statistics to `out` (standard error if null). The stream is flushed
/// first and the table written through its descriptor, so hz3 allocates nothing and the
/// stream's text keeps its order; a stream without a descriptor (`fmemopen`,
/// `open_memstream`) gets it through `fwrite`.
///
/// # Safety
/// `out` is null or a valid open `FILE *`.
#[no_mangle]
pub unsafe extern "C" fn hz3_stats_print(out: *mut libc::FILE) {
    if out.is_null() {
        return print_fd(2);
    }
    // SAFETY: a valid stream per the contract.
    unsafe { libc::fflush(out) };
    // SAFETY: as above.
    let fd = unsafe { libc::fileno(out) };
    print(if fd >= 0 {
        Sink::Fd(fd)
    } else {
        Sink::File(out)
    });
}

/// One process statistic by name (the names of `hz3_stats_print`: `mapped`, `mapped_peak`,
/// `mmap_calls`, `munmap_calls`, `dirty`, `purged`, `segments`, `segments_cached`,
/// `large_blocks`, `large_bytes`, `large_cached`, `heaps_created`, `heaps_pooled`); -1 for an
/// unknown name or a null pointer.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hz3_stat(name: *const c_char) -> i64 {
    if name.is_null() {
        return -1;
    }
    // SAFETY: a NUL-terminated string per the contract.
    let name = unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes();
    process_stats()
        .fields()
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map_or(-1, |&(_, v)| v.min(i64::MAX as u64) as i64)
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Mallinfo2 {
    pub arena: usize,
    pub ordblks: usize,
    pub smblks: usize,
    pub hblks: usize,
    pub hblkhd: usize,
    pub usmblks: usize,
    pub fsmblks: usize,
    pub uordblks: usize,
    pub fordblks: usize,
    pub keepcost: usize,
}

/// glibc's `struct mallinfo` (`int` fields; values saturate at `INT_MAX`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Mallinfo {
    pub arena: c_int,
    pub ordblks: c_int,
    pub smblks: c_int,
    pub hblks: c_int,
    pub hblkhd: c_int,
    pub usmblks: c_int,
    pub fsmblks: c_int,
    pub uordblks: c_int,
    pub fordblks: c_int,
    pub keepcost: c_int,
}

/// `mallinfo2` from the process statistics (see `include/hz3.h` for the meaning of each
/// field under hz3).
pub fn mallinfo2() -> Mallinfo2 {
    from_stats(&process_stats())
}

fn from_stats(s: &ProcessStats) -> Mallinfo2 {
    let z = |v: u64| v as usize;
    let arena = z(s.segment_bytes());
    let fordblks = (z(s.dirty) + z(s.segments_cached) * hz3_page::SEGMENT_SIZE).min(arena);
    Mallinfo2 {
        arena,
        ordblks: z(s.segments_cached),
        smblks: 0,
        hblks: z(s.large_blocks),
        hblkhd: z(s.large_bytes),
        usmblks: z(s.mapped_peak),
        fsmblks: z(s.large_cached),
        uordblks: arena - fordblks,
        fordblks,
        keepcost: 0,
    }
}

/// `mallinfo` (the `int` version of [`mallinfo2`]).
pub fn mallinfo() -> Mallinfo {
    let m = mallinfo2();
    let i = |v: usize| v.min(c_int::MAX as usize) as c_int;
    Mallinfo {
        arena: i(m.arena),
        ordblks: i(m.ordblks),
        smblks: i(m.smblks),
        hblks: i(m.hblks),
        hblkhd: i(m.hblkhd),
        usmblks: i(m.usmblks),
        fsmblks: i(m.fsmblks),
        uordblks: i(m.uordblks),
        fordblks: i(m.fordblks),
        keepcost: i(m.keepcost),
    }
}

extern "C" fn show_stats_at_exit() {
    if options::show_stats() {
        print_fd(2);
    }
}

/// Prints the table at exit when `HZ3_SHOW_STATS=1` (a `.fini_array` entry: runs after the
/// program's `atexit` handlers, registers nothing, allocates nothing).
#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = show_stats_at_exit;

extern "C" fn init_from_environment() {
    options::init();
    if options::verbose() {
        print_options();
    }
}

/// Reads the options ([`options::init`]) when the library is loaded (preloaded or linked), and
/// prints the options line when `HZ3_VERBOSE=1`.
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init_from_environment;
