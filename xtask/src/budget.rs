//! What the two deterministic budget gates share (`callgrind-gate`, `fault-gate`): where the
//! budget file is, reading it (or not, under `--update`), writing it, the bench binaries they
//! run, and the verdicts that fail a gate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Verdict of a gated allocator whose figure is above its limit.
pub const OVER: &str = "OVER BUDGET";
/// Verdict of a gated allocator with no figure in the budget (a new strategy adds its line
/// with `--update`).
pub const MISSING: &str = "NO BUDGET";
/// Verdict of an allocator shown for scale, never gated.
pub const REFERENCE: &str = "reference";

/// Whether any of `verdicts` fails the gate.
pub fn failed<'a>(mut verdicts: impl Iterator<Item = &'a str>) -> bool {
    verdicts.any(|v| v == OVER || v == MISSING)
}

/// The budget file: `path` itself if absolute, else relative to the workspace root.
pub fn path(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        crate::paths::workspace_root().join(path)
    }
}

/// Reads and parses the budget at `path`; `None` under `--update` (it is rewritten).
pub fn read<B>(
    path: &Path,
    update: bool,
    parse: impl Fn(&str) -> Result<B, String>,
) -> Result<Option<B>, String> {
    if update {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read budget {}: {e} (create it with --update)",
            path.display()
        )
    })?;
    parse(&text)
        .map(Some)
        .map_err(|e| format!("budget {}: {e}", path.display()))
}

/// Writes `v` as the budget at `path` and returns the text as written.
pub fn write(path: &Path, v: &serde_json::Value) -> Result<String, String> {
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())? + "\n";
    std::fs::write(path, &text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(text)
}

/// Builds the bench binaries of `allocators` when asked and returns the directory that holds
/// them, checked.
pub fn bins(bins: &crate::cli::Bins, allocators: &[String]) -> Result<PathBuf, String> {
    if bins.build {
        crate::runner::build(allocators, false, 0)?;
    }
    let dir = bins
        .bin_dir
        .clone()
        .unwrap_or_else(crate::paths::default_bin_dir);
    crate::runner::check_bins(&dir, allocators, false)?;
    Ok(dir)
}

/// The gated figures of a budget file: allocator → figure (metric or workload) → budget.
pub type Limits = BTreeMap<String, BTreeMap<String, f64>>;

/// What both budget files hold beside their notes.
#[derive(serde::Deserialize)]
pub struct File {
    pub tolerance: Option<f64>,
    pub slack: Option<f64>,
    pub budgets: Limits,
}

/// Parses a budget file of schema `schema`.
pub fn parse(text: &str, schema: &str) -> Result<File, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if v["schema"] != schema {
        return Err(format!("schema must be {schema:?}"));
    }
    serde::Deserialize::deserialize(v).map_err(|e| e.to_string())
}

/// The budget of `allocator`'s figure `name`.
pub fn limit(limits: &Limits, allocator: &str, name: &str) -> Option<f64> {
    limits.get(allocator)?.get(name).copied()
}

/// `measured` (allocator → figures) split into the gated allocators' and the others'.
pub fn split<T: serde::Serialize>(
    measured: &[(String, Vec<(String, T)>)],
    gated: impl Fn(&str) -> bool,
) -> (serde_json::Value, serde_json::Value) {
    let (mut budgets, mut reference) = (serde_json::Map::new(), serde_json::Map::new());
    for (a, figures) in measured {
        let obj: serde_json::Map<String, serde_json::Value> = figures
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        let to = if gated(a) {
            &mut budgets
        } else {
            &mut reference
        };
        to.insert(a.clone(), obj.into());
    }
    (budgets.into(), reference.into())
}
