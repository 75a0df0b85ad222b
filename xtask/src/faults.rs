//! The page-fault gate: the minimum over `reps` fresh processes of the minor page faults of the
//! OS-boundary workloads, each run for a fixed `--iters` ([`WORKLOADS`]) at 2 threads, against
//! `budget × (1 + tolerance) + slack` (threaded shapes: [`THREADED_TOLERANCE`]). hz3's flavours
//! are gated; peers asked for with `--allocators` are shown as a reference (hz3 over the median
//! peer). Why the minimum and these margins: docs/bench-matrix.md ("The page-fault gate").

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::results::parse_run_line;
use crate::runner::{bin_name, run_capture_env};
use crate::table::Table;

pub const BUDGET_SCHEMA: &str = "hz3-fault-budget/1";
pub const DEFAULT_TOLERANCE: f64 = 0.15;
pub const DEFAULT_SLACK: f64 = 256.0;

/// Tolerance of the workloads whose live memory depends on how far each thread got
/// (producer/consumer hand-offs): at least this, whatever the budget file says.
pub const THREADED_TOLERANCE: f64 = 0.6;

/// (workload, iterations): the OS-boundary shapes and the faithful xmalloc.
pub const WORKLOADS: &[(&str, u64)] = &[
    ("large-1m", 2000),
    ("large-churn", 300),
    ("realloc-grow", 1000),
    ("medium-churn", 2000),
    ("thread-churn", 200),
    ("size-shift", 50),
    ("xmalloc-classic", 100),
];

/// The workloads of [`WORKLOADS`] whose figure depends on the threads' timing.
pub const THREADED: &[&str] = &["thread-churn", "size-shift", "xmalloc-classic"];

/// The tolerance that applies to workload `w`.
pub fn tolerance_for(w: &str, base: f64) -> f64 {
    if THREADED.contains(&w) {
        base.max(THREADED_TOLERANCE)
    } else {
        base
    }
}

/// One allocator's measurement: workload → (minimum minor faults, operations).
pub type Measured = Vec<(String, Vec<(String, u64, u64)>)>;

/// Runs one workload `reps` times; the minimum of the minor faults and the run's op count.
fn measure_one(
    bin: &Path,
    env: &[(&str, PathBuf)],
    workload: &str,
    iters: u64,
    reps: usize,
) -> Result<(u64, u64), String> {
    let args: Vec<String> = format!("{workload} --iters {iters} --threads 2")
        .split(' ')
        .map(String::from)
        .collect();
    let mut best: Option<(u64, u64)> = None;
    for _ in 0..reps.max(1) {
        let out = run_capture_env(bin, &args, env, Duration::from_secs(300))?;
        let line = parse_run_line(&out).map_err(|e| format!("{}: {e}", bin.display()))?;
        let faults = line.usage.minor_faults.ok_or_else(|| {
            format!(
                "{} {workload}: the run line has no minor_faults",
                bin.display()
            )
        })?;
        let ops = line.ops.unwrap_or(0);
        if best.is_none_or(|(f, _)| faults < f) {
            best = Some((faults, ops));
        }
    }
    Ok(best.unwrap())
}

/// Measures every workload for one allocator (`preloads` names the library of a preload row).
pub fn measure(
    bin_dir: &Path,
    allocator: &str,
    preloads: &[(String, PathBuf)],
    reps: usize,
) -> Result<Vec<(String, u64, u64)>, String> {
    let bin = bin_dir.join(bin_name(allocator, false));
    let env: Vec<(&str, PathBuf)> = match preloads.iter().find(|(a, _)| a == allocator) {
        Some((_, lib)) => vec![("LD_PRELOAD", lib.clone())],
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for (w, n) in WORKLOADS {
        let (f, ops) = measure_one(&bin, &env, w, *n, reps)?;
        out.push((w.to_string(), f, ops));
    }
    Ok(out)
}

/// Whether an allocator is gated (hz3's flavours, the Rust ones and the C library).
pub fn gated(allocator: &str) -> bool {
    crate::strategies::is_hz3(allocator) || allocator == crate::strategies::PRELOAD
}

#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub tolerance: f64,
    pub slack: f64,
    /// allocator → workload → minor faults.
    pub budgets: crate::budget::Limits,
}

pub fn parse_budget(text: &str) -> Result<Budget, String> {
    let f = crate::budget::parse(text, BUDGET_SCHEMA)?;
    Ok(Budget {
        tolerance: f.tolerance.unwrap_or(DEFAULT_TOLERANCE),
        slack: f.slack.unwrap_or(DEFAULT_SLACK),
        budgets: f.budgets,
    })
}

