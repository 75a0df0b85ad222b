//! The peers' C libraries for the `*-preload` rows and every peer's version: built from vendored
//! crate sources, installed from Debian packages, or named by an environment variable; each
//! checked by a probe. How and why: docs/bench-matrix.md ("The peers through their C ABI").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// How a preload row's library is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A Debian package's shared library (file, package), looked for in [`PRELOAD_LIB_DIRS`].
    Debian(&'static str, &'static str),
    /// Built by xtask from the sources a crate of the lock file vendors.
    Vendored(Recipe),
}

/// A library that xtask compiles itself from a crate's sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipe {
    pub crate_name: &'static str,
    /// The library's file name under `<target>/peers/`.
    pub file: &'static str,
    /// The source directory inside the crate (what the stamp hashes).
    dir: &'static str,
    /// The compiler's environment variable and its default.
    compiler: (&'static str, &'static str),
    /// The compiler's arguments (no `-o`): `@` is the source directory, `x86:` only on x86_64.
    args: &'static str,
}

/// mimalloc 3 (`libmimalloc-sys`'s `c_src/mimalloc/v3`): `src/static.c`, as CMake's shared
/// `mimalloc` target with `MI_OVERRIDE=ON` builds it: CMake's Release flags, mi_cflags
/// (GNU/Clang) and the shared target's defines.
pub const MIMALLOC3: Recipe = Recipe {
    crate_name: "libmimalloc-sys",
    file: "libmimalloc3.so",
    dir: "c_src/mimalloc/v3",
    compiler: ("CC", "cc"),
    args: "-O3 -DNDEBUG -fPIC -shared -fvisibility=hidden -ftls-model=initial-exec \
           -fno-builtin-malloc -Wno-unknown-pragmas -DMI_MALLOC_OVERRIDE -DMI_BUILD_RELEASE \
           -DMI_CMAKE_BUILD_TYPE=release -DMI_SHARED_LIB -DMI_SHARED_LIB_EXPORT \
           -I@/include @/src/static.c -lpthread",
};

/// snmalloc (`snmalloc-sys`'s `upstream`): `override/malloc.cc` + `override/new.cc`, as CMake's
/// `snmallocshim` (`libsnmallocshim.so`) builds them: CMake's Release flags, the `snmalloc`
/// interface target (C++20, wait-on-address, -mcx16) and `compile()`'s options for a SHARED
/// library on Linux, with the feature checks that succeed on glibc spelled out.
pub const SNMALLOC: Recipe = Recipe {
    crate_name: "snmalloc-sys",
    file: "libsnmallocshim.so",
    dir: "upstream/src",
    compiler: ("CXX", "c++"),
    args: "-std=c++20 -O3 -DNDEBUG -fPIC -shared -fvisibility=hidden -fomit-frame-pointer \
           -ftls-model=initial-exec -ffunction-sections -pthread x86:-mcx16 x86:-mprfchw \
           -DSNMALLOC_USE_CXX11_THREAD_ATEXIT_DIRECT \
           -DSNMALLOC_EXPORT=__attribute__((visibility(\"default\"))) \
           -DSNMALLOC_CHECK_LOADS=false -DSNMALLOC_PAGEID=false \
           -DSNMALLOC_USE_WAIT_ON_ADDRESS=1 -DSNMALLOC_HAS_LINUX_FUTEX_H \
           -DSNMALLOC_HAS_LINUX_RANDOM_H -DSNMALLOC_PLATFORM_HAS_GETENTROPY \
           -DSNMALLOC_PTHREAD_ATFORK_WORKS -DMALLOC_USABLE_SIZE_QUALIFIER=const \
           -I@ @/snmalloc/override/malloc.cc @/snmalloc/override/new.cc -static-libstdc++",
};

impl Recipe {
    /// The compiler and its arguments (without `-o`), for the crate unpacked at `krate`.
    pub fn command(&self, krate: &Path) -> (String, Vec<String>) {
        let src = krate.join(self.dir).display().to_string();
        let x86 = cfg!(target_arch = "x86_64");
        let words = self.args.split_whitespace();
        let args = words.filter(|a| x86 || !a.starts_with("x86:"));
        let args = args.map(|a| a.trim_start_matches("x86:").replace('@', &src));
        (env_or(self.compiler.0, self.compiler.1), args.collect())
    }
}

