//! `cargo xtask servers`: two real servers under each allocator's C library, as a new user would
//! try them — redis-server preloaded and driven by an unpreloaded `redis-benchmark`, and
//! RocksDB's `db_bench` preloaded — with fixed request counts, several interleaved runs, medians
//! and spread per operation, the server's minor page faults, peak RSS and transparent huge pages
//! per run, a table and a `hz3-bench/1` JSON file. See docs/bench-matrix.md ("Real servers").
//!
//! The allocators: `system` (no preload: whatever the program links — Debian's redis-server links
//! jemalloc 5.3 itself, db_bench uses glibc), `glibc-preload` (glibc's `libc.so.6` preloaded,
//! which puts glibc's `malloc` ahead of a linked allocator's; only for programs that link one),
//! every preload peer of the matrix that can run here (built, installed or found by
//! [`crate::peers::prepare`], as for the matrix's `*-preload` rows), the `--peer` libraries, and
//! `hz3-preload` (hz3-capi, built here unless `--lib` names it).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::results::{Cell, Config, Machine, Matrix};
use crate::{paths, runner, stats, strategies};

/// A server program measured under each allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Server {
    Redis,
    Rocksdb,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Redis => "redis",
            Server::Rocksdb => "rocksdb",
        }
    }

    /// The operations reported, in table order (the names the parsers return).
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Server::Redis => &["SET", "GET", "LPUSH", "LPOP", "LRANGE_100", "MSET"],
            Server::Rocksdb => &["fillrandom", "readrandom", "readwhilewriting", "seekrandom"],
        }
    }

    /// The programs it needs and the Debian package of each.
    fn programs(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Server::Redis => &[
                ("redis-server", "redis-server"),
                ("redis-benchmark", "redis-tools"),
            ],
            Server::Rocksdb => &[("db_bench", "rocksdb-tools")],
        }
    }

    /// The program run under the preloaded library.
    fn preloaded_program(self) -> &'static str {
        self.programs()[0].0
    }
}

/// The options of `cargo xtask servers`.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct Opts {
    /// interleaved runs per allocator
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..), overrides_with = "quick")]
    runs: u64,
    /// one run (--runs 1; the later of the two wins)
    #[arg(long, overrides_with = "runs")]
    quick: bool,
    /// redis, rocksdb or both
    #[arg(
        long = "only",
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "redis,rocksdb"
    )]
    pub servers: Vec<Server>,
    /// results file (hz3-bench/1; default `<target>/release/servers.json`)
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// hz3's C library (default: build hz3-capi --release and use it)
    #[arg(long, value_name = "PATH")]
    pub lib: Option<PathBuf>,
    /// one more library to preload, named N (repeatable)
    #[arg(long = "peer", value_name = "N=PATH", value_parser = peer_arg)]
    pub peers: Vec<(String, PathBuf)>,
    /// redis-benchmark requests per operation
    #[arg(long, value_name = "N", default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: u64,
    /// db_bench keys
    #[arg(long, value_name = "N", default_value_t = 400_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// do not apt-get install missing redis-server, redis-tools, rocksdb-tools
    #[arg(long = "no-install", action = clap::ArgAction::SetFalse)]
    pub install: bool,
}

impl Opts {
    /// Interleaved runs per allocator (`--quick`: 1).
    pub fn runs(&self) -> usize {
        if self.quick {
            1
        } else {
            self.runs as usize
        }
    }
}

fn peer_arg(p: &str) -> Result<(String, PathBuf), String> {
    p.split_once('=')
        .filter(|(n, p)| !n.is_empty() && !p.is_empty())
        .map(|(n, p)| (n.to_string(), p.into()))
        .ok_or_else(|| format!("{p:?}: expected NAME=PATH"))
}

