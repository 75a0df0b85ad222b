#!/usr/bin/env bash
# The loom model-checking suite (testing.md T1, T2): the MPSC remote lists (hz3-page), the
# page queue plus every remote-free strategy's notify/drain protocol (hz3-pageq) and the global
# spin lock (hz3-tcache), including the models that must fail (broken orderings, the unfenced
# two-word protocol).
#
# Builds into its own target directory so `--cfg loom` never invalidates the normal build.
# Override the bound with LOOM_MAX_PREEMPTIONS=3 for a deeper (slower) search.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-target/loom}"
echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
cargo test --release -p hz3-page --test loom_remote -p hz3-pageq --test loom_pageq \
    -p hz3-tcache --test loom_lock "$@"
