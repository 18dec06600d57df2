"""Antineutrino quasielastic scattering on free protons (the hydrogen of CH, CH₂ or water): ν̄ p → l⁺ n.

Llewellyn Smith's cross section (Phys. Rep. 3, 261 (1972)), with the form factors of ``ccqe.form_factors`` (the
nuclei's: Kelly's vector form factors by CVC, the dipole axial form factor with M_A, the pseudoscalar by PCAC) and the
nucleon mass ``ccqe.M`` for both nucleons (the nuclei's kernel takes the same; the tests check that its Fermi gas tends
to this cross section as k_F → 0):

    dσ/dQ² = M² G_F² V_ud² / (8π E_ν²) · [A(Q²) ± B(Q²) z + C(Q²) z²],  z = (4M E_ν − Q² − m_l²)/M²  (+ for ν),

with A, B, C in ``invariants``. On a nucleon at rest the lepton's energy is fixed by its angle: Q² = 2Mω, so at one E_ν
d²σ/dT dcos θ is a line in (T, cos θ), not a density. What is finite: σ(E_ν) (``total``); a cell average at one E_ν
(``cell_average``: dσ/dQ² integrated over the Q² the cell holds of the line); and a flux average
(``flux_average``: the line of each E_ν weighed by the flux density at the E_ν that puts the lepton at (T, cos θ),
E* = (2M E_l − m_l²) / (2(M − E_l + k′ cos θ)), times the Jacobian of that map). Neutrinos have no quasielastic
reaction on protons (ν p → l⁻ X needs a pion): 0 for them. No Coulomb distortion (the final neutron is neutral).
Cross sections in cm² per proton, energies in GeV.
"""

from __future__ import annotations

import numpy as np
import torch

from enxs import ccqe
from enxs.flux import Flux
from enxs.leptonbins import NeutrinoError

M = ccqe.M
#: Gauss–Legendre points of a Q² integral; σ(E_ν) takes them in ln(Q² + ``Q2_SCALE``) [GeV²], where the form
#: factors' fall sits at any E_ν.
Q2_POINTS = 64
Q2_SCALE = 0.1


def invariants(big_q2, current: ccqe.Current, axial_mass: float = ccqe.AXIAL_MASS, vector: str = "kelly"):
    """(A, B, C) of Llewellyn Smith's invariant amplitude at Q² [GeV²], dimensionless:
    Σ|𝓜|² = 16 M⁴ G_F² V_ud² [A ± B z + C z²] (+ for ν), z = (s − u)/M², s − u = 2P·(k + k′) − m_l²,
    A = (m_l² + Q²)/M² [(1 + τ) F_A² − (1 − τ) F₁² + τ(1 − τ) F₂² + 4τ F₁F₂
        − (m_l²/4M²)((F₁ + F₂)² + (F_A + 2F_P)² − (Q²/M² + 4) F_P²)],
    B = (Q²/M²) F_A (F₁ + F₂), C = (F_A² + F₁² + τ F₂²)/4, τ = Q²/4M²."""
    q2 = torch.as_tensor(big_q2, dtype=torch.float64)
    f_1, f_2, f_a, f_p = ccqe.form_factors(q2, current, axial_mass, vector)
    tau, r = q2 / (4 * M * M), current.lepton_mass**2 / (4 * M * M)
    a = (current.lepton_mass**2 + q2) / (M * M) * (
        (1 + tau) * f_a**2 - (1 - tau) * f_1**2 + tau * (1 - tau) * f_2**2 + 4 * tau * f_1 * f_2
        - r * ((f_1 + f_2) ** 2 + (f_a + 2 * f_p) ** 2 - (q2 / (M * M) + 4) * f_p**2))
    return a, q2 / (M * M) * f_a * (f_1 + f_2), (f_a**2 + f_1**2 + tau * f_2**2) / 4


def dsigma_dq2(e_nu, big_q2, current: ccqe.Current, axial_mass=ccqe.AXIAL_MASS, vector: str = "kelly") -> np.ndarray:
    """dσ/dQ² [cm²/GeV²] per nucleon at E_ν [GeV] and Q² [GeV²] (broadcast; no check of the allowed range). Axial
    masses [GeV] of any shape lead the result's axes: the vector form factors are computed once for all of them."""
    e_nu, big_q2 = np.broadcast_arrays(np.asarray(e_nu, float), np.asarray(big_q2, float))
    mass = np.asarray(axial_mass, float)
    mass = torch.as_tensor(mass.reshape(mass.shape + (1,) * big_q2.ndim))
    a, b, c = (v.numpy() for v in invariants(big_q2, current, mass, vector))
    z = (4 * M * e_nu - big_q2 - current.lepton_mass**2) / (M * M)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = M * M * ccqe.G_FERMI**2 * ccqe.V_UD**2 / (8 * np.pi * e_nu**2) * ccqe.HBARC2_CM2
    return np.where(e_nu > 0, factor * (a + current.sign * b * z + c * z * z), 0.0)


