"""Precomputed grids for event generators that need millions of evaluations: the ensemble
mean and spread of σ on an (E, θ, ω) grid, and R_L, R_T on a (q, ω) grid.

The σ grid (the recipe, also written into every file):

- axes uniform in ln E, θ and a variable v ∈ [0, 1] along ω that follows the physics:
  t(ω) = asinh((ω − ω_QE)/Γ), v = (t(ω) − t(ω_lo))/(t(ω_hi) − t(ω_lo)), with the free-nucleon
  quasielastic line ω_QE = 2E² s²/(M + 2E s²) (s = sin(θ/2), M the nucleon mass), the width
  Γ = k q_QE/M + Γ₀ (k = 0.25 GeV, Γ₀ = 0.01 GeV, q_QE = √(2Mω_QE + ω_QE²)), from ω_lo, the
  nucleus' elastic line (``kinematics.omega_elastic``), to ω_hi = 0.98 E. Nodes crowd where σ
  changes fastest, around the quasielastic peak, at every (E, θ), so a uniform grid in
  (ln E, θ, v) tracks the peak as it moves;
- values (stored as float32) ln(σ̄/σ_Mott) (σ_Mott in nb/sr, ``rosenbluth.mott``: dividing out the Mott factor
  removes the steep angular fall-off) and the relative spread s/σ̄, both interpolated
  tricubically in (ln E, θ, v) (Catmull–Rom on each axis, :func:`catmull_rom`). In the far tails the
  float32 networks underflow to 0: those nodes hold σ̄ = ``FLOOR`` = 1e-30 nb/sr/GeV (zero for any generator).

Below the elastic line σ = 0 exactly (no final state); outside the E, θ box and above ω_hi the
grid returns NaN: it never extrapolates. Stored as ``.h5`` (attributes: plain strings and
numbers) or ``.npz`` (one JSON string ``meta``), with axes, units, the recipe and the
measured interpolation error (:func:`interpolation_error`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enxs import kinematics
from enxs.coverage import coverage_points, outside_coverage
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, member_predictions, member_spread
from enxs.rosenbluth import mott

FLOOR = 1e-30  # nb/sr/GeV
#: The whole-grid error is also stated where σ̄ is at least this share of its spectrum's peak (where a generator draws
#: events): below it lie the float32 tails and the steep low-q corner, where σ falls by decades between nodes.
SIGNIFICANT_SHARE = 1e-6
LOOKUP_CHUNK = 16384  # points per lookup pass: the 64 gathers' temporaries stay in cache
K_WIDTH, WIDTH_0, U_MAX = 0.25, 0.01, 0.98  # GeV, GeV, ω_hi/E
RECIPE = ("axes: log_e = ln(E/GeV), theta [deg], v in [0, 1], each uniform; v(E, theta, omega) = (t(omega) - t(w_lo)) "
          "/ (t(w_hi) - t(w_lo)), t(w) = asinh((w - w_qe)/G), w_qe = 2 E^2 s^2/(M + 2 E s^2), s = sin(theta/2), "
          "M = 0.93891875 GeV, G = 0.25 GeV * q_qe/M + 0.01 GeV, q_qe = sqrt(2 M w_qe + w_qe^2), w_lo = E - E/(1 + "
          "2 E/M_A s^2) (elastic line, M_A = A * 0.9314941 GeV), w_hi = 0.98 E; interpolate log_ratio = "
          "ln(mean/sigma_Mott) and rel_std = std/mean tricubically in (log_e, theta, v): on each axis x with nodes "
          "x_0 + j h (j = 0..n-1), t = (x - x_0)/h, i = min(max(floor(t), 0), n - 2), f = min(max(t - i, 0), 1), the "
          "nodes i-1, i, i+1, i+2 (each clamped to 0..n-1) with the Catmull-Rom weights (-f^3/2 + f^2 - f/2, "
          "3f^3/2 - 5f^2/2 + 1, -3f^3/2 + 2f^2 + f/2, f^3/2 - f^2/2) (Keys 1981, a = -1/2), the 4 x 4 x 4 products "
          "of the three axes' weights times the node values summed; rel_std below 0 is 0; mean = sigma_Mott * "
          "exp(log_ratio), std = mean * rel_std, sigma_Mott = 0.3893793721e6 nb GeV^2 * alpha^2 cos^2(theta/2) / "
          "(4 E^2 sin^4(theta/2)), alpha = 1/137.035999084 [nb/sr]; 0 below w_lo (v < 0), NaN outside the log_e "
          "and theta axes or above the last v node")


def catmull_rom(t: np.ndarray) -> list[np.ndarray]:
    """Weights of the nodes i−1, i, i+1, i+2 at a fraction t ∈ [0, 1] past node i: the cubic
    convolution of Keys (IEEE Trans. ASSP 29, 1153 (1981)) with a = −1/2 (Catmull–Rom), exact
    for quadratics; at the grid's edges the outer node is repeated."""
    t2, t3 = t * t, t * t * t
    return [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1, -1.5 * t3 + 2 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2]


