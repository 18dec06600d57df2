"""Coulomb distortion of the electron in the field of the nucleus, in the effective-momentum
approximation (EMA) with a focusing factor; and of the charged lepton a neutrino makes (below).

The electron is accelerated towards the nucleus: inside it, its energy is E + V̄ and after the
scattering E′ + V̄, with V̄ > 0 the average electrostatic potential energy it feels. The cross
section is the plane-wave (Born) one at the effective energies, times the focusing factor
(E + V̄)²/E² of the incoming wave (Aste and Jourdan, EPL 67, 753 (2004); Tjon and Wallace,
arXiv:0808.2029):

    σ(E, ω, θ) = (E_eff/E)² σ_Born(E_eff, ω, θ),   E_eff = E + V̄,  E′_eff = E′ + V̄,

so ω is unchanged and q is computed from E_eff, E′_eff and θ. For a uniformly charged sphere of
radius R the potential energy at the centre is 3αZħc/(2R); the effective (averaged over the
region where the scattering happens) value is V̄ = 0.775 × 3αZħc/(2R) (Aste and Jourdan: 0.75–0.8),
R = √(5/3) r_ch with r_ch the rms charge radius. V̄ = 3.1 MeV for 12C, 6.8 MeV for 40Ar, 9.0 MeV for
56Fe, 19 MeV for 208Pb.

The charged lepton a neutrino makes (``enxs.ccqe``) leaves the final nucleus, of charge Z_f = Z + 1 (ν, l⁻)
or Z − 1 (ν̄, l⁺): only the outgoing wave is distorted, and the lepton's potential energy there is ∓V̄_f
(``lepton_potential``; the same V̄ rule with Z_f, the target's radius). Modified effective-momentum
approximation (Engel, PRC 57, 2004 (1998); GENIE's Valencia model takes the same factor and local q): inside,
the lepton has E_eff = E_l ± V̄_f (+ for l⁻) and k_eff = √(E_eff² − m_l²); q is computed from k_eff along the
lepton's direction, ω = E_ν − E_l is unchanged, and the cross section takes the factor k_eff E_eff/(k E_l) (the
Fermi function's approximation) on its phase space. V̄_f = 3.7 MeV for ν on 12C, 7.2 MeV for ν on 40Ar.

Charge radii: Angeli and Marinova, At. Data Nucl. Data Tables 99, 69 (2013). Nuclei not in the
table: r_ch = (0.8407 A^{1/3} + 0.5558) fm, the least-squares line through the table's entries
with A ≥ 12 (largest deviation 2.5%), said to be so (``tabulated`` False).
"""

from __future__ import annotations

import math

import torch

from enxs.nuclei import Nucleus

#: Angeli and Marinova (2013): rms nuclear charge radii in fm.
CHARGE_RADIUS_FM = {"2H": 2.1421, "3H": 1.7591, "3He": 1.9661, "4He": 1.6755, "6Li": 2.5890, "9Be": 2.5190,
                    "12C": 2.4702, "16O": 2.6991, "24Mg": 3.0570, "27Al": 3.0610, "40Ar": 3.4274,
                    "40Ca": 3.4776, "56Fe": 3.7377, "58Ni": 3.7757, "63Cu": 3.8823, "89Y": 4.2430,
                    "120Sn": 4.6519, "181Ta": 5.3507, "197Au": 5.4371, "208Pb": 5.5012, "238U": 5.8571}
RADIUS_RULE_FM = (0.8407, 0.5558)  # r_ch = a A^{1/3} + b for nuclei not in the table
#: The effective share of the potential at the centre (Aste and Jourdan 2004: 0.75–0.8).
EFFECTIVE_SHARE = 0.775
ALPHA = 1 / 137.035_999_084  # CODATA 2018
HBARC_GEV_FM = 0.197_326_980_4


def charge_radius(nucleus: Nucleus) -> tuple[float, bool]:
    """(rms charge radius [fm], whether it is tabulated) (module docstring)."""
    if nucleus.name in CHARGE_RADIUS_FM:
        return CHARGE_RADIUS_FM[nucleus.name], True
    a, b = RADIUS_RULE_FM
    return a * nucleus.A ** (1 / 3) + b, False


def potential(nucleus: Nucleus) -> float:
    """The electron's effective Coulomb potential energy V̄ [GeV] (> 0) in the nucleus:
    0.775 × 3αZħc/(2R), R = √(5/3) r_ch."""
    radius = math.sqrt(5 / 3) * charge_radius(nucleus)[0]
    return EFFECTIVE_SHARE * 3 * ALPHA * nucleus.Z * HBARC_GEV_FM / (2 * radius)


def lepton_potential(nucleus: Nucleus, sign: int) -> float:
    """V̄_f [GeV] (≥ 0) of the final nucleus (charge Z + ``sign``; ``sign`` +1 for ν, −1 for ν̄) that the lepton
    leaves: ``potential`` scaled by Z_f/Z (the target's radius; module docstring)."""
    return potential(nucleus) * (nucleus.Z + sign) / nucleus.Z if nucleus.Z else 0.0


def effective_energy(energy: torch.Tensor, v_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(E_eff = E + V̄, focusing factor (E_eff/E)²) for beam energies E and potentials V̄ [GeV]."""
    e_eff = energy + v_bar
    return e_eff, (e_eff / energy) ** 2


def note(nucleus: Nucleus, applied: bool) -> str:
    """What a file says about the Coulomb distortion in its cross sections."""
    if not applied:
        return ("not modelled: the network is fit to measured cross sections as they are, so the Coulomb "
                "distortion of its training nuclei is in it implicitly, not adjusted for another nucleus")
    radius, tabulated = charge_radius(nucleus)
    source = "Angeli and Marinova 2013" if tabulated else "the A^(1/3) rule, not tabulated"
    return (f"effective-momentum approximation with focusing (E -> E + V, E' -> E' + V, sigma x ((E + V)/E)^2), "
            f"V = {potential(nucleus) * 1000:.2f} MeV from the rms charge radius {radius:.3f} fm ({source}); "
            f"response functions R_L, R_T are defined without it")
