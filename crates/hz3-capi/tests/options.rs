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
        (out.stdout_str().trim().to_string(), out.stderr_str().to_string())
    };
    let (out, err) = run(&[]);
    assert_eq!(out, "purge_delay_ms=100 purge_cap_mb=256 large_cache_mb=128 unknown=-1", "{err}");
    assert!(!err.contains("hz3: warning"), "{err}");

    let (out, _) = run(&[("HZ3_PURGE_DELAY_MS", "0"), ("HZ3_PURGE_CAP_MB", "32"), ("HZ3_LARGE_CACHE_MB", "0")]);
    assert_eq!(out, "purge_delay_ms=0 purge_cap_mb=32 large_cache_mb=0 unknown=-1");

    let (out, err) = run(&[("HZ3_NO_SUCH_KNOB", "1"), ("HZ3_PURGE_CAP_MB", "lots")]);
    assert_eq!(out, "purge_delay_ms=100 purge_cap_mb=256 large_cache_mb=128 unknown=-1");
    assert!(err.contains("hz3: warning: unknown option HZ3_NO_SUCH_KNOB (ignored)"), "{err}");
    assert!(err.contains("hz3: warning: HZ3_PURGE_CAP_MB=lots is not a number (ignored)"), "{err}");
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