/// Throughput of each operation in a `redis-benchmark` output, `--csv` (`"SET","249376.56",…`) or
/// `-q` (`SET: 249376.56 requests per second, …`), in the order printed: names are cut at the
/// first space (`LRANGE_100 (first 100 elements)` → `LRANGE_100`), the LPUSH that only fills the
/// list for LRANGE is left out, and progress lines (`SET: rps=…`) and anything else are skipped.
pub fn parse_redis_benchmark(out: &str) -> Vec<(String, f64)> {
    let mut v = Vec::new();
    for line in out.split(['\n', '\r']).map(str::trim) {
        let (name, rps) = if let Some(rest) = line.strip_prefix('"') {
            let mut f = rest.split("\",\"");
            let (Some(name), Some(rps)) = (f.next(), f.next()) else {
                continue;
            };
            (name, rps.trim_end_matches('"'))
        } else if let Some((name, rest)) = line.split_once(": ") {
            match rest.split_once(" requests per second") {
                Some((rps, _)) => (name, rps.trim()),
                None => continue,
            }
        } else {
            continue;
        };
        if name.contains("needed to benchmark") {
            continue;
        }
        let name = name.split(' ').next().unwrap_or(name);
        if let Ok(r) = rps.parse::<f64>() {
            if r.is_finite() && r >= 0.0 && !name.is_empty() {
                v.push((name.to_string(), r));
            }
        }
    }
    v
}

/// Throughput of each benchmark in a `db_bench` output: the lines
/// `fillrandom   :       5.290 micros/op 189018 ops/sec 2.116 seconds …`, in the order printed.
pub fn parse_db_bench(out: &str) -> Vec<(String, f64)> {
    let mut v = Vec::new();
    for line in out.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        let Some(i) = words
            .iter()
            .position(|w| *w == "ops/sec" || *w == "ops/sec;")
        else {
            continue;
        };
        if i == 0 || !words.contains(&"micros/op") {
            continue;
        }
        if let Ok(r) = words[i - 1].parse::<f64>() {
            if r.is_finite() && r >= 0.0 {
                v.push((name.to_string(), r));
            }
        }
    }
    v
}

/// The allocator one run uses: its row name, its version, and the library preloaded (`None`:
/// none, the program's own).
#[derive(Clone, Debug, PartialEq)]
pub struct Lib {
    pub name: String,
    pub version: String,
    pub path: Option<PathBuf>,
}

impl Lib {
    fn new(name: &str, version: String, path: Option<PathBuf>) -> Lib {
        let name = name.to_string();
        Lib {
            name,
            version,
            path,
        }
    }
}

/// The `(name, version, library)` of every preload peer of the matrix that can run here (built,
/// installed or found by `peers::prepare`, the lookup of the matrix's `*-preload` rows), and a
/// note for each that cannot.
fn peer_libs() -> (Vec<Lib>, Vec<String>) {
    let mut names: Vec<String> = strategies::PRELOAD_PEERS
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    let mut notes = Vec::new();
    let prepared = crate::peers::prepare(&mut names, &mut notes);
    let libs = prepared
        .libs
        .iter()
        .map(|(name, path)| {
            let v = prepared.versions.iter().find(|(n, _)| n == name);
            let v = v.map_or_else(|| "?".into(), |(_, v)| v.clone());
            Lib::new(name, v, Some(path.clone()))
        })
        .collect();
    (libs, notes)
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(program))
            .find(|f| f.is_file())
    })
}

/// Installs the missing programs' packages with apt-get (as root); never fails, says what it
/// could not do. Returns the servers whose programs are all there afterwards.
fn ensure_programs(servers: &[Server], install: bool, notes: &mut Vec<String>) -> Vec<Server> {
    let missing: Vec<&str> = servers
        .iter()
        .flat_map(|s| s.programs())
        .filter(|(p, _)| on_path(p).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    if !missing.is_empty() && install {
        if let Err(e) = crate::peers::apt_install(&missing) {
            let n = format!("could not install {} with apt-get: {e}", missing.join(" "));
            tracing::warn!("{n}");
            notes.push(n);
        }
    }
    servers
        .iter()
        .copied()
        .filter(|s| {
            let absent: Vec<&str> = s
                .programs()
                .iter()
                .filter(|(p, _)| on_path(p).is_none())
                .map(|(p, _)| *p)
                .collect();
            if !absent.is_empty() {
                let n = format!("{} skipped: {} not found", s.name(), absent.join(", "));
                tracing::warn!("{n}");
                notes.push(n);
            }
            absent.is_empty()
        })
        .collect()
}

/// The allocator a program links instead of glibc's (from `ldd`), e.g. `libjemalloc.so.2`.
fn linked_allocator(program: &Path) -> Option<String> {
    let out = Command::new("ldd").arg(program).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|lib| {
            ["jemalloc", "tcmalloc", "mimalloc", "snmalloc", "hoard"]
                .iter()
                .any(|a| lib.contains(a))
        })
        .map(String::from)
}

