#!/usr/bin/env bash
# Runs each fuzz target (or the ones named after the options), one process
# at a time, starting from the corpus in fuzz/corpus/. Needs cargo-fuzz
# (installed from crates.io if missing) and a nightly toolchain if one is
# installed; otherwise stable with RUSTC_BOOTSTRAP=1. A crash leaves its
# input in fuzz/artifacts/ and exits non-zero.
#
#   fuzz/run.sh [-t SECONDS] [-r RUNS] [-s SANITIZER] [-O] [SECONDS] [TARGET...]
#
# -t: stop each target after SECONDS (default 60 unless -r is given);
# -r: stop each target after RUNS executions; -s: cargo fuzz's sanitizer
# (default address; `none` builds much faster and runs faster, for long
# campaigns on a busy machine); -O: build without debug assertions
# (cargo fuzz --release). One fuzzing process at a time: no -jobs or
# -workers, which would fork children logging to fuzz-N.log. See
# docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="" runs="" sanitizer=address release=()
while getopts "t:r:s:O" opt; do
    case $opt in
        t) secs=$OPTARG ;;
        r) runs=$OPTARG ;;
        s) sanitizer=$OPTARG ;;
        O) release=(--release) ;;
        *) echo "usage: $0 [-t SECONDS] [-r RUNS] [-s SANITIZER] [-O] [SECONDS] [TARGET...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
# The older form, `fuzz/run.sh SECONDS`, still works.
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model set)
limits=()
[ -n "$secs" ] && limits+=(-max_total_time="$secs")
[ -n "$runs" ] && limits+=(-runs="$runs")
[ ${#limits[@]} -gt 0 ] || limits=(-max_total_time=60)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
for target in "${targets[@]}"; do
    # New inputs go to fuzz/target/ (ignored); fuzz/corpus/ holds the seeds.
    found="fuzz/target/corpus/$target"
    mkdir -p "$found"
    cargo "${toolchain[@]}" fuzz run -s "$sanitizer" "${release[@]}" "$target" "$found" "fuzz/corpus/$target" -- \
        "${limits[@]}" -rss_limit_mb=2048 -timeout=10
done
