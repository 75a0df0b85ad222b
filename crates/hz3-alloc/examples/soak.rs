//! The soak run behind `cargo xtask soak`: long runs of stress (hand-off between threads,
//! cookie-checked blocks, threads recreated each round), thread lifecycle (100,000 short
//! threads), producer/consumer RSS with a consumer that never allocates, fork from a
//! multithreaded parent, and random action sequences — for each chosen strategy. Prints a
//! summary table and exits non-zero on any lost object, corrupted block or bound violation.
//!
//! `cargo run --release -p hz3-alloc --example soak -- [--scale F] [--strategies a,c,...]`
//! (default: the default strategy A-cache and the baseline A)

use hz3_alloc::strategy::*;
use hz3_alloc::{Hz3, RemoteFree};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

const MIB: usize = 1 << 20;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        * 1024
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn size(&mut self) -> usize {
        let r = self.next();
        match r % 1000 {
            0..=899 => 1 + (r >> 10) as usize % 512,
            900..=989 => 512 + (r >> 10) as usize % 32768,
            _ => 256 * 1024 + (r >> 10) as usize % (2 * MIB),
        }
    }
}

fn cookie(p: usize, size: usize) -> u8 {
    ((p >> 4) ^ size ^ (p >> 13)) as u8 | 1
}

/// A block with its layout; filled with a cookie on allocation and checked before free.
#[derive(Clone, Copy)]
struct Blk(usize, usize);

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn alloc_blk<R: RemoteFree>(size: usize) -> Blk {
    // SAFETY: valid layout; the block is filled before anyone reads it.
    let p = unsafe { Hz3::<R>::new().alloc(layout(size)) };
    assert!(!p.is_null(), "out of memory");
    let c = cookie(p as usize, size);
    // SAFETY: `p` has `size` writable bytes.
    unsafe {
        p.write(c);
        p.add(size - 1).write(c);
        if size > 64 {
            p.add(size / 2).write(c);
        }
    }
    Blk(p as usize, size)
}

/// Checks the cookie and frees; returns whether the cookie was intact.
fn free_blk<R: RemoteFree>(b: Blk) -> bool {
    let p = b.0 as *mut u8;
    let c = cookie(b.0, b.1);
    // SAFETY: a live block of `b.1` bytes, freed once.
    unsafe {
        let ok = p.add(b.1 - 1).read() == c && (b.1 <= 64 || p.add(b.1 / 2).read() == c);
        Hz3::<R>::new().dealloc(p, layout(b.1));
        ok
    }
}

#[derive(Default)]
struct Row {
    scenario: &'static str,
    strategy: &'static str,
    ops: u64,
    threads: u64,
    lost: u64,
    corrupt: u64,
    peak_rss: usize,
    final_rss: usize,
    bound_ok: bool,
    note: String,
}

fn lost<R: RemoteFree>() -> u64 {
    // SAFETY: called between scenarios, when no other thread uses the instance.
    unsafe { Hz3::<R>::live_blocks() }.iter().sum()
}

