//! Options from the environment (docs/options.md): read at load time, visible through
//! `hz3_option`, unknown names and bad values warned about in one line and ignored, never a
//! crash. Preloaded and linked (shared and static).

mod common;

use common::{compile, scratch, Link, Run};

fn options(link: Link) {
    let dir = scratch(&format!("options-{}", link.name()));
    let exe = compile(&dir, "options.c", link, &[]);
    let run = |env: &[(&str, &str)]| {
        let mut r = Run::new(&exe).preload_if(link == Link::Plain).timeout(120);
        for (k, v) in env {
            r = r.env(k, v);
        }
        let out = r.output();
        out.assert_success();
        (
            out.stdout_str().trim().to_string(),
            out.stderr_str().to_string(),
        )
    };
    let (out, err) = run(&[]);
    assert_eq!(
        out,
        "purge_delay_ms=100 purge_cap_mb=256 large_cache_mb=128 thp_min_mb=16 show_stats=0 verbose=0 unknown=-1",
        "{err}"
    );
    assert!(!err.contains("hz3: warning"), "{err}");

    let (out, err) = run(&[
        ("HZ3_PURGE_DELAY_MS", "0"),
        ("HZ3_PURGE_CAP_MB", "32"),
        ("HZ3_LARGE_CACHE_MB", "0"),
        ("HZ3_THP_MIN_MB", "0"),
    ]);
    assert_eq!(
        out,
        "purge_delay_ms=0 purge_cap_mb=32 large_cache_mb=0 thp_min_mb=0 show_stats=0 verbose=0 unknown=-1"
    );
    assert!(!err.contains("hz3:"), "{err}");

    // HZ3_VERBOSE: one line with the options in effect, at start.
    let (out, err) = run(&[("HZ3_VERBOSE", "1"), ("HZ3_PURGE_DELAY_MS", "250")]);
    assert_eq!(
        out,
        "purge_delay_ms=250 purge_cap_mb=256 large_cache_mb=128 thp_min_mb=16 show_stats=0 verbose=1 unknown=-1"
    );
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("hz3:")).collect();
    assert_eq!(
        lines,
        ["hz3: options: purge_delay_ms=250 purge_cap_mb=256 large_cache_mb=128 thp_min_mb=16 show_stats=0 verbose=1 (strategy a-cache, flavour fast)"],
        "{err}"
    );

    // HZ3_SHOW_STATS: the table at exit (tests/stats.rs checks its content).
    let (out, err) = run(&[("HZ3_SHOW_STATS", "1"), ("HZ3_VERBOSE", "0")]);
    assert_eq!(
        out,
        "purge_delay_ms=100 purge_cap_mb=256 large_cache_mb=128 thp_min_mb=16 show_stats=1 verbose=0 unknown=-1"
    );
    assert!(
        err.contains("hz3: process statistics (strategy a-cache, flavour fast)"),
        "{err}"
    );

    let (_, err) = run(&[("HZ3_SHOW_STATS", "yes"), ("HZ3_VERBOSE", "-1")]);
    assert!(
        err.contains("hz3: warning: HZ3_SHOW_STATS=yes is not a number (ignored)"),
        "{err}"
    );
    assert!(
        err.contains("hz3: warning: HZ3_VERBOSE=-1 is not a number (ignored)"),
        "{err}"
    );
    assert!(!err.contains("hz3: process statistics"), "{err}");

    let (out, err) = run(&[("HZ3_NO_SUCH_KNOB", "1"), ("HZ3_PURGE_CAP_MB", "lots")]);
    assert_eq!(
        out,
        "purge_delay_ms=100 purge_cap_mb=256 large_cache_mb=128 thp_min_mb=16 show_stats=0 verbose=0 unknown=-1"
    );
    assert!(
        err.contains("hz3: warning: unknown option HZ3_NO_SUCH_KNOB (ignored)"),
        "{err}"
    );
    assert!(
        err.contains("hz3: warning: HZ3_PURGE_CAP_MB=lots is not a number (ignored)"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn options_preloaded() {
    options(Link::Plain);
}

#[test]
fn options_linked_shared() {
    options(Link::Shared);
}

#[test]
fn options_linked_static() {
    options(Link::Static);
}