fn env_or(var: &str, default: &str) -> String {
    let v = std::env::var(var).ok().filter(|v| !v.is_empty());
    v.unwrap_or_else(|| default.into())
}

/// A peer's shared library preloaded into `bench-system` (C compared with C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreloadPeer {
    /// The row's allocator name.
    pub name: &'static str,
    pub source: Source,
}

impl PreloadPeer {
    /// The variable naming the library's path, overriding `source` (`HZ3_BENCH_MIMALLOC3_SO`).
    pub fn env(&self) -> String {
        let name = self.name.trim_end_matches("-preload").to_uppercase();
        format!("HZ3_BENCH_{name}_SO")
    }
}

const fn built(name: &'static str, recipe: Recipe) -> PreloadPeer {
    let source = Source::Vendored(recipe);
    PreloadPeer { name, source }
}

const fn debian(name: &'static str, file: &'static str, package: &'static str) -> PreloadPeer {
    let source = Source::Debian(file, package);
    PreloadPeer { name, source }
}

/// The preload rows of the peers, in table order: the current releases first, then Debian's
/// older mimalloc 2.0 and jemalloc (kept: the rows of earlier runs and baselines).
pub const PRELOAD_PEERS: &[PreloadPeer] = &[
    built("mimalloc3-preload", MIMALLOC3),
    built("snmalloc-preload", SNMALLOC),
    debian(
        "tcmalloc-preload",
        "libtcmalloc_minimal.so.4",
        "libtcmalloc-minimal4",
    ),
    debian("mimalloc-preload", "libmimalloc.so.2", "libmimalloc2.0"),
    debian("jemalloc-preload", "libjemalloc.so.2", "libjemalloc2"),
];

/// Where a Debian peer's library is looked for (in this order), after its environment variable.
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

/// The Rust-linked peers (hz3-bench's `peers` feature) and the crates that carry them.
const RUST_PEER_CRATES: &[(&str, &str)] = &[
    ("mimalloc", "libmimalloc-sys"),
    ("jemalloc", "tikv-jemalloc-sys"),
    ("snmalloc", "snmalloc-sys"),
];

/// `30302` → `3.3.2`: `MI_MALLOC_VERSION` of mimalloc.h (major, two digits minor, two patch).
pub fn mimalloc_header_version(header: &str) -> Option<String> {
    let n: u32 = header.lines().find_map(|l| {
        let v = l.trim().strip_prefix("#define MI_MALLOC_VERSION")?;
        v.split_whitespace().next()?.parse().ok()
    })?;
    Some(format!("{}.{}.{}", n / 10000, n / 100 % 100, n % 100))
}

/// The upstream part of a Debian version: `1:2.0.9+ds-2` → `2.0.9`.
pub fn debian_upstream(v: &str) -> &str {
    let v = v.split_once(':').map_or(v, |(_, r)| r);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    v.split(['+', '~']).next().unwrap_or(v)
}

/// A peer's version from its crate `name` (`version`, unpacked at `krate`; `suffix` after it),
/// the upstream version first where the crate tells it: `3.3.2 (libmimalloc-sys 0.1.49)`.
pub fn crate_version(name: &str, krate: &Path, version: &str, suffix: &str) -> String {
    let header = krate.join(MIMALLOC3.dir).join("include/mimalloc.h");
    let header = std::fs::read_to_string(header).unwrap_or_default();
    // tikv-jemalloc-sys 0.7.1+5.3.1-0-g81034ce… carries jemalloc's `git describe`.
    let (v, upstream) = match version.split_once('+') {
        Some((v, j)) => (v, j.split('-').next().map(String::from)),
        None => (version, mimalloc_header_version(&header)),
    };
    let c = format!("{name} {v}{suffix}");
    upstream.map_or_else(|| c.clone(), |u| format!("{u} ({c})"))
}

/// A crate of the lock file (a package of `cargo metadata`).
#[derive(Deserialize)]
struct Krate {
    name: String,
    version: String,
    manifest_path: PathBuf,
}

/// The version and directory of the lock file's crate `name`, from `cargo metadata` (run once,
/// with hz3-bench's `peers` feature: the peers' `-sys` crates; it downloads what is missing).
fn lock_crate(name: &str) -> Option<(&'static str, &'static Path)> {
    static CRATES: OnceLock<Option<Vec<Krate>>> = OnceLock::new();
    let crates = CRATES.get_or_init(|| lock_crates().map_err(|e| tracing::warn!("{e}")).ok());
    let k = crates.iter().flatten().find(|k| k.name == name)?;
    Some((&k.version, k.manifest_path.parent()?))
}

