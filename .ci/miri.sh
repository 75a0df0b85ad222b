#!/usr/bin/env bash
# Miri over the unsafe code's tests: undefined behaviour the hardware forgives (aliasing of
# `&mut` under Stacked Borrows, uninitialised reads, out-of-bounds pointer arithmetic, data
# races between non-atomic accesses, misalignment, provenance lost through integer casts).
#
# 1. hz3-page and hz3-pageq, every unit, integration and doc test (sizes scaled down under
#    `cfg(miri)`), with -Zmiri-strict-provenance: no pointer is ever made from an integer.
# 2. A subset of hz3-tcache and hz3-alloc: the spin lock's stress test, and the allocator on a
#    heap-backed OS layer (tests/on_heap_os.rs, tests/purge_under_load.rs: every segment,
#    heap and large block a Miri allocation). Permissive provenance there: the thread cache
#    still turns owner ids and encoded free-list links back into pointers. Leaks ignored: an
#    allocator keeps its heaps and caches for the life of the process.
# 3. The deliberately broken build (`--cfg hz3_broken_ordering`: the remote list's publishing
#    CAS is Relaxed) must fail with a data race (`broken_r2_is_caught`).
#
# Installs the nightly toolchain with miri and rust-src if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLCHAIN="${HZ3_NIGHTLY:-nightly}"
if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
installed=$(rustup component list --toolchain "$TOOLCHAIN" --installed)
if ! grep -q '^miri' <<<"$installed" || ! grep -q '^rust-src' <<<"$installed"; then
  rustup component add --toolchain "$TOOLCHAIN" miri rust-src
fi
miri() { cargo +"$TOOLCHAIN" miri "$@"; }
miri setup
echo "miri: $(cargo +"$TOOLCHAIN" miri --version)"

echo "miri: hz3-page, hz3-pageq (strict provenance)"
MIRIFLAGS="-Zmiri-strict-provenance ${MIRIFLAGS:-}" miri test -p hz3-page -p hz3-pageq

echo "miri: hz3-tcache and hz3-alloc subset (heap-backed OS layer)"
MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-ignore-leaks ${MIRIFLAGS:-}" \
  miri test -p hz3-tcache --test lock_stress -p hz3-alloc --test on_heap_os --test purge_under_load

echo "miri: the broken ordering must be reported"
out=$(mktemp)
if CARGO_TARGET_DIR=target/miri-broken RUSTFLAGS="--cfg hz3_broken_ordering" \
    MIRIFLAGS="-Zmiri-strict-provenance ${MIRIFLAGS:-}" \
    miri test -p hz3-page --test remote_threads -- --ignored broken_r2 >"$out" 2>&1; then
  cat "$out"; echo "miri: broken_r2_is_caught passed: Miri missed the broken R2"; exit 1
fi
if ! grep -q "Undefined Behavior: Data race" "$out"; then
  cat "$out"; echo "miri: broken_r2_is_caught failed without a data race report"; exit 1
fi
grep -m1 -A3 "Undefined Behavior: Data race" "$out"
echo "miri: broken R2 reported as a data race, as it must be"
