"""Kinematics of inclusive electron scattering A(e, e')X, vectorized over numpy arrays.

Conventions: beam energy E and energy transfer ω in GeV, scattering angle θ in degrees,
electron mass neglected (ultra-relativistic electrons, E ≫ mₑ).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from enxs.errors import EnxsError

if TYPE_CHECKING:
    import torch

#: Fine-structure constant as used by the published carbon ensemble and NuWro (1/137, not
#: CODATA's 1/137.036): S(E, θ) must match theirs bit for bit for interoperability.
ALPHA = 1.0 / 137.0
#: Average nucleon mass (m_p + m_n)/2 in GeV (PDG 2024), used for x and W.
NUCLEON_MASS = 0.938_918_75


#: Atomic mass unit in GeV (CODATA 2018); M_A ≈ A·u for the elastic line (binding and
#: electron masses shift it by < 1%).
ATOMIC_MASS_UNIT = 0.931_494_10


def omega_elastic(energy, theta, mass_number) -> np.ndarray:
    """Energy transfer of elastic scattering off the whole nucleus, ω_el = E − E′_el in GeV,
    E′_el = E / (1 + (2E/M_A) sin²(θ/2)), M_A = A·u (≈ Q²/2M_A).

    No inclusive cross section exists below it: the lowest final state is the recoiling
    nucleus in its ground state.
    """
    energy, theta = np.asarray(energy, float), np.asarray(theta, float)
    mass = np.asarray(mass_number, float) * ATOMIC_MASS_UNIT
    return energy - energy / (1.0 + 2.0 * energy / mass * np.sin(np.radians(theta) / 2) ** 2)


class KinematicsError(EnxsError):
    """Kinematics outside the physical region (0 < ω < E, 0° < θ < 180°)."""


def as_points(**values) -> list[np.ndarray]:
    """The named values (scalars or arrays) as float arrays broadcast to one shape, in order; a
    :class:`KinematicsError` naming them when one is not numbers, they do not broadcast, or there is no point."""
    arrays = []
    for name, value in values.items():
        try:
            arrays.append(np.asarray(value, float))
        except (TypeError, ValueError):
            raise KinematicsError(f"{name}: not numbers ({value!r:.60})") from None
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in zip(values, arrays, strict=True))
        raise KinematicsError(f"{shapes}: these shapes do not broadcast to one") from None
    if arrays[0].size == 0:
        raise KinematicsError(f"no points: {', '.join(values)} hold no value")
    return arrays


#: The least scattered-electron energy E′ = E − ω as a share of E: the networks take E and ω in float32
#: (7 digits), so that E′ below it is not resolved (0 at ω within 6e-8 of E).
LEAST_OUTGOING_SHARE = 1e-6


def check_kinematics(energy, theta, omega, *, where: str = "input", rows=None) -> None:
    """Raise :class:`KinematicsError` naming the first impossible point: ``rows[i]`` names point i
    where given (e.g. ``FILE:LINE``), else ``where`` and its ordinal.

    Physical region: E > 0, 0 < ω < E (GeV) and 0 < θ < 180 (degrees); E′ = E − ω ≥ ``LEAST_OUTGOING_SHARE`` E.
    """
    energy, theta, omega = np.broadcast_arrays(
        np.asarray(energy, float), np.asarray(theta, float), np.asarray(omega, float)
    )
    tests = [
        (~np.isfinite(energy) | ~np.isfinite(theta) | ~np.isfinite(omega), "non-finite value"),
        (energy <= 0, "beam energy E must be > 0 GeV"),
        (omega <= 0, "energy transfer ω must be > 0 GeV"),
        (omega >= energy, "energy transfer ω must be < beam energy E"),
        (energy - omega < LEAST_OUTGOING_SHARE * energy,
         f"E′ = E − ω must be ≥ {LEAST_OUTGOING_SHARE:g} E (the networks resolve no less)"),
        ((theta <= 0) | (theta >= 180), "scattering angle θ must lie in (0, 180) degrees"),
    ]
    energy, theta, omega = energy.ravel(), theta.ravel(), omega.ravel()
    raise_first_bad(tests, lambda i: f"E={energy[i]:g} GeV, θ={theta[i]:g}°, ω={omega[i]:g} GeV", where, rows)


def raise_first_bad(tests, values, where: str, rows=None) -> None:
    """Raise :class:`KinematicsError` for the first point that a mask of ``tests`` ((mask, reason)
    pairs, in order) marks, named by ``rows[i]`` or by ``where`` and its ordinal (point i + 1 of n),
    with ``values(i)``."""
    for bad, reason in tests:
        if np.any(bad):
            i = int(np.flatnonzero(bad.ravel())[0])
            if rows is not None:
                raise KinematicsError(f"{rows[i]}: {reason} ({values(i)})")
            raise KinematicsError(f"{where}: {reason} (point {i + 1} of {bad.size}: {values(i)})")


def check_q_omega(q, omega, *, where: str = "input", rows=None) -> None:
    """Raise :class:`KinematicsError` naming the first point outside the
    electron-scattering region 0 < ω < q (spacelike, Q² > 0): ``rows[i]`` names point i where
    given (e.g. ``FILE:LINE``), else ``where`` and its ordinal."""
    q, omega = np.broadcast_arrays(np.asarray(q, float), np.asarray(omega, float))
    tests = [(~np.isfinite(q) | ~np.isfinite(omega), "non-finite value"),
             (q <= 0, "momentum transfer q must be > 0 GeV"),
             (omega <= 0, "energy transfer ω must be > 0 GeV"),
             (omega >= q, "ω must be < q (Q² = q² − ω² > 0 in electron scattering)")]
    q, omega = q.ravel(), omega.ravel()
    raise_first_bad(tests, lambda i: f"q={q[i]:g} GeV, ω={omega[i]:g} GeV", where, rows)


def is_physical(energy, theta, omega) -> np.ndarray:
    """Boolean mask of points with E > 0, 0 < ω < E and 0 < θ < 180°."""
    energy, theta, omega = (np.asarray(a, float) for a in (energy, theta, omega))
    return (energy > 0) & (omega > 0) & (omega < energy) & (theta > 0) & (theta < 180)


def q2(energy, theta, omega) -> np.ndarray:
    """Four-momentum transfer squared Q² = 2E(E − ω)(1 − cos θ) in GeV²."""
    energy, theta, omega = (np.asarray(a, float) for a in (energy, theta, omega))
    return 2.0 * energy * (energy - omega) * (1.0 - np.cos(np.radians(theta)))


def three_momentum_transfer(energy, theta, omega) -> np.ndarray:
    """|q| = sqrt(Q² + ω²) in GeV."""
    return np.sqrt(q2(energy, theta, omega) + np.square(omega))


def bjorken_x(energy, theta, omega, mass: float = NUCLEON_MASS) -> np.ndarray:
    """Bjorken x = Q² / (2 M ω) per nucleon (dimensionless; ranges up to A in a nucleus)."""
    return q2(energy, theta, omega) / (2.0 * mass * np.asarray(omega, float))


def invariant_mass_squared(energy, theta, omega, mass: float = NUCLEON_MASS) -> np.ndarray:
    """W² = M² + 2Mω − Q² in GeV², for scattering on a free nucleon at rest (may be < 0)."""
    return mass**2 + 2.0 * mass * np.asarray(omega, float) - q2(energy, theta, omega)


def invariant_mass(energy, theta, omega, mass: float = NUCLEON_MASS) -> np.ndarray:
    """W = sqrt(W²) in GeV; NaN where W² < 0 (below the free-nucleon threshold, x > 1)."""
    w2 = invariant_mass_squared(energy, theta, omega, mass)
    return np.sqrt(np.where(w2 >= 0, w2, np.nan))


def output_scale(energy, theta) -> np.ndarray:
    """Mott-like output scale S(E, θ) = 1e9 · α² cos(θ/2) / (4 E³ sin⁴(θ/2)).

    The network predicts y = σ / S with σ in nb/sr/GeV (Kowal et al.,
    Phys. Rev. C 110, 025501 (2024)); S is the Mott cross section divided by E cos(θ/2),
    times 1e9, so that y lies in about 1e-4 … 2e-2 on the data. Written as NuWro writes it,
    1e9 · cos²(θ/2) / (137² · E · cos(θ/2) · 4E² · sin⁴(θ/2)), for bitwise agreement.
    """
    energy = np.asarray(energy, float)
    half = np.radians(np.asarray(theta, float)) / 2.0
    c, s = np.cos(half), np.sin(half)
    return 1e9 * c * c * ALPHA**2 / (energy * c * 4.0 * energy * energy * s**4)


def network_features(energy, theta, omega) -> np.ndarray:
    """The published network inputs [E/20, ω/20, θ/180, cos θ, Q²/100], shape (N, 5), float64.

    This is the scaling of the 2025 re-optimization and of the ONNX files NuWro reads.
    """
    energy, theta, omega = np.broadcast_arrays(
        np.asarray(energy, float), np.asarray(theta, float), np.asarray(omega, float)
    )
    return np.stack(
        [
            energy / 20.0,
            omega / 20.0,
            theta / 180.0,
            np.cos(np.radians(theta)),
            q2(energy, theta, omega) / 100.0,
        ],
        axis=-1,
    )


def from_features(features: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(E [GeV], ω [GeV], cos θ, Q² [GeV²], q [GeV]) from the published inputs [..., ≥5] as torch
    tensors (:func:`network_features` is the other direction)."""
    energy, omega, cos_theta = features[..., 0] * 20, features[..., 1] * 20, features[..., 3]
    big_q2 = features[..., 4] * 100
    return energy, omega, cos_theta, big_q2, (big_q2 + omega * omega).sqrt()


def random_points(n: int, seed: int, energy=(0.2, 5.0), theta=(10.0, 150.0), u=(0.01, 0.95),
                  log_energy: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n seeded random physical points (E [GeV], θ [deg], ω [GeV]): E uniform (or uniform in
    ln E), θ uniform, ω = u·E with u uniform in ``u`` ⊂ (0, 1)."""
    rng = np.random.default_rng(seed)
    lo, hi = (np.log(energy[0]), np.log(energy[1])) if log_energy else energy
    e = rng.uniform(lo, hi, n)
    e = np.exp(e) if log_energy else e
    return e, rng.uniform(theta[0], theta[1], n), e * rng.uniform(u[0], u[1], n)
