"""How wide must a zero-shot nucleus' member factor be (``enxs.zeroshot``)? The 1σ coverage of the
structured model left out one nucleus at a time, on all selected points of the nucleus left out,
for a range of s₀ (``zeroshot.coverage``: the members' own spread with the factor's width s₀ (1 + d) added);
then, on the latest run of each nucleus, s₀ calibrated on the other nuclei of
``zeroshot.CALIBRATION`` (below carbon ``zeroshot.LIGHT_CALIBRATION``; ``anystudy.calibrated_widths``, what the
any-nucleus study reports) and the coverage it gives the nucleus left out.

    enxs reproduce --studies any      # trains the leave-one-out runs into report/runs
    python scripts/calibrate_zero_shot.py [--runs report/runs]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import enxs
from enxs import zeroshot
from enxs.anystudy import ZERO_SHOT_TARGETS, calibrated_widths, member_residuals
from enxs.artifacts import read_manifest

WIDTHS = (0.0, 0.05, 0.08, 0.10, 0.12, 0.15, 0.20, 0.30)


def left_out(run: Path) -> str | None:
    """The study nucleus a structured run of several nuclei was trained without, if any."""
    manifest = json.loads((run / "manifest.json").read_text())
    if manifest["config"]["model"]["output"] != "superscaling":
        return None
    candidates = dict.fromkeys([*ZERO_SHOT_TARGETS, *zeroshot.LIGHT_CALIBRATION])
    missing = [n for n in candidates if n not in manifest["nuclei"]]
    return missing[0] if len(missing) == 1 else None


def check_runs(parser: argparse.ArgumentParser, runs: Path) -> None:
    """A missing directory of study runs ends the script in one line (exit 2)."""
    if not runs.is_dir():
        parser.error(f"--runs {runs}: no such directory (`enxs reproduce --studies any` trains the runs there)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("report/runs"))
    args = parser.parse_args()
    check_runs(parser, args.runs)
    warnings.simplefilter("ignore")
    print("nucleus  run                      points  1 + d  1σ coverage at s₀ = "
          + "  ".join(f"{s:.2f}" for s in WIDTHS))
    latest: dict[str, tuple[str, zeroshot.Residuals]] = {}
    for run in sorted(p for p in args.runs.iterdir() if (p / "manifest.json").is_file()):
        held = left_out(run)
        if held is None:
            continue
        table = read_manifest(run).config.selection.apply(enxs.load_archive(held))
        residuals = member_residuals(run, held, table)
        print(f"{held:7s}  {run.name:24s} {len(table):6d}  {residuals.growth:5.2f}  "
              + "  ".join(f"{zeroshot.coverage(residuals, s):4.0%}" for s in WIDTHS), flush=True)
        created = json.loads((run / "manifest.json").read_text())["created"]
        if held not in latest or created > latest[held][0]:
            latest[held] = (created, residuals)
    widths = calibrated_widths({n: r for n, (_, r) in latest.items()})
    for key, pool, shipped in (("all", zeroshot.CALIBRATION, zeroshot.S0),
                               ("light", zeroshot.LIGHT_CALIBRATION, zeroshot.S0_LIGHT)):
        print(f"\nlatest runs: s₀ calibrated on all of {', '.join(n for n in pool if n in latest)}: "
              f"{widths.get(key, float('nan')):.3f} (shipped {shipped})")
    for name, (_, residuals) in latest.items():
        print(f"{name:7s} s₀ without it {widths[name]:.3f}: 1σ coverage "
              f"{zeroshot.coverage(residuals, widths[name]):.0%}")


if __name__ == "__main__":
    main()
