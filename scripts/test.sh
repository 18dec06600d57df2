#!/usr/bin/env bash
# Install (scripts/setup.sh) and run the default test suite: ruff, then pytest (slow tests excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export ENXS_DATA_DIR="${ENXS_DATA_DIR:-$(cd .. && pwd)/shared/data/qes-archive}"
.venv/bin/ruff check src tests benchmarks scripts
# One worker per core, each running whole test files (a file's tests share its fixtures); in-process
# torch on one thread, so that the workers do not fight for the cores (the enxs commands the tests
# start pick their own threads).
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" .venv/bin/python -m pytest -m "not slow" -n auto --dist loadfile "$@"
