//! The deterministic fast-path gate: instructions per operation under `valgrind --tool=callgrind`
//! (inside hz3-bench's probe functions, or the whole run with `--fair-sched=yes`), taken as
//! (I(2n) − I(n)) / n so one-time costs cancel. Why: docs/bench-matrix.md ("The callgrind gate").

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::budget::{Check, Figures, Limits};
use crate::runner::{bin_name, capture};
use crate::strategies::is_hz3;
use crate::table::or_dash;

pub const BUDGET_SCHEMA: &str = "hz3-callgrind-budget/1";
pub const DEFAULT_TOLERANCE: f64 = 0.02;
/// hz3-bench's probe functions: one allocation, one deallocation.
const ALLOC: &str = "hz3_bench_probe_alloc";
const DEALLOC: &str = "hz3_bench_probe_dealloc";

/// (metric, workload, probes, iterations, threads); without probes, whole-program instructions
/// per reported operation over the metric's own iterations. batch-handoff runs with one thread,
/// which hands its batches to itself: with two, how many hand-offs are skipped (the in-flight
/// cap) depends on the schedule, and the count moved by 5% between runs; with one it repeats.
pub const METRICS: &[(&str, &str, &[&str], u64, u32)] = &[
    ("local_pair", "cg-local", &[ALLOC, DEALLOC], 0, 2),
    ("remote_free", "cg-remote", &[DEALLOC], 0, 2),
    ("remote_alloc", "cg-remote", &[ALLOC], 0, 2),
    ("lifo_fifo_op", "lifo-fifo", &[], 100, 2),
    ("server_op", "server", &[], 1, 2),
    ("pareto_op", "pareto", &[], 50_000, 2),
    ("batch_handoff_op", "batch-handoff", &[], 500, 1),
];

/// Reads the event total from a callgrind output file (`summary:` or `totals:` line).
pub fn parse_total(out: &str) -> Option<u64> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or(l.strip_prefix("totals:")));
    line?.split_whitespace().next()?.parse().ok()
}

/// Instructions inside `probes` (all, under `--fair-sched=yes`, if none) and ops of one run.
fn count(
    bin: &Path,
    (workload, n, probes, threads): (&str, u64, &[&str], u32),
) -> Result<(u64, u64), String> {
    let id = (std::process::id(), probes.len());
    let out_file = std::env::temp_dir().join(format!("cg-{}-{workload}-{n}-{}.out", id.0, id.1));
    let out_arg = format!("--callgrind-out-file={}", out_file.display());
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", &out_arg]);
    cmd.args(probes.is_empty().then_some("--fair-sched=yes"));
    cmd.args(probes.iter().map(|p| format!("--toggle-collect={p}")));
    let run = format!("{workload} --iters {n} --threads {threads}");
    let stdout = capture(cmd.arg(bin).args(run.split(' ')), Duration::from_secs(600))?;
    let text = std::fs::read_to_string(&out_file);
    let text = text.map_err(|e| format!("reading {}: {e}", out_file.display()))?;
    let _ = std::fs::remove_file(&out_file);
    let (bin, total) = (bin.display(), parse_total(&text));
    let total =
        total.ok_or_else(|| format!("no event total in callgrind output of {bin} {workload}"))?;
    let line = crate::results::parse_run_line(&stdout).ok();
    Ok((total, line.and_then(|l| l.ops).unwrap_or(0)))
}

/// Measures every metric for one allocator: instructions per operation.
pub fn measure(bin_dir: &Path, allocator: &str, n: u64) -> Result<Vec<(String, f64)>, String> {
    let bin = bin_dir.join(bin_name(allocator, false));
    let mut out = Vec::new();
    for &(metric, workload, probes, iters, threads) in METRICS {
        let iters = if probes.is_empty() { iters } else { n };
        let (i1, o1) = count(&bin, (workload, iters, probes, threads))?;
        let (i2, o2) = count(&bin, (workload, 2 * iters, probes, threads))?;
        // Per object with probes, per reported operation without.
        let figure = match probes {
            [] if i2 >= i1 && o2 > o1 => Ok((i2 - i1) as f64 / (o2 - o1) as f64),
            [] => Err(format!("I = {i1} -> {i2}, ops = {o1} -> {o2} from n to 2n")),
            _ if i2 >= i1 => Ok((i2 - i1) as f64 / n as f64),
            _ => Err(format!("I(2n) = {i2} < I(n) = {i1}")),
        };
        let figure = figure.map_err(|e| format!("{allocator} {metric}: {e}"))?;
        out.push((metric.to_string(), figure));
    }
    Ok(out)
}

pub fn budget_json(measured: &[Figures<f64>], tolerance: f64, valgrind: &str, n: u64) -> Value {
    let round = |v: &f64| json!((v * 100.0).round() / 100.0);
    let [budgets, reference] = crate::budget::split(measured, is_hz3, round);
    json!({
        "schema": BUDGET_SCHEMA,
        "note": "Instructions per operation inside the allocator, counted by valgrind --tool=callgrind through hz3-bench's probe functions ((I(2n) - I(n)) / n); the *_op metrics are whole-program instructions per reported operation of the program-shape workloads ((I(2n) - I(n)) / (ops(2n) - ops(n)), --fair-sched=yes). Rewrite with `cargo xtask callgrind-gate --update` and justify the change in the commit message.",
        "tolerance": tolerance,
        "iters": n,
        "toolchain": crate::runner::stdout_of("rustc", &["-V"], None).unwrap_or_default(),
        "valgrind": valgrind,
        "budgets": budgets,
        "reference_not_gated": reference,
    })
}

