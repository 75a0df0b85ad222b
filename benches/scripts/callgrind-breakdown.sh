#!/usr/bin/env bash
# Where the time goes: instructions per operation split by function, with valgrind
# callgrind, for hz3 (Rust global allocator and LD_PRELOAD) and the peers (Rust crates and their
# Debian C libraries under LD_PRELOAD, as xtask runs the *-preload rows: bench-system with
# LD_PRELOAD=<library>). Run from the repository root; needs valgrind, python3 and addr2line.
#
#   bash benches/scripts/callgrind-breakdown.sh [workload ...]     # default: the six below
#
# Each allocator runs each workload at --iters n and 2n (--threads 2, as the matrix on 2 cores)
# and every figure is (X(2n) - X(n)) / (ops(2n) - ops(n)), so setup and exit cancel. valgrind
# runs one thread at a time; --fair-sched=yes hands the CPU round-robin, which keeps
# batch-handoff's threads in step (without it one thread ran ahead and skipped most hand-offs)
# and makes the multi-threaded counts repeat exactly. The binaries are built with line tables
# (CARGO_PROFILE_RELEASE_DEBUG=line-tables-only) in their own target directory, so that
# addr2line can tell which instructions of a workload belong to an inlined __rust_alloc /
# __rust_dealloc (the allocators' and workloads' hot functions disassemble identically to the
# plain release build's). Tables go to stdout; the raw profiles stay in $OUT.
set -euo pipefail
WORKLOADS=${*:-batch-handoff lifo-fifo server pareto local-fixed local-mixed}
# --iters n per workload (loops, rounds, steps or generations per thread; pairs for local-*).
ITERS="batch-handoff=1000 lifo-fifo=100 server=1 pareto=50000 local-fixed=200000 local-mixed=200000"
iters() { for kv in $ITERS; do if [ "${kv%%=*}" = "$1" ]; then echo "${kv#*=}"; fi; done; }
for w in $WORKLOADS; do
  [ -n "$(iters "$w")" ] || { echo "no --iters for $w (add it to ITERS)" >&2; exit 2; }
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/callgrind-breakdown}
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
OUT=${OUT:-$CARGO_TARGET_DIR/out}
MI=${HZ3_BENCH_MIMALLOC_SO:-/usr/lib/x86_64-linux-gnu/libmimalloc.so.2}
JE=${HZ3_BENCH_JEMALLOC_SO:-/usr/lib/x86_64-linux-gnu/libjemalloc.so.2}
cargo build --release -p hz3-bench --features peers --bin bench-system --bin bench-hz3-a-cache \
  --bin bench-hz3-a-cache-stats --bin bench-mimalloc --bin bench-jemalloc >&2
