"""Graceful extrapolation, measured: the default all-nuclei recipe trained without the heaviest nuclei
predicts the heaviest one zero-shot, beside carbon × A/12, carbon carried by superscaling and the
physics backbone alone (``anystudy.physics_backbone``), on all its points and on its quasielastic
region (|ψ′| ≤ 1), with the zero-shot band's coverage. What a nucleus beyond the trained range (lead
from a model trained up to iron) meets, on the one heavier nucleus with data.

    python scripts/extrapolate.py [--without 40Ca,56Fe] [--target 56Fe] [--model DIR] [--members 50]

``--model``: a base already trained without those nuclei (else one is trained into a temporary
directory: about 7 minutes on 2 cores at 50 members).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from enxs import archive, artifacts, runs
from enxs.anystudy import BASELINES, baselines, zero_shot
from enxs.context import Context
from enxs.errors import EnxsError
from enxs.metrics import score_cell
from enxs.predict import Ensemble


def report(model: Path, target: str, carbon: Ensemble, context: Context) -> list[str]:
    table = artifacts.read_manifest(model).config.selection.apply(archive.read_file(context.data_path(target))[0])
    base = baselines(carbon, model, target, table, table)
    z = zero_shot(model, target, table, table)
    trained = ", ".join(n.name for n in artifacts.read_manifest(model).nuclei)
    columns = [*BASELINES, "structured (default)"]
    lines = [f"{target} from {model} (trained on {trained}; ΔA^(1/3) = {z['distance']:.2f} beyond them: zero-shot "
             "where it is not one of them). Cells: median |rel dev| · 90th percentile · χ²/N · 1σ coverage.", "",
             "| points | n | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for part, title in (("all", "all"), ("qe", "quasielastic region, \\|ψ′\\| ≤ 1")):
        cells = [score_cell(base[part][b]) for b in BASELINES] + [score_cell(z[part])]
        lines.append(f"| {title} | {z[part]['n']} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", default="40Ca,56Fe", help="nuclei the base never sees")
    parser.add_argument("--target", default="56Fe")
    parser.add_argument("--model", type=Path, help="a base trained without --without (else trained here)")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--carbon-model", default="enxs-12C-fast")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    context = Context()

    def checked(option: str, check):  # everything checked before anything trains
        try:
            return check()
        except EnxsError as error:
            parser.error(f"{option}: {error}")

    checked("--target", lambda: context.data_path(args.target))
    carbon = checked("--carbon-model", lambda: Ensemble.load(args.carbon_model))
    if args.model:
        checked("--model", lambda: artifacts.read_manifest(args.model))
    spec = None if args.model else checked("--without", lambda: runs.pretrain_spec(
        "all", "fast", exclude=args.without, members=args.members, context=context))
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model, start = Path(tmp) / "m", time.time()
            runs.execute(spec, model)
            print(f"trained without {args.without} in {time.time() - start:.0f} s", flush=True)
        print("\n".join(report(model, args.target, carbon, context)))


if __name__ == "__main__":
    main()
