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


def y_range(ax, mean, high, points: pd.DataFrame | None = None, error: np.ndarray | None = None,
            log: bool = False) -> None:
    """A y range that shows the whole model (its mean and 84% quantile) and every measured
    point with its error bar: linear from 0, or (``log``) logarithmic over what is drawn."""
    tops = [np.max(high[np.isfinite(high)], initial=0.0), np.max(mean[np.isfinite(mean)], initial=0.0)]
    if points is not None and len(points):
        tops.append(float(np.max(points.sigma + error)))
    top = max(tops)
    if log:
        values = np.concatenate([mean[mean > 0], [] if points is None else points.sigma[points.sigma > 0]])
        ax.set_yscale("log")
        ax.set_ylim(max(float(values.min()) / 2, top * 1e-8) if len(values) else None, 2 * top)
    else:
        ax.set_ylim(0, 1.1 * top)


def mark_extrapolation(ax, x, y, outside) -> dict:
    """Overlay the part of a prediction outside the training coverage (dotted, labelled)."""
    if not np.any(outside):
        return {}
    shown = np.where(outside, y, np.nan)
    (line,) = ax.plot(x, shown, ls=":", lw=2.2, color="crimson", label="outside training coverage")
    return {"extrapolated": line}


def legend(ax, fontsize: int = 8) -> None:
    """The axes' legend, each label once (the extrapolation mark of several curves shares one)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=fontsize)


def curve(ax, x, y, label: str, **style) -> dict:
    (line,) = ax.plot(x, y, label=label, **{"ls": "--", "lw": 1.2, "color": "0.35", **style})
    return {"line": line}


def data_points(ax, points: pd.DataFrame, error: np.ndarray, train_mask: np.ndarray | None = None) -> dict:
    """Measured σ vs ω with error bars, one marker per dataset (named in the legend): the
    model's training points filled, its test points open; without ``train_mask`` (a
    nucleus the model did not train on) every point open and labelled as not trained on."""
    drawn = {}
    markers = "osD^v<>ph*"
    for n, (dataset, rows) in enumerate(points.groupby("dataset", sort=True)):
        idx = points.index.get_indexer(rows.index)
        parts = ({"not trained on": np.ones(len(idx), bool)} if train_mask is None else
                 {"train": train_mask[idx], "test": ~train_mask[idx]})
        for part, m in parts.items():
            if not m.any():
                continue
            label = f"{dataset} ({part})"
            drawn[label] = ax.errorbar(rows.omega[m], rows.sigma[m], yerr=error[idx][m], fmt=markers[n % len(markers)],
                                       ms=3.8, lw=0.8, color=f"C{(n + 1) % 10}",
                                       mfc=f"C{(n + 1) % 10}" if part == "train" else "white", label=label, zorder=3)
    return drawn


def label_spectrum(ax, nucleus: str, energy: float, theta: float) -> None:
    ax.set_xlabel("ω [GeV]")
    ax.set_ylabel("d²σ/dΩdω [nb/sr/GeV]")
    ax.set_title(f"{nucleus}: E = {energy:g} GeV, θ = {theta:g}°", fontsize=10)