/// glibc's own library (`libc.so.6`), whose preloading puts glibc's malloc first.
fn glibc_path() -> Option<PathBuf> {
    let dirs = [crate::peers::PRELOAD_LIB_DIRS, &["/lib/x86_64-linux-gnu"]].concat();
    crate::peers::find_in("libc.so.6", &dirs)
}

fn glibc_version() -> String {
    crate::runner::stdout_of("ldd", &["--version"], None)
        .and_then(|o| Some(o.lines().next()?.split_whitespace().last()?.to_string()))
        .unwrap_or_else(|| "?".into())
}

/// The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status), ascending.
fn allowed_cpus() -> Vec<usize> {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let list = text
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("");
    let mut v = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
            v.extend(a..=b);
        }
    }
    v
}

/// `taskset -c cpu program` when pinning is possible, else `program`.
fn pinned(program: &str, cpu: Option<usize>) -> Command {
    match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &c.to_string(), program]);
            cmd
        }
        None => Command::new(program),
    }
}

/// What one run measured of the preloaded process: throughput per operation, the most
/// AnonHugePages seen, and the kernel's account of the process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunResult {
    pub ops: Vec<(String, f64)>,
    pub wall_s: f64,
    pub anon_huge_kib: u64,
    pub exit: Exit,
}

/// The kernel's account of an exited child: minor/major faults, peak RSS (VmHWM), CPU time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exit {
    ok: bool,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub max_rss_kib: u64,
    pub user_s: f64,
    pub sys_s: f64,
}

/// Reaps `child` with `wait4` (its exit status and `rusage`), killing it at `deadline`.
fn reap(child: &mut Child, deadline: Instant) -> Result<Exit, String> {
    let pid = child.id() as libc::pid_t;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain data, so all-zero is a valid value for the kernel to overwrite.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own unreaped child (std has not waited on it: `Child::wait` is never
        // called on it), and both out-pointers point to live, writable locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return Ok(Exit {
                ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                minor_faults: ru.ru_minflt as u64,
                major_faults: ru.ru_majflt as u64,
                max_rss_kib: ru.ru_maxrss as u64,
                user_s: secs(ru.ru_utime),
                sys_s: secs(ru.ru_stime),
            });
        }
        if r < 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            std::thread::sleep(Duration::from_millis(200));
            return Err("timed out (killed)".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `AnonHugePages` of `/proc/<pid>/smaps_rollup`, in KiB.
fn anon_huge_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Samples a process's AnonHugePages every 250 ms until stopped; the thread returns the most seen.
struct HugeWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl HugeWatch {
    fn start(pid: u32) -> HugeWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut max = 0;
            while !s.load(Ordering::Relaxed) {
                max = anon_huge_kib(pid).unwrap_or(0).max(max);
                std::thread::sleep(Duration::from_millis(250));
            }
            max
        });
        HugeWatch { stop, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

fn with_lib(cmd: &mut Command, lib: &Lib) {
    match &lib.path {
        Some(p) => cmd.env("LD_PRELOAD", p),
        None => cmd.env_remove("LD_PRELOAD"),
    };
}

/// Sends one inline command to redis at `port` and returns the first reply line.
fn redis_cmd(port: u16, cmd: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("{cmd}\r\n").as_bytes())?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).trim().to_string())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Where the two sides of a run go: the server's CPU and the client's (None: not pinned).
#[derive(Clone, Copy, Debug, Default)]
struct Cpus {
    server: Option<usize>,
    client: Option<usize>,
}