def q2_range(e_nu, lepton_mass: float) -> tuple[np.ndarray, np.ndarray]:
    """The allowed Q² [GeV²] at E_ν [GeV]: (lowest, highest), both 0 below threshold (two-body kinematics in the
    centre of mass, both nucleons of mass M)."""
    e_nu = np.asarray(e_nu, float)
    s = M * M + 2 * M * e_nu
    p_cm = (s - M * M) / (2 * np.sqrt(s))
    e_l = (s + lepton_mass**2 - M * M) / (2 * np.sqrt(s))
    open_ = e_l > lepton_mass
    k_l = np.sqrt(np.where(open_, e_l * e_l - lepton_mass**2, 0.0))
    low = np.where(open_, 2 * p_cm * (e_l - k_l) - lepton_mass**2, 0.0)
    return np.clip(low, 0.0, None), np.where(open_, 2 * p_cm * (e_l + k_l) - lepton_mass**2, 0.0)


def _integral(e_nu, low, high, current: ccqe.Current, axial_mass) -> np.ndarray:
    """∫ dσ/dQ² dQ² [cm²] from ``low`` to ``high`` [GeV²] (0 where high ≤ low), Gauss–Legendre in ln(Q² + Q2_SCALE);
    the axial masses' axes lead (``dsigma_dq2``)."""
    x, w = np.polynomial.legendre.leggauss(Q2_POINTS)
    a, b = np.log(np.asarray(low, float) + Q2_SCALE), np.log(np.maximum(high, low) + Q2_SCALE)
    u = (a + b)[..., None] / 2 + (b - a)[..., None] / 2 * x
    big_q2 = np.exp(u) - Q2_SCALE
    integrand = dsigma_dq2(np.asarray(e_nu, float)[..., None], big_q2, current, axial_mass) * np.exp(u)
    return (integrand * w).sum(-1) * (b - a) / 2


def total(e_nu, current: ccqe.Current, axial_mass=ccqe.AXIAL_MASS) -> np.ndarray:
    """σ(E_ν) [cm²] per proton at E_ν [GeV] (0 for neutrinos and below threshold); the axial masses' [GeV] axes
    lead."""
    e_nu = np.asarray(e_nu, float)
    if current.sign > 0:
        return np.zeros(np.shape(axial_mass) + e_nu.shape)
    return _integral(e_nu, *q2_range(e_nu, current.lepton_mass), current, axial_mass)


def q2_at_cos(e_nu, cos_theta, lepton_mass: float) -> np.ndarray:
    """Q² [GeV²] of the line at E_ν and cos θ (cos θ falls as Q² grows; bisection, to 1e-12 of the range)."""
    low, high = q2_range(e_nu, lepton_mass)
    low, high = np.broadcast_arrays(low, high, np.asarray(cos_theta, float))[:2]
    low, high = low.copy(), high.copy()
    for _ in range(48):
        mid = (low + high) / 2
        above = cos_at_q2(e_nu, mid, lepton_mass) > cos_theta
        low, high = np.where(above, mid, low), np.where(above, high, mid)
    return (low + high) / 2


def cos_at_q2(e_nu, big_q2, lepton_mass: float) -> np.ndarray:
    """cos θ of the lepton at E_ν [GeV] and Q² = 2Mω [GeV²] on a proton at rest."""
    e_l = e_nu - big_q2 / (2 * M)
    k_l = np.sqrt(np.clip(e_l * e_l - lepton_mass**2, 1e-30, None))
    return (2 * e_nu * e_l - lepton_mass**2 - big_q2) / (2 * e_nu * k_l)


def cell_average(e_nu, t_lepton, cos_theta, cell: tuple, current: ccqe.Current,
                 axial_mass=ccqe.AXIAL_MASS) -> np.ndarray:
    """d²σ/dT dcos θ [cm²/GeV per proton] averaged over the cells (ΔT [GeV], Δcos θ) around (T, cos θ) at E_ν [GeV]
    (broadcast): dσ/dQ² integrated over the Q² of the line inside the cell, over ΔT Δcos θ; the axial masses' [GeV]
    axes lead (the cell's Q² interval found once for all)."""
    e_nu, t, c, d_t, d_c = np.broadcast_arrays(*(np.asarray(v, float) for v in (e_nu, t_lepton, cos_theta, *cell)))
    if current.sign > 0:
        return np.zeros(np.shape(axial_mass) + t.shape)
    m = current.lepton_mass
    lowest, highest = q2_range(e_nu, m)
    low = np.maximum.reduce([lowest, 2 * M * (e_nu - m - t - d_t / 2),
                             q2_at_cos(e_nu, np.minimum(c + d_c / 2, 1.0), m)])
    high = np.minimum.reduce([highest, 2 * M * (e_nu - m - t + d_t / 2),
                              q2_at_cos(e_nu, np.maximum(c - d_c / 2, -1.0), m)])
    inside = _integral(e_nu, low, np.maximum(high, low), current, axial_mass)
    return np.where(highest > lowest, inside, 0.0) / (d_t * d_c)


