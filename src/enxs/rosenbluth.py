"""The one-photon-exchange (Rosenbluth) structure of inclusive electron scattering:

    d²σ/dΩdω = σ_Mott · [v_L R_L(q, ω) + v_T R_T(q, ω)],
    σ_Mott = (ħc)² α² cos²(θ/2) / (4E² sin⁴(θ/2))  [nb/sr],
    v_L = (Q²/q²)²,  v_T = Q²/(2q²) + tan²(θ/2),
    q² = E² + E′² − 2EE′ cos θ,  E′ = E − ω,  Q² = q² − ω²

(e.g. Donnelly and Sick, Phys. Rev. C 60, 065502 (1999), Eq. 1). Conventions of enxs:
R_L and R_T are per nucleus (not per nucleon) in GeV⁻¹, σ in nb/sr/GeV, E, ω, q in GeV, θ in
degrees; the Mott factor has no recoil factor and Coulomb corrections are neglected.
``torch`` versions of the weights serve the response network; numpy ones everything else.
"""

from __future__ import annotations

import numpy as np
import torch

from enxs import kinematics

#: CODATA 2018: fine-structure constant and (ħc)² = 0.3893793721 GeV² mb, here in nb GeV².
ALPHA = 1 / 137.035_999_084
HBARC2_NB = 389_379.3721


def mott(energy, theta) -> np.ndarray:
    """σ_Mott in nb/sr at E [GeV], θ [deg] (module docstring)."""
    half = np.radians(np.asarray(theta, float)) / 2
    return HBARC2_NB * ALPHA**2 * np.cos(half) ** 2 / (4 * np.asarray(energy, float) ** 2 * np.sin(half) ** 4)


def v_l(q, omega) -> np.ndarray:
    """Longitudinal kinematic factor (Q²/q²)² (dimensionless) at q, ω [GeV]."""
    q, omega = np.asarray(q, float), np.asarray(omega, float)
    return ((q * q - omega * omega) / (q * q)) ** 2


def v_t(q, omega, theta) -> np.ndarray:
    """Transverse kinematic factor Q²/(2q²) + tan²(θ/2) at q, ω [GeV], θ [deg]."""
    q, omega = np.asarray(q, float), np.asarray(omega, float)
    return (q * q - omega * omega) / (2 * q * q) + np.tan(np.radians(np.asarray(theta, float)) / 2) ** 2


def epsilon(q, omega, theta) -> np.ndarray:
    """Virtual-photon polarization ε = [1 + 2 (q²/Q²) tan²(θ/2)]⁻¹ ∈ (0, 1) at q, ω [GeV], θ [deg]:
    v_L/v_T = 2ε Q²/q², so the spread of ε over angles at one (q, ω) is the Rosenbluth lever arm."""
    q, omega = np.asarray(q, float), np.asarray(omega, float)
    t2 = np.tan(np.radians(np.asarray(theta, float)) / 2) ** 2
    return 1 / (1 + 2 * q * q / (q * q - omega * omega) * t2)


def cross_section(r_l, r_t, energy, theta, omega) -> np.ndarray:
    """σ [nb/sr/GeV] from R_L, R_T [GeV⁻¹] at E, ω [GeV], θ [deg]."""
    q = kinematics.three_momentum_transfer(energy, theta, omega)
    return mott(energy, theta) * (v_l(q, omega) * r_l + v_t(q, omega, theta) * r_t)


def beam_energy(q, omega, theta) -> np.ndarray:
    """The beam energy E [GeV] reaching (q, ω) [GeV] at angle θ [deg]: the positive root of
    Q² = 2(1 − cos θ) E (E − ω), Q² = q² − ω² (needs q > ω)."""
    q, omega = np.asarray(q, float), np.asarray(omega, float)
    a = 2 * (1 - np.cos(np.radians(np.asarray(theta, float))))
    q2 = q * q - omega * omega
    return (a * omega + np.sqrt((a * omega) ** 2 + 4 * a * q2)) / (2 * a)


#: Factor turning σ_Mott into units of the network's output scale S(E, θ)
#: (``kinematics.output_scale``): σ_Mott / S = MOTT_OVER_S · E cos(θ/2).
MOTT_OVER_S = HBARC2_NB * ALPHA**2 / (1e9 * kinematics.ALPHA**2)


def weights_over_scale(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(σ_Mott v_L / S, σ_Mott v_T / S) [N, 2] in GeV, and q [N] in GeV, from the published
    inputs [N, ≥5] = [E/20, ω/20, θ/180, cos θ, Q²/100]: σ/S = w_L R_L + w_T R_T."""
    energy, omega, cos_theta, big_q2, q = kinematics.from_features(features)
    cos_half = torch.sqrt((1 + cos_theta) / 2)
    tan2_half = (1 - cos_theta) / (1 + cos_theta)
    mott_over_s = MOTT_OVER_S * energy * cos_half
    ratio = big_q2 / (big_q2 + omega * omega)
    weights = torch.stack([mott_over_s * ratio * ratio, mott_over_s * (ratio / 2 + tan2_half)], dim=-1)
    return weights, q


def response_kinematics(q: torch.Tensor, omega: torch.Tensor, big_q2: torch.Tensor) -> torch.Tensor:
    """The response network's kinematic inputs [N, 6] = [q, ω, Q², ν, ln q, ln ω] (GeV, GeV,
    GeV², 1, ln GeV, ln GeV) at q, ω [GeV] and Q² = q² − ω² [GeV²]; ν = (ω − Q²/2M)/q is zero on the
    free-nucleon quasielastic line (a y-scaling-like variable). All functions of (q, ω) only.
    Chosen by the carbon validation χ²/N (fast preset, 300 epochs): 4.00 with the first four,
    3.50 with the logarithms, 3.94 with Bjorken x instead, 3.51 with ln Q² too."""
    nu = (omega - big_q2 / (2 * kinematics.NUCLEON_MASS)) / q
    return torch.stack([q, omega, big_q2, nu, torch.log(q), torch.log(omega)], dim=-1)
