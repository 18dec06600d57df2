"""Dips at the top of a structured model's quasielastic R_T, and the notch they leave in a neutrino cross section.

A dip of a curve is its largest drop below the lower of its maxima on either side, as a share of its maximum
(none: 0). For each nucleus, at q = 0.40, 0.45, …, 1.00 GeV and 600 ω evenly spaced where |ψ′| < 1 (the nucleus'
k_F and E_s), the quasielastic part of R_T (``Responses.transverse_qe``) of every member and of the members'
mean: the share of (member, q) cells that dip by more than ``--threshold``, and the mean's largest dip and its q.
Then the members' mean ν_μ d²σ/dT dcos θ of 40Ar at E_ν = 1 GeV, cos θ = 0.6, 0.8 and 0.9 (400 T from 0.05 to
0.85 GeV) and its largest dip. Used for the smoothness prior's paragraphs of docs/method.md and README.

    python scripts/dips.py [--model enxs-any-fast] [--nucleus 12C,16O,40Ar,56Fe,208Pb] [--threshold 0.03]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

import enxs
from enxs.descriptors import describe
from enxs.errors import EnxsError
from enxs.predict import Ensemble
from enxs.superscaling import omega_at_psi

Q_VALUES = np.round(np.arange(0.40, 1.001, 0.05), 2)  # GeV
OMEGAS = 600
COS_THETAS = (0.6, 0.8, 0.9)
T_MUON = np.linspace(0.05, 0.85, 400)  # GeV


def drops(curve: np.ndarray) -> np.ndarray:
    """Each point's drop below the lower of the maxima of ``curve`` (1-D) on either side of it, ≥ 0."""
    return np.minimum(np.maximum.accumulate(curve), np.maximum.accumulate(curve[::-1])[::-1]) - curve


def dip(curve: np.ndarray) -> float:
    """The largest drop of ``curve`` below the lower of its maxima on either side, as a share of its maximum."""
    return float(drops(curve).max() / curve.max()) if curve.max() > 0 else 0.0


def quasielastic_omegas(q: float, nucleus: enxs.Nucleus) -> np.ndarray:
    """``OMEGAS`` ω [GeV] evenly spaced where |ψ′(q, ω)| < 1 for the nucleus' k_F and E_s."""
    d = describe(nucleus)
    edges = omega_at_psi(torch.full((2,), q, dtype=torch.float64), torch.tensor([-1.0, 1.0]), d.k_fermi, d.e_shift)
    return np.linspace(*edges.numpy(), OMEGAS)


def response_dips(model: Ensemble, nucleus: enxs.Nucleus, threshold: float) -> str:
    """One line: the share of (member, q) cells whose R_T^QE dips by more than ``threshold``; the mean's largest dip."""
    omega = np.concatenate([quasielastic_omegas(q, nucleus) for q in Q_VALUES])
    q = np.repeat(Q_VALUES, OMEGAS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-shot and coverage flags: what is measured here is the shape
        members = enxs.predict_responses(model, q, omega, nucleus=nucleus).transverse_qe  # [K, N]
    curves = members.reshape(len(members), len(Q_VALUES), OMEGAS)
    member_dips = np.array([[dip(c) for c in member] for member in curves])
    mean_dips = np.array([dip(c) for c in curves.mean(0)])
    worst = int(np.argmax(mean_dips))
    return (f"{nucleus.name}: members dip > {threshold:.0%} in {np.mean(member_dips > threshold):.1%} of "
            f"{member_dips.size} (member, q) cells; the mean's largest dip {mean_dips[worst]:.2%} at q = "
            f"{Q_VALUES[worst]:.2f} GeV")


def neutrino_notch(model: Ensemble) -> list[str]:
    """Per cos θ, the largest dip of the members' mean ν_μ d²σ/dT dcos θ of 40Ar at E_ν = 1 GeV, and its T."""
    lines = []
    for cos in COS_THETAS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mean = enxs.neutrino_cross_section(model, "40Ar", T_MUON, cos, energy=1.0).mean
        at, size = T_MUON[int(np.argmax(drops(mean)))], dip(mean)
        lines.append(f"40Ar nu_mu, E_nu = 1 GeV, cos theta = {cos}: "
                     + (f"largest dip {size:.2%} at T = {at:.3f} GeV" if size >= 1e-4 else "no dip (< 0.01%)"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enxs-any-fast", help="a structured model (name or directory)")
    parser.add_argument("--nucleus", default="12C,16O,40Ar,56Fe,208Pb", help="nuclei, comma-separated")
    parser.add_argument("--threshold", type=float, default=0.03, help="a member's dip counted above this share")
    args = parser.parse_args()
    if not 0 < args.threshold < 1:
        parser.error(f"--threshold {args.threshold}: a share between 0 and 1")
    try:
        nuclei = [enxs.Nucleus.parse(name) for name in args.nucleus.split(",")]
    except EnxsError as exc:
        parser.error(f"--nucleus {args.nucleus}: {exc}")
    try:
        model = Ensemble.load(args.model)
    except EnxsError as exc:
        parser.error(f"--model {args.model}: {exc}")
    if not model.model.is_structured:
        parser.error(f"--model {args.model}: not a structured model (its R_T has no quasielastic part)")
    for nucleus in nuclei:
        print(response_dips(model, nucleus, args.threshold), flush=True)
    print("\n".join(neutrino_notch(model)))


if __name__ == "__main__":
    main()
