//! `cargo xtask bench-matrix`: the matrix run itself — every (thread count, round, workload,
//! allocator) as a fresh process, interleaved, then the stats pass — and what it writes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value};
use tracing::Level;

use crate::cli::MatrixOpts;
use crate::log::PROGRESS;
use crate::results::{Cell, Machine, Matrix};
use crate::strategies::{is_hz3, Strategy, PRELOAD};
use crate::{chart, gate, peers, report, results, runner, strategies, table};

/// The short commit of the checkout at `root`, if git can tell.
pub(crate) fn git_commit(root: &Path) -> Option<String> {
    runner::stdout_of("git", &["rev-parse", "--short", "HEAD"], Some(root))
}

/// The progress line before run `done` (of `total`), `secs` into the matrix.
fn progress_line(done: usize, total: usize, secs: f64, group: &str, what: &str) -> String {
    let eta = (done > 0).then(|| secs / done as f64 * (total - done) as f64);
    let eta = eta.map_or("?".into(), table::duration);
    let took = table::duration(secs);
    let (n, width) = (done + 1, total.to_string().len());
    let line = format!("[{n:>width$}/{total}] {group} {what}  elapsed {took}");
    format!("{line}  remaining {} runs, ETA {eta}", total - done)
}

/// `cargo xtask bench-matrix`: the runs, tables, JSON, chart and gate; whether all ran and passed.
pub fn run(o: &MatrixOpts, root: &Path, strategies: &[Strategy]) -> Result<bool, String> {
    let machine = Machine::detect();
    // Bad baselines, and baselines from another CPU model, fail before anything runs.
    let baseline = o.gate.as_deref().map(results::load).transpose()?;
    let mut notes: Vec<String> = Vec::new();
    if let Some(b) = &baseline {
        for w in gate::check_machines(&b.machine, &machine, o.allow_other_cpu)? {
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
    let bin_dir = runner::build(&o.bins, &allocators, o.stats_pass, o.align_loops)?;
    if allocators.iter().any(|a| a == PRELOAD) {
        preloads.push((PRELOAD.into(), runner::preload_lib(&bin_dir)));
    }

    // The runs (cell index, round) in order: per thread count, per round, each workload runs every
    // allocator in turn (A B C … A B C …); then the stats pass (round `None`) of each hz3 strategy.
    let (mut cells, mut runs) = (Vec::<Cell>::new(), Vec::new());
    for &t in &o.threads {
        let first = cells.len();
        for w in &o.workloads {
            let cell = |a: &String| Cell::at(w, a, t as u64, o.rounds);
            cells.extend(allocators.iter().map(cell));
        }
        for round in (0..o.rounds).map(Some).chain(o.stats_pass.then_some(None)) {
            let hz3 = |&i: &usize| round.is_some() || is_hz3(&cells[i].allocator);
            runs.extend((first..cells.len()).filter(hz3).map(|i| (i, round)));
        }
    }
    let stats_runs = runs.iter().filter(|r| r.1.is_none()).count();
    let timed_runs = runs.len() - stats_runs;
    let sweep = o.threads.len() > 1;
    tracing::info!("machine: {}", machine.describe());
    tracing::info!(
        "bench-matrix {}: {}{} rounds × {} workloads × {} allocators = {timed_runs} runs of {} ms{}, {}; at least {}",
        o.mode(),
        if sweep { format!("{} thread counts × ", o.threads.len()) } else { String::new() },
        o.rounds,
        o.workloads.len(),
        allocators.len(),
        o.duration_ms,
        if stats_runs > 0 { format!(" + {stats_runs} stats runs") } else { String::new() },
        if sweep { format!("threads {:?}", o.threads) } else { format!("{} threads", o.threads[0]) },
        table::duration((runs.len() as u64 * o.duration_ms) as f64 / 1000.0)
    );

    // Progress: one rewritten line on a terminal (progress target enabled), else a line per group.
    let tty = std::io::stderr().is_terminal() && tracing::enabled!(target: PROGRESS, Level::INFO);
    // Clears the rewritten progress line (before a message that must not be overwritten).
    let clear = if tty { "\r\x1b[2K" } else { "" };
    let (mut failures, mut last_group, start) = (Vec::new(), String::new(), Instant::now());
    for (i, &(ci, round)) in runs.iter().enumerate() {
        let (w, a) = (cells[ci].workload.clone(), cells[ci].allocator.clone());
        let t = cells[ci].sweep_threads as usize;
        let tag = if sweep { format!("T={t} ") } else { "".into() };
        let name = round.map_or("stats pass".into(), |r| format!("round {}", r + 1));
        let of = round.map_or(String::new(), |_| format!("/{}", o.rounds));
        let group = format!("{tag}{name}{of} {w}");
        let line = progress_line(i, runs.len(), start.elapsed().as_secs_f64(), &group, &a);
        if tty {
            eprint!("{clear}{line}");
        } else if group != last_group {
            tracing::info!(target: PROGRESS, "{line}");
            last_group = group;
        }
        let _run = match round {
            Some(r) => tracing::debug_span!("run", round = r + 1, workload = %w, allocator = %a, threads = t),
            None => tracing::debug_span!("stats", workload = %w, allocator = %a, threads = t),
        }
        .entered();
        match runner::run_point(o, &bin_dir, &preloads, &a, round.is_none(), &w, t) {
            Ok(line) => match round {
                Some(r) => cells[ci].record(r, &line),
                None => cells[ci].stats = Some(line.stats.unwrap_or_else(|| json!({}))),
            },
            Err(e) => {
                eprint!("{clear}");
                let msg = format!("{tag}{name} {w} {a}: {e}");
                tracing::warn!("run FAILED: {msg}");
                failures.push(msg);
            }
        }
    }
    eprint!("{clear}");
    let wall_s = start.elapsed().as_secs_f64();
    tracing::info!("{} runs in {}", runs.len(), table::duration(wall_s));

    let many = o.workloads.iter().any(|w| w == "threads-many");
    let lib = |(a, p): &(String, PathBuf)| (a.clone(), Value::from(p.display().to_string()));
    let libs: serde_json::Map<String, Value> = preloads.iter().map(lib).collect();
    // The optional keys are null here and left out of the file.
    let config = json!({
        "runs": o.rounds,
        "duration_ms": o.duration_ms,
        "threads": o.threads[0],
        "threads_sweep": o.threads,
        "mode": o.mode(),
        "git_commit": git_commit(root),
        "finished_unix": std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_secs()),
        // How the bench binaries were built (with --no-build this run does not know).
        "align_loops": o.bins.build.then_some(o.align_loops),
        "wall_s": (wall_s * 10.0).round() / 10.0,
        "live_threads": many.then_some(o.live_threads),
        "blocks_per_thread": o.blocks_per_thread.filter(|_| many),
        "preload_libraries": (!libs.is_empty()).then_some(libs),
        "peer_versions": (!peers.versions.is_empty()).then_some(&peers.versions),
        "notes": (!notes.is_empty()).then_some(notes),
    });
    let matrix = Matrix::new(machine, config, cells, failures);
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

#[cfg(test)]
mod tests {
    #[test]
    fn eta_follows_the_average_run() {
        assert!(super::progress_line(0, 10, 0.0, "round 1/3 xmalloc", "system").ends_with("ETA ?"));
        let line = super::progress_line(1, 10, 2.0, "round 1/3 xmalloc", "hz3-a");
        assert!(
            line.starts_with("[ 2/10] round 1/3 xmalloc hz3-a  elapsed 0:02"),
            "{line}"
        );
        assert!(line.ends_with("remaining 9 runs, ETA 0:18"), "{line}");
    }
}
