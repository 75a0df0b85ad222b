//! Where things are: the workspace, and the bench binaries that cargo built.

use std::path::{Path, PathBuf};

/// The workspace root (xtask's manifest lives one level below it).
pub fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().expect("xtask has a parent directory").into()
}

/// Where `cargo build --release` puts binaries: beside this xtask binary's profile directory (so
/// CARGO_TARGET_DIR holds through cargo, which built us), `<target>/release`.
pub fn default_bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().unwrap_or(Path::new(""));
    match dir.parent() {
        Some(target) if dir.file_name().is_some_and(|n| n != "release") => target.join("release"),
        _ => dir.to_path_buf(),
    }
}
