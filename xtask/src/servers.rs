//! `cargo xtask servers`: redis-server (driven by an unpreloaded `redis-benchmark`) and RocksDB's
//! `db_bench` under each allocator's C library, in interleaved runs of fixed size: throughput per
//! operation, the server's faults, peak RSS and huge pages, as a table and a `hz3-bench/1` file.
//! See docs/bench-matrix.md ("Real servers"). Allocators: `system` (what the program links),
//! `glibc-preload`, the matrix's preload peers that run here, the `--peer` ones, `hz3-preload`.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::results::{Cell, Machine, Matrix};
use crate::stats::Summary;
use crate::strategies::PRELOAD as HZ3;
use crate::{paths, peers, runner};

/// A server program measured under each allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Server {
    Redis,
    Rocksdb,
}

/// redis-benchmark's arguments after `-n N`, and db_bench's after `--num=N` (both in the JSON).
const REDIS_ARGS: &str = "-r 200000 -P 16 -d 120 -t set,get,lpush,lpop,lrange_100,mset";
const DB_BENCH_ARGS: &str =
    "--value_size=100 --compression_type=none --threads=2 --cache_size=67108864";

impl Server {
    pub fn name(self) -> &'static str {
        ["redis", "rocksdb"][self as usize]
    }

    /// The operations reported, in table order (the names the parsers return).
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Server::Redis => &["SET", "GET", "LPUSH", "LPOP", "LRANGE_100", "MSET"],
            Server::Rocksdb => &["fillrandom", "readrandom", "readwhilewriting", "seekrandom"],
        }
    }

    /// The programs it needs and the Debian package of each; the first runs under the preload.
    fn programs(self) -> Vec<(&'static str, &'static str)> {
        let all = match self {
            Server::Redis => "redis-server:redis-server redis-benchmark:redis-tools",
            Server::Rocksdb => "db_bench:rocksdb-tools",
        };
        all.split(' ').filter_map(|p| p.split_once(':')).collect()
    }
}

/// The options of `cargo xtask servers`.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct Opts {
    /// interleaved runs per allocator
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..), overrides_with = "quick")]
    #[arg(default_value_ifs = [("quick", "true", "1")])]
    pub runs: u64,
    /// one run (--runs 1; the later of the two wins)
    #[arg(long, overrides_with = "runs")]
    quick: bool,
    /// redis, rocksdb or both
    #[arg(long = "only", value_name = "LIST", value_delimiter = ',')]
    #[arg(default_value = "redis,rocksdb")]
    pub servers: Vec<Server>,
    /// results file (hz3-bench/1; default `<target>/release/servers.json`)
    #[arg(long, value_name = "PATH", hide_default_value = true)]
    #[arg(default_value_os_t = paths::default_bin_dir().join("servers.json"))]
    pub json: PathBuf,
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

fn peer_arg(p: &str) -> Result<(String, PathBuf), String> {
    p.split_once('=')
        .filter(|(n, p)| !n.is_empty() && !p.is_empty())
        .map(|(n, p)| (n.to_string(), p.into()))
        .ok_or_else(|| format!("{p:?}: expected NAME=PATH"))
}

/// A throughput figure: a finite number ≥ 0.
fn rate(s: &str) -> Option<f64> {
    s.parse().ok().filter(|r: &f64| r.is_finite() && *r >= 0.0)
}

/// Throughput of each operation in a `redis-benchmark` output (`--csv` or `-q`), in order, names
/// cut at a space; the LPUSH that fills LRANGE's list and progress lines (`SET: rps=…`) skipped.
pub fn parse_redis_benchmark(out: &str) -> Vec<(String, f64)> {
    let op = |line: &str| {
        let (name, rps) = match line.strip_prefix('"') {
            Some(rest) => {
                let mut f = rest.split("\",\"");
                (f.next()?, f.next()?.trim_end_matches('"'))
            }
            None => {
                let (name, rest) = line.split_once(": ")?;
                (name, rest.split_once(" requests per second")?.0.trim())
            }
        };
        let (short, r) = (name.split(' ').next()?, rate(rps)?);
        (!name.contains("needed to benchmark") && !short.is_empty()).then(|| (short.into(), r))
    };
    let lines = out.split(['\n', '\r']).map(str::trim);
    lines.filter_map(op).collect()
}

