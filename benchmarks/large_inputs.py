"""A large points file through `enxs predict`'s steps, each timed in one run: reading the CSV (E, θ, ω columns),
the shipped carbon ensemble's prediction (its network's GFLOP/s against the float32 matrix-product peak measured in
the same run, and the peak of the arrays NumPy allocates in it, by tracemalloc: the
members' σ and the band's statistics; torch's own buffers are not counted), and writing the table as Parquet
and as CSV.

    python benchmarks/large_inputs.py [--points 1000000] [--model enxs-12C-fast]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import pandas as pd
from neutrino_speed import network_flops
from train_speed import matmul_peak

from enxs import kinematics, pointfiles
from enxs.predict import Ensemble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--model", default="enxs-12C-fast")
    args = parser.parse_args()
    energy, theta, omega = kinematics.random_points(args.points, 0, (0.3, 4.0), (15, 140), (0.02, 0.9))
    ensemble = Ensemble.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        points = Path(tmp) / "points.csv"
        pd.DataFrame({"E": energy, "theta": theta, "omega": omega}).to_csv(points, index=False)
        start = time.perf_counter()
        energy, theta, omega = pointfiles.read_points(points, check=kinematics.check_kinematics)
        print(f"read {args.points:,} points from CSV: {time.perf_counter() - start:.1f} s")
        tracemalloc.start()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the coverage and zero-shot warnings: not what is timed
            prediction = ensemble.predict(energy, theta, omega)
        elapsed, (_, peak) = time.perf_counter() - start, tracemalloc.get_traced_memory()
        tracemalloc.stop()
        achieved = ensemble.model.draws * args.points * network_flops(ensemble.model) / elapsed / 1e9
        print(f"predict ({args.model}, {ensemble.model.draws} members): {elapsed:.1f} s, {achieved:.0f} GFLOP/s in "
              f"all against the matrix-product peak's {matmul_peak():.0f}; NumPy's arrays at most {peak / 1e9:.2f} GB "
              f"(the members' σ alone {prediction.members.nbytes / 1e9:.2f} GB)")
        for suffix in (".parquet", ".csv"):
            start = time.perf_counter()
            pointfiles.write_prediction(prediction, Path(tmp) / f"out{suffix}", {})
            print(f"write {suffix}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
