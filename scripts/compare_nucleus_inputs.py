"""How should the network see the nucleus? Each choice of ``model.nucleus_inputs`` trained on
all nuclei but one, scored zero-shot on every selected point of the nucleus held out.

The held-out nuclei here (27Al, 56Fe by default) are the choice's validation nuclei: their
zero-shot numbers in the study are then not independent of this choice (the method document
says so); 40Ca, 16O, 6Li and 12C stay untouched by it.

    python scripts/compare_nucleus_inputs.py [--members 10] [--epochs 300] [--holdout 27Al,56Fe]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from enxs import runs
from enxs.artifacts import DataChangedWarning
from enxs.evaluation import evaluate_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--holdout", default="27Al,56Fe")
    parser.add_argument("--modes", default="shape,psi,scaling")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DataChangedWarning)
    print(f"fast preset, {args.members} members, {args.epochs} epochs; zero-shot median |rel dev| (90th pct) "
          f"and 1σ coverage on all points of the held-out nucleus")
    for mode in args.modes.split(","):
        for held in args.holdout.split(","):
            spec = runs.pretrain_spec("all", "fast", exclude=held, members=args.members, epochs=args.epochs,
                                      assignments=[f"model.nucleus_inputs={mode}"])
            with tempfile.TemporaryDirectory() as tmp:
                start = time.time()
                runs.execute(spec, Path(tmp) / "m")
                r = evaluate_model(Path(tmp) / "m", nucleus=held)["all"]
            print(f"{mode:8s} without {held:5s}: {r['median_abs_rel_dev']:.1%} ({r['p90_abs_rel_dev']:.0%}), "
                  f"coverage {r['coverage_1sigma']:.0%}, χ²/N {r['chi2_per_point']:.1f}  [{time.time() - start:.0f} s]",
                  flush=True)


if __name__ == "__main__":
    main()
