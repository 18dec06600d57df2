"""Kinematic coverage: where a model's training data constrain its predictions, and the flags
that say where they do not.

Cross sections (``Ensemble.predict``): a point is *inside* the model's coverage when some
training setting (E_k, θ_k) has |ln(E/E_k)| ≤ ``E_TOLERANCE_LOG`` and |θ − θ_k| ≤
``THETA_TOLERANCE_DEG``, and ω lies between the lowest ω measured in that setting and its
highest ω plus ``OMEGA_MARGIN_OF_E``·E. Below the lowest measured ω there is no margin: the
spectrum rises from zero there (elastic line, nuclear excitations, the onset of the
quasielastic peak), and a network that never saw it returns whatever its smooth continuation
gives. Points below the elastic line (``kinematics.omega_elastic``), where the true cross
section is zero, are always outside. Outside, the network extrapolates: the flag says so and
``predict`` warns. A model whose training data are unknown (imported from ONNX without data)
flags every point.

Responses (``responses.predict_responses``; the project's choice): a training setting
(E_k, θ_k) with measured ω range [ω_min, ω_max] *passes through* (q, ω) when
ω_min ≤ ω ≤ ω_max and its momentum transfer at that ω is within ``Q_TOLERANCE`` (relative)
of q. The point is covered when the settings passing through it have polarizations ε spread
by at least ``EPSILON_LEVER``: then data at several angles constrain R_L and R_T separately.
Elsewhere (one angle, or none) the split into R_L and R_T is the network's smooth
continuation, and the point is flagged. Points below the elastic line ω_el = √(q² + M_A²) − M_A
(:func:`elastic_omega`, the same line as ``kinematics.omega_elastic`` written in q) are always
flagged. For a model of several nuclei the settings of all its nuclei count, for every nucleus:
the split into R_L and R_T is learned jointly (one network; the nucleus enters through its
descriptors), so a nucleus with data at one angle only (16O) is separated where other nuclei
were measured at several. Neutrino cross sections (``enxs.neutrino``) take the responses' rule at
every (q, ω) they integrate over, and one of their own for what goes through the transverse
quasielastic scaling function (``modelscaling.QE_SHARE_MIN``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from enxs import kinematics, rosenbluth

E_TOLERANCE_LOG = 0.25
THETA_TOLERANCE_DEG = 10.0
OMEGA_MARGIN_OF_E = 0.10
Q_TOLERANCE = 0.10
EPSILON_LEVER = 0.2
#: Points per block of ``outside_coverage`` (memory and speed only).
POINT_BLOCK = 4096
#: Width of the ω bins [GeV] in which ``passing_pairs`` looks for a setting's points (speed only).
OMEGA_BIN = 0.01


def coverage_settings(table: pd.DataFrame) -> list[list[float]]:
    """Training settings [E, θ, ω_min, ω_max] (GeV, deg, GeV, GeV) for the manifest."""
    g = table.groupby(["E", "theta"]).omega.agg(["min", "max"]).reset_index()
    return g[["E", "theta", "min", "max"]].round(6).to_numpy().tolist()


def outside_coverage(energy, theta, omega, settings: list[list[float]] | None) -> np.ndarray:
    """True where no training setting covers the point (module docstring); True everywhere
    when the coverage is unknown (``settings`` None or empty). The points go through sorted by θ, in blocks of
    ``POINT_BLOCK``, each against the settings within reach of its θ: memory stays bounded for any number of
    points."""
    energy, theta, omega = (np.atleast_1d(np.asarray(a, float)) for a in (energy, theta, omega))
    outside = np.ones(len(energy), bool)
    if not settings:
        return outside
    s = np.asarray(settings, float)
    s = s[np.argsort(s[:, 1], kind="stable")]
    e_low, e_high = s[:, 0] * np.exp(-E_TOLERANCE_LOG), s[:, 0] * np.exp(E_TOLERANCE_LOG)
    order = np.argsort(theta, kind="stable")
    reach = THETA_TOLERANCE_DEG * (1 + 1e-9)  # a superset of the settings within the tolerance: the test is below
    for start in range(0, len(order), POINT_BLOCK):
        rows = order[start : start + POINT_BLOCK]
        e, t, w = energy[rows, None], theta[rows, None], omega[rows, None]
        k = slice(*np.searchsorted(s[:, 1], [t[0, 0] - reach, t[-1, 0] + reach], side="left"))
        near = ((e >= e_low[k]) & (e <= e_high[k]) & (np.abs(t - s[k, 1]) <= THETA_TOLERANCE_DEG)
                & (w >= s[k, 2]) & (w <= s[k, 3] + OMEGA_MARGIN_OF_E * e))
        outside[rows] = ~near.any(axis=1)
    return outside


def coverage_points(settings: list[list[float]], n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """n seeded random (E [GeV], θ [deg], ω [GeV]) inside the training coverage: a random
    training setting, E and θ within its tolerances, ω from its lowest measured ω to its
    highest plus the margin (module docstring)."""
    rng = np.random.default_rng(seed)
    s = np.asarray(settings, float)[rng.integers(0, len(settings), n)]
    energy = s[:, 0] * np.exp(rng.uniform(-E_TOLERANCE_LOG, E_TOLERANCE_LOG, n))
    theta = s[:, 1] + rng.uniform(-THETA_TOLERANCE_DEG, THETA_TOLERANCE_DEG, n)
    omega = rng.uniform(s[:, 2], s[:, 3] + OMEGA_MARGIN_OF_E * energy)
    return energy, theta, omega


def elastic_omega(q, mass_number) -> np.ndarray:
    """ω of elastic scattering off the whole nucleus at momentum transfer q: √(q² + M_A²) − M_A [GeV]."""
    mass = np.asarray(mass_number, float) * kinematics.ATOMIC_MASS_UNIT
    return np.sqrt(np.square(np.asarray(q, float)) + mass**2) - mass


def _runs(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of these lengths laid end to end: each element's run and its position in the run."""
    run = np.repeat(np.arange(len(lengths)), lengths)
    return run, np.arange(len(run)) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def passing_pairs(q, omega, settings) -> tuple[np.ndarray, np.ndarray]:
    """(n, k): each point n with each training setting k that passes through it (module docstring). The points are
    binned in ω (``OMEGA_BIN``) and sorted by q within a bin: in each bin a setting's ω range crosses, only the points
    whose q lies within ``Q_TOLERANCE`` of the setting's momentum transfer over the bin are looked at."""
    q, omega = np.atleast_1d(np.asarray(q, float)), np.atleast_1d(np.asarray(omega, float))
    if not settings or q.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    s = np.asarray(settings, float)
    energy, low, high = s[:, 0], s[:, 2], s[:, 3]
    slope = 2 * energy * (1 - np.cos(np.radians(s[:, 1])))  # a setting's q² = slope (E − ω) + ω², convex in ω
    top = np.minimum(high, energy)
    point_bin = np.floor(omega / OMEGA_BIN)
    order = np.lexsort((q, point_bin))
    scale = 2 * np.abs(q).max() + 1e-300  # q / scale in [0, 1/2]: the key's bin and q apart
    key = point_bin[order] + q[order] / scale
    first, last = np.floor(low / OMEGA_BIN), np.floor(top / OMEGA_BIN)
    counts = np.where(top >= low, last - first + 1, 0).astype(int)
    k, within = _runs(counts)  # (setting, bin) pairs
    b = first[k] + within
    w0, w1 = np.maximum(low[k], b * OMEGA_BIN), np.minimum(top[k], (b + 1) * OMEGA_BIN)

    def q_setting2(w):
        return slope[k] * (energy[k] - w) + w * w

    q_low = np.sqrt(np.clip(q_setting2(np.clip(slope[k] / 2, w0, w1)), 0, None)) / (1 + Q_TOLERANCE) * (1 - 1e-9)
    q_high = np.sqrt(np.maximum(q_setting2(w0), q_setting2(w1))) / (1 - Q_TOLERANCE) * (1 + 1e-9)
    start = np.searchsorted(key, b + np.minimum(q_low, scale * 0.75) / scale, side="left")
    stop = np.maximum(np.searchsorted(key, b + np.minimum(q_high, scale * 0.75) / scale, side="right"), start)
    pair, within = _runs(stop - start)
    n = order[start[pair] + within]
    k = k[pair]
    w = omega[n]
    q_at = kinematics.three_momentum_transfer(energy[k], s[k, 1], w)
    near = (w >= low[k]) & (w <= high[k]) & (w < energy[k]) & (np.abs(q_at / q[n] - 1) <= Q_TOLERANCE)
    return n[near], k[near]


