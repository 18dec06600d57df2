"""Where a zero-shot nucleus departs from the structured model trained without it: per experiment, the
median data/model over all selected points and near the quasielastic peak (|ψ′| < 0.5), beside the
same experiments' trained nuclei; and per measured spectrum (E, θ) of the nucleus, the ratios
data/model of the quasielastic peak's position, full width at half maximum, height and width × height
(its area, roughly); with ``--partner``, on the spectra an experiment measured for both nuclei at the
same (E, θ), the per-nucleon ratio nucleus/partner of the data and of the model, and of the model with
the nucleus' E_s replaced by the partner's. With ``--strength MODEL`` (a model trained *with* the nucleus,
whose own parts hold its data, e.g. enxs-any-fast): at the nucleus' measured points, by region of the
invariant mass W of a nucleon at rest, the median per-nucleon ratio σ/A of the nucleus to each compared
nucleus as that model represents them — what the data say of the nucleus' strength beside its neighbours'.
With ``--terms``: per spectrum, at the data's maxima in the quasielastic and Δ regions, the model's σ split
into its inelastic term and its quasielastic parts, beside the physics backbone alone.
Used for the 40Ca and 6Li paragraphs of docs/method.md.

    enxs reproduce --studies any      # trains the leave-one-out runs into report/runs
    python scripts/zero_shot_residuals.py 40Ca --compare 12C,56Fe [--partner 56Fe] [--runs report/runs]
    python scripts/zero_shot_residuals.py 6Li --compare 4He,12C --strength enxs-any-fast --terms
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
from calibrate_zero_shot import check_runs, left_out

import enxs
from enxs.anystudy import physics_backbone, without_inelastic
from enxs.descriptors import MONIZ, describe, psi_prime
from enxs.errors import EnxsError
from enxs.kinematics import invariant_mass
from enxs.predict import Ensemble, member_predictions


def half_maximum(omega: np.ndarray, sigma: np.ndarray) -> tuple[float, float, float]:
    """(ω at the maximum, full width at half maximum, maximum) of a spectrum sorted in ω."""
    i = int(np.argmax(sigma))
    half = sigma[i] / 2
    low = np.interp(half, sigma[: i + 1], omega[: i + 1])
    high = np.interp(half, sigma[i:][::-1], omega[i:][::-1])
    return omega[i], high - low, sigma[i]


def mean_sigma(model, energy, theta, omega, nucleus, e_shift: float | None = None) -> np.ndarray:
    """The ensemble's mean σ [nb/sr/GeV] at the points; with ``e_shift`` [GeV] the nucleus' E_s replaced
    (its k_F kept) in the descriptor table the model reads, for this call only."""
    swap = {} if e_shift is None else {nucleus.name: (describe(nucleus).k_fermi * 1000, e_shift * 1000)}
    with mock.patch.dict(MONIZ, swap):
        return member_predictions(model, energy, theta, omega, nucleus).mean(0)


def partner_ratios(model, name: str, partner: str) -> None:
    """Per spectrum measured for both nuclei by one experiment: the median over the nucleus' points
    (inside the partner's ω range) of (σ/A)_nucleus / (σ/A)_partner, data and model."""
    nucleus, other = enxs.Nucleus.parse(name), enxs.Nucleus.parse(partner)
    mine, theirs = (enxs.Selection().apply(enxs.load_archive(n)) for n in (name, partner))
    print(f"\n{name}/{partner} per nucleon, spectra both were measured at (median over {name}'s points)")
    print(f"experiment            E [GeV]  θ [deg]  data  model  model with {partner}'s E_s")
    for (label, energy, theta), spectrum in mine.groupby(["dataset", mine.E.round(3), "theta"]):
        twin = theirs[(theirs.dataset == label) & (theirs.E.round(3) == energy) & (theirs.theta == theta)]
        if len(twin) < 10:
            continue
        spectrum, twin = spectrum.sort_values("omega"), twin.sort_values("omega")
        omega = spectrum.omega.to_numpy()
        inside = (omega > twin.omega.min()) & (omega < twin.omega.max())
        e, t = np.full(inside.sum(), spectrum.E.iloc[0]), np.full(inside.sum(), theta)
        w = omega[inside]
        data = (spectrum.sigma.to_numpy()[inside] / nucleus.A) / (np.interp(w, twin.omega, twin.sigma) / other.A)
        partner_model = mean_sigma(model, e, t, w, other) / other.A
        ratios = [mean_sigma(model, e, t, w, nucleus, es) / nucleus.A / partner_model
                  for es in (None, describe(other).e_shift)]
        print(f"{label:20s} {energy:8.3f} {theta:8.1f} {np.median(data):5.2f} {np.median(ratios[0]):6.2f} "
              f"{np.median(ratios[1]):10.2f}")


#: Regions of W = √(M² + 2Mω − Q²) [GeV] (``kinematics.invariant_mass``): quasielastic, dip, Δ, beyond.
W_REGIONS = ((0.0, 1.0), (1.0, 1.1), (1.1, 1.3), (1.3, np.inf))


def invariant_masses(points) -> np.ndarray:
    """W [GeV] of the points (E, θ, ω) of an archive table; 0 where W² < 0 (below the free nucleon: quasielastic)."""
    return np.nan_to_num(invariant_mass(points.E.to_numpy(), points.theta.to_numpy(), points.omega.to_numpy()), nan=0.0)


def strength_ratios(model, model_name: str, table, name: str, compare: list[str]) -> None:
    """Per region of W, the median over the nucleus' measured points (``table``) of (σ/A)_nucleus / (σ/A)_other
    in ``model``, trained with all of them."""
    e, t, w = table.E.to_numpy(), table.theta.to_numpy(), table.omega.to_numpy()
    w_mass = invariant_masses(table)
    nuclei = {n: enxs.Nucleus.parse(n) for n in [name, *compare]}
    per_nucleon = {n: member_predictions(model, e, t, w, nucleus).mean(0) / nucleus.A for n, nucleus in nuclei.items()}
    print(f"\n{name} per nucleon beside {', '.join(compare)} in {model_name}, median over {name}'s points")
    print("W [GeV]       points  " + "  ".join(f"{name}/{n}" for n in compare))
    for low, high in W_REGIONS:
        inside = (w_mass >= low) & (w_mass < high)
        if inside.any():
            ratios = [np.median(per_nucleon[name][inside] / per_nucleon[n][inside]) for n in compare]
            cells = "  ".join(f"{r:{len(name) + len(n) + 1}.2f}" for r, n in zip(ratios, compare, strict=True))
            print(f"[{low:.1f}, {high:.1f})  {inside.sum():6d}  {cells}")


def terms(model, table, name: str) -> None:
    """Per spectrum with ≥ 15 points, at the data's maximum in the quasielastic region (W < 1 GeV) and in the
    Δ region (1.1 ≤ W < 1.3 GeV): σ [nb/sr/GeV] of the data, the model, its inelastic term, its quasielastic
    parts (L + T) and the physics backbone alone."""
    nucleus = enxs.Nucleus.parse(name)
    quasielastic = without_inelastic(model.select(list(range(model.members))))
    parts = {"model": model, "quasielastic": quasielastic, "backbone": physics_backbone(model)}
    print(f"\n{name}: the model's terms at the data's maxima [nb/sr/GeV]")
    print("experiment            E [GeV]  θ [deg]  region  ω [GeV]    data   model  inelastic  quasielastic  backbone")
    for (label, energy, theta), spectrum in table.groupby(["dataset", table.E.round(3), "theta"]):
        if len(spectrum) < 15:
            continue
        e, t, w = spectrum.E.to_numpy(), spectrum.theta.to_numpy(), spectrum.omega.to_numpy()
        w_mass = invariant_masses(spectrum)
        for region, (low, high) in (("QE", W_REGIONS[0]), ("Δ", W_REGIONS[2])):
            inside = np.flatnonzero((w_mass >= low) & (w_mass < high))
            if not len(inside):
                continue
            i = inside[np.argmax(spectrum.sigma.to_numpy()[inside])]
            sigma = {k: float(member_predictions(m, e[i:i + 1], t[i:i + 1], w[i:i + 1], nucleus).mean())
                     for k, m in parts.items()}
            print(f"{label:20s} {energy:8.3f} {theta:8.1f}  {region:6s} {w[i]:7.3f} {spectrum.sigma.iloc[i]:7.0f} "
                  f"{sigma['model']:7.0f} {sigma['model'] - sigma['quasielastic']:10.0f} {sigma['quasielastic']:13.0f} "
                  f"{sigma['backbone']:9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nucleus")
    parser.add_argument("--compare", default="12C,56Fe", help="trained nuclei to show beside it")
    parser.add_argument("--partner", help="a trained nucleus measured by the same experiments at the same (E, θ)")
    parser.add_argument("--runs", type=Path, default=Path("report/runs"))
    parser.add_argument("--strength", help="a model trained with the nucleus: its per-nucleon ratios by region of W")
    parser.add_argument("--terms", action="store_true", help="the model's terms at each spectrum's maxima")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    try:  # before the analysis: a model that is not there is said at once, in one line
        strength = Ensemble.load(args.strength).model if args.strength else None
    except EnxsError as error:
        parser.error(f"--strength: {error}")
    check_runs(parser, args.runs)
    runs = [p for p in args.runs.iterdir() if (p / "manifest.json").is_file() and left_out(p) == args.nucleus]
    if not runs:
        parser.error(f"{args.nucleus}: no structured run without it in {args.runs} (`enxs reproduce --studies any`)")
    run = max(runs, key=lambda p: json.loads((p / "manifest.json").read_text())["created"])  # the latest recipe's
    ensemble = Ensemble.load(run)
    print(f"model: {run} (trained without {args.nucleus}; {ensemble.model.members} members)")
    print("nucleus  experiment  points  data/model: all  |ψ′| < 0.5")
    for name in [args.nucleus, *args.compare.split(",")]:
        table = enxs.Selection().apply(enxs.load_archive(name))
        d = describe(enxs.Nucleus.parse(name))
        psi = psi_prime(table.E.to_numpy(), table.theta.to_numpy(), table.omega.to_numpy(), d.k_fermi, d.e_shift)
        ratio = table.sigma.to_numpy() / ensemble.predict(table.E.to_numpy(), table.theta.to_numpy(),
                                                          table.omega.to_numpy(), nucleus=name).mean
        for label in sorted(table.dataset.unique()):
            mine = table.dataset.to_numpy() == label
            peak = mine & (np.abs(psi) < 0.5)
            print(f"{name:7s}  {label:20s} {mine.sum():5d}  {np.median(ratio[mine]):15.3f}  "
                  f"{np.median(ratio[peak]) if peak.any() else float('nan'):10.3f}")
    print(f"\n{args.nucleus}, each spectrum with ≥ 15 points: data/model of the quasielastic peak")
    print("experiment            E [GeV]  θ [deg]  Δω_peak [MeV]  width  height  width × height")
    table = enxs.Selection().apply(enxs.load_archive(args.nucleus))
    for (label, energy, theta), spectrum in table.groupby(["dataset", table.E.round(3), "theta"]):
        spectrum = spectrum.sort_values("omega")
        if len(spectrum) < 15:
            continue
        omega = spectrum.omega.to_numpy()
        fine = np.linspace(omega.min(), omega.max(), 400)
        model = ensemble.predict(np.full_like(fine, spectrum.E.iloc[0]), np.full_like(fine, theta), fine,
                                 nucleus=args.nucleus).mean
        smooth = np.convolve(spectrum.sigma.to_numpy(), np.ones(3) / 3, mode="same")
        (wd, fd, hd), (wm, fm, hm) = half_maximum(omega[1:-1], smooth[1:-1]), half_maximum(fine, model)
        print(f"{label:20s} {energy:8.3f} {theta:8.1f} {1000 * (wd - wm):+14.0f} {fd / fm:6.2f} {hd / hm:7.2f} "
              f"{fd * hd / (fm * hm):15.2f}")
    if args.partner:
        partner_ratios(ensemble.model, args.nucleus, args.partner)
    if args.terms:
        terms(ensemble.model, table, args.nucleus)
    if strength is not None:
        strength_ratios(strength, args.strength, table, args.nucleus, args.compare.split(","))


if __name__ == "__main__":
    main()
