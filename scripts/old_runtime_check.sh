#!/usr/bin/env bash
# Generators link older onnxruntime builds: load every kind of exported file (σ, responses, a
# nucleus without data, the traced physics-structured graphs) with onnxruntime 1.18, the oldest
# enxs declares, in a throwaway venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
.venv/bin/enxs export onnx enxs-12C-fast --out "$WORK/x" >/dev/null
.venv/bin/enxs export onnx enxs-any-fast --nucleus 40Ar --out "$WORK/x" >/dev/null 2>&1
.venv/bin/enxs export onnx enxs-any-fast --nucleus 40Ar --responses --out "$WORK/x" >/dev/null 2>&1
.venv/bin/enxs export onnx enxs-any-responses-fast --nucleus 16O --responses --out "$WORK/x" >/dev/null 2>&1
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "onnxruntime==1.18.*" "numpy<2" 2>&1 \
  | grep -v "^WARNING: Location" || true
"$WORK/venv/bin/python" - "$WORK/x" <<'PY'
import glob, sys
import numpy as np
import onnxruntime as ort
files = sorted(glob.glob(f"{sys.argv[1]}/*/*.onnx"))
for path in files:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    width = session.get_inputs()[0].shape[1]
    x = np.array([[1.0 / 20, 0.3 / 20, 30 / 180, 0.866, 0.3 / 100]] if width == 5 else [[0.5, 0.2]], np.float32)
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.all(np.isfinite(y)) and np.all(y > 0), (path, y)
print(f"onnxruntime {ort.__version__} loaded and ran all {len(files)} exported files")
PY
