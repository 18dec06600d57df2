#!/usr/bin/env bash
# Create .venv and install enxs with its test tools. CPU PyTorch is pinned first so that
# pip never resolves a multi-GB CUDA build. Idempotent: re-running only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import enxs, torch; print(f'enxs {enxs.__version__} installed (torch {torch.__version__}) in .venv')"
