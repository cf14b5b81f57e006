#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60), starting from the corpus
# in fuzz/corpus/. Needs cargo-fuzz (installed from crates.io if missing) and
# a nightly toolchain if one is installed; otherwise stable with
# RUSTC_BOOTSTRAP=1. A crash leaves its input in fuzz/artifacts/ and exits
# non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
for target in model set; do
    # New inputs go to fuzz/target/ (ignored); fuzz/corpus/ holds the seeds.
    found="fuzz/target/corpus/$target"
    mkdir -p "$found"
    cargo "${toolchain[@]}" fuzz run "$target" "$found" "fuzz/corpus/$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
done
