"""The scaling functions an electron model gives a neutrino calculation (``enxs.neutrino``, ``enxs.hadrontensor``):
which of them (``scaling_choice``), each member's at the kernel's points (``scaling_members``), and where the
electron data fix R_T but not its quasielastic part (``QE_SHARE_MIN``).

The physics-structured model's f_L = k_F R_L/G_L and its transverse quasielastic f_T = k_F R_T^QE/G_T (apart from
its inelastic term; SuSAv2's split), or a response network's f_L; without a model, the baselines' Fermi gas
(``RFG``) or phenomenological f₀ (``enxs.superscaling``).
"""

from __future__ import annotations

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


def scaling_members(ensemble: Ensemble, nucleus: Nucleus, k: ccqe.Kernel,
                    which: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every member's scaling function at the points' (ψ′, q, ω), [K, N]: the structured model's
    f_L = f₀ e^{c_L(ψ′)} (and of q at low q with ``model.longitudinal_low_q``) or f_T = f₀ e^{c_T(q, ω)}
    (its quasielastic transverse part), both [2, K, N] for ``LT`` (one pass through the network), a
    response network's f_L = k_F R_L/G_L at (q, ω). With it, where f_T is used, the quasielastic share of
    the model's electron R_T at the points (the members' mean, [N]; ``QE_SHARE_MIN``), else None."""
    model = ensemble.model
    share = None
    if model.is_structured:
        with sampling(model):
            energy = rosenbluth.beam_energy(k.q.numpy(), k.omega.numpy(), EVALUATION_ANGLE)
            features = torch.as_tensor(inputs("physics", energy, EVALUATION_ANGLE, k.omega.numpy(), nucleus),
                                       dtype=torch.float32)
            own = model.own_nuclei_of(features)
            low_q = model.config.longitudinal_low_q  # f_L needs the network only for c_L's low-q part
            logits = model.logits(features, coulomb_on=False, own=own) if low_q or "T" in which else None
            corrections = {}
            if "T" in which:
                corrections["T"] = structured.bounded(logits[..., 0].double())
                terms = structured.log_responses(logits, model.scaling, *structured.effective_q(features, False),
                                                 features, model.config, model.own_knots(own), terms=True)
                transverse = terms[..., 1:].movedim(-1, 0)  # [T, K, N]: quasielastic first
                share = torch.exp(transverse[0] - torch.logsumexp(transverse, dim=0)).double().mean(0)
            if "L" in which:
                extra = structured.low_q_part(logits, k.q.float(), low_q) if low_q else None
                corrections["L"] = model.scaling(k.psi.float(), model.own_knots(own), extra).double()
        factor = float(model.output_factor) * torch.as_tensor(member_factors(model, nucleus))
        f = [torch.exp(structured.log_scaling_function(k.psi, corrections[part], part == "L",
                                                       model.config.longitudinal_cut)) * factor for part in which]
        return (f[0] if len(f) == 1 else torch.stack(f)), share
    d = describe(nucleus)
    usable = k.omega < k.q
    r_l = torch.zeros((model.draws, len(k.q)), dtype=torch.float64)
    if usable.any():
        r_l[:, usable] = torch.as_tensor(member_responses(model, k.q[usable].numpy(), k.omega[usable].numpy(),
                                                          nucleus)[..., 0])
    g_l = superscaling.single_nucleon(k.q, k.omega, nucleus.Z, nucleus.A - nucleus.Z, d.k_fermi, k.psi)[0]
    return d.k_fermi * r_l / g_l, share
