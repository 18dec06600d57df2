#!/usr/bin/env bash
# The main job on a fresh machine: install, train the carbon ensemble (fast preset),
# evaluate it on its held-out points, and predict a spectrum. Re-running resumes or reuses.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export ENXS_DATA_DIR="${ENXS_DATA_DIR:-$(cd .. && pwd)/shared/data/qes-archive}"
ENXS=.venv/bin/enxs
OUT=runs/c12-fast
mkdir -p runs  # enxs creates no missing parent directories
if [ -f "$OUT/manifest.json" ]; then echo "reusing $OUT"
elif [ -f "$OUT/run.json" ]; then $ENXS pretrain --resume "$OUT"
else $ENXS pretrain --nucleus 12C --preset fast --out "$OUT"; fi
$ENXS evaluate "$OUT"
# the 12C spectrum at E = 0.68 GeV, θ = 60° (a measured setting), as a table and a figure
$ENXS predict "$OUT" --energy 0.68 --angle 60 --omega 0.03:0.6:20
$ENXS plot "$OUT" --energy 0.68 --angle 60 --with-data --output runs/c12-spectrum.png --overwrite
