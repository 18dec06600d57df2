"""Longitudinal and transverse responses R_L(q, ω), R_T(q, ω) of a nucleus, with their
ensemble bands (conventions: ``enxs.rosenbluth``; per nucleus, GeV⁻¹).

Two sources:

- a response model (``model.output='responses'``): every member's R_L, R_T at (q, ω)
  directly (the network sees only (q, ω) and the nucleus);
- any cross-section model: an approximate Rosenbluth separation. At each (q, ω) the
  angles θ_k of the training settings whose spectra pass through the point (below) are
  taken, each member's σ is predicted at (q, ω, θ_k), and the straight line
  σ/σ_Mott = v_L R_L + v_T R_T is fitted over the angles per member (least squares in
  relative terms). Offered only where it is well defined: at least two such angles with
  polarizations ε spread by ≥ ``EPSILON_LEVER``; elsewhere the values are left empty.

Coverage of (q, ω): ``enxs.coverage``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from enxs import kinematics, rosenbluth
from enxs.coverage import EPSILON_LEVER, responses_unconstrained
from enxs.descriptors import inputs, nucleus_factor
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.predict import (
    Ensemble,
    ExtrapolationWarning,
    MemberBand,
    NonFiniteError,
    member_quantiles,
    member_spread,
    sampling,
)
from enxs.zeroshot import member_factors

#: What a structured model's ``transverse_qe`` (R_T_QE in files) is, for files read without enxs.
TRANSVERSE_QE_NOTE = ("the quasielastic part of R_T (G_T f_T/k_F, apart from the inelastic term): what a "
                      "charged-current quasielastic neutrino cross section takes (enxs neutrino)")
#: The angle through which a response network is evaluated: any angle gives the same R's
#: (the network sees (q, ω) only); 90° keeps E moderate for every (q, ω).
EVALUATION_ANGLE = 90.0


@dataclass
class Responses(MemberBand):
    """R_L, R_T [GeV⁻¹] per point: ``members`` [K, N, 2] (L, T), summarized as mean, std and
    16/84% quantiles [N, 2] (``MemberBand``); ``outside_coverage`` [N] (bool: not constrained by data at several
    angles, below the elastic line, or a negative mean); ``method`` says where they come from. A structured
    model's also have ``transverse_qe`` [K, N], the quasielastic part of each member's R_T (G_T f_T/k_F), what
    a charged-current quasielastic neutrino cross section takes from it (``enxs.neutrino``)."""

    q: np.ndarray
    omega: np.ndarray
    members: np.ndarray
    outside_coverage: np.ndarray
    method: str
    zero_shot: bool = False  # the model has no training data of this nucleus
    transverse_qe: np.ndarray | None = None

    def bands(self) -> dict[str, dict[str, np.ndarray]]:
        """Each response's band by name (R_L, R_T and a structured model's R_T_QE): its mean, std, q16 and q84 [N]
        over the members, what files and grids write."""
        q16, q84 = self.quantiles()
        bands = {name: {"mean": self.mean[:, j], "std": self.std[:, j], "q16": q16[:, j], "q84": q84[:, j]}
                 for j, name in enumerate(("R_L", "R_T"))}
        if self.transverse_qe is not None:
            qe16, qe84 = member_quantiles(self.transverse_qe)
            bands["R_T_QE"] = {"mean": self.transverse_qe.mean(0), "std": member_spread(self.transverse_qe),
                               "q16": qe16, "q84": qe84}
        return bands

    def to_frame(self) -> pd.DataFrame:
        columns = {"q_GeV": self.q, "omega_GeV": self.omega}
        for name, band in self.bands().items():
            columns |= {f"{name}_{stat}_per_GeV": values for stat, values in band.items()}
        return pd.DataFrame({**columns, "outside_coverage": self.outside_coverage.astype(bool)})


def member_responses(model: EnsembleNet, q, omega, nucleus: Nucleus | None, terms: bool = False) -> np.ndarray:
    """R_L, R_T of every member of a response model, [K, N, 2] in GeV⁻¹ per nucleus ([K·S, N, 2]
    for model B with S = ``mc_samples`` dropout samples per member); a zero-shot nucleus of a structured
    model of several nuclei times each member's factor of ``enxs.zeroshot``. With ``terms`` (the structured
    model only): R_L and R_T's terms apart, [K, N, 1 + T] (quasielastic, inelastic, two-nucleon)."""
    mode = model.config.nucleus_inputs
    energy = rosenbluth.beam_energy(q, omega, EVALUATION_ANGLE)
    features = torch.as_tensor(inputs(mode, energy, EVALUATION_ANGLE, omega, nucleus), dtype=torch.float32)
    with sampling(model):  # model B: each member sampled mc_samples times, as for σ
        draws = max(model.config.mc_samples, 1)
        log_r = torch.cat([torch.cat([model.log_responses(x, terms) for _ in range(draws)])
                           for x in features.split(8192)], dim=1)
    return np.exp(log_r.double().numpy()) * nucleus_factor(mode, nucleus) * member_factors(model, nucleus)[..., None]


