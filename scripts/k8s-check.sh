#!/usr/bin/env bash
# Checks the Kubernetes Indexed Job in docs/experiments.md against a pinned
# Kubernetes version's schema (scripts/k8s_check.py says what else), in a
# virtualenv built from scripts/k8s-requirements.txt (PyPI only; the schemas
# ship inside kubernetes-validate, so the check itself needs no network).
#   K8S_VENV=dir   where the virtualenv lives (default target/k8s-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${K8S_VENV:-target/k8s-venv}
if [ ! -x "$venv/bin/python" ] || ! cmp -s scripts/k8s-requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/k8s-requirements.txt
    cp scripts/k8s-requirements.txt "$venv/requirements.txt"
fi
"$venv/bin/python" scripts/k8s_check.py