fn run_redis(lib: &Lib, o: &Opts, cpus: Cpus, work: &Path) -> Result<RunResult, String> {
    let port = free_port()?;
    let mut server = pinned("redis-server", cpus.server);
    server.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--dir",
    ]);
    server
        .arg(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    with_lib(&mut server, lib);
    let mut child = server
        .spawn()
        .map_err(|e| format!("cannot start redis-server: {e}"))?;
    let pid = child.id();
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        redis_cmd(port, "PING").is_ok_and(|r| r == "+PONG")
    });
    if !up {
        let _ = child.kill();
        let _ = reap(&mut child, Instant::now() + Duration::from_secs(5));
        return Err("redis-server did not answer PING".into());
    }
    let watch = HugeWatch::start(pid);
    let start = Instant::now();
    let mut client = pinned("redis-benchmark", cpus.client);
    client
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--csv"])
        .args(["-n", &o.requests.to_string(), "-r", "200000", "-P", "16"])
        .args(["-d", "120", "-t", "set,get,lpush,lpop,lrange_100,mset"])
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let out = client.output();
    let wall_s = start.elapsed().as_secs_f64();
    let huge = watch.finish().max(anon_huge_kib(pid).unwrap_or(0));
    let _ = redis_cmd(port, "SHUTDOWN NOSAVE");
    let exit = reap(&mut child, Instant::now() + Duration::from_secs(30))?;
    let out = out.map_err(|e| format!("cannot run redis-benchmark: {e}"))?;
    if !out.status.success() {
        return Err(format!("redis-benchmark failed ({})", out.status));
    }
    let ops = parse_redis_benchmark(&String::from_utf8_lossy(&out.stdout));
    finish(Server::Redis, ops, wall_s, huge, exit)
}

fn run_rocksdb(lib: &Lib, o: &Opts, work: &Path) -> Result<RunResult, String> {
    let db = work.join("rocksdb");
    let _ = std::fs::remove_dir_all(&db);
    let mut cmd = Command::new("db_bench");
    cmd.arg(format!("--db={}", db.display()))
        .arg(format!("--num={}", o.keys))
        .args(["--value_size=100", "--compression_type=none", "--threads=2"])
        .args([
            "--cache_size=67108864",
            "--benchmarks=fillrandom,readrandom,readwhilewriting,seekrandom",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    with_lib(&mut cmd, lib);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start db_bench: {e}"))?;
    let watch = HugeWatch::start(child.id());
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let exit = reap(&mut child, Instant::now() + Duration::from_secs(1800));
    let wall_s = start.elapsed().as_secs_f64();
    let huge = watch.finish();
    let text = reader.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&db);
    let exit = exit?;
    if !exit.ok {
        return Err("db_bench failed".into());
    }
    finish(Server::Rocksdb, parse_db_bench(&text), wall_s, huge, exit)
}

fn finish(
    server: Server,
    ops: Vec<(String, f64)>,
    wall_s: f64,
    anon_huge_kib: u64,
    exit: Exit,
) -> Result<RunResult, String> {
    let missing: Vec<&str> = server
        .ops()
        .iter()
        .filter(|op| !ops.iter().any(|(n, _)| n == *op))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(format!("no result for {}", missing.join(", ")));
    }
    Ok(RunResult {
        ops,
        wall_s,
        anon_huge_kib,
        exit,
    })
}

/// The cell's workload name: `redis:SET`, or `redis` for the whole run (wall time, faults, RSS).
fn workload(server: Server, op: Option<&str>) -> String {
    match op {
        Some(op) => format!("{}:{op}", server.name()),
        None => server.name().to_string(),
    }
}

/// Records a run in its cells: one per operation (throughput), and the whole run's (wall time,
/// faults, peak RSS, huge pages).
fn record(
    cells: &mut [Cell],
    server: Server,
    lib: &str,
    round: usize,
    r: &RunResult,
    requests: u64,
) {
    for (op, v) in &r.ops {
        if let Some(c) = cells
            .iter_mut()
            .find(|c| c.workload == workload(server, Some(op)) && c.allocator == lib)
        {
            c.runs[round] = Some(*v);
        }
    }
    if let Some(c) = cells
        .iter_mut()
        .find(|c| c.workload == workload(server, None) && c.allocator == lib)
    {
        c.runs[round] = Some(r.wall_s);
        c.rss_kib[round] = Some(r.exit.max_rss_kib);
        c.minor_faults[round] = Some(r.exit.minor_faults);
        c.major_faults[round] = Some(r.exit.major_faults);
        c.user_s[round] = Some(r.exit.user_s);
        c.sys_s[round] = Some(r.exit.sys_s);
        // Requests the client sent (db_bench's own counts are left out: they depend on its
        // per-thread accounting).
        c.ops[round] =
            (server == Server::Redis).then(|| requests * (server.ops().len() as u64 + 1));
        let n = c.runs.len();
        c.extra
            .entry("anon_huge_kib".into())
            .or_insert_with(|| vec![None; n])[round] = Some(r.anon_huge_kib as f64);
    }
}

