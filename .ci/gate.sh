#!/usr/bin/env bash
# The deterministic gate (testing.md T14): instructions per local alloc+free pair, per remote
# free and per remote alloc, counted with valgrind's callgrind, against the committed budget
# benches/callgrind-budget.json, then the page-fault gate against benches/fault-budget.json.
# Installs valgrind if the machine lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1; then
  echo "gate: installing valgrind"
  if command -v sudo >/dev/null 2>&1 && [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq valgrind
fi
cargo xtask callgrind-gate
# Minor page faults of the workloads that cross the OS boundary (large-1m, large-churn,
# medium-churn, realloc-grow, size-shift, thread-churn, xmalloc-classic) against
# benches/fault-budget.json: memory the allocator should reuse is not faulted in again.
cargo xtask fault-gate
