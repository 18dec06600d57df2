"""Charged-current quasielastic (CCQE) neutrino scattering on a nucleus from a scaling function:
the relativistic Fermi gas (RFG) written so that its scaling function can be replaced by a
learned one (superscaling, SuSA: Amaro et al., PRC 71, 015501 (2005)).

Units: energies and momenta in GeV, cross sections in cm² (d²σ/dT dcos θ in cm²/GeV) per active
nucleon (neutrons for ν, protons for ν̄). Member-independent: every ensemble member multiplies
the same kernel by its own scaling function (``enxs.neutrino``).

The lepton (energy E_l = T + m_l, momentum k′, angle θ to the beam) fixes ω = E_ν − E_l and
q² = E_ν² + k′² − 2E_ν k′ cos θ. A bound nucleon of energy E = εM absorbs (ω′ = ω − E_s, q)
(E_s the nucleus' shift energy) and leaves on shell; its momentum along q is then fixed,
p_z = (ω′² + 2Eω′ − q²)/2q, and nucleons with ε from ε₀ = κ√(1 + 1/τ′) − λ′ (p_⊥ = 0) up to the
Fermi energy ε_F = 1 + ξ_F take part (λ′ = ω′/2M, κ = q/2M, τ′ = κ² − λ′², ξ_F = √(1 + k_F²/M²) − 1).
Integrating the Fermi sea (flux 1/4E_νE, density 3π²/k_F³ per nucleon) over the δ-function of
energy gives

    d²σ/dT dcos θ = k′ M ξ_F f(ψ′) ⟨Σ|𝓜|²⟩ / (32π k_F³ E_ν q),

with ε_F − ε₀ = (4/3) ξ_F f_RFG(ψ′), f_RFG = (3/4)(1 − ψ′²) (ψ′² = (ε₀ − 1)/ξ_F, ``enxs.superscaling``)
and ⟨Σ|𝓜|²⟩ the spin-summed squared amplitude averaged over the nucleons' azimuth about q and
over ε ∈ [ε₀, ε_F] (Gauss–Legendre; exact, the amplitude being quadratic in ε). Superscaling puts
a measured (here: learned) f(ψ′) in place of f_RFG; where |ψ′| > 1 the nucleon is the one of
lowest energy that can absorb (ω′, q), ε = ε₀, p_⊥ = 0 (the tails come from momenta above k_F).
With ``pauli``, final nucleons below the Fermi surface are blocked as in the RFG: ε from
max(ε₀, ε_F − 2λ′), the scaling function times the unblocked fraction.

The squared amplitude of ν n → l⁻ p (ν̄ p → l⁺ n) on a nucleon of any momentum is the contraction
Σ|𝓜|² = ½ G_F² V_ud² L_μν H^μν of the lepton tensor (the trace over the leptons of γ^μ(1 − γ⁵):
L^μν = 8[k^μk′^ν + k′^μk^ν − g^μν k·k′] ∓ 8iε^μναβ k_α k′_β) and the nucleon's H^μν = Tr[(P̸′ + M)Γ^μ(P̸ + M)Γ̄^ν]
(``nucleon_tensor``, in closed form; ½ averages the nucleon's spin), Γ^μ = F₁γ^μ + iF₂σ^μα q̃_α/2M − F_Aγ^μγ⁵ −
F_P q̃^μγ⁵/M. The lepton carries (ω, q), the nucleon absorbs q̃ = (ω′, 0, 0, q): the shift is the nucleon's
alone, as in SuSA's single-nucleon responses, and GENIE contracts the exported tables (``enxs.hadrontensor``)
the same way. With q along z, after the nucleon's azimuth about q is averaged, no term mixes the components
{0, 3} with {1, 2} (``contraction``): the longitudinal part, charge and current along q (R_CC, R_CL, R_LL of
the neutrino literature, vector and axial), and the transverse part (R_T, R_T′), each a sum of squares;
``Kernel.longitudinal`` is the longitudinal share, so that a model can put its longitudinal scaling function
in the one and its transverse one in the other (SuSAv2's split: González-Jiménez et al., PRC 90, 035501
(2014)). Form factors: vector by CVC from the electromagnetic ones of ``enxs.superscaling`` (isovector,
G^V = G^p − G^n; F₁ = (G_E^V + τG_M^V)/(1 + τ), F₂ = (G_M^V − G_E^V)/(1 + τ), τ = Q²/4M², Q² = q² − ω′²), or
dipole ones; axial dipole F_A = g_A/(1 + Q²/M_A²)²; pseudoscalar by PCAC, F_P = 2M² F_A/(m_π² + Q²). The
same kernel with the electromagnetic current (F_A = 0, massless lepton, coupling (4πα/Q²)², electron spins
averaged) gives electron scattering. Checked in the tests: against Llewellyn Smith's invariant amplitude
(Phys. Rep. 3, 261 (1972); exact without the shift) and Dirac traces of both tensors; against a free-nucleon
cross section and an independent Fermi gas; for electrons, the longitudinal and transverse parts against
``enxs.superscaling``'s σ_Mott v_L G_L and σ_Mott v_T G_T.

Not included: two-nucleon (2p2h) knockout, pion production and absorption, final-state
interactions beyond what the scaling function holds. The outgoing lepton's Coulomb distortion, when asked for
(``kernel``'s ``coulomb``), is ``enxs.coulomb``'s modified effective-momentum approximation: the lepton tensor,
q and the form factors' Q² take the lepton's local momentum, ω stays E_ν − E_l.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from enxs import rosenbluth, superscaling
from enxs.leptonbins import NeutrinoError

M = superscaling.M
#: PDG 2024: Fermi constant [GeV⁻²], |V_ud|, axial coupling g_A, the pion's mass [GeV] (the leptons':
#: ``enxs.leptonbins``).
G_FERMI = 1.166_378_8e-5
V_UD = 0.973_67
G_AXIAL = 1.2754
PION_MASS = 0.139_570_39
#: The axial mass [GeV] by default (the issue's and most generators' standard value).
AXIAL_MASS = 1.03
#: (ħc)² in cm² GeV².
HBARC2_CM2 = rosenbluth.HBARC2_NB * 1e-33
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(3)
NODES, WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2  # on [0, 1]


@dataclass(frozen=True)
class Current:
    """The probe: its lepton mass [GeV] and the nucleon it scatters on. ``sign`` +1 for ν (ν n → l⁻ p),
    −1 for ν̄ (ν̄ p → l⁺ n); 0 for the electromagnetic current on ``nucleon``."""

    lepton_mass: float
    sign: int
    nucleon: str  # 'neutron' or 'proton'


def form_factors(big_q2, current: Current, axial_mass: float = AXIAL_MASS, vector: str = "kelly"):
    """(F₁, F₂, F_A, F_P) at Q² [GeV²] (module docstring); ``vector`` 'kelly' (the model's) or
    'dipole' (G_E^p = G_D, G_M = μ G_D, G_E^n = 0)."""
    q2 = torch.as_tensor(big_q2, dtype=torch.float64)
    if vector == "dipole":
        g_d = (1 + q2 / 0.71) ** -2
        g_ep, g_en, g_mp, g_mn = g_d, torch.zeros_like(q2), superscaling.MU_P * g_d, superscaling.MU_N * g_d
    else:
        g_ep, g_en, g_mp, g_mn = superscaling.form_factors(q2)
    if current.sign == 0:
        g_e, g_m = (g_ep, g_mp) if current.nucleon == "proton" else (g_en, g_mn)
        f_a = torch.zeros_like(q2)
    else:
        g_e, g_m = g_ep - g_en, g_mp - g_mn
        f_a = G_AXIAL / (1 + q2 / axial_mass**2) ** 2
    tau = q2 / (4 * M * M)
    f_1, f_2 = (g_e + tau * g_m) / (1 + tau), (g_m - g_e) / (1 + tau)
    return f_1, f_2, f_a, 2 * M * M * f_a / (PION_MASS**2 + q2)


def nucleon_tensor(energy, p_z, w, q, form: tuple) -> tuple[torch.Tensor, ...]:
    """(H^00, H^03, H^33, H^xx, Im H^xy) of the nucleon (E, p_⊥, p_z) [GeV] absorbing q̃ = (ω′, 0, 0, q) on shell,
    averaged over its azimuth about q (H^xx = H^yy; the other components vanish), with form factors
    ``form`` = (F₁, F₂, F_A, F_P) of the ν vertex: the trace of the module docstring in closed form (the tests
    check it against the trace). With s^ab = P^a P′^b + P′^a P^b, c = P·q̃, t^ab = q̃^a q̃^b, d^ab = t^ab − g^ab q̃²:
    H^ab = 4F₁²(s^ab − g^ab c) − 4F₁F₂ d^ab + F₂² d^ab e/M² + 4F_A²(s^ab − g^ab(c + 2M²)) − 8F_A F_P t^ab
    + 4F_P² t^ab c/M² (e = 2E² + Eω′ − 2M² − 2p_z² − p_z q); H^xx = 4F₁²(p_⊥² + c) + 4F₁F₂Q² + F₂²[(Eq − p_zω′)²
    + c² + Q²(M² − c)]/M² + 4F_A²(p_⊥² + c + 2M²); Im H^xy = −8(F₁ + F₂)F_A(Eq − p_zω′), Q² = q² − ω′²."""
    f_1, f_2, f_a, f_p = form
    c, e = energy * w - p_z * q, 2 * energy**2 + energy * w - 2 * M * M - 2 * p_z**2 - p_z * q
    along = []
    for g, s, t in zip((1, 0, -1), (2 * energy * (energy + w), energy * (p_z + q) + (energy + w) * p_z,
                                    2 * p_z * (p_z + q)), (w * w, w * q, q * q), strict=True):
        d = t - g * (w * w - q * q)
        along.append(4 * f_1**2 * (s - g * c) - 4 * f_1 * f_2 * d + f_2**2 * d * e / (M * M)
                     + 4 * f_a**2 * (s - g * (c + 2 * M * M)) - 8 * f_a * f_p * t + 4 * f_p**2 * t * c / (M * M))
    big_q2, p_perp2, cross = q * q - w * w, energy**2 - M * M - p_z**2, energy * q - p_z * w
    xx = (4 * f_1**2 * (p_perp2 + c) + 4 * f_1 * f_2 * big_q2 + f_2**2 * (cross**2 + c * c + big_q2 * (M * M - c))
          / (M * M) + 4 * f_a**2 * (p_perp2 + c + 2 * M * M))
    return (*along, xx, -8 * (f_1 + f_2) * f_a * cross)


def contraction(e_nu, e_l, k_x, k_z, q, tensor: tuple, sign: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The longitudinal (a, b ∈ {0, 3}) and the transverse (x, y) part of ½ L_μν H^μν / 16M⁴ (dimensionless)
    with the nucleon's ``tensor`` (``nucleon_tensor``) and the lepton tensor of k = (E_ν, k_x, 0, k_z),
    k′ = (E_l, k_x, 0, k_z − q) [GeV] (module docstring; ``sign`` that of ``Current``: the lepton mass and the
    flavour enter only through k′ and the sign of the vector–axial term)."""
    k_dot = e_nu * e_l - k_x * k_x - k_z * (k_z - q)
    h_00, h_03, h_33, h_xx, h_xy = tensor
    longitudinal = 8 * ((2 * e_nu * e_l - k_dot) * h_00 - 2 * (e_nu * (k_z - q) + e_l * k_z) * h_03
                        + (2 * k_z * (k_z - q) + k_dot) * h_33)
    transverse = 16 * (k_x * k_x + k_dot) * h_xx + sign * 16 * (e_nu * (k_z - q) - k_z * e_l) * h_xy
    return longitudinal / (32 * M**4), transverse / (32 * M**4)


def lepton_kinematics(e_nu, t_lepton, cos_theta, lepton_mass: float, coulomb_gain: float = 0.0):
    """(E_l, k′, q, ω) [GeV] from E_ν, the lepton's kinetic energy T [GeV] and cos θ (tensors). With
    ``coulomb_gain`` ΔE [GeV] (the energy the lepton has inside the nucleus beyond its energy far away, ±V̄_f:
    ``enxs.coulomb``) E_l = T + m_l + ΔE and k′ are the local ones and q is computed from them; ω = E_ν − T − m_l.
    A lepton slowed below its mass (l⁺ with T < V̄_f) has no local wave: E_l = m_l, k′ = 0."""
    e_far = t_lepton + lepton_mass
    e_l = torch.clamp(e_far + coulomb_gain, min=lepton_mass)
    k_l = torch.sqrt(torch.clamp(e_l * e_l - lepton_mass**2, min=0.0))
    q = torch.sqrt(torch.clamp(e_nu * e_nu + k_l * k_l - 2 * e_nu * k_l * cos_theta, min=1e-12))
    return e_l, k_l, q, e_nu - e_far


@dataclass
class Kernel:
    """Per point: ψ′, and ``factor`` [cm²/GeV per active nucleon] with d²σ/dT dcos θ = factor · f(ψ′)
    (zero outside the allowed region: ω′ ≤ 0, Q² ≤ 0 or E_l ≥ E_ν); ``longitudinal``: the longitudinal share
    of ``factor`` in [0, 1] (module docstring)."""

    psi: torch.Tensor
    factor: torch.Tensor
    q: torch.Tensor
    omega: torch.Tensor
    longitudinal: torch.Tensor | None = None  # None where only ψ′, q and ω matter (a tensor table's points)


def _fermi_sea(q, omega, k_fermi: float, e_shift: float, pauli: bool):
    """The Fermi sea's nucleons that absorb (ω′ = ω − E_s, q) [GeV] (module docstring): ω′, where they exist
    (ω′ > 0, τ′ > 0), the unblocked fraction, ξ_F and the ε quadrature's nodes (weight, E, p_z)."""
    w = omega - e_shift
    lam, kappa = w / (2 * M), q / (2 * M)
    tau = superscaling.tau_prime(q, omega, e_shift)
    absorbable = (w > 0) & (tau > 0)
    tau = torch.where(absorbable, tau, torch.ones_like(tau))
    xi = float(superscaling.fermi_xi(k_fermi, torch.float64))
    eps_f = 1 + xi
    eps_0 = kappa * torch.sqrt(1 + 1 / tau) - lam
    unblocked = superscaling.pauli_fraction(q, omega, k_fermi, e_shift) if pauli else torch.ones_like(q)
    width = torch.clamp(eps_f - eps_0, min=0.0) * unblocked  # the unblocked nucleons: ε from ε_F − width
    low = torch.where(eps_0 < eps_f, eps_f - width, eps_0)
    nodes = []
    for x, weight in zip(NODES, WEIGHTS, strict=True):
        energy = (low + width * float(x)) * M
        nodes.append((float(weight), energy, (w * w + 2 * energy * w - q * q) / (2 * q)))
    return w, absorbable, unblocked, xi, nodes


def kernel(e_nu, t_lepton, cos_theta, k_fermi: float, e_shift: float, current: Current, coulomb: float = 0.0, *,
           axial_mass: float = AXIAL_MASS, vector: str = "kelly", pauli: bool = False) -> Kernel:
    """The member-independent part of d²σ/dT dcos θ at (E_ν, T, cos θ) (broadcast; GeV) for a
    nucleus of Fermi momentum k_F and shift E_s [GeV], and its longitudinal share (module docstring). ``coulomb``:
    V̄_f [GeV] of the final nucleus for the outgoing lepton's Coulomb distortion (``enxs.coulomb``: modified
    effective-momentum approximation; 0 for a plane wave); it moves the lepton by ``current.sign`` · V̄_f, so the
    electromagnetic current (sign 0) ignores it: the electron's distortion is the electron model's."""
    e_nu, t_lepton, cos_theta = (torch.as_tensor(np.asarray(v, float)) for v in
                                 np.broadcast_arrays(e_nu, t_lepton, cos_theta))
    e_l, k_l, q, omega = lepton_kinematics(e_nu, t_lepton, cos_theta, current.lepton_mass, current.sign * coulomb)
    w, absorbable, unblocked, xi, nodes = _fermi_sea(q, omega, k_fermi, e_shift, pauli)
    e_far = t_lepton + current.lepton_mass
    allowed = absorbable & (e_far < e_nu) & (t_lepton >= 0)
    form = form_factors((q * q - w * w).clamp_min(0.0), current, axial_mass, vector)
    k_z = (e_nu * e_nu - e_nu * k_l * cos_theta) / q  # the beam's component along q
    k_x = torch.sqrt(torch.clamp(e_nu * e_nu - k_z * k_z, min=0.0))
    longitudinal, transverse = torch.zeros_like(q), torch.zeros_like(q)
    for weight, energy, p_z in nodes:
        parts = contraction(e_nu, e_l, k_x, k_z, q, nucleon_tensor(energy, p_z, w, q, form), current.sign)
        longitudinal, transverse = longitudinal + weight * parts[0], transverse + weight * parts[1]
    amplitude = longitudinal + transverse
    if current.sign:
        coupling = G_FERMI**2 * V_UD**2 * torch.ones_like(q)
    else:  # (4πα/Q²)², averaged over the electron's two spin states
        coupling = (4 * np.pi * rosenbluth.ALPHA) ** 2 / (q * q - omega * omega).clamp_min(1e-12) ** 2 / 2
    phase_space = k_l * e_l / e_far  # k′ far away times the focusing k_eff E_eff/(k′ E_l) (1 without Coulomb)
    factor = (16 * M**4 * coupling * amplitude * phase_space * M * xi / (32 * np.pi * k_fermi**3 * e_nu * q)
              * unblocked * HBARC2_CM2)
    psi = superscaling.psi_prime(q, omega, k_fermi, e_shift)
    share = torch.where(amplitude > 0, longitudinal / amplitude.clamp_min(1e-300), 0.0).clamp(0.0, 1.0)
    return Kernel(psi, torch.where(allowed, factor.clamp_min(0.0), torch.zeros_like(factor)), q, omega, share)


def fermi_gas_tensor(q, omega, k_fermi: float, e_shift: float, *, axial_mass: float = AXIAL_MASS,
                     vector: str = "kelly", pauli: bool = False) -> torch.Tensor:
    """(W^00, W^0z, W^zz, W^xx, Im W^xy) [GeV⁻¹], [5, N], of the ν current per active nucleon and unit scaling
    function at (q, ω) [GeV] (broadcast), q along z: M ξ_F ⟨H⟩_ε (unblocked fraction)/(4 k_F³ q), zero where no
    nucleon absorbs (ω′, q). In Valencia's normalization (Nieves et al., PRC 70, 055503 (2004)),
    d²σ/dΩ dE′ = (k′/E_ν)(G_F² V_ud²/4π²) L_μν W^μν f(ψ′), L^μν = k^μk′^ν + k′^μk^ν − g^μν k·k′ ∓ iε^μναβ k_α k′_β:
    the kernel's d²σ/dT dcos θ (the tests). ν̄ on protons has the same tensor (W^xy's sign is the contraction's)."""
    q, omega = (torch.as_tensor(np.asarray(v, float)) for v in np.broadcast_arrays(q, omega))
    w, absorbable, unblocked, xi, nodes = _fermi_sea(q, omega, k_fermi, e_shift, pauli)
    form = form_factors((q * q - w * w).clamp_min(0.0), Current(0.0, 1, "neutron"), axial_mass, vector)
    total = sum(weight * torch.stack(nucleon_tensor(energy, p_z, w, q, form)) for weight, energy, p_z in nodes)
    return torch.where(absorbable, total * M * xi * unblocked / (4 * k_fermi**3 * q), 0.0)


def fermi_gas_scaling(psi: torch.Tensor) -> torch.Tensor:
    """f_RFG(ψ′) = (3/4)(1 − ψ′²) for |ψ′| < 1, else 0: the relativistic Fermi gas's scaling function."""
    return torch.clamp(0.75 * (1 - psi * psi), min=0.0)


def gauss_panels(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1]: 8 panels of n/8 Gauss–Legendre points."""
    x, w = np.polynomial.legendre.leggauss(max(n // 8, 1))
    edges = np.linspace(0, 1, 9)
    nodes = np.concatenate([lo + (x + 1) / 2 * (hi - lo) for lo, hi in itertools.pairwise(edges)])
    return nodes, np.concatenate([w / 2 * (hi - lo) for lo, hi in itertools.pairwise(edges)])


#: ``total_rule``'s q nodes crowd below this [GeV] (and spread logarithmically above it).
RULE_Q_SCALE = 0.5
#: ``total_rule`` takes ψ′ this far beyond f₀'s support: the lepton's Coulomb distortion moves the kernel's q.
RULE_PSI_MARGIN = 0.5


def total_rule(e_nu: float, lepton_mass: float, k_fermi: float, e_shift: float,
               nodes: tuple[int, int] = (128, 64)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (T [GeV], cos θ) and weights [GeV] of a rule for σ(E_ν) = ∫∫ d²σ/dT dcos θ dT dcos θ at E_ν [GeV]:
    Gauss–Legendre in (q, ω) where the quasielastic response lives, so that it holds at every E_ν (above ~10 GeV the
    response fills a strip of T and cos θ too narrow for a rule in those). q ∈ (0, 2E_ν) on ``nodes[0]`` points
    (``gauss_panels``) of x ∈ (0, 1), q = s(e^{x ln(1 + 2E_ν/s)} − 1), s = ``RULE_Q_SCALE``; at each q, ω on
    ``nodes[1]`` points from ψ′ = ψ_lo to ψ′ = ψ_hi (``superscaling.f0_support`` widened by ``RULE_PSI_MARGIN``),
    cut where the lepton cannot be made, ω ≤ E_ν − √((E_ν − q)² + m_l²); dT dcos θ = q/(E_ν k′) dω dq."""
    (x, x_weight), (v, v_weight) = (gauss_panels(n) for n in nodes)  # x along q, v along ω
    span = np.log1p(2 * e_nu / RULE_Q_SCALE)
    q = RULE_Q_SCALE * np.expm1(x * span)
    psi_low, psi_high = superscaling.f0_support()
    start, stop = (superscaling.omega_at_psi(torch.as_tensor(q), psi, k_fermi, e_shift).numpy()
                   for psi in (psi_low - RULE_PSI_MARGIN, psi_high + RULE_PSI_MARGIN))
    stop = np.minimum(stop, e_nu - np.sqrt((e_nu - q) ** 2 + lepton_mass**2))
    width = np.clip(stop - start, 0.0, None)
    omega = start[:, None] + width[:, None] * v[None, :]
    e_l = e_nu - omega
    k_l = np.sqrt(np.clip(e_l**2 - lepton_mass**2, 0.0, None))
    keep = (width[:, None] > 0) & (k_l > 0)
    k_l = np.where(keep, k_l, 1.0)
    cos = np.clip((e_nu**2 + k_l**2 - q[:, None] ** 2) / (2 * e_nu * k_l), -1.0, 1.0)
    weight = ((RULE_Q_SCALE + q) * span * x_weight * width * q / e_nu)[:, None] * v_weight[None, :] / k_l
    return (e_l - lepton_mass)[keep], cos[keep], weight[keep]


def check_axial_mass(axial_mass: float) -> None:
    """M_A [GeV] finite and > 0: M_A = 0 would silently drop the axial current (F_A → 0)."""
    if not (axial_mass > 0 and np.isfinite(axial_mass)):
        raise NeutrinoError(f"--axial-mass {axial_mass:g}: must be > 0 GeV")


#: Member k's M_A draw depends only on k (and this tag): the same for every call and nucleus.
AXIAL_DRAW_TAG = 20_261_130


def axial_masses(members: int | None, axial_mass: float, std: float) -> np.ndarray | None:
    """One M_A [GeV] per member of an ensemble of ``members`` (None: a baseline), M_A + std · z_k with z_k
    standard normal drawn from (tag, k) alone, or None without a spread; M_A itself checked (``check_axial_mass``)."""
    check_axial_mass(axial_mass)
    if std < 0 or not np.isfinite(std):
        raise NeutrinoError(f"--axial-mass-std {std:g}: must be ≥ 0 GeV")
    if not std:
        return None
    if members is None:
        raise NeutrinoError("--axial-mass-std draws M_A per member: it needs a model's ensemble")
    draws = [np.random.default_rng(np.random.SeedSequence([AXIAL_DRAW_TAG, k])).standard_normal()
             for k in range(members)]
    masses = axial_mass + std * np.asarray(draws)
    if (masses <= 0).any():
        raise NeutrinoError(f"--axial-mass-std {std:g}: draws M_A ≤ 0; choose a smaller spread")
    return masses
