//! What the two deterministic budget gates share (`callgrind-gate`, `fault-gate`): where the
//! budget file is, reading it (or not, under `--update`), writing it, the bench binaries they
//! run, and the verdicts that fail a gate.

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