fn stress<R: RemoteFree>(name: &'static str, scale: f64) -> Row {
    let threads = 4;
    let rounds = (20.0 * scale) as usize;
    let iters = 50_000;
    let slots: Arc<Vec<AtomicUsize>> = Arc::new((0..4096).map(|_| AtomicUsize::new(0)).collect());
    let corrupt = Arc::new(AtomicUsize::new(0));
    // A block in a slot carries its size in its first word (sizes are >= 16 here).
    let put = |b: Blk| {
        // SAFETY: the block has at least 16 bytes.
        unsafe { *(b.0 as *mut usize) = b.1 };
        b.0
    };
    let take = |p: usize| -> Blk {
        // SAFETY: `p` was stored by `put`.
        Blk(p, unsafe { *(p as *const usize) })
    };
    let start = rss();
    let mut peak = start;
    for round in 0..rounds {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (slots, corrupt) = (slots.clone(), corrupt.clone());
                std::thread::spawn(move || {
                    let mut rng = Rng(0x9e37_79b9 ^ ((round * 31 + t) as u64) << 7 | 1);
                    let mut own = Vec::new();
                    for _ in 0..iters {
                        let r = rng.next();
                        if r % 4 == 0 {
                            // Exchange through a shared slot: the block we take is usually
                            // another thread's (a remote free).
                            let i = (r >> 8) as usize % slots.len();
                            let b = alloc_blk::<R>(rng.size().max(16));
                            let old = slots[i].swap(put(b), Ordering::AcqRel);
                            if old != 0 && !free_blk::<R>(take(old)) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                        } else if own.len() < 64 || r % 3 != 0 {
                            own.push(alloc_blk::<R>(rng.size()));
                        } else {
                            let b = own.swap_remove((r >> 8) as usize % own.len());
                            if !free_blk::<R>(b) {
                                corrupt.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    for b in own {
                        if !free_blk::<R>(b) {
                            corrupt.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        peak = peak.max(rss());
    }
    for slot in slots.iter() {
        let p = slot.swap(0, Ordering::AcqRel);
        if p != 0 && !free_blk::<R>(take(p)) {
            corrupt.fetch_add(1, Ordering::Relaxed);
        }
    }
    let lost = lost::<R>();
    Row {
        scenario: "stress",
        strategy: name,
        ops: (rounds * threads * iters) as u64,
        threads: (rounds * threads) as u64,
        lost,
        corrupt: corrupt.load(Ordering::Relaxed) as u64,
        peak_rss: peak,
        final_rss: rss(),
        bound_ok: true,
        note: String::new(),
    }
}

fn lifecycle<R: RemoteFree>(name: &'static str, scale: f64) -> Row {
    let n = (100_000.0 * scale) as usize;
    let (tx, rx) = mpsc::sync_channel::<Vec<Blk>>(256);
    let sink = std::thread::spawn(move || {
        let mut bad = 0u64;
        for v in rx {
            for b in v {
                bad += !free_blk::<R>(b) as u64;
            }
        }
        bad
    });
    Hz3::<R>::collect();
    let start = rss();
    let mut peak = start;
    let mut mid = 0;
    for i in 0..n {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(i as u64 * 2654435761 + 1);
            let blocks: Vec<Blk> = (0..16)
                .map(|_| alloc_blk::<R>(1 + rng.size() % 2048))
                .collect();
            let (give, keep) = blocks.split_at(8);
            tx.send(give.to_vec()).unwrap();
            for &b in keep {
                assert!(free_blk::<R>(b));
            }
        })
        .join()
        .unwrap();
        if i % 10_000 == 0 {
            peak = peak.max(rss());
            if i == n / 2 {
                mid = rss();
            }
        }
    }
    drop(tx);
    let corrupt = sink.join().unwrap();
    Hz3::<R>::collect();
    let fin = rss();
    let heaps = Hz3::<R>::heap_count();
    let lost = lost::<R>();
    // No per-thread leak: heaps are reused (a handful, not one per thread) and RSS does not
    // grow with the thread count.
    let bound_ok =
        heaps <= 64 && fin <= start + 64 * MIB && (mid == 0 || peak <= mid.max(start) + 64 * MIB);
    Row {
        scenario: "lifecycle",
        strategy: name,
        ops: n as u64 * 16,
        threads: n as u64 + 1,
        lost,
        corrupt,
        peak_rss: peak,
        final_rss: fin,
        bound_ok,
        note: format!("{heaps} heaps"),
    }
}

fn producer_consumer<R: RemoteFree>(name: &'static str, scale: f64) -> Row {
    const RING: usize = 32 * 1024;
    let total = (20_000_000.0 * scale) as usize;
    let ring: Arc<Vec<AtomicUsize>> = Arc::new((0..RING).map(|_| AtomicUsize::new(0)).collect());
    let live = RING * 1040;
    let start = rss();
    let r = ring.clone();
    let consumer = std::thread::spawn(move || {
        let mut bad = 0u64;
        let (mut seen, mut i) = (0, 0);
        while seen < total {
            let p = r[i].swap(0, Ordering::Acquire);
            if p == 0 {
                std::hint::spin_loop();
                continue;
            }
            // SAFETY: the producer stored the size in the block's first word.
            let size = unsafe { *(p as *const usize) };
            let p8 = p as *mut u8;
            // SAFETY: live block of `size` bytes handed over once.
            unsafe {
                bad += (p8.add(size - 1).read() != cookie(p, size)) as u64;
                Hz3::<R>::new().dealloc(p8, layout(size));
            }
            seen += 1;
            i = (i + 1) % RING;
        }
        bad
    });
    let mut rng = Rng(77);
    let mut samples = Vec::new();
    for k in 0..total {
        let size = 16 + (rng.next() % 2048) as usize;
        let b = alloc_blk::<R>(size);
        // SAFETY: the block has >= 16 bytes; the size goes in its first word.
        unsafe { *(b.0 as *mut usize) = size };
        let i = k % RING;
        while ring[i].load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        ring[i].store(b.0, Ordering::Release);
        if k % (total / 20).max(1) == 0 {
            samples.push(rss().saturating_sub(start));
        }
    }
    let corrupt = consumer.join().unwrap();
    let peak = samples.iter().copied().max().unwrap_or(0);
    let third = (samples.len() / 3).max(1);
    let early = samples[..third].iter().copied().max().unwrap_or(0);
    let late = samples[samples.len() - third..]
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    // Growth is a trend only beyond what the live set (the ring) explains.
    let bound_ok = peak <= live * 3 / 2 + 64 * MIB
        && (late <= early + early / 5 + 8 * MIB || late <= live * 5 / 4);
    let lost = lost::<R>();
    Row {
        scenario: "producer-consumer",
        strategy: name,
        ops: total as u64 * 2,
        threads: 2,
        lost,
        corrupt,
        peak_rss: start + peak,
        final_rss: rss(),
        bound_ok,
        note: format!(
            "live<={}MiB early {}MiB late {}MiB",
            live / MIB,
            early / MIB,
            late / MIB
        ),
    }
}

fn fork_test<R: RemoteFree>(name: &'static str, scale: f64) -> Row {
    let forks = (100.0 * scale).max(1.0) as usize;
    let stop = Arc::new(AtomicUsize::new(0));
    let busy: Vec<_> = (0..3)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(t + 5);
                let mut v = Vec::new();
                while stop.load(Ordering::Relaxed) == 0 {
                    v.push(alloc_blk::<R>(rng.size() % 4096 + 1));
                    if v.len() > 256 {
                        for b in v.drain(..) {
                            free_blk::<R>(b);
                        }
                    }
                }
                for b in v {
                    free_blk::<R>(b);
                }
            })
        })
        .collect();
    let mut failed = 0u64;
    for _ in 0..forks {
        // SAFETY: fork in a multithreaded process; the child only uses async-signal-safe calls
        // and hz3 (whose locks the atfork handlers keep consistent), then `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: child: watchdog, then allocate/free and exit without unwinding.
            unsafe { libc::alarm(5) };
            let mut ok = true;
            for i in 0..1000 {
                let b = alloc_blk::<R>(1 + i * 37 % 5000);
                ok &= free_blk::<R>(b);
            }
            // SAFETY: `_exit` is async-signal-safe.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            failed += 1;
        }
    }
    stop.store(1, Ordering::Relaxed);
    for h in busy {
        h.join().unwrap();
    }
    Row {
        scenario: "fork",
        strategy: name,
        ops: forks as u64,
        threads: 4,
        lost: lost::<R>(),
        corrupt: failed,
        peak_rss: rss(),
        final_rss: rss(),
        bound_ok: failed == 0,
        note: format!("{forks} forks, {failed} failed children"),
    }
}