def omega_range(energy, theta, mass_number) -> tuple[np.ndarray, np.ndarray]:
    """(ω_lo, ω_hi) in GeV: the nucleus' elastic line and 0.98 E."""
    return kinematics.omega_elastic(energy, theta, mass_number), U_MAX * np.asarray(energy, float)


def _omega_map(energy, theta, mass_number) -> tuple[np.ndarray, ...]:
    """(ω_QE, Γ, t_lo, t_hi): the free-nucleon quasielastic line and the width the grid resolves
    (GeV), and t = asinh((ω − ω_QE)/Γ) at the ends of the ω range (module docstring)."""
    energy = np.asarray(energy, float)
    s2 = np.sin(np.radians(np.asarray(theta, float)) / 2) ** 2
    m = kinematics.NUCLEON_MASS
    w_qe = 2 * energy**2 * s2 / (m + 2 * energy * s2)
    width = K_WIDTH * np.sqrt(2 * m * w_qe + w_qe**2) / m + WIDTH_0
    lo, hi = omega_range(energy, theta, mass_number)
    return w_qe, width, np.arcsinh((lo - w_qe) / width), np.arcsinh((hi - w_qe) / width)


def to_v(energy, theta, omega, mass_number) -> np.ndarray:
    """The grid's ω variable v ∈ [0, 1] (module docstring) at E [GeV], θ [deg], ω [GeV]."""
    w_qe, width, t_lo, t_hi = _omega_map(energy, theta, mass_number)
    return (np.arcsinh((np.asarray(omega, float) - w_qe) / width) - t_lo) / (t_hi - t_lo)


def from_v(energy, theta, v, mass_number) -> np.ndarray:
    """ω [GeV] at v (the inverse of :func:`to_v`)."""
    w_qe, width, t_lo, t_hi = _omega_map(energy, theta, mass_number)
    return w_qe + width * np.sinh(t_lo + np.asarray(v, float) * (t_hi - t_lo))


