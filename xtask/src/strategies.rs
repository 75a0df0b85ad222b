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
    let start = src
        .find(LIST_START)
        .ok_or("strategy list start marker not found")?;
    let end = src[start..]
        .find(LIST_END)
        .ok_or("strategy list end marker not found")?
        + start;
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
        if module.is_empty()
            || !module
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!("bad module name in strategy line: {line:?}"));
        }
        if !name.starts_with("hz3-")
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!("strategy names are hz3-<lowercase-name>: {line:?}"));
        }
        if out.iter().any(|s| s.name == name || s.module == module) {
            return Err(format!("duplicate strategy: {line:?}"));
        }
        out.push(Strategy {
            module: module.to_string(),
            name: name.to_string(),
        });
    }
    if out.is_empty() {
        return Err("the strategy list is empty".into());
    }
    Ok(out)
}

pub fn read_strategies(root: &Path) -> Result<Vec<Strategy>, String> {
    let path = root.join("benches/src/allocators.rs");
    let src =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse_strategy_list(&src).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every allocator name in table order: system, the peers, the hz3 strategies, then the rows
/// measured through C `malloc`/`free` under `LD_PRELOAD` (hz3's and the peers' libraries).
pub fn allocator_names(strategies: &[Strategy]) -> Vec<String> {
    let mut v = vec!["system".to_string()];
    v.extend(PEERS.iter().map(|s| s.to_string()));
    v.extend(strategies.iter().map(|s| s.name.clone()));
    v.push(PRELOAD.to_string());
    v.extend(PRELOAD_PEERS.iter().map(|p| p.name.to_string()));
    v
}

/// The `LD_PRELOAD` build of hz3 (the C API library, default strategy) measured through the
/// `bench-system` binary: its `System` allocator calls `malloc`, which the preloaded library
/// provides. Compared with the `GlobalAlloc` rows of the same strategy, it shows what the C
/// entry points and the shared library's TLS access cost.
pub const PRELOAD: &str = "hz3-preload";

/// A peer's shared library preloaded into `bench-system` (issue 15: C compared with C). Debian
/// ships both (`apt-get install libmimalloc2.0 libjemalloc2`); a row whose library is not found is
/// skipped with a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreloadPeer {
    /// The row's allocator name.
    pub name: &'static str,
    /// The library's file name (its soname).
    pub file: &'static str,
    /// An environment variable that names the library's path, overriding the search.
    pub env: &'static str,
    /// The Debian package that ships it.
    pub package: &'static str,
}

pub const PRELOAD_PEERS: &[PreloadPeer] = &[
    PreloadPeer {
        name: "mimalloc-preload",
        file: "libmimalloc.so.2",
        env: "HZ3_BENCH_MIMALLOC_SO",
        package: "libmimalloc2.0",
    },
    PreloadPeer {
        name: "jemalloc-preload",
        file: "libjemalloc.so.2",
        env: "HZ3_BENCH_JEMALLOC_SO",
        package: "libjemalloc2",
    },
];

/// Where a preload peer's library is looked for (in this order), after its environment variable.
pub const PRELOAD_LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
];

pub fn preload_peer(name: &str) -> Option<&'static PreloadPeer> {
    PRELOAD_PEERS.iter().find(|p| p.name == name)
}

/// A row measured through `bench-system` with a library preloaded (hz3's or a peer's).
pub fn is_preload(name: &str) -> bool {
    name == PRELOAD || preload_peer(name).is_some()
}

/// An hz3 strategy type with its own bench binaries (and stats binary).
pub fn is_hz3(name: &str) -> bool {
    name.starts_with("hz3-") && name != PRELOAD
}

pub const TOML_START: &str =
    "# --- binaries: generated by `cargo xtask sync-bins` from src/allocators.rs; do not edit ---";
pub const TOML_END: &str = "# --- end of generated binaries ---";

fn bin_entry(out: &mut String, name: &str, path: &str, peers: bool) {
    out.push_str(&format!("\n[[bin]]\nname = \"{name}\"\npath = \"{path}\"\ntest = false\nbench = false\ndoc = false\n"));
    if peers {
        out.push_str("required-features = [\"peers\"]\n");
    }
}

/// The `[[bin]]` block of benches/Cargo.toml for this strategy list (markers included).
pub fn cargo_bin_block(strategies: &[Strategy]) -> String {
    let mut out = String::from(TOML_START);
    out.push('\n');
    bin_entry(&mut out, "bench-system", "src/bin/bench-system.rs", false);
    for p in PEERS {
        bin_entry(
            &mut out,
            &format!("bench-{p}"),
            &format!("src/peer_bins/bench-{p}.rs"),
            true,
        );
    }
    for s in strategies {
        for suffix in ["", "-stats"] {
            let name = format!("bench-{}{suffix}", s.name);
            bin_entry(&mut out, &name, &format!("src/bin/{name}.rs"), false);
        }
    }
    out.push('\n');
    out.push_str(TOML_END);
    out.push('\n');
    out
}

/// `manifest` with its generated block replaced (or appended when it has none).
pub fn with_bin_block(manifest: &str, strategies: &[Strategy]) -> String {
    let block = cargo_bin_block(strategies);
    match (manifest.find(TOML_START), manifest.find(TOML_END)) {
        (Some(a), Some(b)) if b > a => {
            let end = b + TOML_END.len();
            let end = if manifest[end..].starts_with('\n') {
                end + 1
            } else {
                end
            };
            format!("{}{block}{}", &manifest[..a], &manifest[end..])
        }
        _ => format!(
            "{}\n{block}",
            manifest.trim_end_matches('\n').to_string() + "\n"
        ),
    }
}