fn fuzz<R: RemoteFree>(name: &'static str, scale: f64) -> Row {
    let steps = (2_000_000.0 * scale) as usize;
    let mut rng = Rng(0xfeed);
    let mut live: Vec<Blk> = Vec::new();
    let mut corrupt = 0u64;
    let (tx, rx) = mpsc::channel::<Blk>();
    let remote =
        std::thread::spawn(move || rx.iter().map(|b| !free_blk::<R>(b) as u64).sum::<u64>());
    for _ in 0..steps {
        let r = rng.next();
        match r % 10 {
            0..=4 => live.push(alloc_blk::<R>(rng.size())),
            5..=6 if !live.is_empty() => {
                let b = live.swap_remove((r >> 8) as usize % live.len());
                corrupt += !free_blk::<R>(b) as u64;
            }
            7 if !live.is_empty() => {
                let i = (r >> 8) as usize % live.len();
                let b = live[i];
                let new = rng.size();
                let c = cookie(b.0, b.1);
                // SAFETY: live block; realloc keeps the prefix.
                let q = unsafe { Hz3::<R>::new().realloc(b.0 as *mut u8, layout(b.1), new) };
                assert!(!q.is_null());
                // SAFETY: `q` has `new` bytes; its first byte is the old cookie.
                unsafe {
                    corrupt += (q.read() != c) as u64;
                    let nc = cookie(q as usize, new);
                    q.write(nc);
                    q.add(new - 1).write(nc);
                    if new > 64 {
                        q.add(new / 2).write(nc);
                    }
                }
                live[i] = Blk(q as usize, new);
            }
            8 if !live.is_empty() => {
                let b = live.swap_remove((r >> 8) as usize % live.len());
                tx.send(b).unwrap();
            }
            _ => {}
        }
        if live.len() > 10_000 {
            for b in live.drain(..5_000) {
                corrupt += !free_blk::<R>(b) as u64;
            }
        }
    }
    for b in live {
        corrupt += !free_blk::<R>(b) as u64;
    }
    drop(tx);
    corrupt += remote.join().unwrap();
    Row {
        scenario: "fuzz",
        strategy: name,
        ops: steps as u64,
        threads: 2,
        lost: lost::<R>(),
        corrupt,
        peak_rss: rss(),
        final_rss: rss(),
        bound_ok: true,
        note: String::new(),
    }
}

