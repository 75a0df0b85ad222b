#!/usr/bin/env bash
# The packaging check (testing.md, "CI gates"): the five library crates pack as a registry
# would take them, without uploading anything.
#
# 1. Each crate's file list (`cargo package --list`) holds its Cargo.toml, README.md and both
#    licence texts (LICENSE-MIT, LICENSE-APACHE: symbolic links to the root copies, which
#    cargo packs as plain files).
# 2. `cargo package` of all five in one invocation: cargo packs them in dependency order
#    (hz3-page, hz3-pageq, hz3-tcache, hz3-alloc, hz3-capi) and verifies each by building the
#    unpacked .crate on its own, resolving the hz3 dependencies from the .crate files just made
#    (a local overlay of the registry) and the others (libc) from crates.io as a user would.
#    Nothing is published. `--allow-dirty` so the check judges the files, not git's state.
#
# Builds into its own target directory (target/package-check) so the verification builds never
# invalidate the normal ones.
set -euo pipefail
cd "$(dirname "$0")/.."
CRATES=(hz3-page hz3-pageq hz3-tcache hz3-alloc hz3-capi)
for c in "${CRATES[@]}"; do
  files=$(cargo package -p "$c" --list --allow-dirty 2>/dev/null)
  for f in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE; do
    if ! grep -qx "$f" <<<"$files"; then
      echo "package: $c does not pack $f" >&2
      exit 1
    fi
  done
  echo "package: $c packs Cargo.toml, README.md, LICENSE-MIT, LICENSE-APACHE"
done
# 3. Stale overlay sources. cargo unpacks the overlay's .crate files into
#    $CARGO_HOME/registry/src/-<hash of the overlay's path>/<crate>-<version> and skips the
#    unpacking when that directory already exists. The path (target/package-check in a clone
#    at the same place) and the version (0.1.0) do not change between runs, so a second run on
#    the same machine built the *previous* run's sources: CI failed on 2026-12-07 building the
#    new hz3-tcache against an hz3-page without `advise_huge`. Remove our crates' unpacked
#    copies from every overlay source directory (named "-<hash>"; crates.io's own directory is
#    "index.crates.io-<hash>" and is left alone) before packing. cargo likewise never rebuilds
#    a registry crate whose version it has built before, so the check's own target directory
#    starts empty too.
reg_src="${CARGO_HOME:-$HOME/.cargo}/registry/src"
if [ -d "$reg_src" ]; then
  for c in "${CRATES[@]}"; do
    find "$reg_src" -mindepth 2 -maxdepth 2 -path "$reg_src/-*/$c-*" -type d \
      -exec rm -rf {} +
  done
fi
pkg_target="${PACKAGE_TARGET_DIR:-target/package-check}"
rm -rf "$pkg_target"
args=()
for c in "${CRATES[@]}"; do args+=(-p "$c"); done
CARGO_TARGET_DIR="$pkg_target" \
  cargo package "${args[@]}" --allow-dirty
echo "package: ${CRATES[*]} packed and verified (nothing uploaded)"
