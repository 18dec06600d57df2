"""Choices of the all-nuclei recipe side by side: each trained on every nucleus file but one and
scored zero-shot on all selected points of the nucleus left out, with the longitudinal response
of 12C and 40Ar beside it (where it peaks against ω_QE = √(q² + M²) − M + E_s, and R_L(ω_QE +
0.3 GeV)/R_L(peak), at q = 0.5 and 0.8 GeV).

The nuclei left out by default, 27Al and 56Fe, are the validation nuclei the choices are made on;
a nucleus given with ``--report`` (e.g. 40Ca) is measured for the record, not for choosing.

    python scripts/compare_choices.py --variant default= --variant cut2=model.longitudinal_cut=2.0 \\
        [--holdout 27Al,56Fe] [--report 40Ca] [--members 50] [--epochs 300] [--device cuda --jobs 3]

A variant is ``name=`` followed by ``--set`` assignments separated by ``;`` (none: the default recipe).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from enxs import runs
from enxs.anystudy import peak_shape
from enxs.context import Context, resolve_device
from enxs.errors import EnxsError
from enxs.evaluation import evaluate_model
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble
from enxs.responses import member_responses


def response_shape(model: Path) -> str:
    """R_L of 12C and 40Ar at q = 0.5, 0.8 GeV: peak − ω_QE [MeV] and the tail ratio at ω_QE + 0.3 GeV."""
    ensemble, cells = Ensemble.load(model), []
    for name in ("12C", "40Ar"):
        nucleus = Nucleus.parse(name)
        for q in (0.5, 0.8):
            omega = np.linspace(0.02, q - 0.02, 60)
            r_l = member_responses(ensemble.model, np.full_like(omega, q), omega, nucleus)[..., 0].mean(0)
            offset, _, tail = peak_shape(omega, r_l, q, nucleus)
            cells.append(f"{name} q={q}: {1000 * offset:+.0f} MeV, tail {tail:.2f}")
    return "; ".join(cells)


def run_one(variant: str, held: str, spec: runs.RunSpec, threads: int | None) -> str:
    warnings.simplefilter("ignore")
    Context(device=spec.device, threads=threads).use_threads()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.time()
        runs.execute(spec, Path(tmp) / "m")
        r = evaluate_model(Path(tmp) / "m", nucleus=held)["all"]
        trained = evaluate_model(Path(tmp) / "m")["test"]
        carbon = evaluate_model(Path(tmp) / "m", nucleus="12C")["test"]
        shape = response_shape(Path(tmp) / "m")
    return (f"{variant:10s} without {held:5s}: {r['median_abs_rel_dev']:.1%} (90th pct {r['p90_abs_rel_dev']:.0%}), "
            f"1σ coverage {r['coverage_1sigma']:.0%}, χ²/N {r['chi2_per_point']:.1f}  [{time.time() - start:.0f} s]"
            f"\n{'':10s} trained nuclei' test points {trained['median_abs_rel_dev']:.1%}, χ²/N "
            f"{trained['chi2_per_point']:.1f}; 12C's {carbon['median_abs_rel_dev']:.1%}, "
            f"χ²/N {carbon['chi2_per_point']:.1f}"
            f"\n{'':10s} R_L: {shape}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", default=[], help="name=assignment;assignment;…")
    parser.add_argument("--holdout", default="27Al,56Fe")
    parser.add_argument("--report", default="", help="nuclei left out for the record, not for choosing")
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (processes)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of each run (default: all)")
    args = parser.parse_args()
    variants = [(name, [a for a in rest.split(";") if a]) for name, _, rest in
                (v.partition("=") for v in args.variant or ["default="])]
    held_out = [n for n in (args.holdout + "," + args.report).split(",") if n]
    try:  # the device and every run (its nucleus and settings) checked before the first trains
        resolve_device(args.device)
    except EnxsError as error:
        parser.error(f"--device: {error}")
    context, jobs = Context(device=args.device, threads=args.threads), []
    for name, assignments in variants:
        for held in held_out:
            try:
                spec = runs.pretrain_spec("all", "fast", exclude=held, members=args.members, epochs=args.epochs,
                                          assignments=assignments, context=context)
            except EnxsError as error:
                parser.error(f"--variant {name} without {held} (--holdout/--report): {error}")
            jobs.append((name, held, spec, args.threads))
    print(f"fast preset, {args.members} members, {args.epochs} epochs, {args.device}; zero-shot on all points of "
          f"the nucleus left out (validation: {args.holdout}; for the record: {args.report or 'none'})", flush=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        for line in pool.map(run_one, *zip(*jobs, strict=True)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
