"""The scaling functions an electron model gives a neutrino calculation (``enxs.neutrino``, ``enxs.hadrontensor``):
which of them (``scaling_choice``), each member's at the kernel's points (``scaling_members``), where the
electron data fix R_T but not its quasielastic part (``QE_SHARE_MIN``), and, when asked for, the transverse
enhancement the model's electron R_T shows below the pion threshold (``transverse_enhancement``).

The physics-structured model's f_L = k_F R_L/G_L and its transverse quasielastic f_T = k_F R_T^QE/G_T (apart from
its inelastic term; SuSAv2's split), or a response network's f_L; without a model, the baselines' Fermi gas
(``RFG``) or phenomenological f₀ (``enxs.superscaling``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from enxs import ccqe, rosenbluth, structured, superscaling
from enxs.descriptors import describe, inputs
from enxs.leptonbins import NeutrinoError
from enxs.nuclei import Nucleus
from enxs.predict import Ensemble, sampling
from enxs.responses import EVALUATION_ANGLE, member_responses
from enxs.zeroshot import member_factors

SCALING_NOTE = {"L": "the model's longitudinal scaling function f_L(psi')",
                "T": "the model's transverse quasielastic scaling function f_T(psi', q)",
                "LT": "the model's f_L(psi') in the longitudinal and f_T(psi', q) in the transverse responses",
                "RFG": "the Fermi gas's scaling function (3/4)(1 - psi'^2)",
                "f0": "the phenomenological scaling function f0(psi') of Amaro et al. (2005)"}
#: Where f_T is used, (q, ω) whose quasielastic part is less than this share of the model's electron R_T count as
#: unconstrained for what goes through f_T: the electron data fix R_T there, not how it divides between the
#: quasielastic tail and the inelastic term (the members' f_T then spread by factors of 2–17; docs/method.md).
QE_SHARE_MIN = 0.25
#: The transverse enhancement TE(q) is tabulated every ENHANCEMENT_STEP GeV of q up to ENHANCEMENT_Q_MAX (held
#: beyond), its ω integrals on ENHANCEMENT_OMEGA_NODES midpoints of (0, q) at each node.
ENHANCEMENT_STEP = 0.025
ENHANCEMENT_Q_MAX = 4.0
ENHANCEMENT_OMEGA_NODES = 256
ENHANCEMENT_NOTE = ("f_T times the transverse enhancement TE(q) = 1 + (what the model's electron R_T holds beyond its "
                    "quasielastic part where no pion can be made: the inelastic term times the Fermi gas's share "
                    "below W = M + m_pi) / (its quasielastic part), both integrated over the quasielastic region "
                    "|psi'| <= 1 at fixed q, in every transverse channel: two-nucleon knockout as the electron data "
                    "show it, with the quasielastic shape (cf. Bodek, Budd and Christy, EPJC 71, 1726 (2011))")


def scaling_choice(ensemble: Ensemble | None, scaling: str | None) -> str:
    """The scaling function used: ``L``, ``T`` or ``LT`` of a model, by default LT for the physics-structured
    model, L for a response network (module docstring); without a model (the baselines) the Fermi gas's
    ``RFG`` (default) or ``f0``, the phenomenological one of ``enxs.superscaling``."""
    if ensemble is None:
        if (scaling or "RFG") not in ("RFG", "f0"):
            raise NeutrinoError(f"scaling {scaling!r} without a model: choose RFG or f0")
        return scaling or "RFG"
    if not ensemble.model.is_response:
        raise NeutrinoError(f"{ensemble.name} predicts cross sections only, not responses: neutrino cross sections "
                            f"need a model's scaling function, e.g. enxs-any-fast (all nuclei) or "
                            f"enxs-12C-responses-fast")
    choice = scaling or ("LT" if ensemble.model.is_structured else "L")
    if choice not in ("L", "T", "LT"):
        raise NeutrinoError(f"--scaling {choice!r}: choose L, T or LT")
    if choice != "L" and not ensemble.model.is_structured:
        raise NeutrinoError(f"--scaling {choice} needs the physics-structured model (its quasielastic R_T is separate "
                            f"from the inelastic part); {ensemble.name} is a response network: use --scaling L")
    return choice


@dataclass(frozen=True)
class Enhancement:
    """Each member's transverse enhancement TE(q) (``transverse_enhancement``): ``factor`` [K, Q] at the nodes
    ``q`` [Q] [GeV]."""

    q: np.ndarray
    factor: np.ndarray

    def at(self, q: torch.Tensor) -> torch.Tensor:
        """TE at the points' q [GeV], [K, N] (float64): linear between the nodes, held beyond them."""
        return torch.as_tensor(np.stack([np.interp(q.numpy(), self.q, row) for row in self.factor]))


