#!/usr/bin/env bash
# ThreadSanitizer over the real-thread stress tests: the remote lists (hz3-page), every
# remote-free strategy's producer/consumer protocol (hz3-pageq), the global spin lock
# (hz3-tcache), and in hz3-alloc the whole-allocator stress (many threads), thread exit and
# heap adoption (lifecycle), purging under load and the heap-backed subset. A nightly std rebuilt with
# `-Zsanitizer=thread` (`-Zbuild-std`), so the standard library's own synchronisation is
# instrumented too. Suppressions, each naming one function with its reason: .ci/tsan.supp.
#
# With HZ3_TSAN_BROKEN=1, the deliberately broken build (`--cfg hz3_broken_ordering`: the
# remote list's publishing CAS is Relaxed) must then be reported: `broken_r2_is_caught` has to
# fail with a data race.
#
# Installs the nightly toolchain and rust-src if missing. Builds into target/tsan (and
# target/tsan-broken) so it never invalidates the stable builds.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLCHAIN="${HZ3_NIGHTLY:-nightly}"
if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
if ! rustup component list --toolchain "$TOOLCHAIN" --installed | grep -q '^rust-src'; then
  rustup component add --toolchain "$TOOLCHAIN" rust-src
fi
TARGET="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Zsanitizer=thread"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export TSAN_OPTIONS="suppressions=$PWD/.ci/tsan.supp halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
# Optimised a little: TSan slows every access 5-15x; the checks do not depend on the level.
export CARGO_PROFILE_DEV_OPT_LEVEL=1
tsan() {
  cargo +"$TOOLCHAIN" test -Zbuild-std --target "$TARGET" "$@"
}
echo "tsan: $(rustc +"$TOOLCHAIN" --version), target $TARGET"
CARGO_TARGET_DIR=target/tsan tsan \
  -p hz3-page --test remote_threads \
  -p hz3-pageq --test stress_pageq \
  -p hz3-tcache --test lock_stress \
  -p hz3-alloc --test lifecycle --test purge_under_load --test on_heap_os
# The whole-allocator stress in its many-threads form (threads recreated every round, blocks
# in transit at every exit), every strategy; its other two forms add load, not coverage.
CARGO_TARGET_DIR=target/tsan tsan -p hz3-alloc --test stress -- stress_many_threads

# The broken build costs a second instrumented std; Miri already requires the same report
# (.ci/miri.sh), so CI skips it unless HZ3_TSAN_BROKEN=1.
if [ "${HZ3_TSAN_BROKEN:-0}" != 1 ]; then exit 0; fi
echo "tsan: the broken ordering must be reported"
out=$(mktemp)
if CARGO_TARGET_DIR=target/tsan-broken RUSTFLAGS="$RUSTFLAGS --cfg hz3_broken_ordering" \
    tsan -p hz3-page --test remote_threads -- --ignored broken_r2 >"$out" 2>&1; then
  cat "$out"; echo "tsan: broken_r2_is_caught passed: ThreadSanitizer missed the broken R2"; exit 1
fi
if ! grep -q "ThreadSanitizer: data race" "$out"; then
  cat "$out"; echo "tsan: broken_r2_is_caught failed without a data race report"; exit 1
fi
grep -m1 -A6 "ThreadSanitizer: data race" "$out"
echo "tsan: broken R2 reported as a data race, as it must be"