fn lock_crates() -> Result<Vec<Krate>, String> {
    let out = crate::runner::cargo_in(&crate::paths::workspace_root())
        .args("metadata --format-version 1 --features hz3-bench/peers".split(' '))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed ({})", out.status));
    }
    let bad = |e: serde_json::Error| format!("cargo metadata printed no JSON: {e}");
    let mut m: Value = serde_json::from_slice(&out.stdout).map_err(bad)?;
    serde_json::from_value(m["packages"].take()).map_err(bad)
}

/// FNV-1a over the files under `dir` (relative paths and contents, sorted): the sources' stamp.
pub fn hash_tree(dir: &Path) -> Result<u64, String> {
    let (mut dirs, mut files) = (vec![dir.to_path_buf()], Vec::new());
    let reading = |e: std::io::Error| format!("reading {}: {e}", dir.display());
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).map_err(reading)? {
            let p = e.map_err(reading)?.path();
            [&mut files, &mut dirs][usize::from(p.is_dir())].push(p);
        }
    }
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in &files {
        let name = f.strip_prefix(dir).unwrap_or(f).to_string_lossy();
        let text = std::fs::read(f).map_err(|e| format!("reading {}: {e}", f.display()))?;
        for b in [name.as_bytes(), &[0], &text, &[0]].concat() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(h)
}

/// What a build's stamp file holds: the command, the compiler's version, the sources' hash.
pub fn stamp_text(compiler: &str, args: &[String], cc_version: &str, sources: u64) -> String {
    let args = args.join(" ");
    format!("{compiler} {args}\n{cc_version}\nsources {sources:016x}\n")
}

/// Compiles `out` (`compiler args -o out`) unless `<out>.stamp` holds `text`, through a temporary
/// file so that an interrupted build never leaves a half-written one.
fn compile(compiler: &str, args: &[String], text: &str, out: &Path) -> Result<PathBuf, String> {
    let stamp = PathBuf::from(format!("{}.stamp", out.display()));
    if out.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(text) {
        return Ok(out.into());
    }
    let file = out.file_name().unwrap_or_default().to_string_lossy();
    let (line, out_name) = (args.join(" "), out.display());
    tracing::info!("building {file}: {compiler} {line} -o {out_name}");
    let tmp = PathBuf::from(format!("{}.tmp{}", out.display(), std::process::id()));
    let mut cmd = Command::new(compiler);
    let o = cmd.args(args).arg("-o").arg(&tmp).output();
    let o = o.map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if !o.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = err.lines().collect();
        let tail = lines[lines.len().saturating_sub(8)..].join(" | ");
        return Err(format!("compiling {file} failed ({}): {tail}", o.status));
    }
    std::fs::rename(&tmp, out)
        .and_then(|()| std::fs::write(&stamp, text))
        .map_err(|e| format!("writing {}: {e}", out.display()))?;
    Ok(out.into())
}

/// Builds `recipe`'s library into `dir`, again only when the command, compiler or sources change.
fn build_one(recipe: &Recipe, krate: &Path, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (compiler, args) = recipe.command(krate);
    let version = crate::runner::stdout_of(&compiler, &["--version"], None).ok_or_else(|| format!("no C/C++ compiler `{compiler}`; install one (apt-get install build-essential) or name it with CC/CXX"))?;
    let version = version.lines().next().unwrap_or("");
    let sources = hash_tree(&krate.join(recipe.dir))?;
    let text = stamp_text(&compiler, &args, version, sources);
    compile(&compiler, &args, &text, &dir.join(recipe.file))
}

/// The probe: `malloc`/`free` once, then the file that defines each (`dladdr`), one per line.
const PROBE_C: &str = r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    char *p = malloc(100);
    if (!p) return 2;
    memset(p, 1, 100);
    free(p);
    Dl_info m, f;
    if (!dladdr((void *)&malloc, &m) || !dladdr((void *)&free, &f)) return 3;
    printf("%s\n%s\n", m.dli_fname, f.dli_fname);
    return 0;
}
"#;