/// Over `budget × (1 + tolerance)` fails, as does an hz3 allocator without a budget.
pub fn check(measured: &[Figures<f64>], budgets: &Limits, tolerance: f64) -> Vec<Check<f64>> {
    let band = |_: &str, b: f64| (b * (1.0 + tolerance), b * (1.0 - tolerance));
    crate::budget::check(measured, budgets, is_hz3, |v| *v, band)
}

pub fn render(checks: &[Check<f64>], tolerance: f64) -> String {
    let pct = tolerance * 100.0;
    let title = format!("== callgrind: instructions per operation (tolerance +{pct:.1}%) ==");
    let header = "allocator | metric | budget | measured | change | verdict";
    crate::budget::render(&title, header, checks, |c| {
        let change = |b| format!("{:+.2}%", (c.figure / b - 1.0) * 100.0);
        let budget = or_dash(c.budget, |b| format!("{b:.2}"));
        let (figure, change) = (format!("{:.2}", c.figure), or_dash(c.budget, change));
        vec![c.allocator.clone(), c.name.clone(), budget, figure, change]
    })
}

/// The whole command.
pub fn run(opts: &crate::cli::CallgrindOpts) -> Result<bool, String> {
    let out = Command::new("valgrind").arg("--version").output();
    let install = "install it (apt-get install valgrind)";
    let out = out.map_err(|e| format!("valgrind is not available ({e}); {install}"))?;
    let valgrind = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (path, existing) = crate::budget::read(&opts.budget, opts.update, BUDGET_SCHEMA)?;
    let bin_dir = crate::runner::build(&opts.bins, &opts.allocators, false, 0)?;
    let (n, note) = (opts.iters as u64, format!(" ({valgrind})"));
    let each = |a: &str| measure(&bin_dir, a, n);
    let measured = crate::budget::measure_all("callgrind", &note, &opts.allocators, each)?;
    let tolerance = opts.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    let json = || budget_json(&measured, tolerance, &valgrind, n);
    let b = crate::budget::or_write(existing, &path, BUDGET_SCHEMA, json)?;
    let tolerance = opts.tolerance.or(b.tolerance).unwrap_or(DEFAULT_TOLERANCE);
    let checks = check(&measured, &b.budgets, tolerance);
    println!("{}", render(&checks, tolerance));
    if opts.update {
        println!("wrote {}", path.display());
    }
    Ok(opts.update || !crate::budget::failed(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::failed;

    fn parse_budget(text: &str) -> Result<crate::budget::File, String> {
        crate::budget::parse(text, BUDGET_SCHEMA)
    }

    fn m(a: &str, local: f64, remote: f64) -> (String, Vec<(String, f64)>) {
        (
            a.into(),
            vec![("local_pair".into(), local), ("remote_free".into(), remote)],
        )
    }

    #[test]
    fn parses_callgrind_totals() {
        let out =
            "version: 1\ncmd: x\nevents: Ir\nsummary: 123456\n\nfn=(1) foo\n0 5\ntotals: 123456\n";
        assert_eq!(parse_total(out), Some(123456));
        assert_eq!(parse_total("events: Ir\n"), None);
    }

    #[test]
    fn budget_round_trip_and_gate() {
        let measured = vec![m("system", 100.0, 200.0), m("hz3-a", 20.0, 30.0)];
        let v = budget_json(&measured, 0.02, "valgrind-3.19.0", 1000);
        let b = parse_budget(&v.to_string()).unwrap();
        assert_eq!(b.tolerance, Some(0.02));
        assert_eq!(b.budgets.len(), 1, "only hz3 is budgeted");
        // Same numbers: ok.
        let c = check(&measured, &b.budgets, 0.02);
        assert!(!failed(&c), "{}", render(&c, 0.02));
        assert!(c
            .iter()
            .any(|c| c.allocator == "system" && c.verdict == "reference"));
        // +1% is inside 2%; +3% is over; -5% is "under".
        let c = check(&[m("hz3-a", 20.2, 30.9)], &b.budgets, 0.02);
        assert_eq!(c[0].verdict, "ok");
        assert_eq!(c[1].verdict, "OVER BUDGET");
        assert!(failed(&c));
        let c = check(&[m("hz3-a", 19.0, 30.0)], &b.budgets, 0.02);
        assert!(c[0].verdict.starts_with("under"));
        assert!(!failed(&c));
        // A strategy without a budget fails.
        let c = check(&[m("hz3-new", 1.0, 1.0)], &b.budgets, 0.02);
        assert!(failed(&c) && c[0].verdict == "NO BUDGET");
        // A huge regression in the reference never fails.
        assert!(!failed(&check(&[m("system", 1e6, 1e6)], &b.budgets, 0.02)));
    }

    #[test]
    fn bad_budgets() {
        assert!(parse_budget("nope").unwrap_err().contains("not valid JSON"));
        assert!(parse_budget("{\"schema\":\"x\"}")
            .unwrap_err()
            .contains("schema"));
        assert!(parse_budget(&format!(
            "{{\"schema\":\"{BUDGET_SCHEMA}\",\"budgets\":{{\"hz3-a\":{{\"local_pair\":\"x\"}}}}}}"
        ))
        .is_err());
    }

    #[test]
    fn the_committed_budget_parses() {
        let p = crate::paths::workspace_root().join("benches/callgrind-budget.json");
        if let Ok(text) = std::fs::read_to_string(&p) {
            let b = parse_budget(&text).unwrap();
            let tolerance = b.tolerance.unwrap();
            assert!(tolerance > 0.0 && tolerance < 0.2);
        }
    }
}
