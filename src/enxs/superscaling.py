"""Superscaling: nucleon form factors, the single-nucleon longitudinal factor, and the scaling
function f(ψ′) into which the quasielastic responses of all nuclei collapse.

Conventions: Q² = q² − ω² [GeV²], q and ω in GeV, responses per nucleus in GeV⁻¹ (as
``enxs.rosenbluth``); ψ′ and the Fermi-gas descriptors k_F, E_s from ``enxs.descriptors``.
"""

from __future__ import annotations

import numpy as np

from enxs import kinematics, rosenbluth
from enxs.descriptors import describe, psi_prime
from enxs.nuclei import Nucleus


def dipole_form_factors(big_q2) -> tuple[np.ndarray, np.ndarray]:
    """(G_E^p, G_E^n) at Q² [GeV²]: dipole G_D = (1 + Q²/0.71)⁻² and Galster's
    G_E^n = −μ_n τ G_D / (1 + 5.6 τ), τ = Q²/4M² (Phys. Rev. C 60, 065502 uses the same)."""
    g_d = (1 + np.asarray(big_q2, float) / 0.71) ** -2
    tau = np.asarray(big_q2, float) / (4 * kinematics.NUCLEON_MASS**2)
    return g_d, 1.913 * tau * g_d / (1 + 5.6 * tau)


def scaling_function(r_l, q, omega, nucleus: Nucleus) -> tuple[np.ndarray, np.ndarray]:
    """(ψ′, f_L) from R_L [GeV⁻¹] at (q, ω) [GeV]: f_L = k_F R_L / G_L with the single-nucleon
    longitudinal factor G_L = (κ/2τ)(Z G_Ep² + N G_En²) / (1 + ξ_F(1 + ψ′²)/2), κ = q/2M,
    τ = Q²/4M² (Donnelly and Sick, PRC 60, 065502 (1999); Maieron, Donnelly, Sick, PRC 65,
    025502 (2002), their Δ term of order ξ_F ≈ 0.03 neglected). The relativistic Fermi gas
    gives f_L = (3/4)(1 − ψ′²) for |ψ′| < 1 in every nucleus."""
    d = describe(nucleus)
    m = kinematics.NUCLEON_MASS
    q, omega = np.asarray(q, float), np.asarray(omega, float)
    big_q2 = q * q - omega * omega
    psi = psi_prime(rosenbluth.beam_energy(q, omega, 90.0), 90.0, omega, d.k_fermi, d.e_shift)
    g_ep, g_en = dipole_form_factors(big_q2)
    kappa, tau = q / (2 * m), big_q2 / (4 * m * m)
    xi = np.sqrt(1 + (d.k_fermi / m) ** 2) - 1
    g_l = kappa / (2 * tau) * (nucleus.Z * g_ep**2 + (nucleus.A - nucleus.Z) * g_en**2) / (1 + xi * (1 + psi**2) / 2)
    return psi, d.k_fermi * np.asarray(r_l) / g_l
