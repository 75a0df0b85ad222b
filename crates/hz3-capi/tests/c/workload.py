# workload.py — an allocation-heavy Python workload for the LD_PRELOAD smoke test (T13).
# Its stdout must be identical with and without hz3 preloaded (run with PYTHONHASHSEED=0).
# About a million objects: dicts, lists, tuples, strings, bytes, a sort, string building, and
# four threads churning dicts of lists concurrently. On stderr it reports whether
# libhz3_capi is mapped into the process, so the test can check the preload took effect.
import hashlib
import random
import sys
import threading

h = hashlib.sha256()
random.seed(12345)

d = {}
for i in range(200_000):
    d["k%d" % i] = [i, str(i) * (i % 7), (i, float(i) / 3)]
for k in list(d)[::997]:
    h.update(repr(d[k]).encode())
print("dict", len(d), sum(len(v[1]) for v in d.values()))

strs = [str(random.random()) for _ in range(300_000)]
strs.sort(key=lambda s: s[::-1])
h.update("".join(strs[::1000]).encode())
print("sorted", len(strs), strs[0], strs[-1])
del strs

parts = []
for i in range(100_000):
    parts.append("x" * (i % 300) + str(i))
big = "".join(parts)
h.update(big[::4099].encode())
print("joined", len(big))
del parts, big

ba = bytearray()
for i in range(20_000):
    ba += bytes([i % 251]) * (i % 100)
print("bytearray", len(ba), hashlib.sha256(ba).hexdigest())
del ba

# Shrink: delete most of the dict, rebuild, then drop everything.
for i in range(0, 200_000, 3):
    del d["k%d" % i]
print("dict after deletes", len(d))
d2 = {k: v[2] for k, v in d.items()}
h.update(repr(sorted(d2.items())[:50]).encode())
del d, d2

results = [None] * 4


def work(t):
    rnd = random.Random(t)
    acc = {}
    for i in range(60_000):
        k = rnd.randrange(20_000)
        acc.setdefault(k, []).append("%d-%d" % (t, i))
        if i % 3 == 0:
            acc.pop(rnd.randrange(20_000), None)
    results[t] = (sum(len(v) for v in acc.values()), len(acc), sorted(acc)[:5])


threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for th in threads:
    th.start()
for th in threads:
    th.join()
for r in results:
    print("thread", r)
print("digest", h.hexdigest())

with open("/proc/self/maps") as f:
    sys.stderr.write("hz3-loaded: %s\n" % ("libhz3_capi" in f.read()))
