//! `cargo xtask` — hz3-rs developer tasks. The main one is `cargo xtask bench-matrix`: the S121
//! matrix (every hz3 strategy) side by side with glibc, mimalloc, jemalloc and snmalloc, with a
//! report people read, a JSON file, a chart, and a CI regression gate. See docs/bench-matrix.md.

mod callgrind;
mod chart;
mod cli;
mod gate;
mod report;
mod results;
mod runner;
mod stats;
mod strategies;
mod table;

use std::path::Path;
use std::process::ExitCode;

use cli::{Command, MatrixOpts};
use results::{Cell, Config, Machine, Matrix};

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = runner::workspace_root();
    let strategies = strategies::read_strategies(&root)?;
    let allocators = strategies::allocator_names(&strategies);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    match cli::parse(&args, &allocators, threads)? {
        Command::Help => {
            print!("{}", cli::USAGE);
            Ok(true)
        }
        Command::SyncBins => {
            let changes = strategies::sync_bins(&root, &strategies)?;
            if changes.is_empty() {
                println!("hz3 binaries are in sync with benches/src/allocators.rs");
            }
            for c in changes {
                println!("{c}");
            }
            Ok(true)
        }
        Command::Report(path) => {
            let m = results::load(&path)?;
            println!("machine: {}", m.machine.describe());
            println!();
            print!("{}", report::render_all(&m));
            Ok(true)
        }
        Command::ValidateJson(path) => {
            let m = results::load(&path)?;
            println!(
                "{}: valid {} ({} results)",
                path.display(),
                results::SCHEMA,
                m.cells.len()
            );
            Ok(true)
        }
        Command::Gate {
            baseline,
            current,
            tolerance,
            allow_other_cpu,
        } => {
            let b = results::load(&baseline)?;
            let c = results::load(&current)?;
            for w in gate::check_machines(&b, &c, allow_other_cpu)? {
                println!("{w}");
            }
            Ok(print_gate(&b, &c, tolerance))
        }
        Command::CallgrindGate(o) => callgrind::run(&o),
        Command::Soak(args) => soak(&root, &args).map(|()| true),
        Command::Memcheck => memcheck(&root).map(|()| true),
        Command::BenchMatrix(o) => bench_matrix(&o, &root, &strategies),
    }
}

fn print_gate(baseline: &Matrix, current: &Matrix, tol: cli::Tolerance) -> bool {
    let r = gate::compare(baseline, current, tol);
    println!(
        "== gate: hz3 ratio to {} vs baseline (allowed drop = max({:.0}%, {} × CV of per-round ratios)) ==",
        gate::REFERENCE,
        tol.floor * 100.0,
        tol.noise_k
    );
    print!("{}", r.render());
    let blunt = r.rows.iter().filter(|row| row.tolerance > 0.5).count();
    if blunt > 0 {
        println!(
            "note: {blunt} cell(s) allow a drop above 50% because their per-round ratios vary that much; \
             rerun with --full (more rounds) on a quieter machine for a sharper gate"
        );
    }
    if r.compared() == 0 {
        let (bt, ct) = (baseline.thread_counts(), current.thread_counts());
        let hint = if bt.iter().any(|t| ct.contains(t)) {
            String::new()
        } else {
            format!("; the baseline was measured at --threads {bt:?}, this run at {ct:?}, and ratios compare only at the same count")
        };
        println!("gate: FAILED — nothing to compare (no hz3 result measured in both files, or no system runs{hint})");
        false
    } else if r.passed() {
        println!("gate: passed ({} comparisons)", r.compared());
        true
    } else {
        println!(
            "gate: FAILED — {} of {} ratios regressed beyond tolerance",
            r.regressions(),
            r.compared()
        );
        false
    }
}

