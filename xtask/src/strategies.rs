//! The hz3 strategy list lives in one place, `benches/src/allocators.rs` (one line per strategy).
//! xtask reads it as text (so xtask does not have to compile the allocator) and writes the two
//! one-line binaries Cargo needs per strategy (`sync-bins`).

use std::path::Path;

use crate::cli::PEERS;

pub const LIST_START: &str = "// --- the strategy list";
pub const LIST_END: &str = "// --- end of the strategy list ---";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// The module name in hz3_bench::allocators (e.g. `hz3_c_packed`).
    pub module: String,
    /// The allocator name (e.g. `hz3-c-packed`).
    pub name: String,
}

/// Reads `module => "name", Type;` lines between the list markers.
pub fn parse_strategy_list(src: &str) -> Result<Vec<Strategy>, String> {
    let start = src.find(LIST_START).ok_or("strategy list start marker not found")?;
    let end = src[start..].find(LIST_END).ok_or("strategy list end marker not found")? + start;
    let mut out: Vec<Strategy> = Vec::new();
    for line in src[start..end].lines().skip(1) {
        let line = line.trim();
        if line.starts_with("//") || !line.contains("=>") {
            continue;
        }
        let (module, rest) = line.split_once("=>").unwrap();
        let module = module.trim();
        let rest = rest.trim();
        let name = rest
            .strip_prefix('"')
            .and_then(|r| r.split_once('"'))
            .map(|(n, _)| n)
            .ok_or_else(|| format!("strategy line without a quoted name: {line:?}"))?;
        if module.is_empty() || !module.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad module name in strategy line: {line:?}"));
        }
        if !name.starts_with("hz3-") || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(format!("strategy names are hz3-<lowercase-name>: {line:?}"));
        }
        if out.iter().any(|s| s.name == name || s.module == module) {
            return Err(format!("duplicate strategy: {line:?}"));
        }
        out.push(Strategy { module: module.to_string(), name: name.to_string() });
    }
    if out.is_empty() {
        return Err("the strategy list is empty".into());
    }
    Ok(out)
}

pub fn read_strategies(root: &Path) -> Result<Vec<Strategy>, String> {
    let path = root.join("benches/src/allocators.rs");
    let src = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse_strategy_list(&src).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every allocator name in table order: system, the peers, the hz3 strategies.
pub fn allocator_names(strategies: &[Strategy]) -> Vec<String> {
    let mut v = vec!["system".to_string()];
    v.extend(PEERS.iter().map(|s| s.to_string()));
    v.extend(strategies.iter().map(|s| s.name.clone()));
    v
}

pub fn is_hz3(name: &str) -> bool {
    name.starts_with("hz3-")
}

/// Writes `benches/src/bin/bench-<name>.rs` and `…-stats.rs` for each strategy and removes hz3
/// binaries that are no longer listed. Returns a description of each change.
pub fn sync_bins(root: &Path, strategies: &[Strategy]) -> Result<Vec<String>, String> {
    let dir = root.join("benches/src/bin");
    let mut changes = Vec::new();
    let mut wanted = Vec::new();
    for s in strategies {
        for (file, src) in [
            (format!("bench-{}.rs", s.name), format!("hz3_bench::hz3_bin!({});\n", s.module)),
            (format!("bench-{}-stats.rs", s.name), format!("hz3_bench::hz3_bin!({}, stats);\n", s.module)),
        ] {
            let path = dir.join(&file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(src.as_str()) {
                std::fs::write(&path, &src).map_err(|e| format!("writing {}: {e}", path.display()))?;
                changes.push(format!("wrote {}", path.display()));
            }
            wanted.push(file);
        }
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        if file.starts_with("bench-hz3-") && file.ends_with(".rs") && !wanted.contains(&file) {
            std::fs::remove_file(e.path()).map_err(|err| format!("removing {file}: {err}"))?;
            changes.push(format!("removed {}", e.path().display()));
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
hz3_strategies! {
    // --- the strategy list (one line each) ---
    hz3_a => "hz3-a", OwnerStash;
    // a comment
    hz3_c_packed => "hz3-c-packed", DrainAllPacked;
    hz3_d4 => "hz3-d4", Packets<4>;
    // --- end of the strategy list ---
}
"#;

    #[test]
    fn parses_the_list() {
        let s = parse_strategy_list(SRC).unwrap();
        let names: Vec<_> = s.iter().map(|s| (s.module.as_str(), s.name.as_str())).collect();
        assert_eq!(names, vec![("hz3_a", "hz3-a"), ("hz3_c_packed", "hz3-c-packed"), ("hz3_d4", "hz3-d4")]);
        let all = allocator_names(&s);
        assert_eq!(all[..4], ["system", "mimalloc", "jemalloc", "snmalloc"]);
        assert_eq!(all.len(), 7);
    }

    #[test]
    fn rejects_bad_lists() {
        assert!(parse_strategy_list("nothing here").is_err());
        let bad = SRC.replace("\"hz3-a\"", "\"A\"");
        assert!(parse_strategy_list(&bad).unwrap_err().contains("hz3-<lowercase-name>"));
        let dup = SRC.replace("hz3_c_packed => \"hz3-c-packed\"", "hz3_c_packed => \"hz3-a\"");
        assert!(parse_strategy_list(&dup).unwrap_err().contains("duplicate"));
    }

    #[test]
    fn the_real_list_parses_and_has_the_s121_matrix() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let s = read_strategies(root).unwrap();
        for n in ["hz3-a", "hz3-b", "hz3-c", "hz3-d", "hz3-c-packed"] {
            assert!(s.iter().any(|s| s.name == n), "{n} missing");
        }
    }

    #[test]
    fn sync_writes_and_prunes() {
        let tmp = std::env::temp_dir().join(format!("xtask-sync-{}", std::process::id()));
        let bin = tmp.join("benches/src/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("bench-hz3-old.rs"), "x").unwrap();
        std::fs::write(bin.join("bench-system.rs"), "keep").unwrap();
        let s = parse_strategy_list(SRC).unwrap();
        let changes = sync_bins(&tmp, &s).unwrap();
        assert_eq!(changes.len(), 7, "{changes:?}");
        assert_eq!(std::fs::read_to_string(bin.join("bench-hz3-d4-stats.rs")).unwrap(), "hz3_bench::hz3_bin!(hz3_d4, stats);\n");
        assert!(!bin.join("bench-hz3-old.rs").exists());
        assert!(bin.join("bench-system.rs").exists());
        assert!(sync_bins(&tmp, &s).unwrap().is_empty(), "second sync changes nothing");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
