"""Matplotlib drawing of cross sections: functions take an ``ax``, draw, return what they
drew, and never call ``show()`` (the caller saves the figure)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def band(ax, x, mean, low, high, label: str, color: str | None = None) -> dict:
    """Mean line and a band from ``low`` to ``high`` (the members' 16% and 84% quantiles:
    never below zero, unlike mean ± std where the spread exceeds the mean)."""
    (line,) = ax.plot(x, mean, color=color, label=label, lw=1.6)
    fill = ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, lw=0)
    return {"line": line, "band": fill}


def fit_to_data(ax, x, mean, points: pd.DataFrame, error: np.ndarray) -> None:
    """Linear y range that keeps the measured points readable: up to the data's highest
    point (σ + Δσ) and the prediction within the data's ω range, plus 25%; an
    extrapolated band outside that range is clipped rather than squashing the data."""
    inside = (x >= points.omega.min()) & (x <= points.omega.max())
    top = max(float(np.max(points.sigma + error)), float(np.max(mean[inside], initial=0.0)))
    ax.set_ylim(0, 1.25 * top)


def mark_extrapolation(ax, x, y, outside) -> dict:
    """Overlay the part of a prediction outside the training coverage (dotted, labelled)."""
    if not np.any(outside):
        return {}
    shown = np.where(outside, y, np.nan)
    (line,) = ax.plot(x, shown, ls=":", lw=2.2, color="crimson", label="outside training coverage")
    return {"extrapolated": line}


def curve(ax, x, y, label: str, **style) -> dict:
    (line,) = ax.plot(x, y, label=label, **{"ls": "--", "lw": 1.2, "color": "0.35", **style})
    return {"line": line}


def data_points(ax, points: pd.DataFrame, error: np.ndarray, train_mask: np.ndarray | None = None) -> dict:
    """Measured σ vs ω with error bars; training points filled, others open."""
    drawn = {}
    masks = {"data": np.ones(len(points), bool)} if train_mask is None else {
        "training points": train_mask, "test points": ~train_mask}
    for label, m in masks.items():
        if not m.any():
            continue
        filled = label != "test points"
        drawn[label] = ax.errorbar(points.omega[m], points.sigma[m], yerr=error[m], fmt="o", ms=3.5, lw=0.8,
                                   color="k", mfc="k" if filled else "white", label=label, zorder=3)
    return drawn


def label_spectrum(ax, nucleus: str, energy: float, theta: float) -> None:
    ax.set_xlabel("ω [GeV]")
    ax.set_ylabel("d²σ/dΩdω [nb/sr/GeV]")
    ax.set_title(f"{nucleus}: E = {energy:g} GeV, θ = {theta:g}°", fontsize=10)
    ax.set_ylim(bottom=0)
