//! The bench binaries: the strategy list and src/bin agree, and each binary speaks its CLI.

use std::path::Path;
use std::process::Command;

use hz3_bench::allocators::{fast_bin_source, stats_bin_source, HZ3};

fn bin_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin")
}

#[test]
fn every_strategy_has_its_two_binaries_and_nothing_else() {
    let dir = bin_dir();
    for e in HZ3 {
        for (file, want) in [
            (format!("bench-{}.rs", e.name), fast_bin_source(e.module)),
            (
                format!("bench-{}-stats.rs", e.name),
                stats_bin_source(e.module),
            ),
        ] {
            let got = std::fs::read_to_string(dir.join(&file)).unwrap_or_default();
            assert_eq!(
                got, want,
                "src/bin/{file} is missing or stale: run `cargo xtask sync-bins`"
            );
        }
    }
    for f in std::fs::read_dir(&dir).unwrap().flatten() {
        let f = f.file_name().to_string_lossy().into_owned();
        if let Some(name) = f.strip_prefix("bench-").and_then(|s| s.strip_suffix(".rs")) {
            let name = name.strip_suffix("-stats").unwrap_or(name);
            assert!(
                name == "system" || HZ3.iter().any(|e| e.name == name),
                "src/bin/{f} is not in the strategy list: run `cargo xtask sync-bins`"
            );
        }
    }
}

#[test]
fn every_binary_is_declared_in_the_manifest() {
    let toml =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut names = vec!["bench-system".to_string()];
    names.extend(
        hz3_bench::allocators::PEERS
            .iter()
            .map(|p| format!("bench-{p}")),
    );
    for e in HZ3 {
        names.push(format!("bench-{}", e.name));
        names.push(format!("bench-{}-stats", e.name));
    }
    for n in names {
        assert!(
            toml.contains(&format!("name = \"{n}\"")),
            "{n} is not declared in benches/Cargo.toml: run `cargo xtask sync-bins`"
        );
    }
}

fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn bench_system_prints_one_json_line() {
    let bin = env!("CARGO_BIN_EXE_bench-system");
    let (code, out, err) = run(bin, &["local-fixed", "--iters", "1000"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["schema"], "hz3-bench-run/1");
    assert_eq!(v["allocator"], "system");
    assert_eq!(v["workload"], "local-fixed");
    assert_eq!(v["threads"], 1);
    assert_eq!(v["ops"], 1000);
    assert_eq!(v["unit"], "pairs/s");
    assert_eq!(v["higher_is_better"], true);
    assert!(v["value"].as_f64().unwrap() > 0.0);
    assert!(v["peak_rss_kib"].as_u64().unwrap() > 0);
    // getrusage(RUSAGE_SELF) of the whole process: starting one faults in pages.
    assert!(v["minor_faults"].as_u64().unwrap() > 0);
    assert!(v["major_faults"].as_u64().is_some());
    assert!(v["user_s"].as_f64().unwrap() >= 0.0 && v["sys_s"].as_f64().unwrap() >= 0.0);
    assert!(v["stats"].is_null());

    let (code, out, _) = run(
        bin,
        &["mt-remote-r50", "--threads", "2", "--duration-ms", "20"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["threads"], 2);
    let rate = v["extra"]["fallback_rate"].as_f64().unwrap();
    assert_eq!(v["valid"].as_bool().unwrap(), rate <= 0.001);

    // threads-many reports its live thread count as `threads`, and its footprint per thread.
    let (code, out, err) = run(
        bin,
        &["threads-many", "--live-threads", "8", "--iters", "1"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["threads"].as_u64(), v["unit"].as_str()),
        (Some(8), Some("threads/s"))
    );
    assert_eq!(v["ops"], 8);
    assert_eq!(v["extra"]["live_threads"], 8.0);
    assert!(v["extra"]["rss_per_thread_kib"].as_f64().is_some());

    let (code, out, _) = run(bin, &["list"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["workloads"].as_array().unwrap().len(),
        hz3_bench::workloads::WORKLOAD_NAMES.len()
    );
    assert!(v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "large-churn"));
    assert!(v["allocators"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "hz3-c-packed"));
}

#[test]
fn bench_binaries_reject_bad_input() {
    let bin = env!("CARGO_BIN_EXE_bench-system");
    for args in [
        &["frobnicate"][..],
        &[][..],
        &["xmalloc", "--threads", "0"][..],
        &["xmalloc", "--threads"][..],
        &["xmalloc", "--iters", "5", "--duration-ms", "5"][..],
        &["xmalloc", "--bogus"][..],
    ] {
        let (code, out, err) = run(bin, args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}");
        assert!(err.contains("usage:"), "{args:?}: {err}");
    }
    let (_, _, err) = run(bin, &["frobnicate"]);
    assert!(err.contains("unknown workload \"frobnicate\""), "{err}");
}

#[test]
fn hz3_stats_binary_prints_the_snapshot() {
    let bin = env!("CARGO_BIN_EXE_bench-hz3-c-stats");
    let (code, out, err) = run(bin, &["xmalloc", "--threads", "1", "--iters", "2"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["allocator"], "hz3-c");
    let stats = v["stats"].as_object().expect("stats object");
    assert!(stats.contains_key("remote_frees"));
    assert!(stats["derived"]
        .as_object()
        .unwrap()
        .contains_key("rmw_per_remote_free"));
    // The timed-pass binary prints no stats.
    let (code, out, _) = run(
        env!("CARGO_BIN_EXE_bench-hz3-c"),
        &["local-fixed", "--iters", "100"],
    );
    assert_eq!(code, 0);
    assert!(serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["stats"].is_null());
}
