#!/usr/bin/env bash
# Makes the data the notebooks read (with cachesim) and executes every
# notebook headless in a virtualenv built from notebooks/requirements.txt.
#   CACHESIM=path/to/cachesim   the binary to use (default target/release/cachesim)
#   NOTEBOOK_VENV=dir           where the virtualenv lives (default target/notebook-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CACHESIM:-target/release/cachesim}
venv=${NOTEBOOK_VENV:-target/notebook-venv}
[ -x "$bin" ] || cargo build --release
if [ ! -x "$venv/bin/python" ] || ! cmp -s notebooks/requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r notebooks/requirements.txt
    cp notebooks/requirements.txt "$venv/requirements.txt"
fi
"$bin" sweep experiments/seed_matrix.ron --out results/seed_matrix --quiet > /dev/null
"$bin" sweep experiments/pool_sizing.ron --out results/pool_sizing --quiet > /dev/null
"$bin" sweep experiments/cdn_edge.ron --out results/cdn_edge --quiet > /dev/null
"$bin" run models/seed/reference.ron --plot results/stampede/unlocked > /dev/null
"$bin" run models/seed/reference_locked.ron --plot results/stampede/locked > /dev/null
MPLBACKEND=Agg "$venv/bin/python" notebooks/execute.py notebooks/*.ipynb
