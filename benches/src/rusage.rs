//! Page faults and CPU time of this process (`getrusage(RUSAGE_SELF)`), reported by every run
//! beside peak RSS: the OS-boundary workloads are decided as much by faults and system time as by
//! the allocator's own instructions.

/// What `getrusage(RUSAGE_SELF)` says about the whole process (every thread, including threads
/// that have exited), from its start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    /// `ru_minflt`: page faults served without I/O (first touch of a page, mostly).
    pub minor_faults: u64,
    /// `ru_majflt`: page faults that needed I/O.
    pub major_faults: u64,
    /// `ru_utime` in seconds.
    pub user_s: f64,
    /// `ru_stime` in seconds (mmap, munmap, madvise, page-fault handling, futexes, ...).
    pub sys_s: f64,
}

fn secs(tv: libc::timeval) -> f64 {
    // Whole microseconds first, one division: 0.047877, not 0.047876999999999996.
    (tv.tv_sec as f64 * 1e6 + tv.tv_usec as f64) / 1e6
}

/// This process's usage so far; `None` when `getrusage` fails.
pub fn self_usage() -> Option<Usage> {
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes is a valid value.
    let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return None;
    }
    Some(Usage {
        minor_faults: ru.ru_minflt as u64,
        major_faults: ru.ru_majflt as u64,
        user_s: secs(ru.ru_utime),
        sys_s: secs(ru.ru_stime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_fresh_pages_counts_minor_faults() {
        let before = self_usage().unwrap();
        // 32 MiB of fresh pages, each touched once. Mapped here rather than taken from the
        // test's allocator: a heap that another test of this binary freed into could hand back
        // pages that are already resident, and then nothing would fault.
        const LEN: usize = 32 << 20;
        // SAFETY: an anonymous private mapping with no address hint; checked below.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        for i in (0..LEN).step_by(4096) {
            // SAFETY: `i < LEN`, inside the writable mapping.
            unsafe { p.cast::<u8>().add(i).write_volatile(1) };
        }
        let after = self_usage().unwrap();
        // At least a few faults (huge pages may serve 2 MiB per fault).
        assert!(
            after.minor_faults > before.minor_faults,
            "{before:?} -> {after:?}"
        );
        assert!(after.user_s >= before.user_s && after.sys_s >= before.sys_s);
        // SAFETY: the mapping made above, unmapped once.
        assert_eq!(unsafe { libc::munmap(p, LEN) }, 0);
    }
}