fn git_commit(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn bench_matrix(
    o: &MatrixOpts,
    root: &Path,
    strategies: &[strategies::Strategy],
) -> Result<bool, String> {
    let machine = Machine::detect();
    // Bad baselines, and baselines from another CPU model, fail before anything runs.
    let baseline = match &o.gate {
        Some(p) => Some(results::load(p)?),
        None => None,
    };
    let mut notes: Vec<String> = Vec::new();
    if let Some(b) = &baseline {
        let here = Matrix {
            machine: machine.clone(),
            config: b.config.clone(),
            cells: vec![],
            failures: vec![],
        };
        for w in gate::check_machines(b, &here, o.allow_other_cpu)? {
            eprintln!("xtask: {w}");
            notes.push(format!("gate: {w}"));
        }
    }
    // The peers' preload rows run only where their library is installed.
    let mut allocators = o.allocators.clone();
    let mut preloads: Vec<(String, std::path::PathBuf)> = Vec::new();
    allocators.retain(|a| match strategies::preload_peer(a) {
        None => true,
        Some(peer) => match runner::find_preload_peer(peer) {
            Ok(lib) => {
                preloads.push((a.clone(), lib));
                true
            }
            Err(note) => {
                eprintln!("xtask: {note}");
                notes.push(note);
                false
            }
        },
    });
    if allocators.is_empty() {
        return Err("no allocator left to measure".into());
    }
    for c in strategies::sync_bins(root, strategies)? {
        eprintln!("xtask: {c}");
    }
    if o.build {
        runner::build(&allocators, o.stats_pass)?;
    }
    let bin_dir = o.bin_dir.clone().unwrap_or_else(runner::default_bin_dir);
    runner::check_bins(&bin_dir, &allocators, o.stats_pass)?;
    if allocators.iter().any(|a| a == strategies::PRELOAD) {
        preloads.push((
            strategies::PRELOAD.to_string(),
            runner::preload_lib(&bin_dir),
        ));
    }
    let spec = runner::PointSpec {
        bin_dir: &bin_dir,
        duration_ms: o.duration_ms,
        live_threads: o.live_threads,
        preloads: &preloads,
    };

    let hz3: Vec<&String> = allocators
        .iter()
        .filter(|a| strategies::is_hz3(a))
        .collect();
    let sweep = o.threads.len() > 1;
    let timed_runs = o.threads.len() * o.rounds * o.workloads.len() * allocators.len();
    let stats_runs = if o.stats_pass {
        o.threads.len() * o.workloads.len() * hz3.len()
    } else {
        0
    };
    let threads_text = if sweep {
        format!("threads {:?}", o.threads)
    } else {
        format!("{} threads", o.threads[0])
    };
    eprintln!("xtask: machine: {}", machine.describe());
    eprintln!(
        "xtask: bench-matrix {}: {}{} rounds × {} workloads × {} allocators = {timed_runs} runs of {} ms{}, {threads_text}; at least {}",
        o.mode.name(),
        if sweep { format!("{} thread counts × ", o.threads.len()) } else { String::new() },
        o.rounds,
        o.workloads.len(),
        allocators.len(),
        o.duration_ms,
        if stats_runs > 0 { format!(" + {stats_runs} stats runs") } else { String::new() },
        table::duration(((timed_runs + stats_runs) as u64 * o.duration_ms) as f64 / 1000.0)
    );

    let mut cells: Vec<Cell> = Vec::new();
    for &t in &o.threads {
        for w in &o.workloads {
            for a in &allocators {
                cells.push(Cell::at(w, a, t as u64, o.rounds));
            }
        }
    }
    let mut failures = Vec::new();
    let mut progress = runner::Progress::new(timed_runs + stats_runs);
    // The thread counts outermost (the whole matrix at each count); within a count, rounds, and
    // within a round each workload runs every allocator in turn (A B C … A B C …), each as a
    // fresh process.
    for &t in &o.threads {
        let tag = if sweep {
            format!("T={t} ")
        } else {
            String::new()
        };
        for round in 0..o.rounds {
            for w in &o.workloads {
                let group = format!("{tag}round {}/{} {w}", round + 1, o.rounds);
                for a in &allocators {
                    progress.show(&group, a);
                    match runner::run_point(&spec, a, false, w, t) {
                        Ok(line) => {
                            let c = cells
                                .iter_mut()
                                .find(|c| {
                                    &c.workload == w
                                        && &c.allocator == a
                                        && c.sweep_threads == t as u64
                                })
                                .unwrap();
                            c.record(round, &line);
                        }
                        Err(e) => {
                            let msg = format!("{tag}round {} {w} {a}: {e}", round + 1);
                            progress.note(&format!("xtask: run FAILED: {msg}"));
                            failures.push(msg);
                        }
                    }
                    progress.advance();
                }
            }
        }
        if o.stats_pass {
            for w in &o.workloads {
                for a in &hz3 {
                    progress.show(&format!("{tag}stats pass {w}"), a);
                    match runner::run_point(&spec, a, true, w, t) {
                        Ok(line) => {
                            let c = cells
                                .iter_mut()
                                .find(|c| {
                                    &c.workload == w
                                        && &c.allocator == *a
                                        && c.sweep_threads == t as u64
                                })
                                .unwrap();
                            c.stats = Some(line.stats.unwrap_or_else(|| serde_json::json!({})));
                        }
                        Err(e) => {
                            let msg = format!("{tag}stats pass {w} {a}: {e}");
                            progress.note(&format!("xtask: run FAILED: {msg}"));
                            failures.push(msg);
                        }
                    }
                    progress.advance();
                }
            }
        }
    }
    progress.finish();

    let mut extra = serde_json::Map::new();
    if let Some(c) = git_commit(root) {
        extra.insert("git_commit".into(), c.into());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    extra.insert("finished_unix".into(), now.into());
    extra.insert(
        "wall_s".into(),
        serde_json::json!((progress.elapsed_secs() * 10.0).round() / 10.0),
    );
    if o.workloads.iter().any(|w| w == "threads-many") {
        extra.insert("live_threads".into(), o.live_threads.into());
    }
    if !preloads.is_empty() {
        let libs: serde_json::Map<String, serde_json::Value> = preloads
            .iter()
            .map(|(a, p)| (a.clone(), p.display().to_string().into()))
            .collect();
        extra.insert("preload_libraries".into(), libs.into());
    }
    if !notes.is_empty() {
        extra.insert("notes".into(), notes.clone().into());
    }
    let matrix = Matrix {
        machine,
        config: Config {
            runs: o.rounds as u64,
            duration_ms: o.duration_ms,
            threads: o.threads[0] as u64,
            threads_sweep: o.threads.iter().map(|&t| t as u64).collect(),
            mode: o.mode.name().into(),
            allocators,
            workloads: o.workloads.clone(),
            extra,
        },
        cells,
        failures,
    };
    println!("machine: {}", matrix.machine.describe());
    println!();
    print!("{}", report::render_all(&matrix));

    if let Some(p) = &o.json {
        let text = serde_json::to_string_pretty(&matrix.to_json()).unwrap() + "\n";
        std::fs::write(p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        eprintln!("xtask: wrote {}", p.display());
    }
    if let Some(p) = &o.chart {
        std::fs::write(p, chart::render(&matrix))
            .map_err(|e| format!("writing {}: {e}", p.display()))?;
        eprintln!("xtask: wrote {}", p.display());
    }
    let mut ok = matrix.failures.is_empty();
    if let Some(b) = baseline {
        println!();
        ok &= print_gate(&b, &matrix, o.tolerance);
    }
    Ok(ok)
}

/// Runs a command in the workspace root; `Err` with `what` when it fails.
fn run_in(
    root: &std::path::Path,
    cmd: &mut std::process::Command,
    what: &str,
) -> Result<(), String> {
    cmd.current_dir(root);
    eprintln!("xtask: {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// `cargo xtask soak`: builds and runs the soak program (crates/hz3-alloc/examples/soak.rs).
fn soak(root: &std::path::Path, args: &[String]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args([
        "run",
        "--release",
        "-q",
        "-p",
        "hz3-alloc",
        "--example",
        "soak",
        "--",
    ])
    .args(args);
    run_in(root, &mut cmd, "soak")
}

/// `cargo xtask memcheck`: the hz3-alloc stress and lifecycle tests under valgrind memcheck,
/// failing on any reported error (testing.md T12).
fn memcheck(root: &std::path::Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .current_dir(root)
        .args([
            "test",
            "--release",
            "-p",
            "hz3-alloc",
            "--test",
            "stress",
            "--no-run",
            "--message-format=json",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the stress test failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v.get("executable")
                .and_then(|e| e.as_str())
                .map(String::from)
        })
        .next_back()
        .ok_or("cargo did not report the stress test executable")?;
    let mut cmd = std::process::Command::new("valgrind");
    cmd.args([
        "--tool=memcheck",
        "--error-exitcode=99",
        "--quiet",
        &exe,
        "--test-threads=1",
        "a_cache::",
    ]);
    cmd.env("HZ3_TEST_SCALE", "1");
    run_in(root, &mut cmd, "valgrind memcheck of the stress test")
}
