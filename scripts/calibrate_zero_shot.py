"""How wide must a zero-shot nucleus' member factor be (``enxs.zeroshot``)? The 1σ coverage of the
structured model left out one nucleus at a time, on all selected points of the nucleus left out,
for a range of s: |σ − mean| ≤ √(spread² + (s · mean)² + Δσ²) (``enxs.metrics``' coverage with
the factor's spread added; Δσ the project's error, ``datasets.total_error``). s₀ is chosen on the
validation nuclei 27Al and 56Fe (pooled 68%); the others are the check.

    enxs reproduce --studies any      # trains the leave-one-out runs into report/runs
    python scripts/calibrate_zero_shot.py [--runs report/runs]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

import enxs
from enxs.datasets import total_error
from enxs.predict import Ensemble, member_predictions

STUDY = ("6Li", "12C", "16O", "27Al", "40Ca", "56Fe")
WIDTHS = (0.0, 0.05, 0.08, 0.10, 0.12, 0.15)


def left_out(run: Path) -> str | None:
    """The study nucleus a structured run of several nuclei was trained without, if any."""
    manifest = json.loads((run / "manifest.json").read_text())
    if manifest["config"]["model"]["output"] != "superscaling":
        return None
    missing = [n for n in STUDY if n not in manifest["nuclei"]]
    return missing[0] if len(missing) == 1 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("report/runs"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("nucleus  longitudinal cut  points  median log(data/mean)  1σ coverage at s = "
          + "  ".join(f"{s:.2f}" for s in WIDTHS))
    for run in sorted(p for p in args.runs.iterdir() if (p / "manifest.json").is_file()):
        held = left_out(run)
        if held is None:
            continue
        ensemble = Ensemble.load(run)
        ensemble.model.zero_shot = None  # the members' own spread
        table = enxs.Selection().apply(enxs.load_archive(held))
        sigma = member_predictions(ensemble.model, table.E.to_numpy(), table.theta.to_numpy(),
                                   table.omega.to_numpy(), enxs.Nucleus.parse(held))
        mean, spread = sigma.mean(0), sigma.std(0, ddof=1)
        data, error = table.sigma.to_numpy(), total_error(table, ensemble.manifest.config.train.p2p_sys)
        cover = [np.mean(np.abs(data - mean) <= np.sqrt(spread**2 + (s * mean) ** 2 + error**2)) for s in WIDTHS]
        offset = np.median(np.log(np.clip(data, 1e-30, None) / mean))
        cut = ensemble.model.config.longitudinal_cut
        print(f"{held:7s} {cut:17.1f} {len(data):7d}  {offset:+21.3f}  " + "  ".join(f"{c:4.0%}" for c in cover),
              flush=True)


if __name__ == "__main__":
    main()