/// Writes `benches/src/bin/bench-<name>.rs` and `…-stats.rs` for each strategy, removes hz3
/// binaries that are no longer listed, and rewrites the `[[bin]]` block of benches/Cargo.toml.
/// Returns a description of each change.
pub fn sync_bins(root: &Path, strategies: &[Strategy]) -> Result<Vec<String>, String> {
    let dir = root.join("benches/src/bin");
    let mut changes = Vec::new();
    let manifest_path = root.join("benches/Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("reading {}: {e}", manifest_path.display()))?;
    let updated = with_bin_block(&manifest, strategies);
    if updated != manifest {
        std::fs::write(&manifest_path, &updated)
            .map_err(|e| format!("writing {}: {e}", manifest_path.display()))?;
        changes.push(format!(
            "rewrote the [[bin]] block of {}",
            manifest_path.display()
        ));
    }
    let mut wanted = Vec::new();
    for s in strategies {
        for (file, src) in [
            (
                format!("bench-{}.rs", s.name),
                format!("hz3_bench::hz3_bin!({});\n", s.module),
            ),
            (
                format!("bench-{}-stats.rs", s.name),
                format!("hz3_bench::hz3_bin!({}, stats);\n", s.module),
            ),
        ] {
            let path = dir.join(&file);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(src.as_str()) {
                std::fs::write(&path, &src)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
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
        let names: Vec<_> = s
            .iter()
            .map(|s| (s.module.as_str(), s.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("hz3_a", "hz3-a"),
                ("hz3_c_packed", "hz3-c-packed"),
                ("hz3_d4", "hz3-d4")
            ]
        );
        let all = allocator_names(&s);
        assert_eq!(all[..4], ["system", "mimalloc", "jemalloc", "snmalloc"]);
        assert_eq!(all.len(), 10);
        assert_eq!(all[7..], [PRELOAD, "mimalloc-preload", "jemalloc-preload"]);
        assert!(!is_hz3(PRELOAD) && is_hz3("hz3-a"));
        assert!(is_preload(PRELOAD) && is_preload("jemalloc-preload") && !is_preload("jemalloc"));
        assert!(!is_hz3("mimalloc-preload"));
    }

    #[test]
    fn rejects_bad_lists() {
        assert!(parse_strategy_list("nothing here").is_err());
        let bad = SRC.replace("\"hz3-a\"", "\"A\"");
        assert!(parse_strategy_list(&bad)
            .unwrap_err()
            .contains("hz3-<lowercase-name>"));
        let dup = SRC.replace(
            "hz3_c_packed => \"hz3-c-packed\"",
            "hz3_c_packed => \"hz3-a\"",
        );
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
    fn the_bin_block_is_replaced_in_place() {
        let s = parse_strategy_list(SRC).unwrap();
        let once = with_bin_block("[package]\n\n[lints]\nworkspace = true\n", &s);
        assert_eq!(with_bin_block(&once, &s), once, "idempotent");
        let fewer = with_bin_block(&once, &s[..1]);
        assert!(!fewer.contains("hz3-d4") && fewer.contains("bench-hz3-a-stats"));
        assert_eq!(fewer.matches(TOML_START).count(), 1);
        assert!(once.contains("name = \"bench-jemalloc\"\npath = \"src/peer_bins/bench-jemalloc.rs\"\ntest = false\nbench = false\ndoc = false\nrequired-features = [\"peers\"]"));
    }

    #[test]
    fn the_committed_benches_are_in_sync() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let s = read_strategies(root).unwrap();
        let manifest = std::fs::read_to_string(root.join("benches/Cargo.toml")).unwrap();
        assert_eq!(
            with_bin_block(&manifest, &s),
            manifest,
            "benches/Cargo.toml is stale: run `cargo xtask sync-bins`"
        );
    }

    #[test]
    fn sync_writes_and_prunes() {
        let tmp = std::env::temp_dir().join(format!("xtask-sync-{}", std::process::id()));
        let bin = tmp.join("benches/src/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(tmp.join("benches/Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        std::fs::write(bin.join("bench-hz3-old.rs"), "x").unwrap();
        std::fs::write(bin.join("bench-system.rs"), "keep").unwrap();
        let s = parse_strategy_list(SRC).unwrap();
        let changes = sync_bins(&tmp, &s).unwrap();
        assert_eq!(changes.len(), 8, "{changes:?}");
        let toml = std::fs::read_to_string(tmp.join("benches/Cargo.toml")).unwrap();
        assert!(
            toml.starts_with("[package]\nname = \"x\"\n\n# --- binaries"),
            "{toml}"
        );
        assert!(toml.contains(
            "name = \"bench-hz3-d4-stats\"\npath = \"src/bin/bench-hz3-d4-stats.rs\"\ntest = false"
        ));
        assert_eq!(
            std::fs::read_to_string(bin.join("bench-hz3-d4-stats.rs")).unwrap(),
            "hz3_bench::hz3_bin!(hz3_d4, stats);\n"
        );
        assert!(!bin.join("bench-hz3-old.rs").exists());
        assert!(bin.join("bench-system.rs").exists());
        assert!(
            sync_bins(&tmp, &s).unwrap().is_empty(),
            "second sync changes nothing"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