#: Each loaded model's enhancements, by nucleus: a table takes ~0.5 s, a neutrino calculation ~0.01 s.
_ENHANCEMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def transverse_enhancement(ensemble: Ensemble, nucleus: Nucleus, which: str) -> Enhancement:
    """Each member's TE(q) (``ENHANCEMENT_NOTE``) for f_T, with the scaling functions ``which`` (``scaling_choice``;
    L has no f_T to enhance). At each q node the electron responses' terms (``member_responses``) are summed over the
    quasielastic region |ψ′| ≤ 1, ω > E_s: TE = 1 + Σ (s_<π R_T^in + R_T^2b) / Σ R_T^QE, s_<π = 1 − s_W at
    W = M + m_π (``structured.log_inelastic_threshold``); 1 where the region is empty (q ≲ E_s). A zero-shot
    nucleus' member factors cancel in the ratio. Computed once per loaded model and nucleus (read-only)."""
    if not ensemble.model.is_structured:
        raise NeutrinoError(f"the transverse enhancement needs the physics-structured model (its R_T's quasielastic "
                            f"and inelastic parts apart); {ensemble.name} is not")
    if "T" not in which:
        raise NeutrinoError(f"the transverse enhancement multiplies f_T: it needs --scaling LT or T, not {which}")
    known = _ENHANCEMENTS.setdefault(ensemble.model, {})
    if nucleus not in known:
        known[nucleus] = _enhancement(ensemble, nucleus)
    return known[nucleus]


def _enhancement(ensemble: Ensemble, nucleus: Nucleus) -> Enhancement:
    """``transverse_enhancement``'s table, computed."""
    q_nodes = ENHANCEMENT_STEP * np.arange(1, round(ENHANCEMENT_Q_MAX / ENHANCEMENT_STEP) + 1)
    n = ENHANCEMENT_OMEGA_NODES
    q = np.repeat(q_nodes, n)
    omega = (q_nodes[:, None] * (np.arange(n) + 0.5)[None, :] / n).ravel()
    terms = member_responses(ensemble.model, q, omega, nucleus, terms=True)  # [K, N, 1 + T]: R_L, R_T^QE, R_T^in, …
    d = describe(nucleus)
    q_t, omega_t = torch.as_tensor(q), torch.as_tensor(omega)
    region = ((superscaling.psi_prime(q_t, omega_t, d.k_fermi, d.e_shift).abs() <= 1) & (omega_t > d.e_shift)).numpy()
    below = -torch.expm1(structured.log_inelastic_threshold(q_t, omega_t, d.k_fermi, d.e_shift,
                                                            structured.PION_THRESHOLD))
    extra = terms[..., 2] * below.numpy() + terms[..., 3:].sum(-1)
    quasielastic, extra = ((a * region).reshape(len(a), len(q_nodes), n).sum(-1) for a in (terms[..., 1], extra))
    factor = 1 + np.divide(extra, quasielastic, out=np.zeros_like(extra), where=quasielastic > 0)
    for table in (q_nodes, factor):
        table.flags.writeable = False  # shared by every later call
    return Enhancement(q_nodes, factor)


def scaling_members(ensemble: Ensemble, nucleus: Nucleus, k: ccqe.Kernel, which: str,
                    enhancement: Enhancement | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every member's scaling function at the points' (ψ′, q, ω), [K, N]: the structured model's
    f_L = f₀ e^{c_L(ψ′)} (and of q at low q with ``model.longitudinal_low_q``) or f_T = f₀ e^{c_T(q, ω)}
    (its quasielastic transverse part), both [2, K, N] for ``LT`` (one pass through the network), a
    response network's f_L = k_F R_L/G_L at (q, ω); f_T times ``enhancement``'s TE(q) where given. With it, where
    f_T is used, the quasielastic share of the model's electron R_T at the points (the members' mean, [N];
    ``QE_SHARE_MIN``), else None."""
    model = ensemble.model
    share = None
    if model.is_structured:
        with sampling(model):
            energy = rosenbluth.beam_energy(k.q.numpy(), k.omega.numpy(), EVALUATION_ANGLE)
            features = torch.as_tensor(inputs("physics", energy, EVALUATION_ANGLE, k.omega.numpy(), nucleus),
                                       dtype=torch.float32)
            physics = model.prepare(features, coulomb_on=False)
            own = model.own_nuclei(physics.which)
            low_q = model.config.longitudinal_low_q  # f_L needs the network only for c_L's low-q part
            logits = model.logits_at(physics.inputs, own) if low_q or "T" in which else None
            corrections = {}
            if "T" in which:
                corrections["T"] = structured.bounded(logits[..., 0].double())
                terms = structured.log_responses(logits, model.scaling, physics, model.config, model.own_knots(own),
                                                 terms=True)
                transverse = terms[..., 1:].movedim(-1, 0)  # [T, K, N]: quasielastic first
                share = torch.exp(transverse[0] - torch.logsumexp(transverse, dim=0)).double().mean(0)
            if "L" in which:
                extra = structured.low_q_part(logits, structured.low_q_weight(k.q.float(), low_q) if low_q else None)
                corrections["L"] = model.scaling(k.psi.float(), model.own_knots(own), extra).double()
        factor = float(model.output_factor) * torch.as_tensor(member_factors(model, nucleus))
        f = [torch.exp(structured.log_scaling_function(k.psi, corrections[part], part == "L",
                                                       model.config.longitudinal_cut)) * factor for part in which]
        if enhancement is not None:
            f[which.index("T")] = f[which.index("T")] * enhancement.at(k.q)
        return (f[0] if len(f) == 1 else torch.stack(f)), share
    d = describe(nucleus)
    usable = k.omega < k.q
    r_l = torch.zeros((model.draws, len(k.q)), dtype=torch.float64)
    if usable.any():
        r_l[:, usable] = torch.as_tensor(member_responses(model, k.q[usable].numpy(), k.omega[usable].numpy(),
                                                          nucleus)[..., 0])
    g_l = superscaling.single_nucleon(k.q, k.omega, nucleus.Z, nucleus.A - nucleus.Z, d.k_fermi, k.psi)[0]
    return d.k_fermi * r_l / g_l, share
