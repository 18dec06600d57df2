#!/usr/bin/env bash
# Install (scripts/setup.sh) and run the default test suite: ruff, then pytest (slow tests excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export ENXS_DATA_DIR="${ENXS_DATA_DIR:-$(cd .. && pwd)/shared/data/qes-archive}"
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/python -m pytest -m "not slow" "$@"
