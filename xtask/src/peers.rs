//! The peers' C libraries, measured through C `malloc`/`free` under `LD_PRELOAD` (the
//! `*-preload` rows), and every peer's version: built from vendored crate sources, installed
//! from Debian packages, or named by an environment variable; each checked by a probe to replace
//! `malloc`/`free`. How and why: docs/bench-matrix.md
//! ("The peers through their C ABI").

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

/// How a preload row's library is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A shared library of a Debian package, looked for in [`PRELOAD_LIB_DIRS`].
    Debian {
        /// The library's file name (its soname).
        file: &'static str,
        /// The package that ships it.
        package: &'static str,
    },
    /// Built by xtask from the sources a crate of the lock file vendors ([`Recipe`]).
    Vendored(Recipe),
}

/// A library that xtask compiles itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipe {
    /// mimalloc 3 (`libmimalloc-sys`'s `c_src/mimalloc/v3`): `src/static.c`, as CMake's shared
    /// `mimalloc` target with `MI_OVERRIDE=ON` builds it.
    Mimalloc3,
    /// snmalloc (`snmalloc-sys`'s `upstream`): `override/malloc.cc` + `override/new.cc`, as
    /// CMake's `snmallocshim` (`libsnmallocshim.so`) builds them.
    Snmalloc,
}

impl Recipe {
    /// The crate whose sources it compiles.
    pub fn crate_name(self) -> &'static str {
        match self {
            Recipe::Mimalloc3 => "libmimalloc-sys",
            Recipe::Snmalloc => "snmalloc-sys",
        }
    }

    /// The library's file name under `<target>/peers/`.
    pub fn file(self) -> &'static str {
        match self {
            Recipe::Mimalloc3 => "libmimalloc3.so",
            Recipe::Snmalloc => "libsnmallocshim.so",
        }
    }

    /// The source directory inside the crate (what the stamp hashes).
    fn source_dir(self, krate: &Path) -> PathBuf {
        match self {
            Recipe::Mimalloc3 => krate.join("c_src/mimalloc/v3"),
            Recipe::Snmalloc => krate.join("upstream/src"),
        }
    }

    /// The compiler and its arguments (without `-o`), for the crate unpacked at `krate`.
    pub fn command(self, krate: &Path) -> (String, Vec<String>) {
        let src = self.source_dir(krate);
        let s = |p: &str| src.join(p).display().to_string();
        let flags = |f: &str| f.split_whitespace().map(String::from).collect::<Vec<_>>();
        match self {
            // CMake's Release flags, mi_cflags (GNU/Clang) and the shared target's defines.
            Recipe::Mimalloc3 => {
                let mut args = flags(
                    "-O3 -DNDEBUG -fPIC -shared -fvisibility=hidden -ftls-model=initial-exec \
                     -fno-builtin-malloc -Wno-unknown-pragmas -DMI_MALLOC_OVERRIDE \
                     -DMI_BUILD_RELEASE -DMI_CMAKE_BUILD_TYPE=release -DMI_SHARED_LIB \
                     -DMI_SHARED_LIB_EXPORT",
                );
                args.extend([format!("-I{}", s("include")), s("src/static.c")]);
                args.push("-lpthread".into());
                (env_or("CC", "cc"), args)
            }
            // CMake's Release flags, the `snmalloc` interface target (C++20, wait-on-address,
            // -mcx16) and `compile()`'s options for a SHARED library on Linux, with the feature
            // checks that succeed on glibc spelled out.
            Recipe::Snmalloc => {
                let mut args = flags(
                    "-std=c++20 -O3 -DNDEBUG -fPIC -shared -fvisibility=hidden \
                     -fomit-frame-pointer -ftls-model=initial-exec -ffunction-sections -pthread",
                );
                if cfg!(target_arch = "x86_64") {
                    args.extend(flags("-mcx16 -mprfchw"));
                }
                args.extend(flags(
                    "-DSNMALLOC_USE_CXX11_THREAD_ATEXIT_DIRECT \
                     -DSNMALLOC_EXPORT=__attribute__((visibility(\"default\"))) \
                     -DSNMALLOC_CHECK_LOADS=false -DSNMALLOC_PAGEID=false \
                     -DSNMALLOC_USE_WAIT_ON_ADDRESS=1 -DSNMALLOC_HAS_LINUX_FUTEX_H \
                     -DSNMALLOC_HAS_LINUX_RANDOM_H -DSNMALLOC_PLATFORM_HAS_GETENTROPY \
                     -DSNMALLOC_PTHREAD_ATFORK_WORKS -DMALLOC_USABLE_SIZE_QUALIFIER=const",
                ));
                args.push(format!("-I{}", src.display()));
                args.extend(["snmalloc/override/malloc.cc", "snmalloc/override/new.cc"].map(s));
                args.push("-static-libstdc++".into());
                (env_or("CXX", "c++"), args)
            }
        }
    }

    /// The version of the sources in `krate` (crate version `crate_version`).
    pub fn version(self, krate: &Path, crate_version: &str) -> String {
        match self {
            Recipe::Mimalloc3 => {
                let h = krate.join("c_src/mimalloc/v3/include/mimalloc.h");
                let v = std::fs::read_to_string(&h)
                    .ok()
                    .and_then(|t| mimalloc_header_version(&t));
                match v {
                    Some(v) => format!("{v} (libmimalloc-sys {crate_version} sources)"),
                    None => format!("libmimalloc-sys {crate_version} sources"),
                }
            }
            // snmalloc's sources carry no version number of their own.
            Recipe::Snmalloc => format!("snmalloc-sys {crate_version} sources"),
        }
    }
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into())
}

