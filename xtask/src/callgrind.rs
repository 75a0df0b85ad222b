//! The deterministic fast-path gate: instructions per operation counted by
//! `valgrind --tool=callgrind` inside hz3-bench's probe functions (or, for the program-shape
//! workloads of [`WORKLOAD_METRICS`], the whole run under `--fair-sched=yes`), each taken as
//! (I(2n) − I(n)) / n so one-time costs cancel, against a committed budget. The metrics and why
//! the counts repeat: docs/bench-matrix.md ("The callgrind gate").

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::runner::{bin_name, run_capture};
use crate::table::Table;

pub const BUDGET_SCHEMA: &str = "hz3-callgrind-budget/1";
pub const DEFAULT_TOLERANCE: f64 = 0.02;
pub const PROBE_ALLOC: &str = "hz3_bench_probe_alloc";
pub const PROBE_DEALLOC: &str = "hz3_bench_probe_dealloc";

/// (metric, workload, probes).
pub const METRICS: &[(&str, &str, &[&str])] = &[
    ("local_pair", "cg-local", &[PROBE_ALLOC, PROBE_DEALLOC]),
    ("remote_free", "cg-remote", &[PROBE_DEALLOC]),
    ("remote_alloc", "cg-remote", &[PROBE_ALLOC]),
];

/// (metric, workload, iterations, threads): whole-program instructions per reported operation.
/// batch-handoff runs with one thread, which hands its batches to itself: with two, how many
/// hand-offs are skipped (the in-flight cap) depends on the schedule, and the count moved by 5%
/// between runs; with one it repeats exactly.
pub const WORKLOAD_METRICS: &[(&str, &str, u64, u32)] = &[
    ("lifo_fifo_op", "lifo-fifo", 100, 2),
    ("server_op", "server", 1, 2),
    ("pareto_op", "pareto", 50_000, 2),
    ("batch_handoff_op", "batch-handoff", 500, 1),
];

