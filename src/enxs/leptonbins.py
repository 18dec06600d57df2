"""The lepton side of a neutrino measurement: the flavours and their charged leptons, points and bins in the
charged lepton's kinetic energy T or momentum p [GeV] and cos θ, checked, and the change of variable between
d²σ/dT dcos θ and d²σ/dp dcos θ.

T = √(p² + m_l²) − m_l, so dT/dp = p/E_l at a point, and the bin [p₁, p₂] is the bin [T(p₁), T(p₂)]: the
average of d²σ/dp dcos θ over it is exactly (T(p₂) − T(p₁))/(p₂ − p₁) times the average of d²σ/dT dcos θ
over the T bin. So a measurement binned in p (T2K, MicroBooNE) is computed as one binned in T.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from enxs.errors import EnxsError

#: The charged leptons' masses [GeV] (PDG 2024).
MUON_MASS = 0.105_658_375_5
ELECTRON_MASS = 0.000_510_998_95
#: flavour → (its charged lepton, the lepton's mass [GeV], +1 for ν (ν n → l⁻ p) or −1 for ν̄ (ν̄ p → l⁺ n)), in
#: the order of a flux table's columns after the two bin edges (MiniBooNE's published layout).
FLAVORS = {"numu": ("mu", MUON_MASS, 1), "numubar": ("mu", MUON_MASS, -1),
           "nue": ("e", ELECTRON_MASS, 1), "nuebar": ("e", ELECTRON_MASS, -1)}


class NeutrinoError(EnxsError):
    """A neutrino request that cannot be served: a lepton point or bin that cannot be (T or p below 0, |cos θ|
    above 1, a bin reaching beyond them), a model without responses, a flavour or nucleus it cannot take."""


def lepton_mass(flavor: str, option: str = "--flavor") -> float:
    """The mass [GeV] of a flavour's charged lepton (``FLAVORS``); for any other flavour a NeutrinoError naming
    ``option``."""
    if flavor not in FLAVORS:
        raise NeutrinoError(f"{option} {flavor!r}: choose one of {', '.join(FLAVORS)}")
    return FLAVORS[flavor][1]


def check_points(t_lepton, cos_theta, cell: tuple | None = None, rows: Sequence[str] | None = None,
                 energy: str = "T") -> None:
    """T (or p, ``energy``) ≥ 0 [GeV] and cos θ in [−1, 1], finite, and cells (ΔT, Δcos θ) ≥ 0 within T ≥ 0 and
    |cos θ| ≤ 1; the first value that is not, named by its option or, from a file, by its ``rows`` entry
    (FILE:LINE)."""
    d_t, d_c = cell if cell is not None else (np.zeros_like(t_lepton),) * 2
    for option, column, values, bad, rule in (
            ("--tmu", energy, t_lepton, ~((t_lepton >= 0) & np.isfinite(t_lepton)), f"{energy} must be finite and "
                                                                                     f"≥ 0 GeV"),
            ("--cos", "cos", cos_theta, ~(np.abs(cos_theta) <= 1), "cos θ must lie in [-1, 1]"),
            (f"Δ{energy}", f"d{energy}", d_t, ~((d_t >= 0) & (d_t <= 2 * t_lepton)),
             f"a cell's Δ{energy} must lie in [0, 2{energy}]: {energy} − Δ{energy}/2 ≥ 0"),
            ("Δcos θ", "dcos", d_c, ~((d_c >= 0) & (np.abs(cos_theta) + d_c / 2 <= 1 + 1e-9)),
             "a cell's Δcos θ must be ≥ 0 and keep cos θ ± Δcos θ/2 within [-1, 1]")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            rule += {f"d{energy}": f" ({energy} = {t_lepton[i]:g} GeV)",
                     "dcos": f" (cos θ = {cos_theta[i]:g})"}.get(column, "")
            raise NeutrinoError(f"{rows[i]}: {column} = {values[i]:g}: {rule}" if rows else
                                f"{option} {values[i]:g}: {rule}")


def from_momentum(p, d_p, lepton_mass: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(T, ΔT, dT/dp) [GeV, GeV, 1] of lepton momenta p [GeV] with bin widths Δp (None: points): a bin's T is
    the centre of [T(p − Δp/2), T(p + Δp/2)], its ΔT that interval's width and its Jacobian ΔT/Δp (p/E_l at a
    point or for Δp = 0)."""
    p = np.asarray(p, float)

    def kinetic(momentum):
        return np.sqrt(momentum * momentum + lepton_mass**2) - lepton_mass

    if d_p is None:
        return kinetic(p), None, p / (kinetic(p) + lepton_mass)
    low, high = kinetic(p - d_p / 2), kinetic(p + d_p / 2)
    jacobian = np.divide(high - low, d_p, out=p / (kinetic(p) + lepton_mass), where=d_p > 0)
    return (low + high) / 2, high - low, jacobian


def in_momentum(prediction, p, d_p, jacobian, lepton: str):
    """A neutrino prediction in T (``enxs.neutrino.NeutrinoPrediction``) as d²σ/dp dcos θ [cm²/GeV, per
    GeV/c] at the momenta p (bins Δp) it was computed for (``from_momentum``)."""
    points = prediction.points.drop(columns=[c for c in prediction.points.columns if c.startswith(("T_", "dT_"))])
    points.insert(0, f"p_{lepton}_GeV", p)
    if d_p is not None:
        points.insert(2, f"dp_{lepton}_GeV", d_p)
    meta = dict(prediction.metadata)
    meta["quantity"] = meta["quantity"].replace(f"d2sigma/dT_{lepton}/", f"d2sigma/dp_{lepton}/").replace(
        "[cm^2/GeV]", "[cm^2/(GeV/c)]").replace(f"(dT_{lepton}_GeV,", f"(dp_{lepton}_GeV,")
    return replace(prediction, points=points, members=prediction.members * np.asarray(jacobian)[None, :],
                   metadata=meta)
