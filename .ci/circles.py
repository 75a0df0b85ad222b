#!/usr/bin/env python3
"""The layering check of .ci/run: lists pairs of top-level modules of one crate that name each
other (`crate::a` or `crate::{.., a, ..}` in b and the same of b in a; `super::` between
siblings), outside comments and test modules. Usage: circles.py CRATE_SRC_DIR...
Prints one line per circle and then "N circle(s)"; the layering holds when N is 0."""
import os, re, sys
def modname(src, path):
    rel = os.path.relpath(path, src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
    return '::'.join(parts)
found = 0
for src in sys.argv[1:]:
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith('.rs'):
                p = os.path.join(root, f); mods[modname(src, p)] = open(p).read()
    # keep top-level module names (first path segment)
    tops = {m.split('::')[0] for m in mods if m}
    refs = {t: set() for t in tops}
    for m, text in mods.items():
        if not m: continue
        me = m.split('::')[0]
        text = re.sub(r'//[^\n]*', '', text)
        text = re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*', '', text, flags=re.S)
        for t in tops:
            if t == me: continue
            pat = r'\bcrate::' + t + r'\b'
            if '::' not in m:
                pat += r'|\bsuper::' + t + r'\b'
            groups = ' '.join(re.findall(r'\b(?:crate|super)::\{([^}]*)\}', text, flags=re.S))
            if re.search(pat, text) or re.search(r'(^|[\s,{])' + t + r'\b', groups):
                refs[me].add(t)
    for a in sorted(tops):
        for b in sorted(refs[a]):
            if a < b and a in refs.get(b, ()):
                print(f"{src}: {a} <-> {b}"); found += 1
print(f"{found} circle(s)")