/// Compiles the probe into `dir` when missing or changed.
fn build_probe(dir: &Path) -> Result<PathBuf, String> {
    let src = dir.join("probe.c");
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    std::fs::write(&src, PROBE_C).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let args = ["-O1", &src.display().to_string(), "-ldl"].map(String::from);
    compile(&env_or("CC", "cc"), &args, PROBE_C, &dir.join("probe"))
}

/// Whether the probe's output says that `lib` defines both `malloc` and `free`.
pub fn probe_says_replaced(output: &str, lib: &Path) -> bool {
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let lines: Vec<&str> = output.lines().collect();
    lines.len() == 2 && lines.iter().all(|l| real(Path::new(l)) == real(lib))
}

/// Runs the probe with `lib` preloaded: `Err` when `lib` does not replace `malloc` and `free`.
fn check_replaces_malloc(probe: &Path, lib: &Path) -> Result<(), String> {
    let mut cmd = Command::new(probe);
    let out = crate::runner::capture(cmd.env("LD_PRELOAD", lib), Duration::from_secs(30))?;
    let (from, l) = (out.trim().replace('\n', ", "), lib.display());
    let why = format!("{l} does not replace malloc/free under LD_PRELOAD (they come from {from})");
    probe_says_replaced(&out, lib).then_some(()).ok_or(why)
}

/// The first of `dirs` that holds `file` (a Debian peer's library, a program on `PATH`): its path.
pub fn find_in(file: &str, dirs: &[impl AsRef<Path>]) -> Option<PathBuf> {
    let mut paths = dirs.iter().map(|d| d.as_ref().join(file));
    paths.find(|p| p.is_file())
}

/// `apt-get install` of `packages` (after an `apt-get update` when the first try fails: a fresh
/// image has no package lists) with the program `apt_get`; `Err` says why it could not.
pub fn apt_install(apt_get: &str, packages: &[&str]) -> Result<(), String> {
    let apt = |args: &[&str]| -> Result<(), String> {
        let out = Command::new(apt_get)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| format!("apt-get is not available ({e})"))?;
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty());
        let failed = format!("apt-get {} failed: {}", args[0], last.unwrap_or(""));
        out.status.success().then_some(()).ok_or(failed)
    };
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(packages);
    tracing::info!("installing {} with apt-get", packages.join(" "));
    let retry = |()| apt(&install);
    match apt(&install) {
        Err(e) if !e.contains("not available") => apt(&["update", "-qq"]).and_then(retry),
        r => r,
    }
}

/// The installed version of a Debian package (`dpkg-query`), as `2.10 (Debian package 2.10-1)`.
fn dpkg_version(package: &str) -> Option<String> {
    let v = crate::runner::stdout_of("dpkg-query", &["-W", "-f=${Version}", package], None)?;
    Some(format!("{} (Debian {package} {v})", debian_upstream(&v)))
}

/// A row's library and its version, or why it cannot run.
type Found = Result<(PathBuf, String), String>;

/// A library named by the row's variable, and its version (dpkg's for a Debian file under /usr).
fn named(pp: &PreloadPeer, path: PathBuf) -> Found {
    let env = pp.env();
    if !path.is_file() {
        return Err(format!("{env}={} is not a file", path.display()));
    }
    let v = match pp.source {
        Source::Debian(_, package) if path.starts_with("/usr") => dpkg_version(package),
        _ => None,
    };
    let v = v.unwrap_or_else(|| format!("unknown ({env}={})", path.display()));
    Ok((path, v))
}

/// A preload row's library: named by its variable, else built into `dir`, else Debian's
/// (`unavailable`: why apt-get could not install it); checked by the probe (built once).
fn find_lib(pp: &PreloadPeer, dir: &Path, unavailable: Option<&str>, probe: &Probe) -> Found {
    let (lib, v) = match (std::env::var_os(pp.env()), pp.source) {
        (Some(path), _) => named(pp, path.into())?,
        (None, Source::Vendored(r)) => {
            let c = r.crate_name;
            let (v, krate) = lock_crate(c).ok_or_else(|| {
                format!("the sources of {c} are not available (cargo metadata found no such crate)")
            })?;
            let lib = build_one(&r, krate, dir)?;
            (lib, crate_version(c, krate, v, " sources"))
        }
        (None, Source::Debian(file, package)) => {
            let Some(lib) = find_in(file, PRELOAD_LIB_DIRS) else {
                let why = unavailable.unwrap_or("installed, yet not found");
                return Err(format!(
                    "{file} not found in {} and not installable here ({why}); install it with `apt-get install {package}`, or name it with {}=PATH",
                    PRELOAD_LIB_DIRS.join(", "),
                    pp.env()
                ));
            };
            let v = dpkg_version(package).unwrap_or_else(|| "unknown (not from dpkg)".into());
            (lib, v)
        }
    };
    let unchecked = |e| tracing::warn!("{e}: the preload libraries are used unchecked");
    if let Some(p) = probe.get_or_init(|| build_probe(dir).map_err(unchecked).ok()) {
        check_replaces_malloc(p, &lib)?;
    }
    Ok((lib, v))
}

