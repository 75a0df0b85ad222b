//! What `callgrind-gate` and `fault-gate` share: budget file, binaries, measuring loop, checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Verdict of a gated allocator whose figure is above its limit.
pub const OVER: &str = "OVER BUDGET";
/// Verdict of a gated allocator with no figure in the budget (add it with `--update`).
pub const MISSING: &str = "NO BUDGET";
/// Verdict of an allocator shown for scale, never gated.
pub const REFERENCE: &str = "reference";

/// An allocator and its (metric or workload, figure) pairs, in the order measured.
pub type Figures<T> = (String, Vec<(String, T)>);

/// The gated figures of a budget file: allocator → figure (metric or workload) → budget.
pub type Limits = BTreeMap<String, BTreeMap<String, f64>>;

/// What both budget files hold beside their notes.
#[derive(Debug, serde::Deserialize)]
pub struct File {
    pub tolerance: Option<f64>,
    pub slack: Option<f64>,
    pub budgets: Limits,
}

/// Parses a budget file of schema `schema`.
pub fn parse(text: &str, schema: &str) -> Result<File, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if v["schema"] != schema {
        return Err(format!("schema must be {schema:?}"));
    }
    serde::Deserialize::deserialize(v).map_err(|e| e.to_string())
}

/// The budget file (from the workspace root unless absolute) and its budget; `None` if --update.
pub fn read(path: &Path, update: bool, schema: &str) -> Result<(PathBuf, Option<File>), String> {
    let path = crate::paths::workspace_root().join(path);
    if update {
        return Ok((path, None));
    }
    let (p, text) = (path.display(), std::fs::read_to_string(&path));
    let text =
        text.map_err(|e| format!("cannot read budget {p}: {e} (create it with --update)"))?;
    let file = parse(&text, schema).map_err(|e| format!("budget {p}: {e}"))?;
    Ok((path, Some(file)))
}

/// `existing`, or (under `--update`) the budget `v` written to `path` and read back.
pub fn or_write(
    existing: Option<File>,
    path: &Path,
    schema: &str,
    v: impl FnOnce() -> Value,
) -> Result<File, String> {
    if let Some(f) = existing {
        return Ok(f);
    }
    let text = serde_json::to_string_pretty(&v()).map_err(|e| e.to_string())? + "\n";
    std::fs::write(path, &text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    parse(&text, schema)
}

/// `measure` of each allocator, logged as `what [i/n] allocator{note}`.
pub fn measure_all<T>(
    what: &str,
    note: &str,
    allocators: &[String],
    measure: impl Fn(&str) -> Result<Vec<(String, T)>, String>,
) -> Result<Vec<Figures<T>>, String> {
    let n = allocators.len();
    let each = allocators.iter().enumerate().map(|(i, a)| {
        tracing::info!("{what} [{}/{n}] {a}{note}", i + 1);
        Ok((a.clone(), measure(a)?))
    });
    each.collect()
}

/// `measured` as the `budgets` (`gated`) and `reference_not_gated` objects of a budget file.
pub fn split<T>(
    measured: &[Figures<T>],
    gated: fn(&str) -> bool,
    record: impl Fn(&T) -> Value,
) -> [Value; 2] {
    let mut split = [serde_json::Map::new(), serde_json::Map::new()];
    for (a, figures) in measured {
        let obj = figures.iter().map(|(k, v)| (k.clone(), record(v)));
        split[usize::from(!gated(a))].insert(a.clone(), Value::Object(obj.collect()));
    }
    split.map(Value::Object)
}

/// One figure of one allocator against its budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Check<T> {
    pub allocator: String,
    /// The metric or workload.
    pub name: String,
    pub budget: Option<f64>,
    pub figure: T,
    pub verdict: &'static str,
}

/// Each figure of `measured` (its `value`) against `budgets`: a `gated` allocator fails above
/// `band(name, budget).0` or without a budget and is "under" below `band(..).1`.
pub fn check<T: Clone>(
    measured: &[Figures<T>],
    budgets: &Limits,
    gated: fn(&str) -> bool,
    value: impl Fn(&T) -> f64,
    band: impl Fn(&str, f64) -> (f64, f64),
) -> Vec<Check<T>> {
    let mut out = Vec::new();
    for (a, figures) in measured {
        for (name, figure) in figures {
            let budget = budgets.get(a).and_then(|m| m.get(name)).copied();
            let v = value(figure);
            let verdict = match (gated(a), budget.map(|b| band(name, b))) {
                (false, _) => REFERENCE,
                (true, None) => MISSING,
                (true, Some((over, _))) if v > over => OVER,
                (true, Some((_, under))) if v < under => "under (consider --update)",
                (true, Some(_)) => "ok",
            };
            out.push(Check {
                allocator: a.clone(),
                name: name.clone(),
                budget,
                figure: figure.clone(),
                verdict,
            });
        }
    }
    out
}

/// Whether any check fails the gate.
pub fn failed<T>(checks: &[Check<T>]) -> bool {
    checks.iter().any(|c| [OVER, MISSING].contains(&c.verdict))
}

/// `checks` as a table under `title`, each row as `cells` gives it with the verdict after.
pub fn render<T>(
    title: &str,
    header: &str,
    checks: &[Check<T>],
    cells: impl Fn(&Check<T>) -> Vec<String>,
) -> String {
    let mut t = crate::table::Table::cols(header);
    for c in checks {
        t.row([cells(c), vec![c.verdict.to_string()]].concat());
    }
    format!("{title}\n{}", t.render())
}
