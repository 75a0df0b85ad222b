//! Statistics a C user can see: `mallinfo2`/`mallinfo`, `malloc_stats`,
//! `hz3_stats_print` (a stream with a descriptor keeps its order; a stream without one gets
//! the table too), `hz3_stat`, and `HZ3_SHOW_STATS=1` printing the table at exit of a real
//! program. Preloaded and linked (shared and static).

mod common;

use common::{compile, scratch, Link, Run};

const HEADER: &str = "hz3: process statistics (strategy a-cache, flavour fast)";

fn stats(link: Link) {
    let dir = scratch(&format!("stats-{}", link.name()));
    let exe = compile(&dir, "stats.c", link, &[]);
    let out = Run::new(&exe)
        .preload_if(link == Link::Plain)
        .timeout(120)
        .output();
    out.assert_success();
    let (so, se) = (out.stdout_str(), out.stderr_str());
    let start = so
        .find("before table\n")
        .expect("stdout starts with the program's line");
    let table = &so[start + "before table\n".len()..];
    assert!(
        table.starts_with(HEADER),
        "{}: the table follows the program's buffered text:\n{so}",
        out.what
    );
    let end = table.find("after table").expect("the program's last line");
    for name in [
        "mapped",
        "mapped_peak",
        "dirty",
        "purged",
        "segments",
        "large_blocks",
        "large_cached",
        "heaps_created",
        "rss",
    ] {
        assert!(
            table[..end]
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(name)),
            "{}: no {name} line in\n{so}",
            out.what
        );
    }
    // malloc_stats() and hz3_stats_print_fd(2): two tables on stderr.
    assert_eq!(se.matches(HEADER).count(), 2, "{}: stderr:\n{se}", out.what);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stats_preloaded() {
    stats(Link::Plain);
}

#[test]
fn stats_linked_shared() {
    stats(Link::Shared);
}

#[test]
fn stats_linked_static() {
    stats(Link::Static);
}

/// `HZ3_SHOW_STATS=1 LD_PRELOAD=libhz3_capi.so python3 -c pass` prints the table at exit
/// (and nothing without the option).
#[test]
fn show_stats_at_exit_of_a_real_program() {
    // The real interpreter (python3 may be a wrapper script, e.g. a pyenv shim, whose own
    // processes would print tables too).
    let probe = Run::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .timeout(120)
        .try_output();
    let python = match probe {
        Some(o) if o.status.success() && !o.stdout_str().trim().is_empty() => {
            o.stdout_str().trim().to_string()
        }
        _ => {
            eprintln!("SKIP: `python3` is not installed on this machine");
            return;
        }
    };
    let out = Run::new(&python)
        .args(["-c", "pass"])
        .env("HZ3_SHOW_STATS", "1")
        .preload()
        .timeout(120)
        .output();
    out.assert_success();
    let se = out.stderr_str();
    assert_eq!(se.matches(HEADER).count(), 1, "{}: stderr:\n{se}", out.what);
    let mapped = se
        .lines()
        .find_map(|l| l.strip_prefix("hz3:   mapped "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("a mapped line with a number");
    assert!(mapped > 0, "python3 maps memory through hz3:\n{se}");
    let quiet = Run::new(&python)
        .args(["-c", "pass"])
        .preload()
        .timeout(120)
        .output();
    quiet.assert_success();
    assert!(
        !quiet.stderr_str().contains("hz3:"),
        "{}",
        quiet.stderr_str()
    );
}