cargo build --release -p hz3-capi >&2
B=$CARGO_TARGET_DIR/release
mkdir -p "$OUT"
# row name : binary : library to preload (empty: none). snmalloc is left out: it reserves its
# pagemap (256 GiB, MAP_NORESERVE) at start, more than valgrind's client address space, and
# aborts with "Failed to initialise snmalloc" under valgrind.
ROWS="hz3-a-cache:bench-hz3-a-cache: hz3-preload:bench-system:$B/libhz3_capi.so
mimalloc:bench-mimalloc: jemalloc:bench-jemalloc:
mimalloc-preload:bench-system:$MI jemalloc-preload:bench-system:$JE"
cat > "$OUT/cgparse.py" <<'PY'
#!/usr/bin/env python3
"""Splits one callgrind profile (--dump-instr=yes --compress-pos=no --compress-strings=no) of a
bench binary into: malloc side, free side, shim (Rust API -> C malloc/free, preload rows only),
the workload's own code, mem* called by the workload, and the rest; plus self/inclusive Ir and
call counts of every allocator-internal function. Prints one JSON object.

usage: cgparse.py <callgrind.out> <bench binary> [<preloaded library>]

An instruction of the bench binary belongs to the malloc (free) side when its inline chain
(addr2line -i, line tables) holds a `__rust_alloc`/`__rust_realloc`/`__rust_alloc_zeroed`
(`__rust_dealloc`) frame: the global allocator's shim, inlined into the workload or not. A call
made from such an instruction adds the callee's inclusive cost to that side.
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

MALLOC_FRAME = re.compile(r"__rust_(alloc|alloc_zeroed|realloc)$")
FREE_FRAME = re.compile(r"__rust_dealloc$")
MEM = re.compile(r"(^|_)(memset|memcpy|memmove)")
C_MALLOC = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}
C_FREE = {"free", "cfree", "free_sized"}
ALLOC_FN = re.compile(
    r"^(hz3_(alloc|tcache|page|pageq|capi)|<hz3_(alloc|tcache|page|pageq)|_?mi_|<mimalloc|"
    r"mimalloc::|_rjem|je_|<tikv|tikv_|snmalloc|<snmalloc|sn_rust|__rustc::__rust_|__rust_|__rdl_)")


def load(path):
    """Per-address self cost, per-call-site edges, per-function self/call cost and call counts."""
    self_at = defaultdict(int)  # (ob, addr) -> Ir
    fn_at = {}  # (ob, addr) -> fn
    fn_file = {}  # (ob, fn) -> source file of the function (fl=)
    edges = []  # (ob, caller fn, call-site addr, callee (ob, fn), count, inclusive Ir)
    fself = defaultdict(int)
    fcall = defaultdict(int)
    ncalls = defaultdict(int)
    total = 0
    ob = fn = cob = cfn = fl = None
    pending = None
    with open(path, errors="replace") as f:
        for line in f:
            if line[0] == "0":
                p = line.split()
                ir = int(p[2]) if len(p) > 2 else 0
                a = int(p[0], 16)
                if pending is not None:
                    callee, n = pending
                    edges.append((ob, fn, a, callee, n, ir))
                    fcall[(ob, fn)] += ir
                    pending = None
                else:
                    self_at[(ob, a)] += ir
                    fn_at[(ob, a)] = fn
                    fself[(ob, fn)] += ir
                continue
            if line.startswith("ob="):
                ob, cob = line[3:].strip(), None
            elif line.startswith("fn="):
                fn, cob = line[3:].strip(), None
                fn_file.setdefault((ob, fn), fl or "")
            elif line.startswith("fl="):
                fl = line[3:].strip()
            elif line.startswith("cob="):
                cob = line[4:].strip()
            elif line.startswith("cfn="):
                cfn = line[4:].strip()
            elif line.startswith("calls="):
                n = int(line[6:].split()[0])
                callee = (cob if cob is not None else ob, cfn)
                ncalls[callee] += n
                pending = (callee, n)
                cob = None
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    return total, self_at, fn_at, fn_file, edges, fself, fcall, ncalls


def chains(binary, addrs):
    """address -> list of function names of its inline chain (addr2line -i -f -a)."""
    addrs = sorted(addrs)
    if not addrs:
        return {}
    out = subprocess.run(
        ["addr2line", "-i", "-f", "-a", "-e", binary],
        input="\n".join("%#x" % a for a in addrs) + "\n",
        capture_output=True, text=True, check=True).stdout.splitlines()
    res, cur, i = {}, None, 0
    while i < len(out):
        l = out[i]
        if l.startswith("0x") and ":" not in l:
            cur = int(l, 16)
            res[cur] = []
            i += 1
            continue
        res[cur].append(l)
        i += 2  # function name, then file:line
    return res


def main():
    path, binary = sys.argv[1], os.path.realpath(sys.argv[2])
    preload = os.path.realpath(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
    total, self_at, fn_at, fn_file, edges, fself, fcall, ncalls = load(path)
    obs = {o for (o, _) in self_at}
    main_ob = next((o for o in obs if o and os.path.realpath(o) == binary), None)
    lib_ob = next((o for o in obs if preload and o and os.path.realpath(o) == preload), None)
    addrs = {a for (o, a) in self_at if o == main_ob} | {a for (o, _, a, _, _, _) in edges if o == main_ob}
    ch = chains(binary, addrs)

    def side(a):
        c = ch.get(a, [])
        if any(FREE_FRAME.search(x) for x in c):
            return "free"
        if any(MALLOC_FRAME.search(x) for x in c):
            return "malloc"
        return None

    def is_own(fnm):
        # Rust code of the bench binary (the workload, its harness, std) that is not the
        # allocator's: C code linked into the binary (the peers' libraries) is not.
        fl = fn_file.get((main_ob, fnm), "")
        return (fl.endswith(".rs") and "/crates/hz3-" not in fl and not ALLOC_FN.match(fnm or "")
                and not MEM.search(fnm or ""))

    r = {"total": total, "malloc": 0, "free": 0, "own": 0, "mem": 0}
    for (o, a), ir in self_at.items():
        if o != main_ob:
            continue
        s = side(a)
        if s:
            r[s] += ir
        elif is_own(fn_at[(o, a)]):
            r["own"] += ir
    for (o, fnm, a, callee, n, ir) in edges:
        if o != main_ob:
            continue
        s = side(a)
        if s:
            r[s] += ir
        elif MEM.search(callee[1] or ""):
            r["mem"] += ir
    # Inclusive cost of a function: what its calls from other functions cost (exact per call
    # edge, even where the allocator recurses into itself); its self cost when nothing calls it.
    fincl = defaultdict(int)
    for (o, fnm, a, callee, n, ir) in edges:
        if (o, fnm) != callee:
            fincl[callee] += ir
    r["shim"] = 0
    if lib_ob is not None:
        # C malloc/free: the calls made into the preloaded library from outside it.
        cm = cf = nm = nf = 0
        for (o, fnm, a, callee, n, ir) in edges:
            if o != lib_ob and callee[0] == lib_ob:
                if callee[1] in C_MALLOC:
                    cm, nm = cm + ir, nm + n
                elif callee[1] in C_FREE:
                    cf, nf = cf + ir, nf + n
        r["shim"] = r["malloc"] + r["free"] - cm - cf
        r["malloc"], r["free"] = cm, cf
        r["malloc_calls"], r["free_calls"] = nm, nf
    r["other"] = total - r["malloc"] - r["free"] - r["shim"] - r["own"] - r["mem"]
    fns = {}
    for k in set(fincl) | set(ncalls) | set(fself):
        o, n = k
        if (lib_ob is not None and o == lib_ob) or (o == main_ob and ALLOC_FN.match(n or "")):
            fns[n] = [fself.get(k, 0), fincl.get(k, 0) or fself.get(k, 0), ncalls.get(k, 0)]
    r["fns"] = fns
    print(json.dumps(r))


if __name__ == "__main__":
    main()
PY
cat > "$OUT/cgreport.py" <<'PY'
#!/usr/bin/env python3
"""Tables from the files callgrind-breakdown.sh leaves in OUT: for each workload and allocator
<w>.<a>.<n>.json (cgparse.py) and <w>.<a>.<n>.run (the bench JSON line); per-op figures are
(X(2n) - X(n)) / (ops(2n) - ops(n)). Also <w>.stats.<n>.run (hz3 stats flavour, native)."""
import json
import os
import re
import sys

OUT = sys.argv[1]
WORKLOADS = sys.argv[2].split()
ROWS = sys.argv[3].split()
ITERS = dict(x.split("=") for x in sys.argv[4].split())

ENTRIES = re.compile(
    r"^(__rustc::)?__rust_|^__rdl_|^(malloc|free|calloc|realloc|cfree|posix_memalign)$|"
    r"^(mi_malloc|mi_malloc_aligned|mi_free|mi_zalloc_aligned|mi_realloc_aligned)$|"
    r"^_rjem_(malloc|mallocx|sdallocx|free|calloc|rallocx|realloc)$|^sn_rust_(alloc|dealloc|realloc)")


def short(n):
    if re.fullmatch(r"0x[0-9a-f]+", n):  # a stripped library's internal function
        return "0x" + n[2:].lstrip("0")
    # drop template/generic arguments and the path: the last identifier
    s, depth = "", 0
    for ch in n:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif depth == 0:
            s += ch
    s = s.split("(")[0]
    return s.split("::")[-1] or n


def load(w, a, n):
    cg = json.load(open(os.path.join(OUT, f"{w}.{a}.{n}.json")))
    run = json.loads(open(os.path.join(OUT, f"{w}.{a}.{n}.run")).read().strip().splitlines()[-1])
    return cg, run


def per_op(w, a):
    n = int(ITERS[w])
    (c1, r1), (c2, r2) = load(w, a, n), load(w, a, 2 * n)
    ops = r2["ops"] - r1["ops"]
    d = {k: (c2.get(k, 0) - c1.get(k, 0)) / ops for k in
         ("total", "malloc", "free", "shim", "own", "mem", "other")}
    ex1, ex2 = r1.get("extra", {}), r2.get("extra", {})
    if w == "batch-handoff":
        allocs = (ex2["allocs"] - ex1["allocs"]) / ops
        frees = (ex2["frees"] - ex1["frees"]) / ops
        d["skipped"] = (ex1.get("handoffs_skipped", 0), ex2.get("handoffs_skipped", 0))
    elif w in ("server", "pareto"):
        allocs = frees = 0.5
    else:
        allocs = frees = 1.0
    d["per_malloc"] = d["malloc"] / allocs
    d["per_free"] = d["free"] / frees
    fns = {}
    for k, v2 in c2["fns"].items():
        v1 = c1["fns"].get(k, [0, 0, 0])
        fns[k] = [(v2[i] - v1[i]) / ops for i in range(3)]
    d["fns"] = fns
    d["ops"] = ops
    return d


def f1(x):
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


for w in WORKLOADS:
    print(f"#### {w} (Ir per op; n = {ITERS[w]}, Δops = ", end="")
    rows = []
    for a in ROWS:
        try:
            rows.append((a, per_op(w, a)))
        except FileNotFoundError:
            pass
    print(f"{rows[0][1]['ops']:.0f})\n" if rows else ")\n")
    print("| allocator | total | malloc side | free side | shim | workload code | mem* | other | Ir/malloc | Ir/free | top slow-path functions: inclusive Ir/op (calls/op) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for a, d in rows:
        slow = sorted(((v[1], k, v) for k, v in d["fns"].items() if not ENTRIES.search(k) and v[1] > 0.05),
                      reverse=True)[:4]
        s = "; ".join(f"{short(k)} {v[1]:.1f} ({v[2]:.3f})" for _, k, v in slow) or "—"
        print(f"| {a} | {f1(d['total'])} | {f1(d['malloc'])} | {f1(d['free'])} | "
              f"{f1(d['shim']) if a.endswith('-preload') else '—'} | {f1(d['own'])} | {f1(d['mem'])} | "
              f"{f1(d['other'])} | {f1(d['per_malloc'])} | {f1(d['per_free'])} | {s} |")
    if w == "batch-handoff":
        print("\nHand-offs skipped (n / 2n): " + "; ".join(
            f"{a} {d['skipped'][0]:.0f} / {d['skipped'][1]:.0f}" for a, d in rows))
    print()

# hz3 counters per op: the stats flavour (native run) and slow-path call counts (callgrind).
print("#### hz3 counters per op\n")
HZ3_FNS = [("alloc_slow", r"Instance<R,C>::alloc_slow$"), ("alloc_refill", r"Heap<R,C>::alloc_refill$"),
           ("alloc_general", r"::alloc_general$"), ("flush_bin", r"Heap<R,C>::flush_bin$"),
           ("return_block", r"::return_block$"), ("free_bin_full", r"::free_bin_full$"),
           ("free_outlined", r"::free_outlined$"), ("free_slow", r"::free_slow$"),
           ("free_remote", r"Instance<R,C>>::free_remote$"), ("homecoming", r"::homecoming$"),
           ("tick", r"::tick$")]
print("Calls per 1 000 ops (callgrind call counts; hz3-a-cache / hz3-preload; — : not in the profile (inlined, or never called)):\n")
print("| workload | " + " | ".join(f for f, _ in HZ3_FNS) + " |")
print("|---|" + "---:|" * len(HZ3_FNS))
for w in WORKLOADS:
    cells = []
    ds = []
    for a in ("hz3-a-cache", "hz3-preload"):
        try:
            ds.append(per_op(w, a))
        except FileNotFoundError:
            ds.append(None)
    for fn, pat in HZ3_FNS:
        vals = []
        for d in ds:
            ks = [k for k in d["fns"] if re.search(pat, k)] if d else []
            if not ks:
                vals.append("—")
                continue
            c = sum(d["fns"][k][2] for k in ks)
            vals.append(f"{1000 * c:.2f}" if abs(c) >= 5e-6 else "0")
        cells.append(" / ".join(vals))
    print(f"| {w} | " + " | ".join(cells) + " |")
print()
print("Stats flavour (bench-hz3-a-cache-stats, native run, Δcounter / Δops × 1 000):\n")
keys = None
lines = []
for w in WORKLOADS:
    n = int(ITERS[w])
    try:
        r1 = json.loads(open(os.path.join(OUT, f"{w}.stats.{n}.run")).read().strip().splitlines()[-1])
        r2 = json.loads(open(os.path.join(OUT, f"{w}.stats.{2 * n}.run")).read().strip().splitlines()[-1])
    except FileNotFoundError:
        continue
    s1, s2 = r1["stats"], r2["stats"]
    ops = r2["ops"] - r1["ops"]
    if keys is None:
        keys = [k for k in s2 if k != "derived"]
    lines.append((w, {k: 1000 * (s2[k] - s1[k]) / ops for k in keys}))
if keys:
    used = [k for k in keys if any(abs(v[k]) > 0 for _, v in lines)]
    print("| workload | " + " | ".join(used) + " |")
    print("|---|" + "---:|" * len(used))
    for w, v in lines:
        print(f"| {w} | " + " | ".join(f"{v[k]:.2f}" for k in used) + " |")
PY
for w in $WORKLOADS; do
  n=$(iters "$w")
  for row in $ROWS; do
    IFS=: read -r name bin lib <<<"$row"
    [ -z "$lib" ] || [ -f "$lib" ] || { echo "skip $name: no $lib" >&2; continue; }
    for k in "$n" "$((2 * n))"; do
      f=$OUT/$w.$name.$k
      echo "callgrind $name $w --iters $k" >&2
      env ${lib:+LD_PRELOAD=$lib} valgrind --tool=callgrind --fair-sched=yes --dump-instr=yes \
        --compress-pos=no --compress-strings=no --callgrind-out-file="$f.cg" "$B/$bin" "$w" --iters "$k" \
        --threads 2 >"$f.run" 2>"$f.log"
      python3 "$OUT/cgparse.py" "$f.cg" "$B/$bin" "$lib" >"$f.json"
    done
  done
  for k in "$n" "$((2 * n))"; do
    "$B/bench-hz3-a-cache-stats" "$w" --iters "$k" --threads 2 >"$OUT/$w.stats.$k.run"
  done
done
NAMES=$(for row in $ROWS; do echo "${row%%:*}"; done)
python3 "$OUT/cgreport.py" "$OUT" "$WORKLOADS" "$(echo $NAMES)" "$ITERS"
