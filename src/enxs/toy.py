"""Synthetic inclusive cross sections with a known truth, for tests and demonstrations.

The truth is a smooth caricature of the measured spectra: a quasielastic Gaussian at the
free-nucleon elastic position ω_QE = E²(1−cos θ)/(M + E(1−cos θ)), with a width growing
with |q|, plus a Δ-resonance bump and a rising inelastic tail, all times S(E, θ). Each
dataset gets a true normalization λ_k drawn around 1 with spread Δλ_k, and every point
Gaussian noise of relative size ``noise``. All datasets measure the same (E, θ) settings on
shifted ω grids, so that their relative normalizations are identifiable, as for the
overlapping carbon experiments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from enxs import kinematics
from enxs.archive import with_kinematics
from enxs.nuclei import Nucleus

DELTA_MASS = 1.232  # GeV


def true_ratio(energy, theta, omega, strength: float = 1.0, shift: float = 0.0) -> np.ndarray:
    """y_true = σ_true / S(E, θ) of the toy model (dimensionless, ~1e-4 … 2e-2).

    ``strength`` scales the whole response, ``shift`` moves the quasielastic peak by a
    fraction of its width: two toy "nuclei" related by (strength, shift) share the shape.
    """
    energy, theta, omega = (np.asarray(a, float) for a in (energy, theta, omega))
    one_minus_c = 1 - np.cos(np.radians(theta))
    m = kinematics.NUCLEON_MASS
    omega_qe = energy**2 * one_minus_c / (m + energy * one_minus_c)
    q_qe = np.sqrt(2 * energy * (energy - omega_qe) * one_minus_c + omega_qe**2)
    width = 0.02 + 0.25 * q_qe
    omega_delta = omega_qe + (DELTA_MASS**2 - m**2) / (2 * m)
    qe = np.exp(-0.5 * ((omega - omega_qe - shift * width) / width) ** 2)
    delta = 0.4 * np.exp(-0.5 * ((omega - omega_delta) / (1.3 * width)) ** 2)
    tail = 0.3 / (1 + np.exp(-(omega - omega_delta - width) / (0.5 * width)))
    return strength * 0.01 * (qe + delta + tail) / (1 + q_qe)


def make_toy_table(
    seed: int,
    nucleus: str = "12C",
    n_datasets: int = 3,
    settings_per_dataset: int = 4,
    points_per_setting: int = 30,
    noise: float = 0.03,
    norm_unc: float = 0.03,
    strength: float = 1.0,
    shift: float = 0.0,
) -> pd.DataFrame:
    """A table in the :data:`enxs.archive.COLUMNS` schema plus ``sigma_true`` and ``lambda_true``.

    Dataset labels are ``Toy{k}:2026``; all randomness flows from ``seed``.
    """
    rng = np.random.default_rng(seed)
    nuc = Nucleus.parse(nucleus)
    settings = [(rng.uniform(0.3, 2.0), rng.uniform(20, 120)) for _ in range(settings_per_dataset)]
    rows = []
    for k in range(n_datasets):
        lam = 1 + norm_unc * rng.standard_normal()
        for energy, theta in settings:
            step = 0.85 * energy / points_per_setting
            omega = np.linspace(0.03, 0.85 * energy, points_per_setting) + step * k / n_datasets
            truth = true_ratio(energy, theta, omega, strength, shift) * kinematics.output_scale(energy, theta)
            err = noise * truth
            measured = lam * truth + err * rng.standard_normal(points_per_setting)
            for w, s, d, t in zip(omega, measured, err, truth, strict=True):
                rows.append((nuc.Z, nuc.A, energy, theta, w, s, d, np.nan, f"Toy{k}:2026", 0, t, lam))
    cols = ["Z", "A", "E", "theta", "omega", "sigma", "stat_err", "sys_err", "dataset", "line",
            "sigma_true", "lambda_true"]
    table = pd.DataFrame(rows, columns=cols)
    table["line"] = np.arange(1, len(table) + 1)
    table["file"] = f"toy-{nuc.name}.dat"
    truth = table[["sigma_true", "lambda_true"]]
    return pd.concat([with_kinematics(table, nuc.name), truth], axis=1)