pub fn budget_json(measured: &Measured, tolerance: f64, slack: f64, machine: &str) -> Value {
    let faults: Vec<(String, Vec<(String, u64)>)> = measured
        .iter()
        .map(|(a, ws)| {
            (
                a.clone(),
                ws.iter().map(|(w, f, _)| (w.clone(), *f)).collect(),
            )
        })
        .collect();
    let (budgets, reference) = crate::budget::split(&faults, gated);
    let iters: Map<String, Value> = WORKLOADS
        .iter()
        .map(|(w, n)| (w.to_string(), json!(n)))
        .collect();
    json!({
        "schema": BUDGET_SCHEMA,
        "note": "Minor page faults (getrusage ru_minflt, whole process, setup included) of each workload run for a fixed number of iterations at 2 threads, the minimum of 3 fresh processes. A run fails above budget x (1 + tolerance) + slack. Rewrite with `cargo xtask fault-gate --update` and justify the change in the commit message.",
        "machine": machine,
        "tolerance": tolerance,
        "slack": slack,
        "iters": iters,
        "budgets": budgets,
        "reference_not_gated": reference,
    })
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub allocator: String,
    pub workload: String,
    pub budget: Option<f64>,
    pub faults: u64,
    pub ops: u64,
    /// `faults` over the median of the peers measured in the same invocation.
    pub vs_median_peer: Option<f64>,
    pub verdict: &'static str,
}

/// Compares measurements with the budget: above `budget × (1 + tolerance) + slack` fails; a
/// gated allocator without a budget fails; other allocators are references.
pub fn check(measured: &Measured, budget: &Budget) -> Vec<Check> {
    let mut out = Vec::new();
    for (a, ws) in measured {
        for (w, f, ops) in ws {
            // C with C when the peers' C libraries were measured: hz3's C library against
            // them, the global allocators against the Rust-linked peers; else every peer.
            let of = |same_kind: bool| -> Vec<f64> {
                measured
                    .iter()
                    .filter(|(p, _)| !gated(p))
                    .filter(|(p, _)| {
                        !same_kind
                            || crate::strategies::is_preload(p) == crate::strategies::is_preload(a)
                    })
                    .filter_map(|(_, pw)| pw.iter().find(|(x, _, _)| x == w))
                    .map(|(_, pf, _)| *pf as f64)
                    .collect()
            };
            let peers = Some(of(true))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| of(false));
            let b = crate::budget::limit(&budget.budgets, a, w);
            let limit = b.map(|b| b * (1.0 + tolerance_for(w, budget.tolerance)) + budget.slack);
            let verdict = match (gated(a), limit) {
                (false, _) => crate::budget::REFERENCE,
                (true, None) => crate::budget::MISSING,
                (true, Some(l)) if *f as f64 > l => crate::budget::OVER,
                (true, Some(_)) => "ok",
            };
            out.push(Check {
                allocator: a.clone(),
                workload: w.clone(),
                budget: b,
                faults: *f,
                ops: *ops,
                vs_median_peer: crate::stats::median(&peers)
                    .filter(|m| *m > 0.0)
                    .map(|m| *f as f64 / m),
                verdict,
            });
        }
    }
    out
}

pub fn failed(checks: &[Check]) -> bool {
    crate::budget::failed(checks.iter().map(|c| c.verdict))
}

pub fn render(checks: &[Check], budget: &Budget) -> String {
    let mut t = Table::cols(
        "workload | allocator | budget | faults | faults/1k ops | ÷median peer | verdict",
    );
    for c in checks {
        t.row(vec![
            c.workload.clone(),
            c.allocator.clone(),
            c.budget.map_or("—".into(), |b| format!("{b:.0}")),
            c.faults.to_string(),
            if c.ops > 0 {
                format!("{:.2}", c.faults as f64 * 1000.0 / c.ops as f64)
            } else {
                "—".into()
            },
            c.vs_median_peer.map_or("—".into(), |r| format!("{r:.2}")),
            c.verdict.to_string(),
        ]);
    }
    format!(
        "== page faults: minor faults per run, minimum of the repetitions (limit budget × {:.2} + {:.0}; {}: × {:.2}) ==\n{}",
        1.0 + budget.tolerance,
        budget.slack,
        THREADED.join(", "),
        1.0 + tolerance_for(THREADED[0], budget.tolerance),
        t.render()
    )
}