fn new_cells(server: Server, libs: &[Lib], runs: usize) -> Vec<Cell> {
    let mut cells = Vec::new();
    for lib in libs {
        for op in server.ops() {
            let mut c = Cell::at(&workload(server, Some(op)), &lib.name, 1, runs);
            c.threads = 2;
            c.metric = "throughput".into();
            c.unit = "ops/s".into();
            c.higher_is_better = true;
            cells.push(c);
        }
        let mut c = Cell::at(&workload(server, None), &lib.name, 1, runs);
        c.threads = 2;
        c.metric = "wall_time".into();
        c.unit = "s".into();
        c.higher_is_better = false;
        cells.push(c);
    }
    cells
}

/// `cargo xtask servers`; whether every run succeeded.
pub fn run(root: &Path, o: &Opts) -> Result<bool, String> {
    let runs = o.runs();
    let mut notes = Vec::new();
    let mut wanted = o.servers.clone();
    wanted.dedup();
    let servers = ensure_programs(&wanted, o.install, &mut notes);
    if servers.is_empty() {
        println!("servers: nothing to run ({})", notes.join("; "));
        return Ok(true);
    }
    let hz3 = match &o.lib {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => return Err(format!("--lib {}: no such file", p.display())),
        None => runner::build_capi(root)?,
    };
    let (mut peers, peer_notes) = peer_libs();
    notes.extend(peer_notes);
    for (n, p) in &o.peers {
        if !p.is_file() {
            return Err(format!("--peer {n}: no library at {}", p.display()));
        }
        peers.push(Lib::new(n, "given".into(), Some(p.clone())));
    }
    let commit = crate::matrix::git_commit(root).unwrap_or_else(|| "?".into());
    let hz3 = Lib::new(strategies::PRELOAD, commit, Some(hz3));
    // Each server's allocators: the program's own, glibc ahead of a linked allocator, the peers,
    // hz3 last.
    let plan: Vec<(Server, Vec<Lib>)> = servers
        .iter()
        .map(|&s| {
            let exe = on_path(s.preloaded_program()).unwrap_or_default();
            let linked = linked_allocator(&exe);
            let own = linked.clone().map_or_else(
                || format!("glibc {}", glibc_version()),
                |l| format!("{l} (linked)"),
            );
            let mut libs = vec![Lib::new("system", own, None)];
            if let Some(p) = glibc_path().filter(|_| linked.is_some()) {
                libs.push(Lib::new("glibc-preload", glibc_version(), Some(p)));
            }
            libs.extend(peers.iter().cloned());
            libs.push(hz3.clone());
            (s, libs)
        })
        .collect();
    let cpus = allowed_cpus();
    let pins = if cpus.len() >= 2 && on_path("taskset").is_some() {
        Cpus {
            server: Some(cpus[0]),
            client: Some(cpus[1]),
        }
    } else {
        notes.push("redis server and client not pinned (needs taskset and 2 CPUs)".into());
        Cpus::default()
    };
    let work = std::env::temp_dir().join(format!("hz3-servers-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let machine = Machine::detect();
    println!("machine: {}", machine.describe());
    for (s, libs) in &plan {
        for l in libs {
            println!(
                "  {} {:<18} {:<28} {}",
                s.name(),
                l.name,
                l.version,
                l.path
                    .as_ref()
                    .map_or("(no preload)".into(), |p| p.display().to_string())
            );
        }
    }
    let mut cells: Vec<Cell> = plan
        .iter()
        .flat_map(|(s, libs)| new_cells(*s, libs, runs))
        .collect();
    let mut failures = Vec::new();
    let started = Instant::now();
    // Interleaved: in each round every server runs under every allocator in turn, the order
    // rotated by one each round so no allocator always runs first.
    for round in 0..runs {
        for (s, libs) in &plan {
            let n = libs.len();
            for k in 0..n {
                let lib = &libs[(k + round) % n];
                eprint!(
                    "\r\x1b[Kround {}/{} {} {} ({:.0} s)",
                    round + 1,
                    runs,
                    s.name(),
                    lib.name,
                    started.elapsed().as_secs_f64()
                );
                let r = match s {
                    Server::Redis => run_redis(lib, o, pins, &work),
                    Server::Rocksdb => run_rocksdb(lib, o, &work),
                };
                match r {
                    Ok(r) => record(&mut cells, *s, &lib.name, round, &r, o.requests),
                    Err(e) => {
                        let m = format!("round {} {} {}: {e}", round + 1, s.name(), lib.name);
                        eprintln!("\n{m}");
                        failures.push(m);
                    }
                }
            }
        }
    }
    eprintln!();
    let _ = std::fs::remove_dir_all(&work);
    print!("{}", render(&plan, &cells, runs));

    let libs: serde_json::Map<String, serde_json::Value> = plan
        .iter()
        .flat_map(|(s, libs)| libs.iter().map(move |l| (s, l)))
        .map(|(s, l)| {
            let path = l.path.as_ref().map(|p| p.display().to_string());
            let v = serde_json::json!({"version": l.version, "library": path});
            (format!("{}:{}", s.name(), l.name), v)
        })
        .collect();
    let mut extra = serde_json::json!({
        "command": "servers",
        "git_commit": crate::matrix::git_commit(root),
        "wall_s": started.elapsed().as_secs_f64().round(),
        "redis_requests": o.requests,
        "redis_benchmark": format!(
            "-n {} -r 200000 -P 16 -d 120 -t set,get,lpush,lpop,lrange_100,mset",
            o.requests
        ),
        "db_bench": format!(
            "--num={} --value_size=100 --compression_type=none --threads=2 --cache_size=67108864",
            o.keys
        ),
        "pinning": format!(
            "redis-server on CPU {:?}, redis-benchmark on CPU {:?}",
            pins.server, pins.client
        ),
        "libraries": libs,
        "notes": notes,
    });
    let extra = extra.as_object_mut().expect("an object");
    // Absent rather than null: no commit outside a git checkout, no notes when all went well.
    extra.retain(|k, v| !(v.is_null() || k == "notes" && notes.is_empty()));
    let mut matrix = Matrix {
        machine,
        config: Config {
            runs: runs as u64,
            duration_ms: 0,
            threads: 2,
            threads_sweep: vec![1],
            mode: if runs == 1 { "quick" } else { "full" }.into(),
            allocators: vec![],
            workloads: vec![],
            extra: std::mem::take(extra),
        },
        cells,
        failures,
    };
    // In the order first measured, as the plan lists them.
    matrix.config.allocators = matrix.allocators();
    matrix.config.workloads = matrix.workloads();
    let json = o
        .json
        .clone()
        .unwrap_or_else(|| paths::default_bin_dir().join("servers.json"));
    std::fs::write(&json, matrix.to_file_text())
        .map_err(|e| format!("writing {}: {e}", json.display()))?;
    println!("wrote {}", json.display());
    for n in &notes {
        println!("note: {n}");
    }
    Ok(matrix.failures.is_empty())
}

fn fmt_tput(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{:.1}k", v / 1000.0)
    }
}

/// The tables: per server, every operation's median throughput (min–max) per allocator and
/// hz3 ÷ the best peer's median; then per allocator the whole run's medians of wall time, minor
/// faults, peak RSS and AnonHugePages.
pub fn render(plan: &[(Server, Vec<Lib>)], cells: &[Cell], runs: usize) -> String {
    let mut s = String::new();
    let cell = |w: &str, a: &str| cells.iter().find(|c| c.workload == w && c.allocator == a);
    for (server, libs) in plan {
        s.push_str(&format!(
            "\n{} — throughput (ops/s), median of {} (min–max); hz3 ÷ best = hz3-preload's median / the best other median\n",
            server.name(),
            runs
        ));
        s.push_str(&format!("{:<18}", "operation"));
        for l in libs {
            s.push_str(&format!(" {:>22}", l.name));
        }
        s.push_str(&format!(
            " {:>8} {:<18} {:>11}\n",
            "hz3÷best", "best", "per round"
        ));
        for op in server.ops() {
            let w = workload(*server, Some(op));
            s.push_str(&format!("{op:<18}"));
            let mut best: Option<(f64, &str)> = None;
            let mut hz3 = None;
            for l in libs {
                let v = cell(&w, &l.name).map(|c| c.values()).unwrap_or_default();
                let Some(stats::Summary {
                    median: m,
                    min: lo,
                    max: hi,
                    ..
                }) = stats::Summary::of(&v)
                else {
                    s.push_str(&format!(" {:>22}", "—"));
                    continue;
                };
                s.push_str(&format!(
                    " {:>22}",
                    format!("{} ({}–{})", fmt_tput(m), fmt_tput(lo), fmt_tput(hi))
                ));
                if l.name == strategies::PRELOAD {
                    hz3 = Some(m);
                } else if best.is_none_or(|(b, _)| m > b) {
                    best = Some((m, &l.name));
                }
            }
            // Per round: hz3 over the best other allocator of the same round.
            let per_round: Vec<f64> = (0..runs)
                .filter_map(|r| {
                    let at = |a: &str| cell(&w, a).and_then(|c| c.runs.get(r).copied().flatten());
                    let h = at(strategies::PRELOAD)?;
                    let b = libs
                        .iter()
                        .filter(|l| l.name != strategies::PRELOAD)
                        .filter_map(|l| at(&l.name))
                        .reduce(f64::max)?;
                    (b > 0.0).then_some(h / b)
                })
                .collect();
            let range = stats::Summary::of(&per_round)
                .map_or_else(|| "—".into(), |r| format!("{:.2}–{:.2}", r.min, r.max));
            match (hz3, best) {
                (Some(h), Some((b, n))) if b > 0.0 => {
                    s.push_str(&format!(" {:>8.2} {n:<18} {range:>11}\n", h / b))
                }
                _ => s.push_str(&format!(" {:>8} {:<18} {range:>11}\n", "—", "")),
            }
        }
        let w = workload(*server, None);
        s.push_str(&format!(
            "{:<18} {:>10} {:>12} {:>10} {:>12}  (per run of the whole {}, medians)\n",
            "allocator",
            "wall s",
            "minor flt",
            "peak MiB",
            "THP MiB",
            server.name()
        ));
        for l in libs {
            let Some(c) = cell(&w, &l.name) else { continue };
            let med_u = |v: &[Option<u64>]| {
                stats::median(&v.iter().flatten().map(|&x| x as f64).collect::<Vec<_>>())
            };
            let f = |x: Option<f64>, div: f64, p: usize| {
                x.map_or("—".to_string(), |x| format!("{:.*}", p, x / div))
            };
            s.push_str(&format!(
                "{:<18} {:>10} {:>12} {:>10} {:>12}\n",
                l.name,
                f(stats::median(&c.values()), 1.0, 1),
                f(med_u(&c.minor_faults), 1.0, 0),
                f(med_u(&c.rss_kib), 1024.0, 1),
                f(c.extra_median("anon_huge_kib"), 1024.0, 1),
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_benchmark_csv_and_quiet_output() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\"\n\
                   \"SET\",\"249376.56\",\"0.512\",\"0.100\"\n\
                   \"GET\",\"31220.73\",\"24.698\",\"0.296\"\n\
                   \"LPUSH (needed to benchmark LRANGE)\",\"29806.26\",\"25.880\",\"0.544\"\n\
                   \"LRANGE_100 (first 100 elements)\",\"4833.95\",\"80.585\",\"0.720\"\n\
                   \"MSET (10 keys)\",\"7903.26\",\"76.024\",\"0.568\"\n";
        assert_eq!(
            parse_redis_benchmark(csv),
            vec![
                ("SET".to_string(), 249376.56),
                ("GET".to_string(), 31220.73),
                ("LRANGE_100".to_string(), 4833.95),
                ("MSET".to_string(), 7903.26),
            ]
        );
        // -q output, with the progress lines redis-benchmark overwrites through '\r'.
        let quiet = "SET: rps=120000.0 (overall: 118000.0) avg_msec=0.4\rSET: 249376.56 requests per second, p50=0.183 msec\n\
                     LPOP: 1000.5 requests per second\n";
        assert_eq!(
            parse_redis_benchmark(quiet),
            vec![("SET".to_string(), 249376.56), ("LPOP".to_string(), 1000.5)]
        );
        assert!(parse_redis_benchmark("").is_empty());
        assert!(parse_redis_benchmark("\"SET\",\"fast\"\ngarbage: here\n\"GET\"\n").is_empty());
    }

    #[test]
    fn parses_db_bench_output() {
        let out = "RocksDB:    version 7.8.3\n\
                   Keys:       16 bytes each (+ 0 bytes user-defined timestamp)\n\
                   Entries:    400000\n\
                   DB path: [/tmp/x]\n\
                   fillrandom   :       5.290 micros/op 189018 ops/sec 2.116 seconds 400000 operations;   20.9 MB/s\n\
                   readrandom   :       3.273 micros/op 305474 ops/sec 2.618 seconds 800000 operations;   33.8 MB/s (400000 of 400000 found)\n\
                   readwhilewriting :       5.643 micros/op 177193 ops/sec 4.514 seconds 800000 operations;   18.6 MB/s (400000 of 400000 found)\n\
                   seekrandom   :      14.050 micros/op 142310 ops/sec 5.621 seconds 800000 operations; (0 of 400000 found)\n";
        assert_eq!(
            parse_db_bench(out),
            vec![
                ("fillrandom".to_string(), 189018.0),
                ("readrandom".to_string(), 305474.0),
                ("readwhilewriting".to_string(), 177193.0),
                ("seekrandom".to_string(), 142310.0),
            ]
        );
        assert!(parse_db_bench("").is_empty());
        assert!(parse_db_bench(
            "DB path: [/tmp/x]\nfoo : bar ops/sec\nx : 1 micros/op z ops/sec\n"
        )
        .is_empty());
    }

    #[test]
    fn table_compares_hz3_with_the_best_other_median() {
        let libs: Vec<Lib> = ["system", "peer", strategies::PRELOAD]
            .iter()
            .map(|n| Lib {
                name: n.to_string(),
                version: "1".into(),
                path: None,
            })
            .collect();
        let mut cells = new_cells(Server::Rocksdb, &libs, 2);
        let runs = [
            ("system", [100.0, 300.0]),
            ("peer", [200.0, 200.0]),
            (strategies::PRELOAD, [150.0, 150.0]),
        ];
        for (round, _) in runs[0].1.iter().enumerate() {
            for (lib, v) in &runs {
                let r = RunResult {
                    ops: Server::Rocksdb
                        .ops()
                        .iter()
                        .map(|op| (op.to_string(), v[round]))
                        .collect(),
                    exit: Exit {
                        minor_faults: 10 + round as u64,
                        max_rss_kib: 2048,
                        ..Exit::default()
                    },
                    ..RunResult::default()
                };
                record(&mut cells, Server::Rocksdb, lib, round, &r, 300_000);
            }
        }
        let t = render(&[(Server::Rocksdb, libs)], &cells, 2);
        let row = t.lines().find(|l| l.starts_with("readrandom")).unwrap();
        // Medians: system 200, peer 200, hz3 150 -> 0.75 of the first best; per round
        // 150/200 and 150/300.
        assert!(row.contains("0.75 system"), "{row}");
        assert!(row.contains("0.50–0.75"), "{row}");
        let whole = t.lines().find(|l| l.starts_with("peer ")).unwrap();
        assert!(whole.contains("2.0"), "peak RSS in MiB: {whole}");
    }

    #[test]
    fn parses_arguments() {
        use clap::Parser;
        let a = |v: &[&str]| {
            let args = ["xtask", "servers"].iter().chain(v);
            match crate::cli::Cli::try_parse_from(args).map(|c| c.command) {
                Ok(Some(crate::cli::Command::Servers(o))) => Ok(o),
                Ok(c) => panic!("{c:?}"),
                Err(e) => Err(e),
            }
        };
        let d = a(&[]).unwrap();
        assert_eq!((d.runs(), d.servers.len(), d.install), (5, 2, true));
        assert_eq!(a(&["--quick", "--runs", "3"]).unwrap().runs(), 3);
        assert_eq!(a(&["--runs", "3", "--quick"]).unwrap().runs(), 1);
        let q = a(&[
            "--quick",
            "--only",
            "rocksdb",
            "--peer",
            "m3=/x.so",
            "--no-install",
        ])
        .unwrap();
        assert_eq!(q.runs(), 1);
        assert_eq!(q.servers, vec![Server::Rocksdb]);
        assert_eq!(q.peers, vec![("m3".to_string(), PathBuf::from("/x.so"))]);
        assert!(!q.install);
        let help = a(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        for flag in ["--runs", "--quick", "--only", "--json", "--lib", "--peer"] {
            assert!(help.to_string().contains(flag), "{flag}");
        }
        for bad in [
            &["--runs", "0"][..],
            &["--runs"],
            &["--only", "nginx"],
            &["--peer", "x"],
            &["--bogus"],
        ] {
            assert!(a(bad).is_err(), "{bad:?}");
        }
    }
}