/// Throughput of each benchmark in a `db_bench` output: the lines
/// `fillrandom   :       5.290 micros/op 189018 ops/sec 2.116 seconds …`, in the order printed.
pub fn parse_db_bench(out: &str) -> Vec<(String, f64)> {
    let op = |line: &str| {
        let (name, rest) = line.split_once(':')?;
        let name = name.trim();
        let w: Vec<&str> = rest.split_whitespace().collect();
        let i = w.iter().position(|x| ["ops/sec", "ops/sec;"].contains(x))?;
        let r = rate(w[i.checked_sub(1)?])?;
        let named = !name.is_empty() && !name.contains(char::is_whitespace);
        (named && w.contains(&"micros/op")).then(|| (name.to_string(), r))
    };
    out.lines().filter_map(op).collect()
}

/// The allocator of a run: its row name, version and preloaded library (`None`: the program's own).
#[derive(Clone, Debug, PartialEq)]
pub struct Lib {
    pub name: String,
    pub version: String,
    pub path: Option<PathBuf>,
}

impl Lib {
    fn new(name: &str, version: String, path: Option<PathBuf>) -> Lib {
        Lib {
            name: name.into(),
            version,
            path,
        }
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH")?).collect();
    peers::find_in(program, &dirs)
}

/// The servers whose programs are there once apt-get installed the missing (or noted why not).
fn ensure_programs(o: &Opts, notes: &mut Vec<String>) -> Vec<Server> {
    let mut servers = o.servers.clone();
    servers.dedup();
    let absent = |s: &Server| s.programs().into_iter().filter(|p| on_path(p.0).is_none());
    let missing: Vec<&str> = servers.iter().flat_map(absent).map(|p| p.1).collect();
    let install = !missing.is_empty() && o.install;
    if let Some(Err(e)) = install.then(|| peers::apt_install("apt-get", &missing)) {
        let n = format!("could not install {} with apt-get: {e}", missing.join(" "));
        tracing::warn!("{n}");
        notes.push(n);
    }
    servers.retain(|s| {
        let absent: Vec<&str> = absent(s).map(|p| p.0).collect();
        if !absent.is_empty() {
            let n = format!("{} skipped: {} not found", s.name(), absent.join(", "));
            tracing::warn!("{n}");
            notes.push(n);
        }
        absent.is_empty()
    });
    servers
}

/// The allocator a program links instead of glibc's (from `ldd`), e.g. `libjemalloc.so.2`.
fn linked_allocator(program: &Path) -> Option<String> {
    let libs = runner::stdout_of("ldd", &[program.to_str()?], None)?;
    let allocators = ["jemalloc", "tcmalloc", "mimalloc", "snmalloc", "hoard"];
    let mut libs = libs.lines().filter_map(|l| l.split_whitespace().next());
    let lib = libs.find(|lib| allocators.iter().any(|a| lib.contains(a)))?;
    Some(lib.into())
}

/// The first two CPUs this process may run on, for server and client; None without them or taskset.
fn pins() -> Pins {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let list = s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:"));
    let range = |part: &str| {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        Some(a.trim().parse().ok()?..=b.trim().parse().ok()?)
    };
    let parts = list.unwrap_or("").trim().split(',');
    let cpus: Vec<usize> = parts.filter_map(range).flatten().collect();
    (cpus.len() >= 2 && on_path("taskset").is_some()).then(|| (cpus[0], cpus[1]))
}

/// `program` (under `taskset -c cpu` if pinned), `lib` preloaded (None: none), stdin, stderr null.
fn command(program: &str, cpu: Option<usize>, lib: Option<&Path>) -> Command {
    let mut cmd = Command::new(if cpu.is_some() { "taskset" } else { program });
    if let Some(c) = cpu {
        cmd.args(["-c", &c.to_string(), program]);
    }
    match lib {
        Some(p) => cmd.env("LD_PRELOAD", p),
        None => cmd.env_remove("LD_PRELOAD"),
    };
    cmd.stdin(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// One run of the preloaded process: throughput per operation, the most AnonHugePages seen, the
/// requests a client sent, and its exit status, faults, peak RSS (VmHWM) and CPU time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunResult {
    pub ops: Vec<(String, f64)>,
    pub wall_s: f64,
    pub anon_huge_kib: u64,
    pub requests: Option<u64>,
    status: ExitStatus,
    pub minor_faults: u64,
    pub major_faults: u64,
    pub max_rss_kib: u64,
    pub user_s: f64,
    pub sys_s: f64,
}

/// Reaps `child` (`wait4`), killed at `deadline`; meanwhile the most AnonHugePages of `watch`.
fn reap(child: &mut Child, deadline: Instant, watch: u32) -> Result<RunResult, String> {
    let (pid, mut status, mut huge) = (child.id() as libc::pid_t, 0, 0);
    // SAFETY: `rusage` is plain data, so all-zero is a valid value for the kernel to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    for poll in 0u64.. {
        if poll % 12 == 0 {
            huge = anon_huge_kib(watch).max(huge);
        }
        // SAFETY: `pid` is our own unreaped child (std has not waited on it: `Child::wait` is never
        // called on it), and both out-pointers point to live, writable locals.
        match unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) } {
            r if r == pid => break,
            r if r < 0 => return Err(format!("wait4: {}", std::io::Error::last_os_error())),
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                sleep(Duration::from_millis(200));
                return Err("timed out (killed)".into());
            }
            _ => sleep(Duration::from_millis(20)),
        }
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(RunResult {
        status: ExitStatus::from_raw(status),
        anon_huge_kib: huge,
        minor_faults: ru.ru_minflt as u64,
        major_faults: ru.ru_majflt as u64,
        max_rss_kib: ru.ru_maxrss as u64,
        user_s: secs(ru.ru_utime),
        sys_s: secs(ru.ru_stime),
        ..RunResult::default()
    })
}