@dataclass
class Grid:
    """Axes ln E [ln GeV], θ [deg] and v (uniform, module docstring), the nucleus' mass number
    (its elastic line bounds v), and the values ln(σ̄/σ_Mott) and s/σ̄ on the nodes."""

    log_e: np.ndarray
    theta: np.ndarray
    v: np.ndarray
    log_ratio: np.ndarray  # [nE, nθ, nv] float32, ln(mean / σ_Mott), σ_Mott in nb/sr
    rel_std: np.ndarray  # [nE, nθ, nv] float32, std/mean
    mass_number: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __call__(self, energy, theta, omega) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) in nb/sr/GeV at E [GeV], θ [deg], ω [GeV] (broadcast): 0 below the
        elastic line, NaN outside the grid. Points go through in cache-sized chunks."""
        energy, theta, omega = (np.asarray(a, float) for a in np.broadcast_arrays(energy, theta, omega))
        flat = [a.ravel() for a in (energy, theta, omega)]
        mean, std = np.empty(energy.size), np.empty(energy.size)
        for start in range(0, energy.size, LOOKUP_CHUNK):
            part = slice(start, start + LOOKUP_CHUNK)
            mean[part], std[part] = self._lookup(*(a[part] for a in flat))
        return mean.reshape(energy.shape), std.reshape(energy.shape)

    def _lookup(self, energy, theta, omega) -> tuple[np.ndarray, np.ndarray]:
        v = to_v(energy, theta, omega, self.mass_number)
        index, weight, inside = [], [], np.ones(energy.shape, bool)
        for axis, c in zip((self.log_e, self.theta, self.v), (np.log(energy), theta, v), strict=True):
            t = (c - axis[0]) / (axis[1] - axis[0])
            inside &= (t <= len(axis) - 1) & ((t >= 0) | (axis is self.v))  # below v = 0: the elastic line
            i = np.clip(np.floor(t).astype(np.int64), 0, len(axis) - 2)
            index.append([np.clip(i + d, 0, len(axis) - 1) for d in (-1, 0, 1, 2)])
            weight.append(catmull_rom(np.clip(t - i, 0.0, 1.0)))
        log_ratio = self._tricubic(self.log_ratio, index, weight)
        rel = np.maximum(self._tricubic(self.rel_std, index, weight), 0.0)
        mean = np.where(inside, mott(energy, theta) * np.exp(log_ratio), np.nan)
        mean = np.where(inside & (v < 0), 0.0, mean)
        return mean, mean * rel

    @staticmethod
    def _tricubic(values: np.ndarray, index, weight) -> np.ndarray:
        (i, j, k), (a, b, c) = index, weight
        out = np.zeros(a[0].shape)
        for ii, wi in zip(i, a, strict=True):
            for jj, wj in zip(j, b, strict=True):
                wij = wi * wj
                for kk, wk in zip(k, c, strict=True):
                    out += wij * wk * values[ii, jj, kk]
        return out

    def save(self, path: str | Path) -> None:
        save_arrays(path, {"log_e": self.log_e, "theta": self.theta, "v": self.v, "log_ratio": self.log_ratio,
                           "rel_std": self.rel_std},
                    {**self.meta, "mass_number": self.mass_number})

    @classmethod
    def load(cls, path: str | Path) -> Grid:
        arrays, meta = load_arrays(path)
        return cls(*(arrays[k].astype(float) for k in ("log_e", "theta", "v")),
                   *(arrays[k].astype(np.float32) for k in ("log_ratio", "rel_std")),
                   int(meta["mass_number"]), meta)


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Arrays and metadata as ``.npz`` (metadata one JSON string) or ``.h5`` (one attribute per
    key: strings and numbers as they are, lists and tables as JSON text)."""
    path = Path(path)
    if path.suffix == ".npz":
        np.savez_compressed(path, **arrays, meta=np.array(json.dumps(meta)))
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f.create_dataset(k, data=v, compression="gzip")
            for k, v in meta.items():
                f.attrs[k] = v if isinstance(v, str | int | float | bool) else json.dumps(v)
    else:
        raise ValueError(f"{path}: grid files end in .npz or .h5")


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """What :func:`save_arrays` wrote."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return {k: f[k] for k in f.files if k != "meta"}, json.loads(str(f["meta"]))
    import h5py

    def value(v):
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, str) and v[:1] in "[{":
            return json.loads(v)
        return v.item() if isinstance(v, np.generic) else v

    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}, {k: value(v) for k, v in f.attrs.items()}


def build_responses(ensemble, nucleus: Nucleus, q=(0.1, 2.0), shape=(96, 200),
                    meta: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """R_L and R_T [GeV⁻¹] (mean, std, 16%, 84%) and the coverage flag on a rectangular grid
    q [GeV] × ω [GeV] (ω from q_min/100 to q_max, both uniform), for generators that tabulate
    responses; NaN where ω ≥ q (no electron scattering: Q² ≤ 0). Returns (arrays, metadata)."""
    from enxs.responses import TRANSVERSE_QE_NOTE, predict_responses

    q_axis = np.linspace(q[0], q[1], shape[0])
    w_axis = np.linspace(q[0] / 100, q[1], shape[1])
    qq, ww = np.meshgrid(q_axis, w_axis, indexing="ij")
    physical = ww < qq
    result = predict_responses(ensemble, qq[physical], ww[physical], nucleus=nucleus)
    arrays: dict[str, np.ndarray] = {"q": q_axis, "omega": w_axis}
    for name, band in result.bands().items():  # R_L, R_T (and a structured model's R_T_QE)
        for stat, values in band.items():
            full = np.full(shape, np.nan)
            full[physical] = values
            arrays[f"{name}_{stat}"] = full
    outside = np.ones(shape, np.int8)
    outside[physical] = result.outside_coverage
    arrays["outside_coverage"] = outside
    meta = {**(meta or {}), "method": result.method,
            "units": "q, omega [GeV]; R_L, R_T (R_T_QE) [GeV^-1] per nucleus; arrays [q, omega]; NaN where omega >= q",
            **({"R_T_QE": TRANSVERSE_QE_NOTE} if result.transverse_qe is not None else {}),
            "convention": "d2sigma/dOmega/domega = sigma_Mott (v_L R_L + v_T R_T), v_L = (Q^2/q^2)^2, "
                          "v_T = Q^2/(2 q^2) + tan^2(theta/2); no Coulomb correction"}
    return arrays, meta


def build(ensemble: Ensemble, nucleus: Nucleus, energy=(0.1, 6.0), theta=(5.0, 175.0),
          shape=(128, 138, 160), meta: dict[str, Any] | None = None,
          on_energy: Callable[[int, int], None] | None = None) -> Grid:
    """Evaluate the ensemble for ``nucleus`` on the grid (E range in GeV, θ in degrees, the
    module docstring's v), one energy node at a time so that memory stays bounded; ``on_energy``
    (nodes done, nodes) after each."""
    log_e = np.linspace(np.log(energy[0]), np.log(energy[1]), shape[0])
    th = np.linspace(theta[0], theta[1], shape[1])
    v = np.linspace(0.0, 1.0, shape[2])
    log_ratio, rel_std = np.empty(shape, np.float32), np.empty(shape, np.float32)  # float32: half the cache misses
    t2, v2 = np.meshgrid(th, v, indexing="ij")
    for i, e in enumerate(np.exp(log_e)):
        e2 = np.full(t2.shape, e)
        sigma = member_predictions(ensemble.model, e2.ravel(), t2.ravel(), from_v(e2, t2, v2, nucleus.A).ravel(),
                                   nucleus)
        mean = np.maximum(sigma.mean(0), FLOOR)
        log_ratio[i] = np.log(mean / mott(e2, t2).ravel()).reshape(t2.shape)
        rel_std[i] = (member_spread(sigma) / mean).reshape(t2.shape)
        if on_energy is not None:
            on_energy(i + 1, shape[0])
    axes = {"log_e": "ln(E/GeV), uniform", "theta": "scattering angle [deg], uniform",
            "v": "omega variable in [0, 1], uniform (see interpolation)"}
    return Grid(log_e, th, v, log_ratio, rel_std, nucleus.A,
                {**(meta or {}), "units": "E [GeV], theta [deg], omega [GeV]; mean and std d2sigma/dOmega/domega "
                 "[nb/sr/GeV]; sigma_Mott [nb/sr]; arrays log_ratio, rel_std indexed [log_e, theta, v]",
                 "axes": axes, "interpolation": RECIPE})


def _errors(grid: Grid, ensemble: Ensemble, nucleus: Nucleus, energy, theta, omega,
            significant=None) -> dict[str, float]:
    """|grid/network − 1| of the mean at the points: median, 95th percentile, maximum, and with ``significant``
    [nb/sr/GeV] (one per point) the maximum and count where the network's σ̄ reaches it."""
    sigma = member_predictions(ensemble.model, energy, theta, omega, nucleus)
    net_mean = np.maximum(sigma.mean(0), FLOOR)
    rel = np.abs(grid(energy, theta, omega)[0] / net_mean - 1)
    spread = member_spread(sigma) / net_mean
    out = {"points": len(rel), "median": float(np.median(rel)), "p95": float(np.quantile(rel, 0.95)),
           "max": float(rel.max()), "median_spread": float(np.median(spread)),
           "share_below_tenth_of_spread": float(np.mean(rel < 0.1 * spread))}
    if significant is not None:
        seen = net_mean >= significant
        out |= {"max_significant": float(rel[seen].max(initial=0.0)), "significant_points": int(seen.sum())}
    return out


def interpolation_error(grid: Grid, ensemble: Ensemble, nucleus: Nucleus, n: int = 20000,
                        seed: int = 0) -> dict[str, Any]:
    """|grid/network − 1| of the mean on seeded random points off the nodes, as attributes a
    reader finds by name: ``interpolation_error_{median,p95,max}`` inside the training
    coverage (where the model is meant to be used; absent when the coverage is unknown), and
    ``whole_domain_interpolation_error_{median,p95,max}`` over the whole grid above the elastic
    line; each with its number of points and the ensemble's own median spread beside it, and the whole grid's
    maximum where σ̄ ≥ ``SIGNIFICANT_SHARE`` × the peak of its spectrum (the largest node value at the nearest
    (E, θ) node), ``whole_domain_interpolation_error_max_significant``."""
    out: dict[str, Any] = {}
    settings = ensemble.training_settings(nucleus)
    e_box, t_box = np.exp(grid.log_e[[0, -1]]), grid.theta[[0, -1]]
    if settings:
        e, t, w = coverage_points(settings, 4 * n, seed)
        keep = ((e >= e_box[0]) & (e <= e_box[1]) & (t >= t_box[0]) & (t <= t_box[1]) & (w < U_MAX * e)
                & ~outside_coverage(e, t, w, settings) & (w > omega_range(e, t, grid.mass_number)[0]))
        e, t, w = e[keep][:n], t[keep][:n], w[keep][:n]
        if len(e):
            err = _errors(grid, ensemble, nucleus, e, t, w)
            out |= {f"interpolation_error_{k}": err[k] for k in ("p95", "max", "median")}
            out |= {"interpolation_error_points": err["points"], "interpolation_error_region":
                    "random points inside the training coverage (enxs predict's outside_coverage = 0) and the grid",
                    "ensemble_spread_median": err["median_spread"],
                    "interpolation_error_share_below_tenth_of_spread": err["share_below_tenth_of_spread"]}
    rng = np.random.default_rng(seed + 1)
    e = np.exp(rng.uniform(grid.log_e[0], grid.log_e[-1], n))
    t = rng.uniform(t_box[0], t_box[1], n)
    lo, hi = omega_range(e, t, grid.mass_number)
    w = lo + rng.uniform(1e-6, 1, n) * (hi - lo)  # uniform in ω: the grid's own v would favour its nodes' region
    nearest = [np.abs(c[:, None] - axis).argmin(1) for c, axis in ((np.log(e), grid.log_e), (t, grid.theta))]
    peak = mott(e, t) * np.exp(grid.log_ratio[nearest[0], nearest[1]].max(1))
    err = _errors(grid, ensemble, nucleus, e, t, w, significant=SIGNIFICANT_SHARE * peak)
    out |= {f"whole_domain_interpolation_error_{k}": err[k] for k in ("p95", "max", "median", "max_significant")}
    out |= {"whole_domain_interpolation_error_points": err["points"],
            "whole_domain_interpolation_error_significant_points": err["significant_points"],
            "whole_domain_ensemble_spread_median": err["median_spread"]}
    return out
