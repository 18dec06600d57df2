"""The same study in this process and on Ray with 1 and 2 workers: wall time side by side.

Runs ``enxs reproduce --studies transfer`` for one target (fast preset, fewer members so that it
fits a short benchmark) into a fresh directory per executor, so that no run is reused, and prints
the wall seconds of each and their ratio to the in-process run, measured in one invocation:

    python benchmarks/scaleout.py [--nucleus 16O] [--members 10]

Needs the data directory ($ENXS_DATA_DIR) and the ray extra (pip install 'enxs[ray]').
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXECUTORS = {"in-process": [], "Ray, 1 worker": ["--executor", "ray", "--workers", "1"],
             "Ray, 2 workers": ["--executor", "ray", "--workers", "2"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nucleus", default="16O")
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--preset", default="fast")
    args = parser.parse_args()
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in EXECUTORS.items():
            out = Path(tmp) / name.replace(" ", "").replace(",", "")
            command = [sys.executable, "-m", "enxs", "reproduce", "--preset", args.preset, "--nucleus", args.nucleus,
                       "--any-nucleus", "none", "--studies", "transfer", "--members", str(args.members),
                       "--out", str(out), *options]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            seconds[name] = time.perf_counter() - start
            runs = len(list((out / "runs").iterdir()))
            print(f"{name:16s} {seconds[name]:7.1f} s  ({runs} runs)  {seconds[name] / seconds['in-process']:.2f}× "
                  f"the in-process time", flush=True)


if __name__ == "__main__":
    main()
