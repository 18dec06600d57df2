"""A precomputed (E, θ, ω) grid of the ensemble mean and spread, for event generators that
need millions of evaluations.

Axes are uniform in ln E, θ and u = ω/E ∈ (0, 1), so a lookup is arithmetic, not a search;
ln σ̄ and the relative spread s/σ̄ are interpolated trilinearly (σ spans decades, and its
logarithm is smooth). In the far tails the float32 networks underflow to exactly 0; the
grid stores those nodes at ``FLOOR`` = 1e-30 nb/sr/GeV (zero for any generator) so that
the logarithm stays finite. Stored as ``.npz`` or ``.h5`` with the axes, units and provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enxs.kinematics import random_points
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import member_predictions, member_spread

FLOOR = 1e-30  # nb/sr/GeV


@dataclass
class Grid:
    """ln E [ln GeV], θ [deg] and u = ω/E axes (uniform); ln mean σ and relative spread values."""

    log_e: np.ndarray
    theta: np.ndarray
    u: np.ndarray
    log_mean: np.ndarray  # [nE, nθ, nu], ln(nb/sr/GeV)
    rel_std: np.ndarray  # [nE, nθ, nu], std/mean
    meta: dict[str, Any] = field(default_factory=dict)

    def __call__(self, energy, theta, omega) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) in nb/sr/GeV at E [GeV], θ [deg], ω [GeV]; NaN outside the grid."""
        energy, theta, omega = (np.asarray(a, float) for a in np.broadcast_arrays(energy, theta, omega))
        coords = [np.log(energy), theta, omega / energy]
        index, weight, inside = [], [], np.ones(energy.shape, bool)
        for axis, c in zip((self.log_e, self.theta, self.u), coords, strict=True):
            t = (c - axis[0]) / (axis[1] - axis[0])
            inside &= (t >= 0) & (t <= len(axis) - 1)
            i = np.clip(np.floor(t).astype(np.int64), 0, len(axis) - 2)
            index.append(i)
            weight.append(np.clip(t - i, 0.0, 1.0))
        log_mean = self._trilinear(self.log_mean, index, weight)
        rel = self._trilinear(self.rel_std, index, weight)
        mean = np.where(inside, np.exp(log_mean), np.nan)
        return mean, mean * rel

    @staticmethod
    def _trilinear(values: np.ndarray, index, weight) -> np.ndarray:
        (i, j, k), (a, b, c) = index, weight
        out = np.zeros(i.shape)
        for di, wi in ((0, 1 - a), (1, a)):
            for dj, wj in ((0, 1 - b), (1, b)):
                for dk, wk in ((0, 1 - c), (1, c)):
                    out += wi * wj * wk * values[i + di, j + dj, k + dk]
        return out

    def save(self, path: str | Path) -> None:
        save_arrays(path, {"log_e": self.log_e, "theta": self.theta, "u": self.u, "log_mean": self.log_mean,
                           "rel_std": self.rel_std}, self.meta)

    @classmethod
    def load(cls, path: str | Path) -> Grid:
        arrays, meta = load_arrays(path)
        return cls(*(arrays[k] for k in ("log_e", "theta", "u", "log_mean", "rel_std")), meta)


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Arrays and metadata as ``.npz`` (metadata one JSON string) or ``.h5`` (one JSON attribute per key)."""
    path = Path(path)
    if path.suffix == ".npz":
        np.savez_compressed(path, **arrays, meta=np.array(json.dumps(meta)))
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f.create_dataset(k, data=v, compression="gzip")
            for k, v in meta.items():
                f.attrs[k] = json.dumps(v)
    else:
        raise ValueError(f"{path}: grid files end in .npz or .h5")


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """What :func:`save_arrays` wrote."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return {k: f[k] for k in f.files if k != "meta"}, json.loads(str(f["meta"]))
    import h5py

    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}, {k: json.loads(v) for k, v in f.attrs.items()}