/// A peer's shared library preloaded into `bench-system` (C compared with C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreloadPeer {
    /// The row's allocator name.
    pub name: &'static str,
    /// An environment variable that names the library's path, overriding [`PreloadPeer::source`].
    pub env: &'static str,
    pub source: Source,
}

const fn peer(name: &'static str, env: &'static str, source: Source) -> PreloadPeer {
    PreloadPeer { name, env, source }
}
const fn debian(file: &'static str, package: &'static str) -> Source {
    Source::Debian { file, package }
}

/// The preload rows of the peers, in table order: the current releases first, then Debian's
/// older mimalloc 2.0 and jemalloc (kept: the rows of earlier runs and baselines).
pub const PRELOAD_PEERS: &[PreloadPeer] = &[
    peer(
        "mimalloc3-preload",
        "HZ3_BENCH_MIMALLOC3_SO",
        Source::Vendored(Recipe::Mimalloc3),
    ),
    peer(
        "snmalloc-preload",
        "HZ3_BENCH_SNMALLOC_SO",
        Source::Vendored(Recipe::Snmalloc),
    ),
    peer(
        "tcmalloc-preload",
        "HZ3_BENCH_TCMALLOC_SO",
        debian("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    ),
    peer(
        "mimalloc-preload",
        "HZ3_BENCH_MIMALLOC_SO",
        debian("libmimalloc.so.2", "libmimalloc2.0"),
    ),
    peer(
        "jemalloc-preload",
        "HZ3_BENCH_JEMALLOC_SO",
        debian("libjemalloc.so.2", "libjemalloc2"),
    ),
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

/// The Rust-linked peers (hz3-bench's `peers` feature) and the crate that carries each one's
/// allocator.
const RUST_PEER_CRATES: &[(&str, &str)] = &[
    ("mimalloc", "libmimalloc-sys"),
    ("jemalloc", "tikv-jemalloc-sys"),
    ("snmalloc", "snmalloc-sys"),
];

/// `30302` → `3.3.2`: `MI_MALLOC_VERSION` of mimalloc.h (major, two digits minor, two patch).
pub fn mimalloc_header_version(header: &str) -> Option<String> {
    let n: u32 = header.lines().find_map(|l| {
        l.trim()
            .strip_prefix("#define MI_MALLOC_VERSION")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })?;
    Some(format!("{}.{}.{}", n / 10000, n / 100 % 100, n % 100))
}

/// The upstream part of a Debian version: `1:2.0.9+ds-2` → `2.0.9`.
pub fn debian_upstream(v: &str) -> &str {
    let v = v.split_once(':').map_or(v, |(_, r)| r);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    v.split(['+', '~']).next().unwrap_or(v)
}

/// The version of a Rust-linked peer from its crate (`crate_version`, sources at `krate`).
pub fn rust_peer_version(peer: &str, krate: &Path, crate_version: &str) -> String {
    match peer {
        "mimalloc" => Recipe::Mimalloc3
            .version(krate, crate_version)
            .replace(" sources", ""),
        // tikv-jemalloc-sys 0.7.1+5.3.1-0-g81034ce… carries jemalloc's `git describe`.
        "jemalloc" => match crate_version.split_once('+') {
            Some((c, j)) => {
                let j = j.split('-').next().unwrap_or(j);
                format!("{j} (tikv-jemalloc-sys {c})")
            }
            None => format!("tikv-jemalloc-sys {crate_version}"),
        },
        _ => format!("snmalloc-sys {crate_version}"),
    }
}

/// Where the built libraries and the probe live: `<target>/peers`.
pub fn peers_dir() -> PathBuf {
    let bin = crate::paths::default_bin_dir();
    bin.parent().unwrap_or(&bin).join("peers")
}

/// The crates of the lock file (with hz3-bench's `peers` feature, so that the peers' `-sys`
/// crates are in the graph; `cargo metadata` downloads what is missing): name → (version,
/// directory).
fn lock_crates() -> Result<Vec<(String, String, PathBuf)>, String> {
    let root = crate::paths::workspace_root();
    let out = crate::runner::cargo_in(&root)
        .args(["metadata", "--format-version", "1", "--features"])
        .arg("hz3-bench/peers")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed ({})", out.status));
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        packages: Vec<Package>,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        version: String,
        manifest_path: PathBuf,
    }
    let m: Metadata = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    Ok(m.packages
        .into_iter()
        .filter_map(|p| Some((p.name, p.version, p.manifest_path.parent()?.to_path_buf())))
        .collect())
}

/// FNV-1a over every file under `dir` (relative path and contents, in sorted order): a stamp
/// that changes when the sources do.
pub fn hash_tree(dir: &Path) -> Result<u64, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    files.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for f in &files {
        eat(f
            .strip_prefix(dir)
            .unwrap_or(f)
            .to_string_lossy()
            .as_bytes());
        eat(&[0]);
        eat(&std::fs::read(f).map_err(|e| format!("reading {}: {e}", f.display()))?);
        eat(&[0]);
    }
    Ok(h)
}

/// The first line of `compiler --version` (part of the stamp: a new compiler rebuilds).
fn compiler_version(compiler: &str) -> Result<String, String> {
    let out = Command::new(compiler)
        .arg("--version")
        .output()
        .map_err(|e| format!("no C/C++ compiler `{compiler}` ({e}); install one (apt-get install build-essential) or name it with CC/CXX"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// What a build's stamp file holds: the command, the compiler's version, the sources' hash.
pub fn stamp_text(compiler: &str, args: &[String], cc_version: &str, sources: u64) -> String {
    format!(
        "{compiler} {}\n{cc_version}\nsources {sources:016x}\n",
        args.join(" ")
    )
}

/// Builds the library of `recipe` from the crate at `krate` into `dir`, unless it is there with
/// the stamp of this command, compiler and sources; its path or why it failed.
fn build_one(recipe: Recipe, krate: &Path, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (compiler, args) = recipe.command(krate);
    let text = stamp_text(
        &compiler,
        &args,
        &compiler_version(&compiler)?,
        hash_tree(&recipe.source_dir(krate))?,
    );
    let lib = dir.join(recipe.file());
    let stamp = dir.join(format!("{}.stamp", recipe.file()));
    if lib.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(text.as_str()) {
        return Ok(lib);
    }
    let tmp = dir.join(format!("{}.tmp{}", recipe.file(), std::process::id()));
    tracing::info!(
        "building {} from {}: {compiler} {} -o {}",
        recipe.file(),
        krate.display(),
        args.join(" "),
        lib.display()
    );
    let out = Command::new(&compiler)
        .args(&args)
        .arg("-o")
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        return Err(format!(
            "compiling {} failed ({}): {}",
            recipe.file(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    // The rename is atomic: an interrupted build never leaves a half-written library.
    std::fs::rename(&tmp, &lib)
        .and_then(|()| std::fs::write(&stamp, &text))
        .map_err(|e| format!("writing {}: {e}", lib.display()))?;
    Ok(lib)
}

/// [`build_one`] for each of `recipes` (with the crate's directory), the compiles running side
/// by side.
fn build_vendored(
    recipes: &[(Recipe, PathBuf)],
    dir: &Path,
) -> Vec<(Recipe, Result<PathBuf, String>)> {
    std::thread::scope(|s| {
        let builds: Vec<_> = recipes
            .iter()
            .map(|(r, krate)| (*r, s.spawn(move || build_one(*r, krate, dir))))
            .collect();
        builds
            .into_iter()
            .map(|(r, b)| {
                (
                    r,
                    b.join()
                        .unwrap_or_else(|_| Err("the build panicked".into())),
                )
            })
            .collect()
    })
}

/// The probe: allocates and frees through `malloc`/`free`, then prints the file of the object
/// that defines each (`dladdr`), one per line.
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
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let src = dir.join("probe.c");
    let exe = dir.join("probe");
    if exe.is_file() && std::fs::read_to_string(&src).ok().as_deref() == Some(PROBE_C) {
        return Ok(exe);
    }
    std::fs::write(&src, PROBE_C).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let cc = env_or("CC", "cc");
    let out = Command::new(&cc)
        .args([
            "-O1".as_ref(),
            src.as_os_str(),
            "-o".as_ref(),
            exe.as_os_str(),
            "-ldl".as_ref(),
        ])
        .output()
        .map_err(|e| format!("cannot run {cc}: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&exe);
        return Err(format!(
            "compiling the malloc probe failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(exe)
}

/// Whether the probe's output says that `lib` defines both `malloc` and `free`.
pub fn probe_says_replaced(output: &str, lib: &Path) -> bool {
    let want = lib.canonicalize().unwrap_or_else(|_| lib.to_path_buf());
    let lines: Vec<&str> = output.lines().collect();
    lines.len() == 2
        && lines.iter().all(|l| {
            let p = Path::new(l);
            p.canonicalize().unwrap_or_else(|_| p.to_path_buf()) == want
        })
}

/// Runs the probe with `lib` preloaded: `Err` when `lib` does not replace `malloc` and `free`.
fn check_replaces_malloc(probe: &Path, lib: &Path) -> Result<(), String> {
    let out = crate::runner::run_capture_env(
        probe,
        &[],
        &[("LD_PRELOAD", lib.to_path_buf())],
        std::time::Duration::from_secs(30),
    )?;
    if probe_says_replaced(&out, lib) {
        Ok(())
    } else {
        Err(format!(
            "{} does not replace malloc/free under LD_PRELOAD (they come from {})",
            lib.display(),
            out.trim().replace('\n', ", ")
        ))
    }
}

/// Finds a Debian peer's file in `dirs`.
pub fn find_in(file: &str, dirs: &[&str]) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| Path::new(d).join(file))
        .find(|p| p.is_file())
}

/// `apt-get install` of `packages` (after an `apt-get update` when the first try fails: a fresh
/// image has no package lists); `Err` says why it could not.
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    apt_install_with("apt-get", packages)
}

/// [`apt_install`] with the program `apt_get`.
fn apt_install_with(apt_get: &str, packages: &[&str]) -> Result<(), String> {
    let apt = |args: &[&str]| -> Result<(), String> {
        let out = Command::new(apt_get)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("apt-get is not available ({e})"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "apt-get {} failed: {}",
                args.first().unwrap_or(&""),
                err.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
            ))
        }
    };
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    tracing::info!("installing {} with apt-get", packages.join(" "));
    apt(&install).or_else(|first| {
        if first.contains("not available") {
            return Err(first);
        }
        apt(&["update", "-qq"])?;
        apt(&install)
    })
}

/// The installed version of a Debian package (`dpkg-query`).
fn dpkg_version(package: &str) -> Option<String> {
    crate::runner::stdout_of("dpkg-query", &["-W", "-f=${Version}", package], None)
}

/// A row's library and its version, or why it cannot run.
type Found = Result<(PathBuf, String), String>;

/// A library named by the row's environment variable, and its version (a Debian package's when
/// the file is under /usr and the package is installed; else unknown).
fn named(pp: &PreloadPeer, path: PathBuf) -> Found {
    if !path.is_file() {
        return Err(format!("{}={} is not a file", pp.env, path.display()));
    }
    let v = match pp.source {
        Source::Debian { package, .. } if path.starts_with("/usr") => {
            dpkg_version(package).map(|v| format!("{} (Debian {package} {v})", debian_upstream(&v)))
        }
        _ => None,
    };
    let v = v.unwrap_or_else(|| format!("unknown ({}={})", pp.env, path.display()));
    Ok((path, v))
}

/// The libraries and versions of a run's peers.
#[derive(Debug, Default)]
pub struct Prepared {
    /// (row, library) of every preload peer row that can run.
    pub libs: Vec<(String, PathBuf)>,
    /// (row, version) of every peer row, Rust-linked and preload.
    pub versions: Vec<(String, String)>,
}

impl Prepared {
    /// `peer_versions` for the JSON.
    pub fn versions_json(&self) -> Map<String, Value> {
        self.versions
            .iter()
            .map(|(a, v)| (a.clone(), v.clone().into()))
            .collect()
    }
}

/// Gets the library of every preload peer row of `allocators` (builds, installs, finds; checks
/// that it replaces malloc) and every peer's version. A row whose library cannot be had is
/// dropped from `allocators` with a note in `notes` (and a warning), never an error.
pub fn prepare(allocators: &mut Vec<String>, notes: &mut Vec<String>) -> Prepared {
    let mut p = Prepared::default();
    let wanted: Vec<&'static PreloadPeer> = PRELOAD_PEERS
        .iter()
        .filter(|pp| allocators.iter().any(|a| a == pp.name))
        .collect();
    let needs_crates = allocators
        .iter()
        .any(|a| RUST_PEER_CRATES.iter().any(|(r, _)| r == a))
        || wanted.iter().any(|pp| {
            matches!(pp.source, Source::Vendored(_)) && std::env::var_os(pp.env).is_none()
        });
    let crates = if needs_crates {
        lock_crates().unwrap_or_else(|e| {
            tracing::warn!("{e}");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let krate = |name: &str| crates.iter().find(|(n, _, _)| n == name);
    for (peer, c) in RUST_PEER_CRATES {
        if allocators.iter().any(|a| a == peer) {
            if let Some((_, v, dir)) = krate(c) {
                p.versions
                    .push((peer.to_string(), rust_peer_version(peer, dir, v)));
            }
        }
    }

    // Libraries: overrides, then builds (side by side), then Debian packages (one apt-get).
    let mut found: Vec<(&'static PreloadPeer, Found)> = Vec::new();
    let mut to_build = Vec::new();
    let mut debian = Vec::new();
    for pp in &wanted {
        if let Some(path) = std::env::var_os(pp.env).map(PathBuf::from) {
            found.push((pp, named(pp, path)));
            continue;
        }
        match pp.source {
            Source::Vendored(recipe) => match krate(recipe.crate_name()) {
                Some((_, v, dir)) => to_build.push((pp, recipe, v.clone(), dir.clone())),
                None => found.push((
                    pp,
                    Err(format!(
                        "the sources of {} are not available (cargo metadata found no such crate)",
                        recipe.crate_name()
                    )),
                )),
            },
            Source::Debian { .. } => debian.push(*pp),
        }
    }
    let dir = peers_dir();
    let recipes: Vec<(Recipe, PathBuf)> = to_build
        .iter()
        .map(|(_, r, _, d)| (*r, d.clone()))
        .collect();
    for ((pp, recipe, v, krate_dir), (_, built)) in
        to_build.iter().zip(build_vendored(&recipes, &dir))
    {
        found.push((pp, built.map(|lib| (lib, recipe.version(krate_dir, v)))));
    }
    let missing: Vec<&str> = debian
        .iter()
        .filter_map(|pp| match pp.source {
            Source::Debian { file, package } if find_in(file, PRELOAD_LIB_DIRS).is_none() => {
                Some(package)
            }
            _ => None,
        })
        .collect();
    let install = if missing.is_empty() {
        Ok(())
    } else {
        apt_install(&missing)
    };
    for pp in debian {
        let Source::Debian { file, package } = pp.source else {
            continue;
        };
        let r = match find_in(file, PRELOAD_LIB_DIRS) {
            Some(lib) => {
                let v = dpkg_version(package).map_or_else(
                    || "unknown (not from dpkg)".to_string(),
                    |v| format!("{} (Debian {package} {v})", debian_upstream(&v)),
                );
                Ok((lib, v))
            }
            None => Err(format!(
                "{file} not found in {} and not installable here ({}); install it with `apt-get install {package}`, or name it with {}=PATH",
                PRELOAD_LIB_DIRS.join(", "),
                install.as_ref().err().map_or("installed, yet not found", String::as_str),
                pp.env
            )),
        };
        found.push((pp, r));
    }

    // Every library must replace malloc and free.
    let probe = if found.iter().any(|(_, r)| r.is_ok()) {
        build_probe(&dir)
            .map_err(|e| tracing::warn!("{e}: the preload libraries are used unchecked"))
            .ok()
    } else {
        None
    };
    let mut kept = Vec::new();
    for pp in PRELOAD_PEERS {
        let Some((_, r)) = found.iter().find(|(f, _)| f.name == pp.name) else {
            continue;
        };
        let r = r.clone().and_then(|(lib, v)| match &probe {
            Some(probe) => check_replaces_malloc(probe, &lib).map(|()| (lib, v)),
            None => Ok((lib, v)),
        });
        match r {
            Ok((lib, v)) => {
                tracing::info!("{}: {} ({v})", pp.name, lib.display());
                p.libs.push((pp.name.to_string(), lib));
                p.versions.push((pp.name.to_string(), v));
                kept.push(pp.name);
            }
            Err(why) => {
                let note = format!("{} skipped: {why}", pp.name);
                tracing::warn!("{note}");
                notes.push(note);
            }
        }
    }
    allocators.retain(|a| preload_peer(a).is_none() || kept.contains(&a.as_str()));
    p
}

/// The peers' versions recorded with a run (`peer_versions`), as a table: the peers measured,
/// in the run's allocator order, with their versions and, for the preload rows, the library.
pub fn versions_table(m: &crate::results::Matrix) -> Option<String> {
    let versions = m.config.extra.get("peer_versions")?.as_object()?;
    let libs = m
        .config
        .extra
        .get("preload_libraries")
        .and_then(Value::as_object);
    let mut t = crate::table::Table::cols("peer | version | library (LD_PRELOAD)");
    for a in &m.config.allocators {
        let Some(v) = versions.get(a).and_then(Value::as_str) else {
            continue;
        };
        let lib = libs
            .and_then(|l| l.get(a))
            .and_then(Value::as_str)
            .map_or_else(|| format!("— (linked into bench-{a})"), String::from);
        t.row(vec![a.clone(), v.to_string(), lib]);
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
        assert_eq!(
            rust_peer_version(
                "jemalloc",
                none,
                "0.7.1+5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8"
            ),
            "5.3.1 (tikv-jemalloc-sys 0.7.1)"
        );
        assert_eq!(
            rust_peer_version("snmalloc", none, "0.7.6"),
            "snmalloc-sys 0.7.6"
        );
        assert_eq!(
            rust_peer_version("mimalloc", none, "0.1.49"),
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
        let mut envs: Vec<&str> = PRELOAD_PEERS.iter().map(|p| p.env).collect();
        envs.dedup();
        assert_eq!(envs.len(), PRELOAD_PEERS.len(), "one variable per row");
        assert_eq!(
            preload_peer("tcmalloc-preload").unwrap().source,
            Source::Debian {
                file: "libtcmalloc_minimal.so.4",
                package: "libtcmalloc-minimal4"
            }
        );
        assert!(preload_peer("tcmalloc").is_none());
    }

    #[test]
    fn the_build_commands_follow_the_cmake_targets() {
        let k = Path::new("/crate");
        let (cc, a) = Recipe::Mimalloc3.command(k);
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
        let (_, a) = Recipe::Snmalloc.command(k);
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
        let err = apt_install_with("/nonexistent/apt-get", &["libtcmalloc-minimal4"]).unwrap_err();
        assert!(err.contains("apt-get is not available"), "{err}");
        // A failing apt-get: the update is tried, and its failure reported.
        let err = apt_install_with("false", &["libtcmalloc-minimal4"]).unwrap_err();
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
                extra: Map::new(),
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