/// The whole command.
pub fn run(opts: &crate::cli::FaultOpts) -> Result<bool, String> {
    let budget_path = crate::budget::path(&opts.budget);
    let existing = crate::budget::read(&budget_path, opts.update, parse_budget)?;
    let bin_dir = crate::budget::bins(&opts.bins, &opts.allocators)?;
    // The peers' libraries as the matrix gets them; a peer that cannot run is left out.
    let mut allocators = opts.allocators.clone();
    let mut preloads = crate::peers::prepare(&mut allocators, &mut Vec::new()).libs;
    if allocators.iter().any(|a| a == crate::strategies::PRELOAD) {
        preloads.push((
            crate::strategies::PRELOAD.to_string(),
            crate::runner::preload_lib(&bin_dir),
        ));
    }
    let mut measured: Measured = Vec::new();
    for (i, a) in allocators.iter().enumerate() {
        tracing::info!("fault-gate [{}/{}] {a}", i + 1, allocators.len());
        measured.push((a.clone(), measure(&bin_dir, a, &preloads, opts.reps)?));
    }
    let machine = crate::machine::Machine::detect().describe();
    let budget = match existing {
        Some(b) => Budget {
            tolerance: opts.tolerance.unwrap_or(b.tolerance),
            ..b
        },
        None => {
            let tolerance = opts.tolerance.unwrap_or(DEFAULT_TOLERANCE);
            let v = budget_json(&measured, tolerance, DEFAULT_SLACK, &machine);
            let text = crate::budget::write(&budget_path, &v)?;
            println!("wrote {}", budget_path.display());
            parse_budget(&text)?
        }
    };
    println!("machine: {machine}");
    let checks = check(&measured, &budget);
    println!("{}", render(&checks, &budget));
    Ok(!failed(&checks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(a: &str, faults: &[(&str, u64)]) -> (String, Vec<(String, u64, u64)>) {
        (
            a.to_string(),
            faults
                .iter()
                .map(|(w, f)| (w.to_string(), *f, 1000))
                .collect(),
        )
    }

    fn budget(entries: &[(&str, &[(&str, f64)])]) -> Budget {
        Budget {
            tolerance: 0.15,
            slack: 256.0,
            budgets: entries
                .iter()
                .map(|(a, ws)| {
                    (
                        a.to_string(),
                        ws.iter().map(|(w, f)| (w.to_string(), *f)).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn limit_is_budget_times_tolerance_plus_slack() {
        let b = budget(&[("hz3-a-cache", &[("large-1m", 1000.0)])]);
        // limit = 1000 × 1.15 + 256 = 1406
        let ok = check(&vec![m("hz3-a-cache", &[("large-1m", 1406)])], &b);
        assert_eq!(ok[0].verdict, "ok");
        let over = check(&vec![m("hz3-a-cache", &[("large-1m", 1407)])], &b);
        assert_eq!(over[0].verdict, "OVER BUDGET");
        assert!(failed(&over) && !failed(&ok));
        // A threaded shape: limit = 1000 × 1.6 + 256 = 1856.
        let b = budget(&[("hz3-a-cache", &[("size-shift", 1000.0)])]);
        let ok = check(&vec![m("hz3-a-cache", &[("size-shift", 1856)])], &b);
        assert_eq!(ok[0].verdict, "ok");
        let over = check(&vec![m("hz3-a-cache", &[("size-shift", 1857)])], &b);
        assert_eq!(over[0].verdict, "OVER BUDGET");
    }

    #[test]
    fn gated_without_budget_fails_and_peers_are_references() {
        let b = budget(&[]);
        let c = check(
            &vec![
                m("hz3-preload", &[("size-shift", 10)]),
                m("mimalloc", &[("size-shift", 20)]),
                m("jemalloc", &[("size-shift", 40)]),
                m("system", &[("size-shift", 30)]),
            ],
            &b,
        );
        assert_eq!(c[0].verdict, "NO BUDGET");
        assert_eq!(c[1].verdict, "reference");
        // hz3 over the median peer (30): no C library of a peer was measured.
        assert!((c[0].vs_median_peer.unwrap() - 10.0 / 30.0).abs() < 1e-9);
        assert!(failed(&c));
        // With the peers' C libraries, hz3's C library is compared with them only.
        let c = check(
            &vec![
                m("hz3-preload", &[("size-shift", 10)]),
                m("mimalloc", &[("size-shift", 20)]),
                m("tcmalloc-preload", &[("size-shift", 100)]),
            ],
            &b,
        );
        assert!((c[0].vs_median_peer.unwrap() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn budget_round_trips_and_rejects_other_schemas() {
        let measured = vec![
            m("hz3-a-cache", &[("large-1m", 400), ("size-shift", 10000)]),
            m("jemalloc", &[("large-1m", 900)]),
        ];
        let v = budget_json(&measured, 0.2, 100.0, "test machine");
        let b = parse_budget(&v.to_string()).unwrap();
        assert_eq!(b.tolerance, 0.2);
        assert_eq!(b.slack, 100.0);
        assert_eq!(b.budgets.len(), 1, "peers are not budgets");
        assert_eq!(b.budgets.values().next().unwrap().len(), 2);
        assert!(parse_budget(r#"{"schema":"x","budgets":{}}"#).is_err());
    }

    #[test]
    fn committed_budget_parses_and_covers_the_default_allocators() {
        let p = crate::paths::workspace_root().join("benches/fault-budget.json");
        let b = parse_budget(&std::fs::read_to_string(p).unwrap()).unwrap();
        for a in crate::cli::FAULT_GATE_ALLOCATORS {
            let (_, ws) = b
                .budgets
                .iter()
                .find(|(x, _)| x == a)
                .unwrap_or_else(|| panic!("no budget for {a}"));
            for (w, _) in WORKLOADS {
                assert!(ws.iter().any(|(x, _)| x == w), "{a}: no budget for {w}");
            }
        }
    }
}
