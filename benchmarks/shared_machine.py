"""Two enxs trainings at once on a shared machine: does each keep its speed, and what does it cost alone?

Runs the same short pre-training (fast preset, 50 members; carbon, or with ``--nucleus all`` the all-nuclei
recipe without 40Ca) in worker processes, once alone and twice at the same time, for the thread settings
compared:

- ``torch defaults``: one thread per core, OpenMP's threads spinning up to 300,000 times while they wait;
- ``spin ≤ 3000``: what the ``enxs`` command does on a machine idle at its start (``enxs.cpu``);
- ``sleep``: what it does on a busy one (``OMP_WAIT_POLICY=PASSIVE``), and did everywhere before;
- ``--threads 1``: what a user sharing the machine on purpose may choose;
- ``spin, then sleep``: the command's pair, a job started on an idle machine and one started beside it.

Prints wall seconds (mean over the workers, best of ``--repeats``) and the slowdown ratio (pair / alone)
per setting, measured in one run:

    python benchmarks/shared_machine.py [--nucleus all] [--epochs 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from enxs import cpu

SPIN = {"GOMP_SPINCOUNT": str(cpu.SPIN_COUNT)}
SLEEP = {"OMP_WAIT_POLICY": "PASSIVE"}
#: name → (environment, threads) of each of the two workers (threads 0: one per core).
SETTINGS = {"torch defaults": [({}, 0)] * 2, f"spin ≤ {cpu.SPIN_COUNT}": [(SPIN, 0)] * 2, "sleep": [(SLEEP, 0)] * 2,
            "--threads 1": [(SLEEP, 1)] * 2, "spin, then sleep": [(SPIN, 0), (SLEEP, 0)]}


def worker(threads: int, nucleus: str, epochs: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from enxs import runs

    with tempfile.TemporaryDirectory() as tmp:
        runs.pretrain(nucleus, os.path.join(tmp, "run"), "fast", exclude="40Ca" if nucleus == "all" else None,
                      assignments=[f"train.epochs={epochs}"])


def timed(workers: list[tuple[dict, int]], nucleus: str, epochs: int) -> float:
    """Mean wall seconds of the workers, started together."""
    start = time.perf_counter()
    procs = []
    for environment, threads in workers:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | environment
        command = [sys.executable, __file__, "--worker", str(threads), "--nucleus", nucleus, "--epochs", str(epochs)]
        procs.append(subprocess.Popen(command, env=env))
    ends = []
    for p in procs:
        if p.wait():
            raise SystemExit(f"worker failed (exit {p.returncode})")
        ends.append(time.perf_counter() - start)
    return sum(ends) / len(ends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nucleus", default="12C", help="12C, or all (the all-nuclei recipe without 40Ca)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.nucleus, args.epochs)
        return
    print(f"pretrain --nucleus {args.nucleus} --preset fast, 50 members, {args.epochs} epochs, {os.cpu_count()} CPUs; "
          f"best of {args.repeats}")
    print(f"{'setting':<18} {'alone [s]':>10} {'two at once [s each]':>22} {'slowdown':>9}")
    for name, workers in SETTINGS.items():
        alone = min(timed(workers[:1], args.nucleus, args.epochs) for _ in range(args.repeats))
        pair = min(timed(workers, args.nucleus, args.epochs) for _ in range(args.repeats))
        print(f"{name:<18} {alone:>10.1f} {pair:>22.1f} {pair / alone:>8.2f}×")


if __name__ == "__main__":
    main()