/// `AnonHugePages` of `/proc/<pid>/smaps_rollup`, in KiB (0 when unknown).
fn anon_huge_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kb = text.lines().find_map(|l| l.strip_prefix("AnonHugePages:"));
    let kb = kb.map(|v| v.trim().trim_end_matches("kB").trim().parse());
    kb.and_then(Result::ok).unwrap_or(0)
}

/// The CPUs of the two sides of a redis run, server and client (None: not pinned).
type Pins = Option<(usize, usize)>;

/// A finished run and its stdout.
type Logged = Result<(RunResult, String), String>;

/// Runs `cmd` (stdout in `log`, killed after 30 min), sampling `watch`'s huge pages (None: its).
fn run_logged(cmd: &mut Command, what: &str, log: &Path, watch: Option<u32>) -> Logged {
    let stdout = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let start = Instant::now();
    let child = cmd.stdout(stdout).spawn();
    let mut child = child.map_err(|e| format!("cannot {what}: {e}"))?;
    let watch = watch.unwrap_or(child.id());
    let mut r = reap(&mut child, start + Duration::from_secs(1800), watch)?;
    r.wall_s = start.elapsed().as_secs_f64();
    Ok((r, std::fs::read_to_string(log).unwrap_or_default()))
}

fn run_redis(lib: &Lib, o: &Opts, pins: Pins, work: &Path) -> Result<RunResult, String> {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr());
    let port = port.map_err(|e| format!("no free port: {e}"))?;
    let port = port.port().to_string();
    let mut server = command("redis-server", pins.map(|p| p.0), lib.path.as_deref())
        .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
        .args("--appendonly no --daemonize no --loglevel warning --dir".split(' '))
        .arg(work)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server: {e}"))?;
    let (id, n) = (server.id(), o.requests);
    // redis-cli comes with redis-benchmark (redis-tools).
    let cli = |cmd: &str| {
        let args = format!("-h 127.0.0.1 -p {port} {cmd}");
        runner::stdout_of("redis-cli", &args.split(' ').collect::<Vec<_>>(), None)
    };
    let up = (0..200).any(|_| {
        sleep(Duration::from_millis(25));
        cli("PING").is_some_and(|r| r == "PONG")
    });
    let args = format!("-h 127.0.0.1 -p {port} --csv -n {n} {REDIS_ARGS}");
    let mut client = command("redis-benchmark", pins.map(|p| p.1), None);
    client.args(args.split(' '));
    // The client's time; the server's huge pages while it runs and once at its end.
    let log = work.join("redis-benchmark.out");
    let client = match up {
        true => run_logged(&mut client, "run redis-benchmark", &log, Some(id)),
        false => Err("redis-server did not answer PING".into()),
    };
    let huge = anon_huge_kib(id);
    let _ = cli("SHUTDOWN NOSAVE");
    let _ = (!up).then(|| server.kill());
    let mut r = reap(&mut server, Instant::now() + Duration::from_secs(30), id)?;
    let (c, text) = client?;
    if !c.status.success() {
        return Err(format!("redis-benchmark failed ({})", c.status));
    }
    (r.ops, r.wall_s) = (parse_redis_benchmark(&text), c.wall_s);
    r.anon_huge_kib = huge.max(c.anon_huge_kib);
    // Requests the client sent: each operation's, and the LPUSH that fills the list for LRANGE.
    r.requests = Some(n * (Server::Redis.ops().len() as u64 + 1));
    Ok(r)
}