/// The probe, once built (`None`: it cannot be, and the libraries go unchecked).
type Probe = OnceLock<Option<PathBuf>>;

/// The libraries and versions of a run's peers.
#[derive(Debug, Default)]
pub struct Prepared {
    /// (row, library) of every preload peer row that can run.
    pub libs: Vec<(String, PathBuf)>,
    /// row → version of every peer row, Rust-linked and preload (`peer_versions` in the JSON).
    pub versions: BTreeMap<String, String>,
}

/// Gets the library of every preload row of `allocators` (named, built, or installed by one
/// apt-get; checked by the probe) and every peer's version. A row whose library cannot be had
/// is dropped from `allocators` with a note in `notes` (and a warning), never an error.
pub fn prepare(allocators: &mut Vec<String>, notes: &mut Vec<String>) -> Prepared {
    let has = |name: &str| allocators.iter().any(|a| a == name);
    let wanted: Vec<&PreloadPeer> = PRELOAD_PEERS.iter().filter(|pp| has(pp.name)).collect();
    let mut p = Prepared::default();
    for (peer, c) in RUST_PEER_CRATES.iter().filter(|(r, _)| has(r)) {
        if let Some((v, dir)) = lock_crate(c) {
            let v = crate_version(c, dir, v, "");
            p.versions.insert(peer.to_string(), v);
        }
    }
    let missing = wanted.iter().filter_map(|pp| match pp.source {
        Source::Debian(file, package) if std::env::var_os(pp.env()).is_none() => {
            find_in(file, PRELOAD_LIB_DIRS).is_none().then_some(package)
        }
        _ => None,
    });
    let missing: Vec<&str> = missing.collect();
    let why = missing
        .first()
        .and_then(|_| apt_install("apt-get", &missing).err());
    let bin = crate::paths::default_bin_dir();
    let (dir, probe) = (&bin.parent().unwrap_or(&bin).join("peers"), &Probe::new());
    let why = why.as_deref();
    // Side by side (the builds take minutes).
    std::thread::scope(|s| {
        let spawn = |pp| s.spawn(move || find_lib(pp, dir, why, probe));
        let threads: Vec<_> = wanted.iter().map(|&pp| spawn(pp)).collect();
        let panicked = |_| Err("the build panicked".into());
        for (pp, t) in wanted.iter().zip(threads) {
            match t.join().unwrap_or_else(panicked) {
                Ok((lib, v)) => {
                    tracing::info!("{}: {} ({v})", pp.name, lib.display());
                    p.libs.push((pp.name.to_string(), lib));
                    p.versions.insert(pp.name.to_string(), v);
                }
                Err(why) => {
                    let note = format!("{} skipped: {why}", pp.name);
                    tracing::warn!("{note}");
                    notes.push(note);
                }
            }
        }
    });
    allocators.retain(|a| preload_peer(a).is_none() || p.libs.iter().any(|(n, _)| n == a));
    p
}

