"""Inference speed, side by side in one run on the same points:

- onnxruntime running 50 paper-size members (10 × 300) one after another, as NuWro does
  (the 5 published members, each run 10 times);
- the same 50 members as one stacked enxs ensemble (imported from those ONNX files);
- the shipped fast ensemble;
- the shipped all-nuclei ensembles predicting argon (a nucleus they never saw: zero-shot): the
  physics-structured default and the response network (and, with ``--reference MODEL``, any other
  model of several nuclei, e.g. an earlier σ network);
- lookups in a tabulated grid of the shipped ensemble, with its interpolation error.

    python benchmarks/inference_speed.py [--points 20000] [--reference MODEL]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from enxs import artifacts, kinematics, onnx_import
from enxs.grid import build, interpolation_error
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, member_predictions

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "kowal-c12-onnx"


def points(n: int, seed: int = 0):
    return kinematics.random_points(n, seed, (0.3, 4.0), (15, 140), (0.02, 0.9))


def rate(n: int, fn, repeat: int = 3) -> float:
    fn()
    best = min(_timed(fn) for _ in range(repeat))
    return n / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--peer", type=Path, default=PEER)
    parser.add_argument("--reference", help="another model of several nuclei to time on argon")
    args = parser.parse_args()
    e, t, w = points(args.points)
    x = kinematics.network_features(e, t, w).astype(np.float32)
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                for p in onnx_import.member_files(args.peer)]
    runs_50 = [sessions[i % len(sessions)] for i in range(50)]

    def onnx_loop():
        return np.mean([s.run(None, {"input": x})[0] for s in runs_50], axis=0)

    peer, _ = onnx_import.import_members(args.peer)
    stacked = peer.select([i % peer.members for i in range(50)])
    shipped, _ = artifacts.load_model("enxs-12C-fast")
    r_onnx = rate(args.points, onnx_loop)
    r_stacked = rate(args.points, lambda: member_predictions(stacked, e, t, w))
    r_fast = rate(args.points, lambda: member_predictions(shipped, e, t, w))
    argon = Nucleus.parse("40Ar")
    r_any = {}
    for name in ("enxs-any-fast", "enxs-any-responses-fast", *([args.reference] if args.reference else [])):
        model = artifacts.load_model(name)[0]
        r_any[name] = rate(args.points, lambda m=model: member_predictions(m, e, t, w, argon))
    carbon = Nucleus.parse("12C")
    carbon_ensemble = Ensemble.load("enxs-12C-fast")
    grid = build(carbon_ensemble, carbon, (0.1, 6.0))
    n_lookup = 1_000_000
    ge, gt, gw = points(n_lookup, seed=1)
    r_grid = rate(n_lookup, lambda: grid(ge, gt, gw))
    err = interpolation_error(grid, carbon_ensemble, carbon)
    print(f"{args.points} random points, 50 members each; best of 3")
    print(f"onnxruntime, 50 × (10×300) members one after another: {r_onnx:10.0f} points/s")
    print(f"enxs stacked, the same 50 members:                    {r_stacked:10.0f} points/s  "
          f"({r_stacked / r_onnx:.2f}× onnxruntime)")
    print(f"enxs shipped fast ensemble (50 × 4×64):               {r_fast:10.0f} points/s")
    for name, r in r_any.items():
        print(f"{name + ', argon (zero-shot):':54s}{r:10.0f} points/s  ({r / r_any['enxs-any-fast']:.2f}× "
              f"enxs-any-fast)")
    print(f"tabulated grid {grid.log_ratio.shape} lookups (mean, std):  {r_grid:10.0f} points/s")
    print(f"grid interpolation error of the mean inside the training coverage ({err['interpolation_error_points']} "
          f"random points): median {err['interpolation_error_median']:.3%}, 95% {err['interpolation_error_p95']:.3%}, "
          f"max {err['interpolation_error_max']:.2%}; whole grid: median "
          f"{err['whole_domain_interpolation_error_median']:.3%}, "
          f"95% {err['whole_domain_interpolation_error_p95']:.3%}, "
          f"max {err['whole_domain_interpolation_error_max']:.2%}")


if __name__ == "__main__":
    main()