fn run<R: RemoteFree>(name: &'static str, scale: f64, rows: &mut Vec<Row>) {
    for f in [
        stress::<R>,
        lifecycle::<R>,
        producer_consumer::<R>,
        fork_test::<R>,
        fuzz::<R>,
    ] {
        let row = f(name, scale);
        eprintln!(
            "  {:<18} {:<9} lost {} corrupt {} {}",
            row.scenario, row.strategy, row.lost, row.corrupt, row.note
        );
        rows.push(row);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut scale = 1.0;
    let mut strategies = vec!["a-cache".to_string(), "a".to_string()];
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--scale" => {
                scale = args
                    .get(i + 1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| {
                        eprintln!("soak: --scale needs a number");
                        std::process::exit(2)
                    });
                i += 1;
            }
            "--strategies" => {
                strategies = args
                    .get(i + 1)
                    .map(|s| s.split(',').map(String::from).collect())
                    .unwrap_or_default();
                i += 1;
            }
            other => {
                eprintln!("soak: unknown argument {other}\nusage: soak [--scale F] [--strategies a,b,c,d,c-packed,e,e-batch,a-batch,a-cache|all]");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    if strategies.iter().any(|s| s == "all") {
        strategies = [
            "a", "b", "c", "d", "c-packed", "e", "e-batch", "a-batch", "a-cache",
        ]
        .map(String::from)
        .to_vec();
    }
    let mut rows = Vec::new();
    for s in &strategies {
        eprintln!("soak: strategy {s} (scale {scale})");
        match s.as_str() {
            "a" => run::<OwnerStash>("a", scale, &mut rows),
            "b" => run::<PageQueuePop>("b", scale, &mut rows),
            "c" => run::<DrainAll>("c", scale, &mut rows),
            "d" => run::<Packets>("d", scale, &mut rows),
            "c-packed" => run::<DrainAllPacked>("c-packed", scale, &mut rows),
            "e" => run::<CadenceCollect>("e", scale, &mut rows),
            "e-batch" => run::<BatchedCadence>("e-batch", scale, &mut rows),
            "a-batch" => run::<BatchedStash>("a-batch", scale, &mut rows),
            "a-cache" => run::<CachedStash>("a-cache", scale, &mut rows),
            other => {
                eprintln!("soak: unknown strategy {other}");
                std::process::exit(2);
            }
        }
    }
    println!(
        "{:<18} {:<9} {:>12} {:>8} {:>6} {:>8} {:>10} {:>10} {:<6} note",
        "scenario",
        "strategy",
        "operations",
        "threads",
        "lost",
        "corrupt",
        "peak MiB",
        "final MiB",
        "result"
    );
    let mut fail = false;
    for r in &rows {
        let ok = r.lost == 0 && r.corrupt == 0 && r.bound_ok;
        fail |= !ok;
        println!(
            "{:<18} {:<9} {:>12} {:>8} {:>6} {:>8} {:>10} {:>10} {:<6} {}",
            r.scenario,
            r.strategy,
            r.ops,
            r.threads,
            r.lost,
            r.corrupt,
            r.peak_rss / MIB,
            r.final_rss / MIB,
            if ok { "ok" } else { "FAIL" },
            r.note
        );
    }
    if fail {
        eprintln!("soak: FAILED");
        std::process::exit(1);
    }
    println!("soak: all scenarios passed");
}