def epsilon_spread(q, omega, settings, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Spread (max − min) of ε over the settings passing through each point (``pairs`` from
    ``passing_pairs``); 0 for fewer than two."""
    n, k = pairs
    hi, lo = np.full(np.size(q), -np.inf), np.full(np.size(q), np.inf)
    if len(n):
        eps = rosenbluth.epsilon(np.ravel(q)[n], np.ravel(omega)[n], np.asarray(settings, float)[k, 1])
        np.maximum.at(hi, n, eps)
        np.minimum.at(lo, n, eps)
    return np.where(hi > lo, hi - lo, 0.0)


def responses_unconstrained(q, omega, settings, mass_number) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """True where no training data at several angles constrain R_L and R_T at (q, ω) [GeV] (the
    ε spread of the settings passing through is below ``EPSILON_LEVER``), or below the elastic line of
    a nucleus of ``mass_number`` (module docstring); returns it with the passing pairs (``passing_pairs``)."""
    pairs = passing_pairs(q, omega, settings)
    lever = epsilon_spread(q, omega, settings, pairs)
    return (lever < EPSILON_LEVER) | (np.asarray(omega, float) < elastic_omega(q, mass_number)), pairs


def rule(responses: bool) -> str:
    """The coverage rule in words with its tolerances (module docstring), for files read without enxs."""
    if responses:
        return (f"(q, omega) is covered where the training settings passing through it (omega within a setting's "
                f"[omega_min, omega_max], the setting's q at that omega within {Q_TOLERANCE:.0%} of q) span a photon "
                f"polarization epsilon of at least {EPSILON_LEVER:g}, and omega lies above the elastic line "
                f"sqrt(q^2 + M_A^2) - M_A; elsewhere the split into R_L and R_T is the network's continuation")
    return (f"(E, theta, omega) is covered where some training setting [E_k, theta_k, omega_min, omega_max] has "
            f"|ln(E/E_k)| <= {E_TOLERANCE_LOG:g}, |theta - theta_k| <= {THETA_TOLERANCE_DEG:g} deg and omega_min <= "
            f"omega <= omega_max + {OMEGA_MARGIN_OF_E:g} E, and omega lies above the elastic line; elsewhere the "
            f"network extrapolates")
