//! Peak resident set size of this process.

/// Peak RSS in KiB: `getrusage(RUSAGE_SELF).ru_maxrss` (KiB on Linux), falling back to
/// `VmHWM` from `/proc/self/status`. Returns 0 when neither is available.
pub fn peak_rss_kib() -> u64 {
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes is a valid value.
    let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc == 0 && ru.ru_maxrss > 0 {
        return ru.ru_maxrss as u64;
    }
    vm_hwm_kib().unwrap_or(0)
}

/// The current RSS in KiB: the second field of `/proc/self/statm` (pages) × the page size.
/// `None` when it cannot be read.
pub fn current_rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    Some(pages * page / 1024)
}

/// `VmHWM` (peak RSS) from `/proc/self/status`, in KiB.
pub fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_status_kib(&status, "VmHWM:")
}

/// Extracts a `Key:   123 kB` line from a `/proc/<pid>/status` text.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The growth check runs in a child process (this test binary, running only
    /// `peak_rss_child`): the peak is per process, so another test of this binary that touched
    /// more memory first would leave nothing for a 64 MiB vector to raise.
    #[test]
    fn peak_rss_is_positive_and_grows() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "rss::tests::peak_rss_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HZ3_PEAK_RSS_CHILD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("peak-rss-child: ok"),
            "child {:?}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The child half of `peak_rss_is_positive_and_grows`; does nothing unless
    /// `HZ3_PEAK_RSS_CHILD` is set (a fresh process running this test alone).
    #[test]
    fn peak_rss_child() {
        if std::env::var_os("HZ3_PEAK_RSS_CHILD").is_none() {
            return;
        }
        let before = peak_rss_kib();
        assert!(before > 0);
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
        let after = peak_rss_kib();
        // Grows (by how much is up to the kernel: this machine may reclaim pages at any time).
        assert!(after > before, "before {before} after {after}");
        println!("peak-rss-child: ok");
    }

    #[test]
    fn current_rss_is_positive_and_below_the_peak() {
        let now = current_rss_kib().unwrap();
        assert!(now > 0 && now <= peak_rss_kib() + 1024, "{now}");
    }

    #[test]
    fn parses_status_lines() {
        let s = "Name:\tx\nVmPeak:\t  1000 kB\nVmHWM:\t  2345 kB\n";
        assert_eq!(parse_status_kib(s, "VmHWM:"), Some(2345));
        assert_eq!(parse_status_kib(s, "VmRSS:"), None);
    }
}
