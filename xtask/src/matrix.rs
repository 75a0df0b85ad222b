//! `cargo xtask bench-matrix`: the matrix run itself — every (thread count, round, workload,
//! allocator) as a fresh process, interleaved, then the stats pass — and what it writes.

use std::path::Path;

use crate::cli::MatrixOpts;
use crate::results::{Cell, Config, Machine, Matrix};
use crate::{chart, gate, paths, peers, report, results, runner, strategies, table};

/// The short commit of the checkout at `root`, if git can tell.
pub(crate) fn git_commit(root: &Path) -> Option<String> {
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

/// The cell of (workload, allocator) at `--threads t`, made before the runs.
fn cell<'a>(cells: &'a mut [Cell], w: &str, a: &str, t: usize) -> &'a mut Cell {
    let found = cells
        .iter_mut()
        .find(|c| c.workload == w && c.allocator == a && c.sweep_threads == t as u64);
    found.expect("every data point has its cell")
}

/// `cargo xtask bench-matrix`: runs every data point, prints the tables, writes the JSON and the
/// chart, and gates against a baseline; whether everything ran (and the gate passed).
pub fn run(
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
            tracing::warn!("{w}");
            notes.push(format!("gate: {w}"));
        }
    }
    // The peers' preload rows run only where their library can be had (crate::peers).
    let mut allocators = o.allocators.clone();
    let peers = peers::prepare(&mut allocators, &mut notes);
    let mut preloads = peers.libs.clone();
    if allocators.is_empty() {
        return Err("no allocator left to measure".into());
    }
    for c in strategies::sync_bins(root, strategies)? {
        tracing::info!("{c}");
    }
    if o.bins.build {
        runner::build(&allocators, o.stats_pass, o.align_loops)?;
    }
    let bin_dir = o
        .bins
        .bin_dir
        .clone()
        .unwrap_or_else(paths::default_bin_dir);
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
        blocks_per_thread: o.blocks_per_thread,
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
    tracing::info!("machine: {}", machine.describe());
    tracing::info!(
        "bench-matrix {}: {}{} rounds × {} workloads × {} allocators = {timed_runs} runs of {} ms{}, {threads_text}; at least {}",
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
                    let _run = tracing::debug_span!("run", round = round + 1, workload = %w, allocator = %a, threads = t).entered();
                    match runner::run_point(&spec, a, false, w, t) {
                        Ok(line) => cell(&mut cells, w, a, t).record(round, &line),
                        Err(e) => {
                            let msg = format!("{tag}round {} {w} {a}: {e}", round + 1);
                            progress.failed(&msg);
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
                    let _run =
                        tracing::debug_span!("stats", workload = %w, allocator = %a, threads = t)
                            .entered();
                    match runner::run_point(&spec, a, true, w, t) {
                        Ok(line) => {
                            let stats = line.stats.unwrap_or_else(|| serde_json::json!({}));
                            cell(&mut cells, w, a, t).stats = Some(stats);
                        }
                        Err(e) => {
                            let msg = format!("{tag}stats pass {w} {a}: {e}");
                            progress.failed(&msg);
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
    if o.bins.build {
        // How the bench binaries were built (with --no-build this run does not know).
        extra.insert("align_loops".into(), o.align_loops.into());
    }
    extra.insert(
        "wall_s".into(),
        serde_json::json!((progress.elapsed_secs() * 10.0).round() / 10.0),
    );
    if o.workloads.iter().any(|w| w == "threads-many") {
        extra.insert("live_threads".into(), o.live_threads.into());
        if let Some(b) = o.blocks_per_thread {
            extra.insert("blocks_per_thread".into(), b.into());
        }
    }
    if !preloads.is_empty() {
        let libs: serde_json::Map<String, serde_json::Value> = preloads
            .iter()
            .map(|(a, p)| (a.clone(), p.display().to_string().into()))
            .collect();
        extra.insert("preload_libraries".into(), libs.into());
    }
    if !peers.versions.is_empty() {
        extra.insert("peer_versions".into(), peers.versions_json().into());
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
        std::fs::write(p, matrix.to_file_text())
            .map_err(|e| format!("writing {}: {e}", p.display()))?;
        tracing::info!("wrote {}", p.display());
    }
    if let Some(p) = &o.chart {
        chart::write(p, &matrix)?;
    }
    let mut ok = matrix.failures.is_empty();
    if let Some(b) = baseline {
        println!();
        ok &= gate::print(&b, &matrix, o.tolerance);
    }
    Ok(ok)
}
