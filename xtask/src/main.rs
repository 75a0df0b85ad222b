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
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
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
            println!("machine: {} · {} CPUs · kernel {}", m.machine.cpu_model, m.machine.cpus, m.machine.kernel);
            println!();
            print!("{}", report::render_all(&m));
            Ok(true)
        }
        Command::ValidateJson(path) => {
            let m = results::load(&path)?;
            println!("{}: valid {} ({} results)", path.display(), results::SCHEMA, m.cells.len());
            Ok(true)
        }
        Command::Gate { baseline, current, tolerance } => {
            let b = results::load(&baseline)?;
            let c = results::load(&current)?;
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
        println!("gate: FAILED — nothing to compare (no hz3 result measured in both files, or no system runs)");
        false
    } else if r.passed() {
        println!("gate: passed ({} comparisons)", r.compared());
        true
    } else {
        println!("gate: FAILED — {} of {} ratios regressed beyond tolerance", r.regressions(), r.compared());
        false
    }
}

fn git_commit(root: &Path) -> Option<String> {
    let out = std::process::Command::new("git").arg("-C").arg(root).args(["rev-parse", "--short", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn bench_matrix(o: &MatrixOpts, root: &Path, strategies: &[strategies::Strategy]) -> Result<bool, String> {
    // Bad baselines fail before anything runs.
    let baseline = match &o.gate {
        Some(p) => Some(results::load(p)?),
        None => None,
    };
    for c in strategies::sync_bins(root, strategies)? {
        eprintln!("xtask: {c}");
    }
    if o.build {
        runner::build(&o.allocators, o.stats_pass)?;
    }
    let bin_dir = o.bin_dir.clone().unwrap_or_else(runner::default_bin_dir);
    runner::check_bins(&bin_dir, &o.allocators, o.stats_pass)?;

    let hz3: Vec<&String> = o.allocators.iter().filter(|a| strategies::is_hz3(a)).collect();
    let timed_runs = o.rounds * o.workloads.len() * o.allocators.len();
    let stats_runs = if o.stats_pass { o.workloads.len() * hz3.len() } else { 0 };
    eprintln!(
        "xtask: bench-matrix {}: {} rounds × {} workloads × {} allocators = {timed_runs} runs of {} ms{}, {} threads; at least {}",
        o.mode.name(),
        o.rounds,
        o.workloads.len(),
        o.allocators.len(),
        o.duration_ms,
        if stats_runs > 0 { format!(" + {stats_runs} stats runs") } else { String::new() },
        o.threads,
        table::duration(((timed_runs + stats_runs) as u64 * o.duration_ms) as f64 / 1000.0)
    );

    let mut cells: Vec<Cell> = Vec::new();
    for w in &o.workloads {
        for a in &o.allocators {
            cells.push(Cell::new(w, a, o.rounds));
        }
    }
    let mut failures = Vec::new();
    let mut progress = runner::Progress::new(timed_runs + stats_runs);
    // Rounds outermost; within a round each workload runs every allocator in turn (A B C … A B C …),
    // each as a fresh process.
    for round in 0..o.rounds {
        for w in &o.workloads {
            let group = format!("round {}/{} {w}", round + 1, o.rounds);
            for a in &o.allocators {
                progress.show(&group, a);
                match runner::run_point(&bin_dir, a, false, w, o.threads, o.duration_ms) {
                    Ok(line) => {
                        let c = cells.iter_mut().find(|c| &c.workload == w && &c.allocator == a).unwrap();
                        c.record(round, &line);
                    }
                    Err(e) => {
                        let msg = format!("round {} {w} {a}: {e}", round + 1);
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
                progress.show(&format!("stats pass {w}"), a);
                match runner::run_point(&bin_dir, a, true, w, o.threads, o.duration_ms) {
                    Ok(line) => {
                        let c = cells.iter_mut().find(|c| &c.workload == w && &c.allocator == *a).unwrap();
                        c.stats = Some(line.stats.unwrap_or_else(|| serde_json::json!({})));
                    }
                    Err(e) => {
                        let msg = format!("stats pass {w} {a}: {e}");
                        progress.note(&format!("xtask: run FAILED: {msg}"));
                        failures.push(msg);
                    }
                }
                progress.advance();
            }
        }
    }
    progress.finish();

    let mut extra = serde_json::Map::new();
    if let Some(c) = git_commit(root) {
        extra.insert("git_commit".into(), c.into());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    extra.insert("finished_unix".into(), now.into());
    extra.insert("wall_s".into(), serde_json::json!((progress.elapsed_secs() * 10.0).round() / 10.0));
    let matrix = Matrix {
        machine: Machine::detect(),
        config: Config {
            runs: o.rounds as u64,
            duration_ms: o.duration_ms,
            threads: o.threads as u64,
            mode: o.mode.name().into(),
            allocators: o.allocators.clone(),
            workloads: o.workloads.clone(),
            extra,
        },
        cells,
        failures,
    };
    println!(
        "machine: {} · {} CPUs · kernel {}",
        matrix.machine.cpu_model, matrix.machine.cpus, matrix.machine.kernel
    );
    println!();
    print!("{}", report::render_all(&matrix));

    if let Some(p) = &o.json {
        let text = serde_json::to_string_pretty(&matrix.to_json()).unwrap() + "\n";
        std::fs::write(p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
        eprintln!("xtask: wrote {}", p.display());
    }
    if let Some(p) = &o.chart {
        std::fs::write(p, chart::render(&matrix)).map_err(|e| format!("writing {}: {e}", p.display()))?;
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
fn run_in(root: &std::path::Path, cmd: &mut std::process::Command, what: &str) -> Result<(), String> {
    cmd.current_dir(root);
    eprintln!("xtask: {cmd:?}");
    let status = cmd.status().map_err(|e| format!("{what}: cannot start: {e}"))?;
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
    cmd.args(["run", "--release", "-q", "-p", "hz3-alloc", "--example", "soak", "--"]).args(args);
    run_in(root, &mut cmd, "soak")
}

/// `cargo xtask memcheck`: the hz3-alloc stress and lifecycle tests under valgrind memcheck,
/// failing on any reported error (testing.md T12).
fn memcheck(root: &std::path::Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .current_dir(root)
        .args(["test", "--release", "-p", "hz3-alloc", "--test", "stress", "--no-run", "--message-format=json"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building the stress test failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("executable").and_then(|e| e.as_str()).map(String::from))
        .last()
        .ok_or("cargo did not report the stress test executable")?;
    let mut cmd = std::process::Command::new("valgrind");
    cmd.args(["--tool=memcheck", "--error-exitcode=99", "--quiet", &exe, "--test-threads=1", "a_cache::"]);
    cmd.env("HZ3_TEST_SCALE", "1");
    run_in(root, &mut cmd, "valgrind memcheck of the stress test")
}