/// Reads the event total from a callgrind output file (`summary:` or `totals:` line).
pub fn parse_total(out: &str) -> Option<u64> {
    out.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

pub fn valgrind_version() -> Result<String, String> {
    let out = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|e| {
            format!("valgrind is not available ({e}); install it (apt-get install valgrind)")
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Instructions collected inside `probes` (every instruction when `probes` is empty, with
/// `--fair-sched=yes`) for one run of `workload --iters n`, and the operations the run reported.
fn count(
    bin: &Path,
    workload: &str,
    n: u64,
    probes: &[&str],
    threads: u32,
    scratch: &Path,
) -> Result<(u64, u64), String> {
    let out_file = scratch.join(format!(
        "cg-{}-{workload}-{n}-{}.out",
        std::process::id(),
        probes.len()
    ));
    let mut args = vec![
        "--tool=callgrind".to_string(),
        format!("--callgrind-out-file={}", out_file.display()),
    ];
    if probes.is_empty() {
        args.push("--fair-sched=yes".into());
    }
    args.extend(probes.iter().map(|p| format!("--toggle-collect={p}")));
    args.push(bin.display().to_string());
    args.extend(
        format!("{workload} --iters {n} --threads {threads}")
            .split(' ')
            .map(String::from),
    );
    let stdout = run_capture(Path::new("valgrind"), &args, Duration::from_secs(600))?;
    let text = std::fs::read_to_string(&out_file)
        .map_err(|e| format!("reading {}: {e}", out_file.display()))?;
    let _ = std::fs::remove_file(&out_file);
    let total = parse_total(&text).ok_or_else(|| {
        format!(
            "no event total in callgrind output of {} {workload}",
            bin.display()
        )
    })?;
    let ops = crate::results::parse_run_line(&stdout)
        .ok()
        .and_then(|l| l.ops)
        .unwrap_or(0);
    Ok((total, ops))
}

/// Measures every metric for one allocator: instructions per operation.
pub fn measure(bin_dir: &Path, allocator: &str, n: u64) -> Result<Vec<(String, f64)>, String> {
    let bin = bin_dir.join(bin_name(allocator, false));
    let scratch = std::env::temp_dir();
    let mut out = Vec::new();
    for (metric, workload, probes) in METRICS {
        let (once, _) = count(&bin, workload, n, probes, 2, &scratch)?;
        let (twice, _) = count(&bin, workload, 2 * n, probes, 2, &scratch)?;
        if twice < once {
            return Err(format!(
                "{allocator} {metric}: I(2n) = {twice} < I(n) = {once}"
            ));
        }
        out.push((metric.to_string(), (twice - once) as f64 / n as f64));
    }
    for (metric, workload, iters, threads) in WORKLOAD_METRICS {
        let (i1, o1) = count(&bin, workload, *iters, &[], *threads, &scratch)?;
        let (i2, o2) = count(&bin, workload, 2 * iters, &[], *threads, &scratch)?;
        if i2 < i1 || o2 <= o1 {
            return Err(format!(
                "{allocator} {metric}: I = {i1} -> {i2}, ops = {o1} -> {o2} from n to 2n"
            ));
        }
        out.push((metric.to_string(), (i2 - i1) as f64 / (o2 - o1) as f64));
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub tolerance: f64,
    /// allocator → metric → instructions per op.
    pub budgets: crate::budget::Limits,
}

pub fn parse_budget(text: &str) -> Result<Budget, String> {
    let f = crate::budget::parse(text, BUDGET_SCHEMA)?;
    Ok(Budget {
        tolerance: f.tolerance.unwrap_or(DEFAULT_TOLERANCE),
        budgets: f.budgets,
    })
}

pub fn budget_json(
    measured: &[(String, Vec<(String, f64)>)],
    tolerance: f64,
    valgrind: &str,
    n: u64,
) -> Value {
    let rounded: Vec<(String, Vec<(String, f64)>)> = measured
        .iter()
        .map(|(a, ms)| {
            let ms = ms
                .iter()
                .map(|(k, v)| (k.clone(), (v * 100.0).round() / 100.0));
            (a.clone(), ms.collect())
        })
        .collect();
    let (budgets, reference) = crate::budget::split(&rounded, crate::strategies::is_hz3);
    let rustc = crate::runner::stdout_of("rustc", &["-V"], None).unwrap_or_default();
    json!({
        "schema": BUDGET_SCHEMA,
        "note": "Instructions per operation inside the allocator, counted by valgrind --tool=callgrind through hz3-bench's probe functions ((I(2n) - I(n)) / n); the *_op metrics are whole-program instructions per reported operation of the program-shape workloads ((I(2n) - I(n)) / (ops(2n) - ops(n)), --fair-sched=yes). Rewrite with `cargo xtask callgrind-gate --update` and justify the change in the commit message.",
        "tolerance": tolerance,
        "iters": n,
        "toolchain": rustc,
        "valgrind": valgrind,
        "budgets": budgets,
        "reference_not_gated": reference,
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub allocator: String,
    pub metric: String,
    pub budget: Option<f64>,
    pub measured: f64,
    pub verdict: &'static str,
}

/// Compares measurements with the budget: over `budget × (1 + tolerance)` fails; an hz3
/// allocator without a budget fails (a new strategy must add one with --update); allocators
/// that are not hz3 are shown, never gated.
pub fn check(
    measured: &[(String, Vec<(String, f64)>)],
    budget: &Budget,
    tolerance: f64,
) -> Vec<Check> {
    let mut out = Vec::new();
    for (a, ms) in measured {
        let gated = crate::strategies::is_hz3(a);
        for (metric, v) in ms {
            let b = crate::budget::limit(&budget.budgets, a, metric);
            let verdict = match (gated, b) {
                (false, _) => crate::budget::REFERENCE,
                (true, None) => crate::budget::MISSING,
                (true, Some(b)) if *v > b * (1.0 + tolerance) => crate::budget::OVER,
                (true, Some(b)) if *v < b * (1.0 - tolerance) => "under (consider --update)",
                (true, Some(_)) => "ok",
            };
            out.push(Check {
                allocator: a.clone(),
                metric: metric.clone(),
                budget: b,
                measured: *v,
                verdict,
            });
        }
    }
    out
}

pub fn failed(checks: &[Check]) -> bool {
    crate::budget::failed(checks.iter().map(|c| c.verdict))
}

pub fn render(checks: &[Check], tolerance: f64) -> String {
    let mut t = Table::cols("allocator | metric | budget | measured | change | verdict");
    for c in checks {
        t.row(vec![
            c.allocator.clone(),
            c.metric.clone(),
            c.budget.map_or("—".into(), |b| format!("{b:.2}")),
            format!("{:.2}", c.measured),
            c.budget.map_or("—".into(), |b| {
                format!("{:+.2}%", (c.measured / b - 1.0) * 100.0)
            }),
            c.verdict.to_string(),
        ]);
    }
    format!(
        "== callgrind: instructions per operation (tolerance +{:.1}%) ==\n{}",
        tolerance * 100.0,
        t.render()
    )
}

/// The whole command.
pub fn run(opts: &crate::cli::CallgrindOpts) -> Result<bool, String> {
    let budget_path = crate::budget::path(&opts.budget);
    let valgrind = valgrind_version()?;
    let existing = crate::budget::read(&budget_path, opts.update, parse_budget)?;
    let bin_dir = crate::budget::bins(&opts.bins, &opts.allocators)?;
    let mut measured = Vec::new();
    for (i, a) in opts.allocators.iter().enumerate() {
        tracing::info!(
            "callgrind [{}/{}] {a} ({valgrind})",
            i + 1,
            opts.allocators.len()
        );
        measured.push((a.clone(), measure(&bin_dir, a, opts.iters as u64)?));
    }
    let tolerance = opts
        .tolerance
        .or(existing.as_ref().map(|b| b.tolerance))
        .unwrap_or(DEFAULT_TOLERANCE);
    if opts.update {
        let v = budget_json(&measured, tolerance, &valgrind, opts.iters as u64);
        let b = parse_budget(&crate::budget::write(&budget_path, &v)?)?;
        println!("{}", render(&check(&measured, &b, tolerance), tolerance));
        println!("wrote {}", budget_path.display());
        return Ok(true);
    }
    let budget = existing.unwrap();
    let checks = check(&measured, &budget, tolerance);
    println!("{}", render(&checks, tolerance));
    Ok(!failed(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(b.tolerance, 0.02);
        assert_eq!(b.budgets.len(), 1, "only hz3 is budgeted");
        // Same numbers: ok.
        let c = check(&measured, &b, 0.02);
        assert!(!failed(&c), "{}", render(&c, 0.02));
        assert!(c
            .iter()
            .any(|c| c.allocator == "system" && c.verdict == "reference"));
        // +1% is inside 2%; +3% is over; -5% is "under".
        let c = check(&[m("hz3-a", 20.2, 30.9)], &b, 0.02);
        assert_eq!(c[0].verdict, "ok");
        assert_eq!(c[1].verdict, "OVER BUDGET");
        assert!(failed(&c));
        let c = check(&[m("hz3-a", 19.0, 30.0)], &b, 0.02);
        assert!(c[0].verdict.starts_with("under"));
        assert!(!failed(&c));
        // A strategy without a budget fails.
        let c = check(&[m("hz3-new", 1.0, 1.0)], &b, 0.02);
        assert!(failed(&c) && c[0].verdict == "NO BUDGET");
        // A huge regression in the reference never fails.
        assert!(!failed(&check(&[m("system", 1e6, 1e6)], &b, 0.02)));
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
            assert!(b.tolerance > 0.0 && b.tolerance < 0.2);
        }
    }
}
