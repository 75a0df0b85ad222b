//! Options from the environment, read once when the library is loaded (the `.init_array`
//! constructor in [`stats`](crate::stats) calls [`init`]), without allocating: `getenv`-free
//! scan of `environ`, numbers parsed by hand, warnings written with `write(2)`.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HZ3_PURGE_DELAY_MS` | ms a free page, segment or large mapping stays committed before it is returned to the OS; `0` = return at once (eager) | 100 |
//! | `HZ3_PURGE_CAP_MB` | cap on free-but-committed slab pages over all threads (MiB); past it the oldest are returned at once | 256 |
//! | `HZ3_LARGE_CACHE_MB` | byte budget of the cache of freed large mappings (MiB); `0` = unmap large blocks on free | 128 |
//! | `HZ3_THP_MIN_MB` | a thread's heap asks for transparent huge pages on its segments once it holds this many MiB of them (and touches at least half of what it allocates); `0` = never | 16 |
//! | `HZ3_SHOW_STATS` | `1`: print the process statistics to standard error at exit | 0 |
//! | `HZ3_VERBOSE` | `1`: print the options in effect to standard error at start (one line) | 0 |
//!
//! An unknown `HZ3_*` name or a value that is not a decimal number gets a one-line warning on
//! standard error and is ignored; nothing here can abort the program.

use core::sync::atomic::{AtomicBool, Ordering};
use hz3_page::purge;

static SHOW_STATS: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Whether `HZ3_SHOW_STATS` asked for the statistics at exit.
pub fn show_stats() -> bool {
    SHOW_STATS.load(Ordering::Relaxed)
}

/// Whether `HZ3_VERBOSE` asked for the options line at start.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

extern "C" {
    static environ: *const *const u8;
}

fn warn(parts: &[&[u8]]) {
    let mut buf = [0u8; 256];
    let mut n = 0;
    for p in parts {
        for &b in p.iter() {
            if n < buf.len() - 1 {
                buf[n] = b;
                n += 1;
            }
        }
    }
    buf[n] = b'\n';
    n += 1;
    // SAFETY: `buf[..n]` is initialised; write(2) does not allocate.
    unsafe { libc::write(2, buf.as_ptr().cast(), n) };
}

fn parse(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 {
        return None;
    }
    let mut x = 0u64;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        x = x * 10 + (b - b'0') as u64;
    }
    Some(x)
}

/// Applies one `NAME=VALUE` entry whose name starts with `HZ3_`.
pub fn apply(entry: &[u8]) {
    let (name, value) = match entry.iter().position(|&b| b == b'=') {
        Some(i) => (&entry[..i], &entry[i + 1..]),
        None => (entry, &[][..]),
    };
    let set: fn(u64) = match name {
        b"HZ3_PURGE_DELAY_MS" => |v| purge::set_purge_delay_ms(v),
        b"HZ3_PURGE_CAP_MB" => |v| purge::set_purge_cap_bytes((v as usize).saturating_mul(1 << 20)),
        b"HZ3_LARGE_CACHE_MB" => {
            |v| purge::set_large_cache_bytes((v as usize).saturating_mul(1 << 20))
        }
        b"HZ3_THP_MIN_MB" => |v| purge::set_huge_min_bytes((v as usize).saturating_mul(1 << 20)),
        b"HZ3_SHOW_STATS" => |v| SHOW_STATS.store(v != 0, Ordering::Relaxed),
        b"HZ3_VERBOSE" => |v| VERBOSE.store(v != 0, Ordering::Relaxed),
        _ => {
            warn(&[b"hz3: warning: unknown option ", name, b" (ignored)"]);
            return;
        }
    };
    match parse(value) {
        Some(v) => set(v),
        None => warn(&[
            b"hz3: warning: ",
            name,
            b"=",
            value,
            b" is not a number (ignored)",
        ]),
    }
}

/// The current value of an option, by its lower-case name without `HZ3_` (`hz3_option`).
pub fn get(name: &[u8]) -> Option<u64> {
    Some(match name {
        b"purge_delay_ms" => purge::purge_delay_ms(),
        b"purge_cap_mb" => (purge::purge_cap_bytes() >> 20) as u64,
        b"large_cache_mb" => (purge::large_cache_bytes() >> 20) as u64,
        b"thp_min_mb" => (purge::huge_min_bytes() >> 20) as u64,
        b"show_stats" => show_stats() as u64,
        b"verbose" => verbose() as u64,
        _ => return None,
    })
}

/// Reads every `HZ3_*` variable of the environment.
pub fn init() {
    // SAFETY: `environ` is the C library's NUL-terminated array of NUL-terminated strings,
    // valid while no thread changes the environment (we run at load time).
    unsafe {
        let mut e = environ;
        if e.is_null() {
            return;
        }
        while !(*e).is_null() {
            let s = *e;
            let len = libc::strlen(s.cast());
            let entry = core::slice::from_raw_parts(s, len);
            if entry.starts_with(b"HZ3_") {
                apply(entry);
            }
            e = e.add(1);
        }
    }
}

/// The names [`get`] knows, in the order the `HZ3_VERBOSE` line prints them.
pub const NAMES: [&str; 6] = [
    "purge_delay_ms",
    "purge_cap_mb",
    "large_cache_mb",
    "thp_min_mb",
    "show_stats",
    "verbose",
];
