#!/usr/bin/env bash
# A user's install has no extras: install enxs plainly (`pip install -e .`) into .venv-plain and
# check that user errors are one line (never a traceback) and that the HEPData export names the
# extra it needs. Run by CI after the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export ENXS_DATA_DIR="${ENXS_DATA_DIR:-$(cd .. && pwd)/shared/data/qes-archive}"
PY=${PYTHON:-python3}
[ -x .venv-plain/bin/python ] || "$PY" -m venv .venv-plain
.venv-plain/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
.venv-plain/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v "^WARNING: Location" || true
ENXS=$PWD/.venv-plain/bin/enxs
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fails=0
printf 'q,omega\n0.5,0.7\n' > "$WORK/q.csv"
expect_clean_error() {  # expect_clean_error FRAGMENT ARGS...: non-zero exit, no traceback, FRAGMENT said
  local fragment=$1; shift
  if (cd "$WORK" && "$ENXS" "$@" >"$WORK/out" 2>"$WORK/err"); then
    echo "FAIL: enxs $* succeeded"; fails=$((fails + 1))
  elif grep -q Traceback "$WORK/err" "$WORK/out" || ! grep -qF -- "$fragment" "$WORK/err"; then
    echo "FAIL: enxs $*:"; cat "$WORK/err"; fails=$((fails + 1))
  else
    echo "ok: enxs $* -> $(grep -v '^\s*$' "$WORK/err" | head -1)"
  fi
}
expect_clean_error "beam energy" predict enxs-12C-fast --energy 0.5 --angle 60 --omega 0.6
expect_clean_error "40Ar" evaluate enxs-12C-fast --nucleus 40Ar
expect_clean_error "Invalid value" predict enxs-12C-fast --energy x --angle 60 --omega 0.3
expect_clean_error "does not exist" predict enxs-12C-fast --energy 1 --angle 30 --omega 0.3 --output nodir/x.csv
expect_clean_error "ω must be < q" responses enxs-12C-fast --input "$WORK/q.csv"
expect_clean_error "needs a response model" export onnx enxs-12C-fast --responses --out onnx
expect_clean_error "model.output" pretrain --preset smoke --set model.output=response --out bad
expect_clean_error "available here" pretrain --preset smoke --device cuda --out dev
expect_clean_error "enxs[ray]" pretrain --preset smoke --executor ray --out rayrun
printf 'E,theta,omega\n' > "$WORK/empty.csv"
echo x > "$WORK/exists.txt"
expect_clean_error "no points" predict enxs-12C-fast --input "$WORK/empty.csv"
expect_clean_error "is a file" export onnx enxs-12C-fast --out exists.txt
expect_clean_error "is a file" pretrain --nucleus 12C --preset smoke --out exists.txt
expect_clean_error "NIST isotope table" predict enxs-any-fast --nucleus 999C --energy 1 --angle 30 --omega 0.3
expect_clean_error "not both" predict enxs-12C-fast --input "$WORK/empty.csv" --energy 5
expect_clean_error "free nucleon" predict enxs-any-fast --nucleus 1H --energy 1 --angle 30 --omega 0.3
expect_clean_error "> 0 GeV" neutrino enxs-any-fast --nucleus 40Ar --energy -1 --tmu 0.1:0.5:3 --cos 0:0.9:3 --output nu.csv
expect_clean_error "needs the physics-structured model" neutrino enxs-12C-responses-fast --total --energy 1 --transverse-enhancement
expect_clean_error "needs --scaling LT or T, not L" export genie enxs-any-fast --nucleus 12C --out genie-l --scaling L --transverse-enhancement
expect_clean_error "need 0 < step < max" export genie enxs-any-fast --nucleus 12C --step 3 --out genie
expect_clean_error "cross sections only" export genie enxs-12C-fast --out genie
expect_clean_error "write start:stop:count" predict enxs-12C-fast --energy 1 --angle 30 --omega ,
expect_clean_error "figure format" plot enxs-12C-fast --energy 1 --angle 30 --output fig.txt
expect_clean_error "not used for a spectrum" plot enxs-12C-fast --energy 1 --angle 30 --flux flux.txt
expect_clean_error "not used without --executor ray" pretrain --preset smoke --workers 3 --out w
printf "E,theta,omega\n# a comment\n1.0,30,1.5\n" > "$WORK/beyond.csv"
expect_clean_error "beyond.csv:3: energy transfer" predict enxs-12C-fast --input "$WORK/beyond.csv"
printf "T,cos,dT,dcos\n0.3,0.85,0.1,0.1\n0.05,0.5,0.2,0.1\n" > "$WORK/bins.csv"
expect_clean_error "bins.csv:3: dT = 0.2" neutrino enxs-any-fast --nucleus 12C --energy 1 --input "$WORK/bins.csv"
printf "p,cos\n-0.3,0.5\n" > "$WORK/momenta.csv"
expect_clean_error "momenta.csv:2: p = -0.3" neutrino enxs-any-fast --nucleus 12C --energy 1 --input "$WORK/momenta.csv"
if .venv-plain/bin/python -c "import hepdata_lib" 2>/dev/null; then
  echo "FAIL: a plain install pulled in hepdata_lib"; fails=$((fails + 1))
else
  expect_clean_error "pip install 'enxs[hepdata]'" export hepdata enxs-12C-fast --energy 0.68 --angle 60 --omega 0.1:0.5:5 --out fresh
fi
[ "$fails" -eq 0 ] && echo "plain install: every user error is one line"
exit "$fails"
