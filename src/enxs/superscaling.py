"""Superscaling: nucleon form factors, the single-nucleon responses, the superscaling variable ψ′
and the scaling function f(ψ′) into which the quasielastic responses of all nuclei collapse.

Written once, in torch, as functions of physical quantities (q, ω in GeV; Q² = q² − ω² in GeV²;
k_F, E_s in GeV; responses per nucleus in GeV⁻¹, as ``enxs.rosenbluth``); numpy callers convert.

Superscaling (Donnelly and Sick, PRC 60, 065502 (1999); Maieron, Donnelly and Sick, PRC 65,
025502 (2002); Amaro et al., PRC 71, 015501 (2005)): the quasielastic responses are

    R_X^QE(q, ω) = G_X(q, ω) f_X(ψ′) / k_F,   X = L, T,
    G_L = (κ/2τ) (Z G_Ep² + N G_En²) / D,   G_T = (τ/κ) (Z G_Mp² + N G_Mn²) / D,
    D = 1 + ξ_F (1 + ψ′²)/2,  κ = q/2M,  τ = Q²/4M²,  ξ_F = √(1 + k_F²/M²) − 1

(their terms of order ξ_F ≈ 0.03 in the numerators neglected), with ψ′ from λ′ = (ω − E_s)/2M and
τ′ = κ² − λ′²:

    ψ′ = (1/√ξ_F) (λ′ − τ′) / √((1 + λ′) τ′ + κ √(τ′ (1 + τ′))),

zero at the quasielastic peak and ±1 at the edges of the relativistic Fermi gas, whose scaling
function is (3/4)(1 − ψ′²). The measured longitudinal scaling function is lower and asymmetric,
with a tail towards large ω; its phenomenological fit (Amaro et al. 2005)

    f₀(ψ′) = 1.5576 / [(1 + 1.7720² (ψ′ + 0.3014)²) (1 + exp(−2.4291 ψ′))]

(peak 0.61 at ψ′ = −0.06, ∫ f₀ dψ′ = 1.03), fitted to data at |ψ′| ≲ 2, is the prior the
physics-structured model starts from, with its Lorentzian tail cut beyond the fitted range by
exp(−(ψ′/PSI_CUT)⁴), PSI_CUT = 3 (the project's choice). Without a cut, the single-nucleon factor's
q²/Q² makes R_L grow without bound towards the photon point ω → q, where ψ′ stays finite
(≈ 10 at q = 1.2 GeV, because of E_s); the cut removes 1% of f₀ at ψ′ = 1, 18% at 2, 63% at 3,
and leaves ∫ f₀ dψ′ = 0.93. The structured model cuts its longitudinal f₀ at ``model.longitudinal_cut``
(2 in its recipe: 6% removed at ψ′ = 1, 63% at 2), the longitudinal tail being the shorter.

Nucleon form factors: Kelly, PRC 70, 068202 (2004): G_Ep, G_Mp/μ_p, G_Mn/μ_n =
(1 + a₁τ)/(1 + b₁τ + b₂τ² + b₃τ³) and G_En = A τ G_D/(1 + B τ) (Galster form), G_D = (1 + Q²/0.71)⁻².
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from enxs import coulomb, kinematics
from enxs.nuclei import Nucleus

M = kinematics.NUCLEON_MASS
MU_P, MU_N = 2.792_847, -1.913_043
#: Kelly (2004): (a₁, b₁, b₂, b₃) of G_Ep, G_Mp/μ_p, G_Mn/μ_n; (A, B) of G_En.
KELLY = {"Ep": (-0.24, 10.98, 12.82, 21.97), "Mp": (0.12, 10.97, 18.86, 6.55), "Mn": (2.33, 14.72, 24.20, 84.1)}
KELLY_EN = (1.70, 3.30)
#: Amaro et al. (2005): f₀(ψ′) = p₁ / [(1 + p₂² (ψ′ + p₃)²)(1 + exp(−p₄ ψ′))].
F0_PARAMETERS = (1.5576, 1.7720, 0.3014, 2.4291)
PSI_CUT = 3.0
#: Where f₀ (its tail cut included) is below this, there is no response: the points a neutrino integral or table takes.
F0_FLOOR = 1e-8


def form_factors(big_q2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(G_Ep, G_En, G_Mp, G_Mn) at Q² [GeV²] (Kelly 2004, module docstring)."""
    tau = big_q2 / (4 * M * M)

    def kelly(name):
        a1, b1, b2, b3 = KELLY[name]
        return (1 + a1 * tau) / (1 + tau * (b1 + tau * (b2 + tau * b3)))

    g_d = (1 + big_q2 / 0.71) ** -2
    a, b = KELLY_EN
    return kelly("Ep"), a * tau * g_d / (1 + b * tau), MU_P * kelly("Mp"), MU_N * kelly("Mn")


