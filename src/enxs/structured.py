"""The physics-structured head (``model.output='superscaling'``): what physics knows carries the
model, the network learns what it does not.

Responses per nucleus (GeV⁻¹), at (q, ω) [GeV] (``enxs.superscaling`` for G_X, ψ′ and f₀):

    R_L = G_L f₀,L(ψ′) e^{c_L(ψ′)} / k_F,      (f₀,L: f₀ with the tail cut at ``model.longitudinal_cut``)
    R_T = G_T f₀(ψ′) e^{c_T} / k_F + A · R_INELASTIC · sigmoid(z_in) [· s_W],

- the quasielastic part is superscaling: the single-nucleon factors weighted by Z and N, the
  scaling variable ψ′ of the nucleus' (k_F, E_s), and the phenomenological scaling function f₀
  times a learned correction. The longitudinal one, c_L(ψ′), is a function of ψ′ alone (a
  spline on ``KNOTS`` per member, :class:`ScalingCorrection`): one universal longitudinal scaling function,
  as superscaling of the first and second kind has it. The transverse one, c_T, comes from the
  network and may vary with q (scaling violations: meson-exchange currents, the Δ tail); with
  ``model.transverse_smoothness`` a prior keeps f₀ e^{c_T} without a dip at the top of its peak for every
  nucleus from carbon to lead, trained or not (:func:`smoothness_penalty`, at virtual nuclei). Both are
  bounded, |c_X| ≤ C_MAX, so that whatever is learned, the quasielastic peak stays where ψ′ puts
  it, within a factor e^{±C_MAX};
- the rest of the spectrum (two-nucleon knockout in the dip, Δ and higher resonances, DIS) is a
  learned transverse term per nucleon, fed with the free-nucleon invariant mass W² = M² + 2Mω − Q²
  and Q². It is transverse only: the longitudinal response is the quasielastic one (Rosenbluth
  separations show R_L small above the quasielastic peak, and a longitudinal Δ peak does not exist).
  With ``model.inelastic_threshold`` = W it is times the share s_W of the Fermi gas that reaches W
  (:func:`log_inelastic_threshold`; M + m_π: where a pion can be made), so that less of the quasielastic
  peak is left to it (off in the recipe: measured no gain, docs/method.md). With ``model.two_body`` R_T
  has a third term, two-nucleon knockout per nucleon times (k_F/k_F,C)² (:func:`log_two_body`), so that
  the dip's strength moves with k_F as the Fermi gas's 2p2h responses do.

The network's inputs are [ψ′, q, ω, W², Q², ln q]: the nucleus enters only through the physics
(ψ′ with its k_F and E_s; Z and N in the single-nucleon factors; A; its Coulomb potential), so the
learned corrections are the same functions for every nucleus. Chosen on the validation nuclei 27Al
and 56Fe left out (fast preset, 50 members, all points): with the descriptors (Z/A, A^{1/3}, k_F)
as further inputs 9.1% and 11.1% median |rel dev|, without them (and with c_L of ψ′ alone) 6.6%
and 7.9% (docs/method.md has the table). Its two outputs are (g_T, z_in), c_T = C_MAX tanh(g_T/C_MAX);
with ``model.longitudinal_low_q`` a third, g_L, enters c_L at low q (:func:`low_q_weight`; the recipe's
q₀ = 0.2 GeV, docs/method.md).

The cross section is the Rosenbluth formula with the Coulomb distortion of ``enxs.coulomb`` (EMA):
responses at q_eff, the Mott factor at E_eff, the focusing factor (E_eff/E)². The responses
themselves are defined without it.

Features (``descriptors.inputs`` with ``nucleus_inputs='physics'``): the five published inputs
[E/20, ω/20, θ/180, cos θ, Q²/100], then Z, N, k_F [GeV], E_s [GeV] and V̄ [GeV].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import nn

from enxs import coulomb, descriptors, kinematics, rosenbluth, superscaling
from enxs.config import ModelConfig
from enxs.nuclei import Nucleus

N_INPUTS = 6
#: The network's outputs: (g_T, z_in), and g_L with ``model.longitudinal_low_q`` (``n_outputs``).
N_OUTPUTS = 2
#: The bound on the learned corrections of the scaling function: |ln(f/f₀)| ≤ C_MAX.
C_MAX = 1.5
#: The longitudinal correction is a function of ψ′ alone, a spline on these knots (zero one or two
#: spacings beyond them, for the linear or cubic basis: the far tails are f₀'s).
KNOTS = torch.linspace(-2.0, 4.0, 13)


def n_outputs(config: ModelConfig) -> int:
    """The network's outputs: (g_T, z_in), then g_L where c_L may also vary at low q (``longitudinal_low_q`` > 0),
    then z_2b with the two-nucleon term (``two_body``; always the last)."""
    return N_OUTPUTS + (config.longitudinal_low_q > 0) + config.two_body


def per_nucleon_outputs(config: ModelConfig) -> list[int]:
    """The outputs that are the z of a per-nucleon transverse term A · R_INELASTIC · sigmoid(z) (· (k_F/k_F,C)²):
    z_in, and z_2b (the last) with ``two_body``."""
    return [1, -1] if config.two_body else [1]


def low_q_weight(q: torch.Tensor, low_q: float) -> torch.Tensor:
    """How much of the network's g_L enters c_L at q [GeV]: 1/(1 + (q/q₀)⁴), q₀ = ``low_q`` [GeV]
    (½ at q₀, 6% at 2q₀)."""
    return 1 / (1 + (q / low_q) ** 4)


def low_q_part(outputs: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor | None:
    """What the network adds to c_L before the bound, w(q) g_L [K, N] (g_L its third output) for the points'
    ``weight`` w(q) (:func:`low_q_weight`), or None without one (no ``longitudinal_low_q``: no third output)."""
    return None if weight is None else outputs[..., 2] * weight


def bounded(g: torch.Tensor) -> torch.Tensor:
    """A learned correction c = C_MAX tanh(g/C_MAX), so that |c| ≤ C_MAX."""
    return C_MAX * torch.tanh(g / C_MAX)


def log_scaling_function(psi: torch.Tensor, correction: torch.Tensor, longitudinal: bool,
                         longitudinal_cut: float = superscaling.PSI_CUT) -> torch.Tensor:
    """ln f_L or ln f_T: ln f₀(ψ′), its tail cut at ``longitudinal_cut`` (longitudinal) or at
    ``superscaling.PSI_CUT`` (transverse), plus the learned correction c_X."""
    return superscaling.log_f0(psi, longitudinal_cut if longitudinal else superscaling.PSI_CUT) + correction


def knot_basis(psi: torch.Tensor, knots: torch.Tensor, basis: str) -> torch.Tensor:
    """The basis functions h_j(ψ′) on equally spaced knots, [N, J]: ``linear``, the hats
    max(0, 1 − t) (a kink at every knot); ``cubic``, the uniform cubic B-splines
    (2 − t)₊³/6 − 4 (1 − t)₊³/6, smooth to the second derivative; t = |ψ′ − ψ_j| / spacing."""
    t = torch.abs(psi.unsqueeze(-1) - knots) / float(knots[1] - knots[0])
    if basis == "linear":
        return torch.relu(1 - t)
    near, far = torch.relu(1 - t), torch.relu(2 - t)
    return (far * far * far - 4 * near * near * near) / 6


class ScalingCorrection(nn.Module):
    """c_L(ψ′) = C_MAX tanh(Σ_j a_kj h_j(ψ′) / C_MAX) per member k, with h_j the basis
    (``model.longitudinal_basis``, :func:`knot_basis`) on ``KNOTS``: one universal longitudinal
    scaling function, as superscaling has it. The recipe's cubic B-splines keep f_L smooth; with
    the linear hats the response had a kink at every knot (at q = 1.2 GeV a dip at ψ′ = 0 between
    two maxima, docs/method.md). ``own`` [K, N, J]: a trained nucleus' own knot values added at
    its points (``NucleusParts``); ``low_q`` [K, N]: the network's low-q part w(q) g_L, added before
    the bound (``model.longitudinal_low_q``)."""

    def __init__(self, members: int, basis: str = "linear"):
        super().__init__()
        self.basis = basis
        self.values = nn.Parameter(torch.zeros(members, len(KNOTS)))
        self.register_buffer("knots", KNOTS.clone())

    def forward(self, psi: torch.Tensor, own: torch.Tensor | None = None,
                low_q: torch.Tensor | None = None) -> torch.Tensor:
        return self.of_basis(knot_basis(psi, self.knots, self.basis), own, low_q)

    def of_basis(self, h: torch.Tensor, own: torch.Tensor | None = None,
                 low_q: torch.Tensor | None = None) -> torch.Tensor:
        """c_L from the basis at the points' ψ′, h [N, J] or [K, N, J] (:func:`knot_basis`)."""
        if own is None:
            raw = (h @ self.values.unsqueeze(-1)).squeeze(-1)  # [K, N]
        else:
            raw = (h * (self.values.unsqueeze(1) + own)).sum(-1)
        return bounded(raw if low_q is None else raw + low_q)