/// A run's `peer_versions` as a table: each peer measured, its version and preload library.
pub fn versions_table(m: &crate::results::Matrix) -> Option<String> {
    let extra = &m.config.extra;
    let versions = extra.get("peer_versions")?.as_object()?;
    let libs = extra.get("preload_libraries").and_then(Value::as_object);
    let mut t = crate::table::Table::cols("peer | version | library (LD_PRELOAD)");
    let measured = |a: &String| Some((a.clone(), versions.get(a)?.as_str()?.to_string()));
    for (a, v) in m.config.allocators.iter().filter_map(measured) {
        let lib = libs.and_then(|l| l.get(&a)?.as_str());
        let lib = lib.map_or_else(|| format!("— (linked into bench-{a})"), String::from);
        t.row(vec![a, v, lib]);
    }
    Some(format!("== peers ==\n{}", t.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_headers_and_packages() {
        let h = "#pragma once\n#define MI_MALLOC_VERSION 30302   // major + 2 digits\n";
        assert_eq!(mimalloc_header_version(h).as_deref(), Some("3.3.2"));
        assert_eq!(mimalloc_header_version("nothing"), None);
        assert_eq!(debian_upstream("2.0.9+ds-2"), "2.0.9");
        assert_eq!(debian_upstream("2.10-1"), "2.10");
        assert_eq!(debian_upstream("1:5.3.0-1"), "5.3.0");
        assert_eq!(debian_upstream("5.3.0"), "5.3.0");
        let none = Path::new("/nonexistent");
        let jemalloc = "0.7.1+5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8";
        assert_eq!(
            crate_version("tikv-jemalloc-sys", none, jemalloc, ""),
            "5.3.1 (tikv-jemalloc-sys 0.7.1)"
        );
        assert_eq!(
            crate_version("snmalloc-sys", none, "0.7.6", ""),
            "snmalloc-sys 0.7.6"
        );
        assert_eq!(
            crate_version("libmimalloc-sys", none, "0.1.49", ""),
            "libmimalloc-sys 0.1.49"
        );
    }

    #[test]
    fn the_rows_and_their_sources() {
        let names: Vec<&str> = PRELOAD_PEERS.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "mimalloc3-preload",
                "snmalloc-preload",
                "tcmalloc-preload",
                "mimalloc-preload",
                "jemalloc-preload"
            ]
        );
        assert!(PRELOAD_PEERS.iter().all(|p| p.name.ends_with("-preload")));
        let mut envs: Vec<String> = PRELOAD_PEERS.iter().map(|p| p.env()).collect();
        envs.dedup();
        assert_eq!(envs.len(), PRELOAD_PEERS.len(), "one variable per row");
        assert_eq!(
            preload_peer("tcmalloc-preload").unwrap().source,
            Source::Debian("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4")
        );
        assert!(preload_peer("tcmalloc").is_none());
    }

    #[test]
    fn the_build_commands_follow_the_cmake_targets() {
        let k = Path::new("/crate");
        let (cc, a) = MIMALLOC3.command(k);
        assert!(!cc.is_empty());
        for f in [
            "-DMI_MALLOC_OVERRIDE",
            "-shared",
            "-fPIC",
            "-O3",
            "-DNDEBUG",
        ] {
            assert!(a.iter().any(|x| x == f), "{f} in {a:?}");
        }
        assert!(a.contains(&"/crate/c_src/mimalloc/v3/src/static.c".to_string()));
        let (_, a) = SNMALLOC.command(k);
        for f in [
            "/crate/upstream/src/snmalloc/override/malloc.cc",
            "/crate/upstream/src/snmalloc/override/new.cc",
            "-DSNMALLOC_USE_CXX11_THREAD_ATEXIT_DIRECT",
            "-static-libstdc++",
        ] {
            assert!(a.iter().any(|x| x == f), "{f} in {a:?}");
        }
        let s = stamp_text("cc", &a, "cc 12", 0xab);
        assert!(s.ends_with("cc 12\nsources 00000000000000ab\n"), "{s}");
    }

    #[test]
    fn the_source_hash_follows_the_files() {
        let dir = std::env::temp_dir().join(format!("xtask-peers-hash-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.c"), "int a;").unwrap();
        std::fs::write(dir.join("sub/b.h"), "int b;").unwrap();
        let h1 = hash_tree(&dir).unwrap();
        assert_eq!(hash_tree(&dir).unwrap(), h1, "repeatable");
        std::fs::write(dir.join("sub/b.h"), "int c;").unwrap();
        let h2 = hash_tree(&dir).unwrap();
        assert_ne!(h2, h1, "contents");
        std::fs::write(dir.join("c.c"), "").unwrap();
        assert_ne!(hash_tree(&dir).unwrap(), h2, "a new file");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(hash_tree(&dir).is_err());
    }

    #[test]
    fn the_probe_must_name_the_library_twice() {
        let dir = std::env::temp_dir().join(format!("xtask-peers-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libx.so");
        std::fs::write(&lib, "").unwrap();
        let l = lib.display().to_string();
        assert!(probe_says_replaced(&format!("{l}\n{l}\n"), &lib));
        assert!(!probe_says_replaced(
            &format!("{l}\n/lib/x86_64-linux-gnu/libc.so.6\n"),
            &lib
        ));
        assert!(!probe_says_replaced("", &lib));
        assert_eq!(
            find_in("libx.so", &["/nonexistent", dir.to_str().unwrap()]),
            Some(lib.clone())
        );
        assert_eq!(find_in("liby.so", &[dir.to_str().unwrap()]), None);
        let pp = preload_peer("snmalloc-preload").unwrap();
        let (p, v) = named(pp, lib.clone()).unwrap();
        assert_eq!(p, lib);
        assert!(v.starts_with("unknown (HZ3_BENCH_SNMALLOC_SO="), "{v}");
        let err = named(pp, dir.join("nope.so")).unwrap_err();
        assert!(
            err.contains("HZ3_BENCH_SNMALLOC_SO") && err.contains("not a file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_install_that_cannot_run_says_why() {
        let err = apt_install("/nonexistent/apt-get", &["libtcmalloc-minimal4"]).unwrap_err();
        assert!(err.contains("apt-get is not available"), "{err}");
        // A failing apt-get: the update is tried, and its failure reported.
        let err = apt_install("false", &["libtcmalloc-minimal4"]).unwrap_err();
        assert!(err.starts_with("apt-get update failed"), "{err}");
    }

    /// The probe, built with the machine's cc, tells a library that replaces malloc and free
    /// (a tiny one forwarding to glibc's `__libc_malloc`/`__libc_free`) from one that does not.
    #[test]
    fn the_probe_tells_a_replacing_library_from_one_that_is_not() {
        let dir = std::env::temp_dir().join(format!("xtask-peers-cc-{}", std::process::id()));
        let probe = build_probe(&dir).unwrap();
        let lib = |name: &str, src: &str| {
            let c = dir.join(format!("{name}.c"));
            std::fs::write(&c, src).unwrap();
            let so = dir.join(format!("{name}.so"));
            let ok = Command::new(env_or("CC", "cc"))
                .args(["-shared", "-fPIC", "-o"])
                .arg(&so)
                .arg(&c)
                .status()
                .unwrap()
                .success();
            assert!(ok, "compiling {name}.c");
            so
        };
        let replacing = lib(
            "replacing",
            "#include <stddef.h>\nvoid *__libc_malloc(size_t);\nvoid __libc_free(void *);\n\
             void *malloc(size_t n) { return __libc_malloc(n); }\n\
             void free(void *p) { __libc_free(p); }\n",
        );
        let other = lib("other", "int not_malloc(void) { return 1; }\n");
        check_replaces_malloc(&probe, &replacing).unwrap();
        let err = check_replaces_malloc(&probe, &other).unwrap_err();
        assert!(err.contains("does not replace malloc/free"), "{err}");
        assert!(err.contains("libc"), "{err}");
        assert_eq!(build_probe(&dir).unwrap(), probe, "built once");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_versions_table_lists_the_measured_peers() {
        let mut m = crate::results::Matrix {
            machine: crate::machine::Machine::detect(),
            config: crate::results::Config {
                runs: 1,
                duration_ms: 1,
                threads: 1,
                threads_sweep: vec![1],
                mode: "quick".into(),
                allocators: vec!["mimalloc".into(), "tcmalloc-preload".into()],
                workloads: vec!["xmalloc".into()],
                extra: serde_json::Map::new(),
            },
            cells: vec![],
            failures: vec![],
        };
        assert!(versions_table(&m).is_none(), "older files have no versions");
        m.config.extra.insert(
            "peer_versions".into(),
            serde_json::json!({"mimalloc": "3.3.2 (libmimalloc-sys 0.1.49)", "tcmalloc-preload": "2.10 (Debian libtcmalloc-minimal4 2.10-1)"}),
        );
        m.config.extra.insert(
            "preload_libraries".into(),
            serde_json::json!({"tcmalloc-preload": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"}),
        );
        let t = versions_table(&m).unwrap();
        assert!(t.contains("3.3.2") && t.contains("2.10 (Debian"), "{t}");
        assert!(t.contains("libtcmalloc_minimal.so.4"), "{t}");
        assert!(t.contains("— (linked into bench-mimalloc)"), "{t}");
    }
}