def fermi_xi(k_fermi, dtype: torch.dtype) -> torch.Tensor:
    """ξ_F = √(1 + k_F²/M²) − 1 for k_F [GeV], as x/(√(1 + x) + 1), x = k_F²/M²: the same number without the
    cancellation that costs float32 a third of its digits at k_F/M ≈ 0.06 (the deuteron)."""
    x = (torch.as_tensor(k_fermi, dtype=dtype) / M) ** 2
    return x / (torch.sqrt(1 + x) + 1)


def tau_prime(q: torch.Tensor, omega: torch.Tensor, e_shift, big_q2: torch.Tensor | None = None) -> torch.Tensor:
    """τ′ = κ² − λ′² = (Q² + E_s(2ω − E_s))/4M² at (q, ω) [GeV]; ``big_q2`` Q² [GeV²] where the caller has it
    without the cancellation of q² − ω² (near the photon point ω → q float32 keeps few of its digits)."""
    big_q2 = q * q - omega * omega if big_q2 is None else big_q2
    return (big_q2 + e_shift * (2 * omega - e_shift)) / (4 * M * M)


def psi_prime(q: torch.Tensor, omega: torch.Tensor, k_fermi, e_shift, final_mass: float = M,
              big_q2: torch.Tensor | None = None) -> torch.Tensor:
    """ψ′ at (q, ω) [GeV] for a Fermi momentum k_F and shift E_s [GeV] (module docstring); with a
    ``final_mass`` W_X [GeV] above M, the inelastic scaling variable ψ′_X of a struck nucleon turned into
    mass W_X (Barbaro et al., PRC 69, 035502 (2004)): τ′ → τ′ρ′ = τ′ + μ, μ = (W_X² − M²)/4M², in
    ψ′_X = (1/√ξ_F)(λ′ − τ′ρ′)/√((1 + λ′ρ′)τ′ + κ√(τ′(1 + τ′ρ′²))), ±1 at the edges of the Fermi gas's
    response for that mass and 0 where a nucleon at rest makes it (μ = 0: ψ′, bit for bit). ``big_q2``: as
    :func:`tau_prime`."""
    lam, kappa = (omega - e_shift) / (2 * M), q / (2 * M)
    tau = tau_prime(q, omega, e_shift, big_q2)
    xi = fermi_xi(k_fermi, q.dtype)
    mu = (final_mass**2 - M * M) / (4 * M * M)
    tau_safe = tau.clamp_min(1e-12)
    root = (1 + lam) * tau_safe + lam * mu + kappa * torch.sqrt(tau_safe * (1 + tau_safe) + mu * (2 * tau_safe + mu))
    return (lam - tau - mu) / torch.sqrt(root.clamp_min(1e-12)) / torch.sqrt(xi)


def pauli_fraction(q: torch.Tensor, omega: torch.Tensor, k_fermi, e_shift,
                   big_q2: torch.Tensor | None = None) -> torch.Tensor:
    """The share of the relativistic Fermi gas's quasielastic response at (q, ω) [GeV] that Pauli
    blocking leaves (final nucleons above the Fermi surface): struck nucleons have ε from
    ε₀ = κ√(1 + 1/τ′) − λ′ to ε_F = 1 + ξ_F, those from max(ε₀, ε_F − 2λ′) are unblocked, so the
    share is (ε_F − max(ε₀, ε_F − 2λ′))/(ε_F − ε₀) ∈ [0, 1]; below 1 only where q < 2k_F; 1 outside
    the Fermi gas's support (ε₀ ≥ ε_F) and where ω ≤ E_s or Q² ≤ 0 (no Fermi-gas response there).
    ``big_q2``: as :func:`tau_prime`."""
    lam, kappa = (omega - e_shift) / (2 * M), q / (2 * M)
    tau = tau_prime(q, omega, e_shift, big_q2)
    physical = (lam > 0) & (tau > 0)
    tau = torch.where(physical, tau, torch.ones_like(tau))
    eps_f = 1 + fermi_xi(k_fermi, q.dtype)
    eps_0 = kappa * torch.sqrt(1 + 1 / tau) - lam
    share = (eps_f - torch.maximum(eps_0, eps_f - 2 * lam)) / (eps_f - eps_0).clamp_min(1e-12)
    return torch.where(physical & (eps_0 < eps_f), share.clamp(0.0, 1.0), torch.ones_like(share))