def rosenbluth_fit(sigma: np.ndarray, q: float, omega: float, theta: np.ndarray) -> np.ndarray:
    """Per member [K, 2]: R_L, R_T from σ [K, M] at M angles θ [deg] with the same (q, ω),
    least squares of σ/σ_Mott = v_L R_L + v_T R_T in relative terms."""
    energy = rosenbluth.beam_energy(q, omega, theta)
    design = np.stack([rosenbluth.v_l(q, omega) * np.ones_like(theta), rosenbluth.v_t(q, omega, theta)], axis=1)
    reduced = sigma / rosenbluth.mott(energy, theta)  # [K, M]
    out = np.empty((len(sigma), 2))
    for k, row in enumerate(reduced):
        weight = 1 / np.maximum(np.abs(row), 1e-30)
        out[k] = np.linalg.lstsq(design * weight[:, None], row * weight, rcond=None)[0]
    return out


def predict_responses(ensemble: Ensemble | str | os.PathLike, q, omega, *,
                      nucleus: str | Nucleus | None = None) -> Responses:
    """R_L and R_T at (q [GeV], ω [GeV]) (broadcast) for the model's nucleus or ``nucleus``:
    from a response model, or by the Rosenbluth separation of a cross-section model (module
    docstring; points where it is not defined hold NaN); ``ensemble`` loaded, or a name or path to load.
    Raises :class:`enxs.kinematics.KinematicsError` unless 0 < ω < q; warns
    (:class:`enxs.predict.ExtrapolationWarning`) for points outside the coverage."""
    ensemble = Ensemble.of(ensemble)
    target = ensemble.target(nucleus)
    q, omega = (np.ravel(a) for a in kinematics.as_points(q=q, omega=omega))
    kinematics.check_q_omega(q, omega)
    settings = ensemble.training_settings(target, responses=True)
    outside, (pair_point, pair_setting) = responses_unconstrained(q, omega, settings, target.A)
    transverse_qe = None
    if ensemble.model.is_structured:  # R_T's terms apart: its quasielastic part too
        terms = member_responses(ensemble.model, q, omega, target, terms=True)
        members, transverse_qe = np.stack([terms[..., 0], terms[..., 1:].sum(-1)], axis=-1), terms[..., 1]
    elif ensemble.model.is_response:
        members = member_responses(ensemble.model, q, omega, target)
    if ensemble.model.is_response:
        method = ("physics-structured model: superscaling responses with bounded learned corrections and a learned "
                  "inelastic transverse term" if ensemble.model.is_structured
                  else "response network: no physics keeps R_L out of the Δ region, where R_T carries σ (a "
                  "physics-structured model does)")
    else:
        members = np.full((ensemble.model.draws, len(q), 2), np.nan)
        theta_all = np.asarray(settings, float)[:, 1] if settings else np.zeros(0)
        for n in np.flatnonzero(~outside):
            theta = np.unique(np.round(theta_all[pair_setting[pair_point == n]], 2))
            with warnings.catch_warnings():  # the angles are the training settings' own
                warnings.simplefilter("ignore", ExtrapolationWarning)
                sigma = ensemble.predict(rosenbluth.beam_energy(q[n], omega[n], theta), theta, omega[n],
                                         nucleus=target).members
            members[:, n] = rosenbluth_fit(sigma, q[n], omega[n], theta)
        method = (f"Rosenbluth fit of the cross-section model over the angles of the training settings through "
                  f"each (q, ω) (ε spread ≥ {EPSILON_LEVER:g}); empty where there are none")
    if ensemble.model.is_response and not np.all(np.isfinite(members)):
        raise NonFiniteError(f"{ensemble.name}: the network returned a non-finite response (a damaged or diverged "
                             f"model)")
    ensemble.warn_zero_shot(target)
    what = ("R_L and R_T there are the network's continuation" if ensemble.model.is_response
            else "the Rosenbluth separation is not defined there (left empty)")
    ensemble.flag_coverage(target, outside, f"are not constrained by training data at several angles "
                                            f"(ε spread < {EPSILON_LEVER:g}): {what}")
    if not ensemble.model.is_response and np.any(members < 0):
        negative = np.any(members.mean(0) < 0, axis=1)  # NaN (not separated) is not negative
        outside |= negative
        warnings.warn(f"the Rosenbluth fit gives a negative R_L or R_T for some member ({int(negative.sum())} "
                      f"point(s) with a negative mean, flagged): the cross-section model violates the "
                      f"one-photon-exchange structure there", ExtrapolationWarning, stacklevel=2)
    return Responses(q, omega, members, outside, method, ensemble.zero_shot(target), transverse_qe)