def source_energy(t_lepton, cos_theta, lepton_mass: float) -> tuple[np.ndarray, np.ndarray]:
    """(E* [GeV], |∂E*/∂cos θ| at fixed T [GeV]): the E_ν that puts the lepton at (T, cos θ) on a proton at rest,
    E* = N/D with N = 2M E_l − m_l², D = 2(M − E_l + k′ cos θ) (NaN where D ≤ 0: no E_ν does), and
    |∂E*/∂cos θ| = 2k′N/D²."""
    e_l = np.asarray(t_lepton, float) + lepton_mass
    k_l = np.sqrt(e_l * e_l - lepton_mass**2)
    numerator, denominator = 2 * M * e_l - lepton_mass**2, 2 * (M - e_l + k_l * np.asarray(cos_theta, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        e_star = np.where(denominator > 0, numerator / denominator, np.nan)
        return e_star, 2 * k_l * numerator / denominator**2


def flux_average(t_lepton, cos_theta, flux: Flux, current: ccqe.Current, axial_mass=ccqe.AXIAL_MASS) -> np.ndarray:
    """Flux-averaged d²σ/dT dcos θ [cm²/GeV per proton] at (T, cos θ) (broadcast): ∫ dE_ν φ(E_ν) dσ/dT δ(cos θ −
    cos θ_line(E_ν, T)) = φ(E*) · 2M dσ/dQ² (dσ/dT at fixed E_ν, Q² = 2M(E* − E_l)) · |∂E*/∂cos θ|
    (``source_energy``), φ the flux's density (``Flux.density``); the axial masses' [GeV] axes lead."""
    t, c = np.broadcast_arrays(np.asarray(t_lepton, float), np.asarray(cos_theta, float))
    if current.sign > 0:
        return np.zeros(np.shape(axial_mass) + t.shape)
    e_star, jacobian = source_energy(t, c, current.lepton_mass)
    live = np.isfinite(e_star) & np.isfinite(jacobian)
    e = np.where(live, e_star, 1.0)
    value = 2 * M * dsigma_dq2(e, 2 * M * (e - t - current.lepton_mass), current, axial_mass) * flux.density(e)
    return np.where(live, value * np.where(live, jacobian, 0.0), 0.0)


#: Values (flux energies × points × Q2_POINTS) per pass of ``members``' flux-and-cell sum: its memory.
BLOCK_VALUES = 2**21


def members(t_lepton, cos_theta, current: ccqe.Current, axial_masses, *, energy: float | None = None,
            flux: Flux | None = None, cell: tuple | None = None) -> np.ndarray:
    """d²σ/dT dcos θ [cm²/GeV per proton] at the points (T, cos θ) [N], one row per axial mass [GeV]: at one
    ``energy`` [GeV], cell averages (``cell`` = (ΔT, Δcos θ), each nonzero); over a ``flux``, at the points
    (``flux_average``) or their cells (the cell average at each of the flux's energies, weighed)."""
    t, c, masses = np.asarray(t_lepton, float), np.asarray(cos_theta, float), np.asarray(axial_masses, float)
    if current.sign > 0:  # no line to average
        return np.zeros((masses.size, t.size))
    if cell is not None and not (np.all(np.asarray(cell[0]) > 0) and np.all(np.asarray(cell[1]) > 0)):
        raise NeutrinoError("free protons: a cell of zero width holds no finite share of their line; give every "
                            "cell a nonzero ΔT and Δcos θ")
    if flux is None and cell is None:
        raise NeutrinoError(f"free protons at one E_nu = {energy:g} GeV: their d²σ/dT dcos θ is a line (T fixed by "
                            f"cos θ), not a density; average over cells (--bin-average, or dT and dcos columns), "
                            f"over a flux (--flux), or ask for σ (--total)")
    if flux is None:
        return cell_average(energy, t, c, cell, current, masses)
    if cell is None:
        return flux_average(t, c, flux, current, masses)
    block = max(1, BLOCK_VALUES // (t.size * Q2_POINTS * masses.size))
    return sum(np.einsum("e,men->mn", flux.weight[i:i + block],
                         cell_average(flux.energy[i:i + block, None], t, c, cell, current, masses))
               for i in range(0, len(flux.energy), block))