def single_nucleon(q: torch.Tensor, omega: torch.Tensor, protons, neutrons, k_fermi, psi: torch.Tensor,
                   big_q2: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(G_L, G_T) [dimensionless], the Z- and N-weighted single-nucleon factors (module docstring); ``big_q2``:
    as :func:`tau_prime`."""
    big_q2 = q * q - omega * omega if big_q2 is None else big_q2
    g_ep, g_en, g_mp, g_mn = form_factors(big_q2)
    kappa, tau = q / (2 * M), big_q2 / (4 * M * M)
    xi = fermi_xi(k_fermi, q.dtype)
    d = 1 + xi * (1 + psi * psi) / 2
    g_l = kappa / (2 * tau) * (protons * g_ep**2 + neutrons * g_en**2) / d
    g_t = tau / kappa * (protons * g_mp**2 + neutrons * g_mn**2) / d
    return g_l, g_t


def log_f0(psi: torch.Tensor, cut: float = PSI_CUT) -> torch.Tensor:
    """ln f₀(ψ′), the phenomenological scaling function with its tail cut by exp(−(ψ′/cut)⁴)
    (module docstring), computed without overflow."""
    p1, p2, p3, p4 = F0_PARAMETERS
    return (np.log(p1) - torch.log1p((p2 * (psi + p3)) ** 2) - torch.nn.functional.softplus(-p4 * psi)
            - (psi / cut) ** 4)


def above_floor(psi: torch.Tensor) -> torch.Tensor:
    """Where f₀(ψ′) (its tail cut included) is above ``F0_FLOOR``: the points a neutrino integral or table takes."""
    return log_f0(psi) > np.log(F0_FLOOR)


@cache
def f0_support() -> tuple[float, float]:
    """The ψ′ interval ``above_floor``, to 0.001."""
    psi = torch.linspace(-20.0, 20.0, 40_001, dtype=torch.float64)
    live = psi[above_floor(psi)]
    return float(live[0]), float(live[-1])


def omega_at_psi(q: torch.Tensor, psi, k_fermi, e_shift) -> torch.Tensor:
    """ω [GeV] where ψ′(q, ω) = ``psi`` (a number or a tensor) at each q [GeV]: the struck nucleon of lowest energy
    ε₀M, ε₀ = 1 + ξ_F ψ², moves along q (ψ > 0) or against it (ψ < 0) with p = M√(ε₀² − 1), so ω′ = ω − E_s =
    √((q ± p)² + M²) − ε₀M; E_s where ψ′ exceeds ``psi`` already at ω′ = 0 (q < :func:`least_q_at_psi`)."""
    psi = torch.as_tensor(psi, dtype=q.dtype)
    eps, p = _lowest_nucleon(psi, k_fermi)
    return e_shift + (torch.sqrt((q + torch.sign(psi) * p) ** 2 + M * M) - eps * M).clamp_min(0.0)


def least_q_at_psi(psi: torch.Tensor, k_fermi) -> torch.Tensor:
    """The least q [GeV] at which ψ′ = ``psi`` is reached at ω′ ≥ 0 (:func:`omega_at_psi`): 2M√(ε₀² − 1) for ψ < 0,
    where ω′ = √((q − p)² + M²) − ε₀M is 0 at q = 2p (below it Pauli blocking keeps ψ′ higher); 0 for ψ ≥ 0."""
    p = _lowest_nucleon(psi, k_fermi)[1]
    return torch.where(psi < 0, 2 * p, torch.zeros_like(psi))


def _lowest_nucleon(psi: torch.Tensor, k_fermi) -> tuple[torch.Tensor, torch.Tensor]:
    """(ε₀, p [GeV]) of the struck nucleon of lowest energy at ψ′ = ``psi``: ε₀ = 1 + ξ_F ψ², p = M√(ε₀² − 1)."""
    eps = 1 + fermi_xi(k_fermi, psi.dtype) * psi**2
    return eps, M * torch.sqrt(eps * eps - 1)


def scaling_function(r_l, q, omega, nucleus: Nucleus) -> tuple[np.ndarray, np.ndarray]:
    """(ψ′, f_L = k_F R_L / G_L) from R_L [GeV⁻¹] at (q, ω) [GeV] (numpy in and out)."""
    from enxs.descriptors import describe  # descriptors computes its ψ′ here

    d = describe(nucleus)
    q, omega = (torch.tensor(v, dtype=torch.float64) for v in np.broadcast_arrays(q, omega))
    psi = psi_prime(q, omega, d.k_fermi, d.e_shift)
    g_l = single_nucleon(q, omega, nucleus.Z, nucleus.A - nucleus.Z, d.k_fermi, psi)[0]
    return psi.numpy(), d.k_fermi * np.asarray(r_l) / g_l.numpy()


def carry(sigma_of, source: Nucleus, target: Nucleus, energy, theta, omega, coulomb_shift: bool = True) -> np.ndarray:
    """A cross section of ``source`` carried to ``target`` by superscaling, the rule a physicist
    applies by hand: at each target point (E [GeV], θ [deg], ω [GeV]) find the source's ω_s with the
    same ψ′ (each nucleus with its own k_F, E_s; with ``coulomb_shift`` each at its effective beam
    energy E + V̄), and scale the source's σ there by the ratio of the Fermi-gas peak heights
    k_F,s/k_F,t, of the single-nucleon responses σ_Mott (v_L G_L + v_T G_T) (Z and N weighted) and
    of the focusing factors. ``sigma_of(E, θ, ω)`` gives the source's σ [..., N] in nb/sr/GeV (an
    ensemble's members, say); the result has its shape."""
    from enxs.descriptors import describe

    energy, theta, omega = (torch.tensor(v, dtype=torch.float64) for v in np.broadcast_arrays(energy, theta, omega))
    cos_theta = torch.cos(torch.deg2rad(theta))
    ds, dt = describe(source), describe(target)
    vs, vt = (coulomb.potential(n) if coulomb_shift else 0.0 for n in (source, target))

    def q_of(e, w):  # q from the effective energies e and e − w
        return torch.sqrt(e * e + (e - w) ** 2 - 2 * e * (e - w) * cos_theta)

    def weight(nucleus, d, v, w, psi):  # σ_Mott(E_eff) (E_eff/E)² (v_L G_L + v_T G_T) / k_F at ω = w
        e = energy + v
        q = q_of(e, w)
        g_l, g_t = single_nucleon(q, w, nucleus.Z, nucleus.A - nucleus.Z, d.k_fermi, psi)
        ratio = (q * q - w * w) / (q * q)
        tan2 = (1 - cos_theta) / (1 + cos_theta)
        return (ratio * ratio * g_l + (ratio / 2 + tan2) * g_t) / d.k_fermi  # σ_Mott (E_eff/E)² = σ_Mott(E)

    psi_t = psi_prime(q_of(energy + vt, omega), omega, dt.k_fermi, dt.e_shift)
    lo, hi = torch.full_like(omega, 1e-6), energy * (1 - 1e-9)
    for _ in range(60):  # ψ′ grows with ω at fixed E, θ: bisection for ψ′_s(ω_s) = ψ′_t
        mid = (lo + hi) / 2
        above = psi_prime(q_of(energy + vs, mid), mid, ds.k_fermi, ds.e_shift) > psi_t
        lo, hi = torch.where(above, lo, mid), torch.where(above, mid, hi)
    omega_s = (lo + hi) / 2
    factor = weight(target, dt, vt, omega, psi_t) / weight(source, ds, vs, omega_s, psi_t)
    return np.asarray(sigma_of(energy.numpy(), theta.numpy(), omega_s.numpy())) * factor.numpy()