fn run_rocksdb(lib: &Lib, o: &Opts, _: Pins, work: &Path) -> Result<RunResult, String> {
    let db = work.join("rocksdb");
    let _ = std::fs::remove_dir_all(&db);
    let ops = Server::Rocksdb.ops().join(",");
    let args = format!("--num={} {DB_BENCH_ARGS} --benchmarks={ops}", o.keys);
    let mut cmd = command("db_bench", None, lib.path.as_deref());
    cmd.arg(format!("--db={}", db.display()))
        .args(args.split(' '));
    let r = run_logged(&mut cmd, "start db_bench", &work.join("db_bench.out"), None);
    let _ = std::fs::remove_dir_all(&db);
    let (r, text) = r?;
    let mut r = r.status.success().then_some(r).ok_or("db_bench failed")?;
    r.ops = parse_db_bench(&text);
    Ok(r)
}

/// The cell's workload name: `redis:SET`, or `redis` for the whole run (wall time, faults, RSS).
fn workload(server: Server, op: Option<&str>) -> String {
    let s = server.name();
    op.map_or_else(|| s.into(), |op| format!("{s}:{op}"))
}

/// Records round `i`'s run in `lib`'s cells of `s`; an error names the operations without a result.
fn record(cells: &mut [Cell], s: Server, lib: &str, i: usize, r: &RunResult) -> Result<(), String> {
    // An operation printed twice: its last result.
    let value = |op: &&str| r.ops.iter().rev().find(|(n, _)| n == op).map(|x| x.1);
    let missing = s.ops().iter().filter(|op| value(op).is_none());
    let missing: Vec<&str> = missing.copied().collect();
    if !missing.is_empty() {
        return Err(format!("no result for {}", missing.join(", ")));
    }
    for c in cells.iter_mut().filter(|c| c.allocator == lib) {
        let op = c.workload.split_once(':').filter(|(w, _)| *w == s.name());
        if let Some((_, op)) = op {
            c.runs[i] = value(&op);
        } else if c.workload == s.name() {
            c.runs[i] = Some(r.wall_s);
            c.peak_rss_kib_runs[i] = Some(r.max_rss_kib);
            c.minor_faults_runs[i] = Some(r.minor_faults);
            c.major_faults_runs[i] = Some(r.major_faults);
            c.user_s_runs[i] = Some(r.user_s);
            c.sys_s_runs[i] = Some(r.sys_s);
            // None for db_bench: its own operation counts depend on its per-thread accounting.
            c.ops_runs[i] = r.requests;
            let (n, huge) = (c.runs.len(), c.extra.entry("anon_huge_kib".into()));
            huge.or_insert(vec![None; n])[i] = Some(r.anon_huge_kib as f64);
        }
    }
    Ok(())
}