def build_responses(ensemble, nucleus: Nucleus, q=(0.1, 2.0), shape=(96, 200),
                    meta: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """R_L and R_T [GeV⁻¹] (mean, std, 16%, 84%) and the coverage flag on a rectangular grid
    q [GeV] × ω [GeV] (ω from q_min/100 to q_max, both uniform), for generators that tabulate
    responses; NaN where ω ≥ q (no electron scattering: Q² ≤ 0). Returns (arrays, metadata)."""
    from enxs.responses import predict_responses

    q_axis = np.linspace(q[0], q[1], shape[0])
    w_axis = np.linspace(q[0] / 100, q[1], shape[1])
    qq, ww = np.meshgrid(q_axis, w_axis, indexing="ij")
    physical = ww < qq
    result = predict_responses(ensemble, qq[physical], ww[physical], nucleus=nucleus)
    q16, q84 = result.quantiles()
    arrays: dict[str, np.ndarray] = {"q": q_axis, "omega": w_axis}
    for j, name in enumerate(("R_L", "R_T")):
        for stat, values in (("mean", result.mean), ("std", result.std), ("q16", q16), ("q84", q84)):
            full = np.full(shape, np.nan)
            full[physical] = values[:, j]
            arrays[f"{name}_{stat}"] = full
    outside = np.ones(shape, np.int8)
    outside[physical] = result.outside_coverage
    arrays["outside_coverage"] = outside
    meta = {**(meta or {}), "method": result.method,
            "units": "q, omega [GeV]; R_L, R_T [GeV^-1] per nucleus; arrays [q, omega]; NaN where omega >= q",
            "convention": "d2sigma/dOmega/domega = sigma_Mott (v_L R_L + v_T R_T), v_L = (Q^2/q^2)^2, "
                          "v_T = Q^2/(2 q^2) + tan^2(theta/2); no Coulomb correction"}
    return arrays, meta


def build(model: EnsembleNet, energy=(0.1, 6.0), theta=(5.0, 175.0), u=(0.002, 0.98),
          shape=(48, 69, 240), meta: dict[str, Any] | None = None, nucleus: Nucleus | None = None) -> Grid:
    """Evaluate the ensemble on the grid (E range in GeV, θ in degrees, u = ω/E) for
    ``nucleus`` (a model with nucleus inputs needs one)."""
    log_e = np.linspace(np.log(energy[0]), np.log(energy[1]), shape[0])
    th = np.linspace(theta[0], theta[1], shape[1])
    uu = np.linspace(u[0], u[1], shape[2])
    e3, t3, u3 = np.meshgrid(np.exp(log_e), th, uu, indexing="ij")
    sigma = member_predictions(model, e3.ravel(), t3.ravel(), (e3 * u3).ravel(), nucleus)
    mean = np.maximum(sigma.mean(0), FLOOR)
    std = member_spread(sigma)
    return Grid(log_e, th, uu, np.log(mean).reshape(shape), (std / mean).reshape(shape), dict(meta or {}))


def interpolation_error(grid: Grid, model: EnsembleNet, nucleus: Nucleus | None = None, n: int = 20000,
                        seed: int = 0) -> dict[str, float]:
    """|grid/network − 1| of the mean on random points inside the grid, against the spread."""
    energy, theta, omega = random_points(n, seed, np.exp(grid.log_e[[0, -1]]), grid.theta[[0, -1]], grid.u[[0, -1]],
                                         log_energy=True)
    sigma = member_predictions(model, energy, theta, omega, nucleus)
    net_mean = np.maximum(sigma.mean(0), FLOOR)
    rel = np.abs(grid(energy, theta, omega)[0] / net_mean - 1)
    spread = member_spread(sigma) / net_mean
    return {"points": n, "median_rel_error": float(np.median(rel)), "p95_rel_error": float(np.quantile(rel, 0.95)),
            "max_rel_error": float(rel.max()), "median_rel_spread": float(np.median(spread)),
            "share_below_tenth_of_spread": float(np.mean(rel < 0.1 * spread))}