class NucleusParts(nn.Module):
    """Each trained nucleus' own corrections (``model.nucleus_prior`` = τ > 0): a shift of every hidden
    layer's pre-activations (a learned embedding of the nucleus in each layer), of the head's weights
    and bias (so of c_T and z_in everywhere) and of c_L's knot values, per member, for the
    nuclei of ``model.own_nuclei`` only; every other nucleus gets none (zero-shot: the universal
    corrections alone). They are trained after the universal parts, which are then held
    (``training.Trainer``: the last ``OWN_SHARE`` of a run's epochs), so that the universal
    corrections are what they are without them; a Gaussian prior of width τ on every entry
    (:meth:`penalty`, in the units of χ²/2) keeps them small where the nucleus' data do not ask."""

    def __init__(self, members: int, own_nuclei: str, width: int, depth: int, prior: float, outputs: int = N_OUTPUTS):
        super().__init__()
        self.prior = prior
        nuclei = [(n.Z, n.A - n.Z) for n in map(Nucleus.parse, filter(None, own_nuclei.split(",")))]
        self.register_buffer("za", torch.tensor(nuclei, dtype=torch.float32).reshape(-1, 2))  # (Z, N) each
        self.layers = nn.Parameter(torch.zeros(members, len(nuclei), depth, width))
        self.head = nn.Parameter(torch.zeros(members, len(nuclei), width + 1, outputs))
        self.longitudinal = nn.Parameter(torch.zeros(members, len(nuclei), len(KNOTS)))

    def active(self) -> bool:
        """Whether they can change anything: being trained, or not all zero (before their phase they
        are skipped, which saves a fifth of a training step)."""
        return self.head.requires_grad or any(bool(p.any()) for p in (self.layers, self.head, self.longitudinal))

    def which(self, features: torch.Tensor) -> torch.Tensor:
        """[N, n]: 1 where a point's nucleus (its Z, N features) is own nucleus j, else 0."""
        z, n = nucleus_columns(features)[:2]
        return ((z.unsqueeze(-1) == self.za[:, 0]) & (n.unsqueeze(-1) == self.za[:, 1])).to(features.dtype)

    def layer_shift(self, which: torch.Tensor, layer: int) -> torch.Tensor:
        """The shift of hidden layer ``layer``'s pre-activations [K, N, H] at the points ([K, 1, H] for
        one ``which`` row: every point the same nucleus)."""
        return which @ self.layers[:, :, layer]

    def head_shift(self, hidden: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        """The shift of the head's outputs [K, N, outputs] for the last hidden layer [K, N, H]."""
        if which.shape[0] == 1:  # every point nucleus j: its part alone
            j = int(which[0].argmax())
            return torch.baddbmm(self.head[:, j, -1:], hidden, self.head[:, j, :-1])
        k, n, h = hidden.shape
        weight = self.head[:, :, :-1].permute(0, 2, 1, 3).reshape(k, h, -1)  # [K, H, n·outputs]
        per_nucleus = (hidden @ weight).view(k, n, -1, self.head.shape[-1]) + self.head[:, :, -1].unsqueeze(1)
        return (per_nucleus * which.unsqueeze(-1)).sum(2)

    def knot_shift(self, which: torch.Tensor) -> torch.Tensor:
        """Each point's own knot values of c_L [K, N, J] ([K, 1, J] for one ``which`` row)."""
        return which @ self.longitudinal

    def penalty(self) -> torch.Tensor:
        """−ln of the parts' Gaussian prior per member [K], in the units of χ²/2."""
        squares = self.layers.square().sum((1, 2, 3)) + self.head.square().sum((1, 2, 3))
        return (squares + self.longitudinal.square().sum((1, 2))) / (2 * self.prior**2)


#: The share of a run's epochs (the last) in which a structured model's own parts are trained alone.
OWN_SHARE = 0.2


#: The inelastic transverse response per nucleon is R_INELASTIC · sigmoid(z) GeV⁻¹; the two-nucleon one
#: (``model.two_body``) R_INELASTIC · (k_F / k_F,C)² · sigmoid(z_2b) GeV⁻¹, k_F,C carbon's (``descriptors.CARBON_KF``).
R_INELASTIC = 10.0
M = kinematics.NUCLEON_MASS


def nucleus_columns(features: torch.Tensor):
    """(Z, N, k_F [GeV], E_s [GeV], V̄ [GeV]): the nucleus' columns of the features."""
    z, n, k_f, e_s, v_bar = (features[..., 5 + i] for i in range(5))
    return z, n, k_f, e_s, v_bar


def effective_q(features: torch.Tensor, coulomb_on: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(q [GeV], ω [GeV], Q² [GeV²]) at which the responses are probed: from the effective energies E + V̄,
    E′ + V̄ (Coulomb distortion, EMA), or the plain ones with ``coulomb_on=False``. Q² = 2EE′(1 − cos θ) scales
    with EE′ at fixed θ, so Q²_eff is the inputs' Q² times (E + V̄)(E′ + V̄)/EE′ and q² = Q² + ω²: no
    cancellation of q² − ω² near the photon point."""
    energy, omega, _, big_q2, _ = kinematics.from_features(features)
    if coulomb_on:  # (without, E′ = E − ω is not needed: in float32 it is 0 near the photon point, Q² → 0)
        v_bar = nucleus_columns(features)[4]
        e_out = energy - omega
        big_q2 = big_q2 * ((energy + v_bar) * (e_out + v_bar)) / (energy * e_out)
    big_q2 = big_q2.clamp_min(1e-12)
    return torch.sqrt(big_q2 + omega * omega), omega, big_q2


def network_inputs(q: torch.Tensor, omega: torch.Tensor, big_q2: torch.Tensor, k_f: torch.Tensor,
                   e_s: torch.Tensor) -> torch.Tensor:
    """The network's inputs [N, 6] (module docstring) at (q, ω) [GeV] and Q² [GeV²] of a nucleus (k_F, E_s) [GeV]."""
    psi = superscaling.psi_prime(q, omega, k_f, e_s, big_q2=big_q2)
    return torch.stack([psi, q, omega, M * M + 2 * M * omega - big_q2, big_q2, torch.log(q)], dim=-1)


#: The pion-production threshold M + m_π [GeV] (m_π⁰, PDG).
PION_THRESHOLD = M + 0.134_977


def log_inelastic_threshold(q: torch.Tensor, omega: torch.Tensor, k_f: torch.Tensor, e_s: torch.Tensor,
                            mass: float, big_q2: torch.Tensor | None = None) -> torch.Tensor:
    """ln of the share of the Fermi gas that reaches the invariant mass W = ``mass`` [GeV] at (q, ω) [GeV]:
    sigmoid(3 ψ′_W), ψ′_W the inelastic scaling variable for W_X = W (``superscaling.psi_prime``): 0 below
    the edge ψ′_W = −1 (no nucleon of the Fermi sphere reaches W), ½ where a nucleon at rest just does,
    1 beyond +1; the slope 3 is the relativistic Fermi gas's, whose share (2 + 3ψ − ψ³)/4 has slope ¾
    at 0. With W = M + m_π (``PION_THRESHOLD``): no Δ, resonance or DIS where no pion can be made; with
    W = M: no inelastic strength below the quasielastic peak."""
    return -torch.nn.functional.softplus(-3 * superscaling.psi_prime(q, omega, k_f, e_s, mass, big_q2))


@dataclass(frozen=True)
class PointPhysics:
    """What the structured model takes of its points that no parameter changes (:func:`point_physics`), the points'
    axes first: a training run computes it once for all its points and takes each batch's (``physics[index]``), so
    that a step spends nothing on it (about half of the recipe's forward pass without gradients, docs/method.md)."""

    inputs: torch.Tensor  # the network's inputs [..., N_INPUTS] (:func:`network_inputs`), unstandardized; ψ′ first
    basis: torch.Tensor  # c_L's knot basis at ψ′ [..., J] (:func:`knot_basis`)
    log_scales: torch.Tensor  # [..., 3 + two_body]: what the learned factors multiply (:func:`log_responses`)
    low_q: torch.Tensor | None  # w(q) [...] (:func:`low_q_weight`) with ``model.longitudinal_low_q``, else None
    log_weights: torch.Tensor | None  # σ's (:func:`log_weights`) [..., 2]; None for the responses alone
    which: torch.Tensor | None  # each point's own nucleus [..., n] (``NucleusParts.which``), or None

    def __getitem__(self, index: torch.Tensor) -> PointPhysics:
        """The rows of the points ``index`` (point numbers of any shape; a batch per member: [K, B]), gathered by
        ``index_select``: 2–3× faster than indexing with ``index`` on one CPU thread, and the same numbers."""
        flat = index.reshape(-1)
        return PointPhysics(*(None if t is None else t.index_select(0, flat).view(*index.shape, *t.shape[1:])
                              for t in (getattr(self, f.name) for f in fields(self))))


def point_physics(features: torch.Tensor, config: ModelConfig, coulomb_on: bool = True,
                  which: torch.Tensor | None = None) -> PointPhysics:
    """The points' :class:`PointPhysics` for a model of ``config`` at the effective (q, ω) of ``coulomb_on``
    (:func:`effective_q`; with it σ's weights, without it the responses alone, which are defined so); ``which``
    their own nuclei. ``log_scales``: ln G_L f₀,L(ψ′)/k_F and ln G_T f₀(ψ′)/k_F (the quasielastic responses at
    c = 0), ln A R_INELASTIC [· s_W] (the inelastic term at sigmoid(z_in) = 1) and, with ``two_body``,
    :func:`log_two_body`, with the model's options (``ModelConfig``): ``pauli_blocking``, the quasielastic parts
    times the Fermi gas's Pauli-unblocked share (at least 10⁻⁴, so that the logarithm stays finite); the
    longitudinal f₀'s tail cut at ``longitudinal_cut`` (``superscaling.log_f0``), the transverse one's at
    PSI_CUT; ``inelastic_threshold`` W > 0 [GeV], the inelastic term times :func:`log_inelastic_threshold`'s
    share."""
    q, omega, big_q2 = effective_q(features, coulomb_on)
    z, n, k_f, e_s, _ = nucleus_columns(features)
    inputs = network_inputs(q, omega, big_q2, k_f, e_s)
    psi = inputs[..., 0]
    g_l, g_t = superscaling.single_nucleon(q, omega, z, n, k_f, psi, big_q2)
    base = -torch.log(k_f)
    if config.pauli_blocking:
        base = base + torch.log(superscaling.pauli_fraction(q, omega, k_f, e_s, big_q2).clamp_min(1e-4))
    log_inelastic = torch.log(z + n) + math.log(R_INELASTIC)
    if config.inelastic_threshold:
        log_inelastic = log_inelastic + log_inelastic_threshold(q, omega, k_f, e_s, config.inelastic_threshold, big_q2)
    log_scales = torch.stack([torch.log(g_l) + base + superscaling.log_f0(psi, config.longitudinal_cut),
                              torch.log(g_t) + base + superscaling.log_f0(psi), log_inelastic,
                              *([log_two_body(z + n, k_f)] if config.two_body else [])], dim=-1)
    return PointPhysics(inputs, knot_basis(psi, KNOTS.to(psi.device), config.longitudinal_basis), log_scales,
                        low_q_weight(q, config.longitudinal_low_q) if config.longitudinal_low_q else None,
                        log_weights(features, q, big_q2) if coulomb_on else None, which)


def log_responses(outputs: torch.Tensor, scaling: ScalingCorrection, physics: PointPhysics, config: ModelConfig,
                  own_knots: torch.Tensor | None = None, terms: bool = False) -> torch.Tensor:
    """ln(R_L, R_T / GeV⁻¹) [K, N, 2] at the points of ``physics`` (:func:`point_physics`) from the network's outputs
    (g_T, z_in, …) [K, N, F] and the longitudinal correction c_L(ψ′) (with a trained nucleus' ``own_knots``):
    R_L = e^{c_L} times the first of ``physics.log_scales``' terms, R_T^QE = e^{c_T} times the second, the inelastic
    term sigmoid(z_in) times the third; with ``longitudinal_low_q`` c_L also takes the network's third output g_L
    weighted by w(q); with ``two_body`` R_T also has the two-nucleon term, sigmoid of the last output times the
    fourth. With ``terms``, R_T's terms apart, [K, N, 1 + T]: ln R_L, then ln of the quasielastic, the inelastic and
    (``two_body``) the two-nucleon transverse response."""
    scales = physics.log_scales
    c_l = scaling.of_basis(physics.basis, own_knots, low_q_part(outputs, physics.low_q))
    log_t_qe = scales[..., 1] + bounded(outputs[..., 0])
    # ln sigmoid as −softplus(−z): exported exactly (onnxruntime's Sigmoid is an approximation)
    log_t_in = scales[..., 2] - torch.nn.functional.softplus(-outputs[..., 1])
    two_body = [scales[..., 3] - torch.nn.functional.softplus(-outputs[..., -1])] if config.two_body else []
    transverse = torch.stack([log_t_qe, log_t_in, *two_body], dim=-1)
    log_l = (scales[..., 0] + c_l).unsqueeze(-1)
    return torch.cat([log_l, transverse if terms else torch.logsumexp(transverse, -1, keepdim=True)], -1)


def log_two_body(a: torch.Tensor, k_f: torch.Tensor) -> torch.Tensor:
    """ln of A · R_INELASTIC · (k_F/k_F,C)² [GeV⁻¹], k_F,C carbon's (``descriptors.CARBON_KF``): the transverse
    response of two-nucleon knockout (meson-exchange currents, 2p2h) is this times sigmoid(z_2b), z_2b learned
    of the same inputs as the rest. The 2p2h responses of the relativistic Fermi gas scale as A k_F² at
    their peaks (k_F = 200–300 MeV, q = 2k_F to 2 GeV), where the quasielastic ones scale as A/k_F (Amaro
    et al., PRC 95, 065502 (2017)): the term carries a nucleus' dip strength with its k_F, the inelastic
    term (Δ, resonances, DIS) per nucleon."""
    return torch.log(a) + math.log(R_INELASTIC) + 2 * torch.log(k_f / descriptors.CARBON_KF)


def log_weights(features: torch.Tensor, q: torch.Tensor, big_q2: torch.Tensor) -> torch.Tensor:
    """ln of (σ/S per unit R_L, per unit R_T) [N, 2] in GeV with the Coulomb distortion:
    focusing (E_eff/E)² × σ_Mott(E_eff, θ)/S(E, θ) × v_X(q_eff, ω, θ) (module docstring), at the points'
    effective q [GeV] and Q² [GeV²] (:func:`effective_q` with the distortion)."""
    energy, _, cos_theta, _, _ = kinematics.from_features(features)
    e_eff, focusing = coulomb.effective_energy(energy, nucleus_columns(features)[4])
    # σ_Mott(E_eff, θ)/S(E, θ) = MOTT_OVER_S · E cos(θ/2) · (E/E_eff)²  (kinematics.output_scale)
    mott_over_s = rosenbluth.MOTT_OVER_S * energy * torch.sqrt((1 + cos_theta) / 2) * (energy / e_eff) ** 2
    ratio = big_q2 / (q * q)
    tan2_half = (1 - cos_theta) / (1 + cos_theta)
    v = torch.stack([ratio * ratio, ratio / 2 + tan2_half], dim=-1)
    return torch.log(focusing * mott_over_s).unsqueeze(-1) + torch.log(v)


#: The smoothness prior on f_T (``model.transverse_smoothness``): virtual nuclei with k_F and E_s [GeV] drawn uniformly
#: in these ranges (Moniz's, carbon to lead: descriptors.MONIZ), q [GeV] log-uniformly in its range.
VIRTUAL_RANGES = {"k_f": (0.20, 0.27), "e_s": (0.015, 0.045), "q": (0.25, 1.5)}
#: Where the prior acts: ψ′ in PEAK, the top of the quasielastic peak, where ln f₀ is concave (its second derivative
#: below −0.06 from ψ′ = −0.95 to 0.7); the second differences at ψ′ − h, ψ′, ψ′ + h, h = SMOOTHNESS_STEP.
PEAK = (-0.8, 0.6)
SMOOTHNESS_STEP = 0.1
#: VIRTUAL_POINTS points drawn anew at every SMOOTHNESS_EVERY-th training step (which takes the prior that many
#: times: a pass costs little in arithmetic and much in calls); the prior counts as SMOOTHNESS_COUNT observations.
VIRTUAL_POINTS = 32
SMOOTHNESS_EVERY = 4
SMOOTHNESS_COUNT = 1000


def virtual_inputs(generator: torch.Generator) -> torch.Tensor:
    """The network's inputs [3P, 6] (unstandardized; float32, computed in float64: ψ′(q, ω) in float32 is off by
    2e-4) at P = VIRTUAL_POINTS random virtual points, each at ψ′ − h, ψ′, ψ′ + h (h = SMOOTHNESS_STEP) in that
    order, ψ′ uniform in PEAK: a nucleus (k_F, E_s) drawn in VIRTUAL_RANGES, q log-uniform in its range but at least
    where ψ′ − h is reached at ω′ ≥ 0 (``superscaling.least_q_at_psi``), ω where ψ′(q, ω) is each of the three."""
    u = torch.rand(4, VIRTUAL_POINTS, generator=generator).double()
    (k_lo, k_hi), (e_lo, e_hi), (q_lo, q_hi) = VIRTUAL_RANGES.values()
    k_f, e_s = k_lo + (k_hi - k_lo) * u[0], e_lo + (e_hi - e_lo) * u[1]
    psi = PEAK[0] + (PEAK[1] - PEAK[0]) * u[3]
    q = torch.maximum(q_lo * (q_hi / q_lo) ** u[2], superscaling.least_q_at_psi(psi - SMOOTHNESS_STEP, k_f))
    psi = (psi + SMOOTHNESS_STEP * torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64).unsqueeze(-1)).reshape(-1)
    q, k_f, e_s = (t.repeat(3) for t in (q, k_f, e_s))
    omega = superscaling.omega_at_psi(q, psi, k_f, e_s)
    return network_inputs(q, omega, q * q - omega * omega, k_f, e_s).float()


def smoothness_penalty(g_t: torch.Tensor, psi: torch.Tensor, width: float) -> torch.Tensor:
    """−ln of the smoothness prior per member [K], in the units of χ²/2: SMOOTHNESS_COUNT × the mean of
    max(d, 0)²/(2 width²) over the virtual points, d = ln f_T(ψ′ − h) − 2 ln f_T(ψ′) + ln f_T(ψ′ + h) the second
    difference of the transverse scaling function (f₀ times e^{c_T}, c_T from the network's g_T) at fixed q, at
    :func:`virtual_inputs` (their ψ′ ``psi`` [3P], g_T [K, 3P]). A scaling function is log-concave at the top of its
    peak; a universal correction smooth for the trained nuclei need not keep it so for a nucleus between them
    (argon's quasielastic R_T dipped 13% within 40 MeV: docs/method.md). Only a dip (d > 0) is penalized: the tails,
    and how the peak is shaped otherwise, stay the data's."""
    log_f = log_scaling_function(psi, bounded(g_t), False).unflatten(-1, (3, -1))
    d = torch.relu(log_f[:, 0] - 2 * log_f[:, 1] + log_f[:, 2])
    return SMOOTHNESS_COUNT * (d * d).mean(-1) / (2 * width * width)