/// Each allocator's cells: throughput per operation, then the whole run's wall time.
fn new_cells(server: Server, libs: &[Lib], runs: usize) -> Vec<Cell> {
    let mut cells = Vec::new();
    for l in libs {
        for op in server.ops().iter().map(|op| Some(*op)).chain([None]) {
            let mut c = Cell::at(&workload(server, op), &l.name, 1, runs);
            (c.threads, c.higher_is_better) = (2, op.is_some());
            let (metric, unit) = op.map_or(("wall_time", "s"), |_| ("throughput", "ops/s"));
            (c.metric, c.unit) = (metric.into(), unit.into());
            cells.push(c);
        }
    }
    cells
}

/// `cargo xtask servers`; whether every run succeeded.
pub fn run(root: &Path, o: &Opts) -> Result<bool, String> {
    let (runs, mut notes) = (o.runs as usize, Vec::new());
    let servers = ensure_programs(o, &mut notes);
    if servers.is_empty() {
        println!("servers: nothing to run ({})", notes.join("; "));
        return Ok(true);
    }
    let hz3 = match &o.lib {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => return Err(format!("--lib {}: no such file", p.display())),
        None => runner::build_capi(root)?,
    };
    // The matrix's preload peers that can run here (`peers::prepare` notes the others).
    let mut names = peers::PRELOAD_PEERS.iter().map(|p| p.name.into()).collect();
    let prepared = peers::prepare(&mut names, &mut notes);
    let version = |n: &String| prepared.versions.get(n).map_or("?".into(), String::clone);
    let lib = |(n, l): (String, PathBuf)| Lib::new(&n, version(&n), Some(l));
    let mut peers: Vec<Lib> = prepared.libs.into_iter().map(lib).collect();
    for (n, p) in &o.peers {
        if !p.is_file() {
            return Err(format!("--peer {n}: no library at {}", p.display()));
        }
        peers.push(Lib::new(n, "given".into(), Some(p.clone())));
    }
    let commit = crate::matrix::git_commit(root);
    let version = commit.clone().unwrap_or("?".into());
    peers.push(Lib::new(HZ3, version, Some(hz3)));
    let glibc = runner::stdout_of("ldd", &["--version"], None);
    let glibc = glibc.and_then(|o| Some(o.lines().next()?.split_whitespace().last()?.to_string()));
    let glibc = glibc.unwrap_or_else(|| "?".into());
    // Each server's allocators: the program's own, glibc ahead of a linked allocator (preloading
    // glibc's libc.so.6 puts its malloc first), the peers, hz3 last.
    let libs_of = |s: Server| {
        let linked = linked_allocator(&on_path(s.programs()[0].0).unwrap_or_default());
        let own = linked.as_ref().map(|l| format!("{l} (linked)"));
        let own = own.unwrap_or(format!("glibc {glibc}"));
        let mut libs = vec![Lib::new("system", own, None)];
        let dirs = [peers::PRELOAD_LIB_DIRS, &["/lib/x86_64-linux-gnu"]].concat();
        if let Some(p) = peers::find_in("libc.so.6", &dirs).filter(|_| linked.is_some()) {
            libs.push(Lib::new("glibc-preload", glibc.clone(), Some(p)));
        }
        (s, [libs, peers.clone()].concat())
    };
    let plan: Vec<(Server, Vec<Lib>)> = servers.into_iter().map(libs_of).collect();
    let pins = pins();
    if pins.is_none() {
        notes.push("redis server and client not pinned (needs taskset and 2 CPUs)".into());
    }
    let work = std::env::temp_dir().join(format!("hz3-servers-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let machine = Machine::detect();
    println!("machine: {}", machine.describe());
    let mut libraries = serde_json::Map::new();
    for (s, l) in plan.iter().flat_map(|(s, v)| v.iter().map(|l| (*s, l))) {
        let path = l.path.as_ref().map(|p| p.display().to_string());
        let shown = path.clone().unwrap_or("(no preload)".into());
        println!("  {} {:<18} {:<28} {shown}", s.name(), l.name, l.version);
        let v = serde_json::json!({"version": l.version, "library": path});
        libraries.insert(format!("{}:{}", s.name(), l.name), v);
    }
    let cells = plan.iter().flat_map(|(s, ls)| new_cells(*s, ls, runs));
    let (mut cells, mut failures): (Vec<Cell>, _) = (cells.collect(), vec![]);
    let started = Instant::now();
    // Interleaved: in each round every server runs under every allocator in turn, the order
    // rotated by one each round so no allocator always runs first.
    for (round, (s, libs)) in (0..runs).flat_map(|r| plan.iter().map(move |p| (r, p))) {
        for lib in libs.iter().cycle().skip(round).take(libs.len()) {
            let (r, name, t) = (round + 1, s.name(), started.elapsed().as_secs_f64());
            eprint!("\r\x1b[Kround {r}/{runs} {name} {} ({t:.0} s)", lib.name);
            let result = [run_redis, run_rocksdb][*s as usize](lib, o, pins, &work);
            if let Err(e) = result.and_then(|res| record(&mut cells, *s, &lib.name, round, &res)) {
                failures.push(format!("round {r} {name} {}: {e}", lib.name));
                eprintln!("\n{}", failures[failures.len() - 1]);
            }
        }
    }
    eprintln!();
    let _ = std::fs::remove_dir_all(&work);
    print!("{}", render(&plan, &cells, runs));
    let [server_cpu, client_cpu] = [pins.map(|p| p.0), pins.map(|p| p.1)];
    let config = serde_json::json!({
        "runs": runs,
        "duration_ms": 0,
        "threads": 2,
        "threads_sweep": [1],
        "mode": if runs == 1 { "quick" } else { "full" },
        "command": "servers",
        "git_commit": commit,
        "wall_s": started.elapsed().as_secs_f64().round(),
        "redis_requests": o.requests,
        "redis_benchmark": format!("-n {} {REDIS_ARGS}", o.requests),
        "db_bench": format!("--num={} {DB_BENCH_ARGS}", o.keys),
        "pinning": format!("redis-server on CPU {server_cpu:?}, redis-benchmark on CPU {client_cpu:?}"),
        "libraries": libraries,
        // Absent rather than null: no commit outside a git checkout, no notes when all went well.
        "notes": (!notes.is_empty()).then_some(&notes),
    });
    let matrix = Matrix::new(machine, config, cells, failures);
    let written = std::fs::write(&o.json, matrix.to_file_text());
    written.map_err(|e| format!("writing {}: {e}", o.json.display()))?;
    println!("wrote {}", o.json.display());
    for n in &notes {
        println!("note: {n}");
    }
    Ok(matrix.failures.is_empty())
}

/// The tables: per server, each operation's median throughput per allocator and hz3 ÷ the best;
/// then the medians of each allocator's whole runs.
pub fn render(plan: &[(Server, Vec<Lib>)], cells: &[Cell], runs: usize) -> String {
    let mut s = String::new();
    let cell = |w: &str, a: &str| cells.iter().find(|c| c.workload == w && c.allocator == a);
    // A throughput in thousands: `250k`, `31.2k`.
    let tput = |v: f64| format!("{:.*}k", if v >= 100_000.0 { 0 } else { 1 }, v / 1000.0);
    let row = |[a, b, c, d, e]: [&str; 5]| format!("{a:<18} {b:>10} {c:>12} {d:>10} {e:>12}");
    for (server, libs) in plan {
        let name = server.name();
        s += &format!("\n{name} — throughput (ops/s), median of {runs} (min–max); hz3 ÷ best = hz3-preload's median / the best other median\n{:<18}", "operation");
        s.extend(libs.iter().map(|l| format!(" {:>22}", l.name)));
        s += &format!(" {:>8} {:<18} {:>11}\n", "hz3÷best", "best", "per round");
        for op in server.ops() {
            let w = workload(*server, Some(op));
            s += &format!("{op:<18}");
            let sum = |l: &Lib| cell(&w, &l.name).and_then(Cell::summary);
            let sums: Vec<_> = libs.iter().map(|l| (&l.name, sum(l))).collect();
            for (_, sum) in &sums {
                let t = sum.map(|x| [x.median, x.min, x.max].map(tput));
                let t = t.map_or("—".into(), |[m, lo, hi]| format!("{m} ({lo}–{hi})"));
                s += &format!(" {t:>22}");
            }
            let medians = sums.iter().filter_map(|(n, x)| Some((*n, (*x)?.median)));
            let hz3 = medians.clone().rfind(|(n, _)| *n == HZ3);
            let others = medians.filter(|(n, _)| *n != HZ3);
            let best = others.reduce(|a, b| if b.1 > a.1 { b } else { a });
            // Per round: hz3 over the best other allocator of the same round.
            let at = |a: &str, r: usize| cell(&w, a).and_then(|c| *c.runs.get(r)?);
            let ratio = |r| {
                let others = libs.iter().filter(|l| l.name != HZ3);
                let b = others.filter_map(|l| at(&l.name, r)).reduce(f64::max)?;
                (b > 0.0).then_some(at(HZ3, r)? / b)
            };
            let per_round: Vec<f64> = (0..runs).filter_map(ratio).collect();
            let range = Summary::of(&per_round).map(|r| format!("{:.2}–{:.2}", r.min, r.max));
            let range = range.unwrap_or("—".into());
            s += &match (hz3, best) {
                (Some((_, h)), Some((n, b))) if b > 0.0 => format!(" {:>8.2} {n:<18}", h / b),
                _ => format!(" {:>8} {:<18}", "—", ""),
            };
            s += &format!(" {range:>11}\n");
        }
        s += &row(["allocator", "wall s", "minor flt", "peak MiB", "THP MiB"]);
        s += &format!("  (per run of the whole {name}, medians)\n");
        let w = workload(*server, None);
        for (l, c) in libs.iter().filter_map(|l| Some((l, cell(&w, &l.name)?))) {
            let f = |x: Option<f64>, p| x.map_or("—".into(), |x| format!("{x:.p$}"));
            let wall = c.summary().map(|s| s.median);
            let [wall, minor] = [f(wall, 1), f(c.median("minor_faults"), 0)];
            let mib = [c.median("peak_rss_kib"), c.median("anon_huge_kib")];
            let [rss, huge] = mib.map(|kib| f(kib.map(|k| k / 1024.0), 1));
            s += &(row([&l.name, &wall, &minor, &rss, &huge]) + "\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies;

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
                    minor_faults: 10 + round as u64,
                    max_rss_kib: 2048,
                    ..RunResult::default()
                };
                record(&mut cells, Server::Rocksdb, lib, round, &r).unwrap();
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
        assert_eq!((d.runs, d.servers.len(), d.install), (5, 2, true));
        assert_eq!(a(&["--quick", "--runs", "3"]).unwrap().runs, 3);
        assert_eq!(a(&["--runs", "3", "--quick"]).unwrap().runs, 1);
        let q = a(&[
            "--quick",
            "--only",
            "rocksdb",
            "--peer",
            "m3=/x.so",
            "--no-install",
        ])
        .unwrap();
        assert_eq!(q.runs, 1);
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
