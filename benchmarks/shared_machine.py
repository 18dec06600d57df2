"""Two enxs trainings at once on a shared machine: does each keep its speed?

Runs the same short pre-training (fast preset, 50 members) in worker processes, once alone
and twice at the same time, for the thread settings compared:

- ``before``: torch's defaults (one thread per core, OpenMP's spinning wait policy), what
  enxs used until the CLI set its own;
- ``enxs default``: what the ``enxs`` command now does: one thread per usable core, OpenMP
  threads that sleep instead of spinning while they wait (``OMP_WAIT_POLICY=PASSIVE``);
- ``--threads 1``: what a user sharing the machine on purpose may choose.

Prints wall seconds and the slowdown ratio (pair / alone) per setting, measured in one run:

    python benchmarks/shared_machine.py [--epochs 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

SETTINGS = {"before": ("unset", 0), "enxs default": ("PASSIVE", 0), "--threads 1": ("PASSIVE", 1)}


def worker(policy: str, threads: int, epochs: int) -> None:
    if policy != "unset":
        os.environ["OMP_WAIT_POLICY"] = policy
    import torch

    if threads:
        torch.set_num_threads(threads)
    from enxs import archive, runs
    from enxs.config import load_config

    config = load_config("fast", members=50, epochs=epochs)
    spec = runs.RunSpec("12C", str(archive.find_nucleus_file("12C")), config)
    with tempfile.TemporaryDirectory() as tmp:
        runs.execute(spec, os.path.join(tmp, "run"))


def timed(jobs: int, policy: str, threads: int, epochs: int) -> float:
    """Mean wall seconds of ``jobs`` workers started together."""
    command = [sys.executable, __file__, "--worker", policy, str(threads), "--epochs", str(epochs)]
    start = time.perf_counter()
    procs = [subprocess.Popen(command) for _ in range(jobs)]
    ends = []
    for p in procs:
        if p.wait():
            raise SystemExit(f"worker failed (exit {p.returncode})")
        ends.append(time.perf_counter() - start)
    return sum(ends) / len(ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", nargs=2, metavar=("POLICY", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.epochs)
        return
    print(f"pretrain --preset fast, 50 members, {args.epochs} epochs, {os.cpu_count()} CPUs; "
          f"best of {args.repeats}")
    print(f"{'setting':<14} {'alone [s]':>10} {'two at once [s each]':>22} {'slowdown':>9}")
    for name, (policy, threads) in SETTINGS.items():
        alone = min(timed(1, policy, threads, args.epochs) for _ in range(args.repeats))
        pair = min(timed(2, policy, threads, args.epochs) for _ in range(args.repeats))
        print(f"{name:<14} {alone:>10.1f} {pair:>22.1f} {pair / alone:>8.2f}×")


if __name__ == "__main__":
    main()
