"""Where the two carbon models part: the σ network of carbon alone and the structured model of all nuclei, side by side
at one (E, θ) beyond the archive, with each one's band and a zero-shot nucleus' band from the structured model.

Per ω: the ratio of the members' means (σ network / structured; carbon both, so per nucleon alike) and each band
(std/mean over the members); then the ranges of the ratio and of the bands at the quasielastic peak (|ψ′| < 0.5,
carbon's k_F and E_s) and beyond the Fermi gas's edge (ψ′ > 1: the dip and the Δ, up to ``--omega-max``). The default
kinematics are those of JLab's carbon, argon and titanium spectra (Dai et al. 2018–2019, not in the archive).
Used for "Where the two carbon models part" in docs/method.md.

    python scripts/carbon_models.py [--energy 2.222 --theta 15.541] [--sigma enxs-12C-fast]
                                    [--structured enxs-any-fast] [--zero-shot 40Ar] [--every 3]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import enxs
from enxs.descriptors import describe, psi_prime
from enxs.errors import EnxsError
from enxs.predict import Ensemble


def band(prediction) -> np.ndarray:
    """The relative band, std/mean over the members."""
    return prediction.std / prediction.mean


def spread(values: np.ndarray) -> str:
    return f"{values.min():.2f}–{values.max():.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--energy", type=float, default=2.222, help="beam energy [GeV]")
    parser.add_argument("--theta", type=float, default=15.541, help="scattering angle [deg]")
    parser.add_argument("--omega-max", type=float, default=0.70, help="the highest ω [GeV]")
    parser.add_argument("--sigma", default="enxs-12C-fast", help="carbon's σ network (name or directory)")
    parser.add_argument("--structured", default="enxs-any-fast", help="the structured model of all nuclei")
    parser.add_argument("--zero-shot", default="40Ar", help="a nucleus the structured model was not trained on")
    parser.add_argument("--every", type=int, default=3, help="print every n-th ω (10 MeV apart)")
    args = parser.parse_args()
    if args.every < 1:
        parser.error(f"--every {args.every}: at least 1")
    if not 0 < args.omega_max < args.energy:
        parser.error(f"--omega-max {args.omega_max}: between 0 and --energy {args.energy} GeV")
    try:
        other = enxs.Nucleus.parse(args.zero_shot)
    except EnxsError as exc:
        parser.error(f"--zero-shot {args.zero_shot}: {exc}")
    models, carbon = {}, enxs.Nucleus.parse("12C")
    for option, name, nuclei in (("--sigma", args.sigma, [carbon]), ("--structured", args.structured, [carbon, other])):
        try:
            models[option] = Ensemble.load(name)
        except EnxsError as exc:
            parser.error(f"{option} {name}: {exc}")
        if option == "--structured" and not models[option].model.is_structured:
            parser.error(f"--structured {name}: not a structured model")
        try:
            for nucleus in nuclei:
                models[option].target(nucleus)  # a model that cannot predict it is refused here
        except EnxsError as exc:
            parser.error(f"{option} {name}: {exc}")
    omega = np.round(np.arange(0.02, args.omega_max + 1e-9, 0.01), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zero-shot nucleus and the points beyond the archive are flagged
        sigma = models["--sigma"].predict(args.energy, args.theta, omega, nucleus=carbon)
        structured = models["--structured"].predict(args.energy, args.theta, omega, nucleus=carbon)
        zero_shot = models["--structured"].predict(args.energy, args.theta, omega, nucleus=other)
    ratio = sigma.mean / structured.mean
    bands = {name: band(p) for name, p in
             (("sigma network", sigma), ("structured", structured), (other.name, zero_shot))}
    print(f"E = {args.energy} GeV, theta = {args.theta} deg; carbon: {args.sigma} / {args.structured}")
    print("omega_GeV  ratio  band_sigma  band_structured  band_" + other.name)
    for i in range(0, len(omega), args.every):
        print(f"{omega[i]:9.2f}  {ratio[i]:5.2f}  {bands['sigma network'][i]:10.1%}  {bands['structured'][i]:15.1%}  "
              f"{bands[other.name][i]:.1%}")
    fermi = describe(carbon)
    psi = psi_prime(args.energy, args.theta, omega, fermi.k_fermi, fermi.e_shift)
    for label, where in (("quasielastic peak |psi'| < 0.5", np.abs(psi) < 0.5), ("psi' > 1", psi > 1)):
        if not where.any():
            print(f"{label}: no omega up to --omega-max {args.omega_max} GeV")
            continue
        print(f"{label}, omega = {omega[where].min():.2f}–{omega[where].max():.2f} GeV: ratio {spread(ratio[where])}; "
              "bands: " + ", ".join(f"{name} {spread(100 * b[where])}%" for name, b in bands.items()))


if __name__ == "__main__":
    main()
