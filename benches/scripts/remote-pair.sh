#!/usr/bin/env bash
# Instructions per remote free and per owner malloc under callgrind, for each C library given,
# with remote_pair.c (lockstep, so the counts repeat exactly). Run from the repository root.
#
#   bash benches/scripts/remote-pair.sh R N SIZE MIXED EXCHANGE name=lib.so ...
#   bash benches/scripts/remote-pair.sh 200 64 64 0 0 hz3=target/release/libhz3_capi.so \
#       tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
#
# Each library runs R and 2R rounds twice, once counting inside `malloc` and once inside
# `free` (--toggle-collect), and the figures are (Ir(2R) - Ir(R)) / operations, so one-time
# costs cancel. snmalloc cannot run under valgrind (it reserves its pagemap at start).
set -euo pipefail
[ $# -ge 6 ] || { sed -n 2,11p "$0"; exit 2; }
R=$1 N=$2 SIZE=$3 MIXED=$4 EXCHANGE=$5
shift 5
OUT=${OUT:-$(mktemp -d)}
cc -O2 -pthread benches/scripts/remote_pair.c -o "$OUT/remote_pair"
ops=$((R * N * (EXCHANGE ? 2 : 1)))
for spec in "$@"; do
  name=${spec%%=*} lib=${spec#*=}
  declare -A ir=()
  for fn in malloc free; do
    for r in "$R" $((2 * R)); do
      f="$OUT/$name.$fn.$r.cg"
      LD_PRELOAD=$lib valgrind --tool=callgrind --fair-sched=yes --toggle-collect=$fn \
        --callgrind-out-file="$f" "$OUT/remote_pair" "$r" "$N" "$SIZE" "$MIXED" "$EXCHANGE" \
        >/dev/null 2>&1
      ir[$fn.$r]=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    done
  done
  awk -v n="$name" -v ops="$ops" -v m1="${ir[malloc.$R]}" -v m2="${ir[malloc.$((2 * R))]}" \
    -v f1="${ir[free.$R]}" -v f2="${ir[free.$((2 * R))]}" 'BEGIN {
      m = (m2 - m1) / ops; f = (f2 - f1) / ops
      printf "%-12s malloc %6.1f  remote free %6.1f  pair %6.1f\n", n, m, f, m + f }'
  unset ir
done
