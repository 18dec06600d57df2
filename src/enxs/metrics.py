"""Accuracy and calibration of an ensemble prediction against measured points.

Definitions (per dataset and in total):

- ``chi2_per_point``: [Σ_i ((σ_i − λ̂_k f̄_i)/Δσ_i)² + Σ_k ((1 − λ̂_k)/Δλ_k)²] / N, with f̄ the
  ensemble mean, Δσ = stat ⊕ point-to-point systematic, and λ̂_k profiled on these points
  (closed form). ``chi2_per_point_stat``: the same with statistical errors only — the
  definition of the published χ²/N = 5.1 for the peer carbon ensemble.
- ``median_abs_rel_dev``: median |f̄_i/σ_i − 1| (no normalization applied), as published;
  ``p90_abs_rel_dev`` its 90th percentile (the tail).
- pulls (σ_i − f̄_i)/√(s_i² + Δσ_i²) with s_i the ensemble spread: mean and width (std);
  ``coverage_1sigma`` is the fraction with |pull| ≤ 1 (68% for calibrated errors).
  No λ is applied: the spread already carries the normalization uncertainty (replicas).
"""

from __future__ import annotations

import numpy as np
import torch

from enxs.loss import chi2, lambda_sums, profile_lambda


def profiled_chi2(sigma, error, fit, codes, norm_unc) -> tuple[float, np.ndarray]:
    """(χ², λ̂ per dataset code) in float64: ``loss.chi2`` (times 2: it carries the ½ of a
    likelihood) at the λ_k of ``loss.profile_lambda``; every code in [0, D) must occur."""
    t = lambda a: torch.from_numpy(np.array(a, dtype=np.float64))  # noqa: E731  (a copy: pandas' may be read-only)
    codes = torch.from_numpy(np.array(codes, dtype=np.int64))
    sigma, error, fit, norm_unc = t(sigma), t(error), t(fit), t(norm_unc)
    lam = profile_lambda(*lambda_sums(sigma, error, fit, codes, len(norm_unc)), norm_unc)
    return 2 * float(chi2(sigma, error, fit, codes, lam, norm_unc)), lam.numpy()


def _summary(sigma, error, stat, fit, spread, codes, norm_unc) -> dict:
    out: dict = {"n": len(sigma)}
    for key, err in (("chi2_per_point", error), ("chi2_per_point_stat", stat)):
        total, lam = profiled_chi2(sigma, err, fit, codes, norm_unc)
        out[key] = total / len(sigma)
        if key == "chi2_per_point":
            out["lambda"] = lam
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(fit / sigma - 1)
    out["median_abs_rel_dev"] = float(np.median(rel[np.isfinite(rel)]))
    out["p90_abs_rel_dev"] = float(np.quantile(rel[np.isfinite(rel)], 0.9))
    pulls = (sigma - fit) / np.hypot(spread, error)
    out["pull_mean"] = float(pulls.mean())
    out["pull_width"] = float(pulls.std())
    out["coverage_1sigma"] = float(np.mean(np.abs(pulls) <= 1))
    return out


def evaluate(sigma, error, stat_error, mean, spread, datasets, norm_unc: dict[str, float]) -> dict:
    """Metrics in total and per dataset (see module docstring); arrays in nb/sr/GeV."""
    sigma, error, stat_error, mean, spread = (np.asarray(a, float) for a in (sigma, error, stat_error, mean, spread))
    datasets = np.asarray(datasets)
    labels = list(dict.fromkeys(datasets.tolist()))
    codes = np.array([labels.index(d) for d in datasets], dtype=int)
    unc = np.array([norm_unc[k] for k in labels])
    total = _summary(sigma, error, stat_error, mean, spread, codes, unc)
    lam = total.pop("lambda")
    total["lambda"] = {k: float(v) for k, v in zip(labels, lam, strict=True)}
    per = {}
    for i, label in enumerate(labels):
        m = codes == i
        part = _summary(sigma[m], error[m], stat_error[m], mean[m], spread[m], np.zeros(m.sum(), int), unc[i : i + 1])
        part["lambda"] = float(part["lambda"][0])
        per[label] = part
    total["datasets"] = per
    return total


#: Kinematic regions by Bjorken x and invariant mass W (GeV), in this order of precedence.
REGIONS = ("below QE peak", "QE peak", "dip", "Δ", "higher W")


def kinematic_region(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Region name per point: x > 1.25 below the quasielastic peak; 0.75 < x ≤ 1.25 the peak;
    then by W: < 1.15 GeV the dip, 1.15–1.35 GeV the Δ(1232), above that higher W."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    return np.select([x > 1.25, x > 0.75, w < 1.15, w < 1.35], list(REGIONS[:4]), REGIONS[4])


def median_by_region(sigma, mean, x, w) -> dict[str, dict]:
    """Median |mean/σ − 1| and point count per kinematic region."""
    region = kinematic_region(x, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(np.asarray(mean) / np.asarray(sigma) - 1)
    return {r: {"n": int((region == r).sum()), "median_abs_rel_dev": float(np.median(rel[region == r]))}
            for r in REGIONS if (region == r).any()}


def score_cell(t: dict | None) -> str:
    """One report cell: median |rel dev| · 90th percentile · χ²/N · 1σ coverage ("—" for none)."""
    if not t:
        return "—"
    return (f"{t['median_abs_rel_dev']:.1%} · {t['p90_abs_rel_dev']:.0%} · {t['chi2_per_point']:.1f} · "
            f"{t['coverage_1sigma']:.0%}")
