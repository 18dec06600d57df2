"""Predictions of a trained ensemble at any kinematics: mean, spread and quantiles.

``Ensemble.load(path_or_name).predict(E, theta, omega)`` with E, ω in GeV and θ in degrees
returns σ = d²σ/dΩdω in nb/sr/GeV for every member, summarized as mean, standard deviation
(the uncertainty of model A) and the 16%/84% quantiles over members.

Coverage flags: ``enxs.coverage``.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from enxs import coulomb, kinematics
from enxs.artifacts import Manifest, load_model
from enxs.coverage import outside_coverage
from enxs.descriptors import describe, inputs, nucleus_factor
from enxs.errors import EnxsError
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.zeroshot import LIGHT_CALIBRATION, below_carbon, member_factors


class ExtrapolationWarning(UserWarning):
    """Points outside the kinematic coverage of the training data."""


class NonFiniteError(EnxsError):
    """A network that returns NaN or infinity (a damaged or diverged model)."""


@dataclass
class Prediction:
    """Per-point ensemble summary, all cross sections in nb/sr/GeV, each of the shape the
    inputs broadcast to; ``members`` is [K, *that shape]."""

    energy: np.ndarray
    theta: np.ndarray
    omega: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    q16: np.ndarray
    q84: np.ndarray
    outside_coverage: np.ndarray
    members: np.ndarray
    zero_shot: bool = False  # the model has no training data of this nucleus

    def to_frame(self) -> pd.DataFrame:
        """One row per point (flattened in C order); ``outside_coverage`` a bool column."""
        return pd.DataFrame({k: np.ravel(v) for k, v in {
            "E_GeV": self.energy, "theta_deg": self.theta, "omega_GeV": self.omega,
            "mean_nb_sr_GeV": self.mean, "std_nb_sr_GeV": self.std,
            "q16_nb_sr_GeV": self.q16, "q84_nb_sr_GeV": self.q84,
            "outside_coverage": self.outside_coverage.astype(bool),
        }.items()})


def member_predictions(model: EnsembleNet, energy, theta, omega, nucleus: Nucleus | None = None,
                       chunk: int | None = None, seed: int = 0) -> np.ndarray:
    """σ for every member, [K, N] in nb/sr/GeV (float64 from float32 networks).

    Points go through in chunks of ``chunk`` (default: [K, N] tensors near 4M floats, so that memory stays
    bounded for any number of points); inside, the network's layers take them in cache-sized pieces
    (``EnsembleNet.logits``).

    With ``model.config.mc_samples`` = S > 0 (model B), dropout stays on and each member is
    sampled S times (seeded, so repeated calls agree): [K·S, N]. A zero-shot nucleus of a structured
    model of several nuclei: each member times its factor of ``enxs.zeroshot``.
    """
    mode = model.config.nucleus_inputs
    if mode != "none" and nucleus is None:
        raise ValueError("a model with nucleus inputs predicts for a given nucleus")
    features = inputs(mode, energy, theta, omega, nucleus)
    scale = (kinematics.output_scale(energy, theta) * nucleus_factor(mode, nucleus)).reshape(-1)
    samples = model.config.mc_samples
    if chunk is None:
        chunk = max(1, 2**22 // (model.members * max(samples, 1)))
    sigma = np.empty((model.draws, len(features)))
    with sampling(model, seed):
        for start in range(0, len(features), chunk):
            x = torch.as_tensor(features[start : start + chunk], dtype=torch.float32)
            sigma[:, start : start + chunk] = torch.cat([model(x) for _ in range(max(samples, 1))]).double().numpy()
    sigma *= scale  # in place: the [K, N] result is the one large array
    sigma *= member_factors(model, nucleus)
    return sigma


@contextmanager
def sampling(model: EnsembleNet, seed: int = 0):
    """Evaluation mode for prediction, with dropout kept on for model B (``mc_samples`` > 0),
    seeded so that repeated calls agree; no gradients."""
    model.eval()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.train(model.config.mc_samples > 0)
    try:
        with torch.inference_mode(), torch.random.fork_rng():
            torch.manual_seed(seed)
            yield
    finally:
        model.eval()


#: Points per block of the statistics over members: NumPy's std and quantile copy what they reduce, so a block's
#: copy is made, not another [K, N] array (the arrays of a million points' prediction by 50 members peak at
#: 0.45 GB, not 0.88).
STATISTICS_BLOCK = 2**15


def _per_block(members: np.ndarray, statistic, rows: int) -> np.ndarray:
    """``statistic`` ([K, n] → [rows, n]) over the members of [K, …] predictions, a block of points at a time:
    [rows, …]."""
    flat = members.reshape(len(members), -1)
    out = np.empty((rows, flat.shape[1]))
    for start in range(0, flat.shape[1], STATISTICS_BLOCK):
        out[:, start : start + STATISTICS_BLOCK] = statistic(flat[:, start : start + STATISTICS_BLOCK])
    return out.reshape(rows, *members.shape[1:])


def member_spread(members: np.ndarray) -> np.ndarray:
    """Standard deviation over members (axis 0, ddof=1) of [K, …] predictions, of shape […]; zeros for one
    member."""
    if len(members) < 2:
        return np.zeros(members.shape[1:])
    return _per_block(members, lambda block: block.std(0, ddof=1), 1)[0]


def member_quantiles(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 16% and 84% quantiles over members (axis 0) of [K, …] predictions, each of shape […]: the band."""
    q16, q84 = _per_block(members, lambda block: np.quantile(block, [0.16, 0.84], axis=0), 2)
    return q16, q84


class MemberBand:
    """The band of ``self.members`` [K, …]: mean, standard deviation over members (ddof = 1; zeros
    for one member) and the members' 16% and 84% quantiles, each of shape […]."""

    members: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.members.mean(0)

    @property
    def std(self) -> np.ndarray:
        return member_spread(self.members)

    def quantiles(self) -> tuple[np.ndarray, np.ndarray]:
        return member_quantiles(self.members)


class Ensemble:
    """A trained ensemble with its manifest; see :meth:`predict`."""

    def __init__(self, model: EnsembleNet, manifest: Manifest, name: str = "model"):
        self.model, self.manifest, self.name = model, manifest, name

    @classmethod
    def load(cls, path_or_name: str | os.PathLike, manifest: Manifest | None = None) -> Ensemble:
        """Load a model directory or a shipped model by name (``enxs models list``); ``manifest``: its manifest
        where already read (``artifacts.load_model``)."""
        return cls(*load_model(path_or_name, manifest), name=str(path_or_name))

    @classmethod
    def of(cls, ensemble: Ensemble | str | os.PathLike) -> Ensemble:
        """``ensemble`` itself, or the model of that name or path loaded (``load``): what the API's
        functions take for a model."""
        return ensemble if isinstance(ensemble, Ensemble) else cls.load(ensemble)

    @property
    def nucleus(self) -> str:
        """The model's nucleus, or ``any`` for a model of several."""
        return self.manifest.name

    @property
    def members(self) -> int:
        return self.model.members

    def target(self, nucleus: str | Nucleus | None) -> Nucleus:
        """The nucleus to predict (``Manifest.target``): a one-nucleus model's own, or any for a model with
        nucleus inputs."""
        return self.manifest.target(nucleus, self.name)

    def zero_shot(self, target: Nucleus) -> bool:
        """Whether ``target`` is a nucleus without training data: a model of several nuclei
        predicting one it never saw."""
        return self.manifest.nucleus is None and target not in self.manifest.nuclei

    def provenance(self, target: Nucleus) -> dict[str, object]:
        """What every output file says of where its numbers come from: model, nucleus, members,
        whether the prediction is zero-shot (with a sentence saying what that means) and the
        Coulomb correction in its cross sections."""
        out: dict[str, object] = {"model": self.name, "nucleus": target.name, "members": self.members,
                                  "zero_shot": self.zero_shot(target),
                                  "coulomb_correction": coulomb.note(target, self.model.is_structured)}
        if out["zero_shot"]:
            out["zero_shot_note"] = self.zero_shot_note(target)
        return out

    def zero_shot_note(self, target: Nucleus) -> str:
        trained = ", ".join(n.name for n in self.manifest.nuclei)
        width = self.model.zero_shot.width(target) if self.model.zero_shot is not None else 0.0
        band = (f"; each member carries a factor exp({width:.3f} z_k) / m (z_k standard normal draws scaled to unit "
                f"spread over the members, m the factors' mean), the uncertainty of carrying the model to a nucleus "
                f"without data (enxs.zeroshot)" if width else "")
        if width and below_carbon(target):
            band += ("; below carbon, where superscaling does not hold, that width is calibrated on the light nuclei "
                     f"{', '.join(LIGHT_CALIBRATION)}, each left out in turn (they depart from what the other nuclei "
                     "carry to them by 12–31%, median)")
        return (f"zero-shot: {self.name} was trained without any {target.name} data (trained on {trained}); the "
                f"{target.name} prediction is carried from those nuclei, and its coverage flags refer to their "
                f"kinematics{band}")

    def warn_zero_shot(self, target: Nucleus, stacklevel: int = 3) -> None:
        """Warn (:class:`ExtrapolationWarning`) when predicting for a nucleus without training data;
        ``stacklevel`` as in ``warnings.warn`` from here (3: the caller of the method that calls this)."""
        if self.zero_shot(target):
            warnings.warn(self.zero_shot_note(target), ExtrapolationWarning, stacklevel=stacklevel)

    def outside_trained_nuclei(self, target: Nucleus) -> bool:
        """Whether a nucleus lies outside the trained nuclei's range of A or of k_F."""
        trained = [describe(n) for n in self.manifest.nuclei]
        d = describe(target)
        return not (min(t.nucleus.A for t in trained) <= target.A <= max(t.nucleus.A for t in trained)
                    and min(t.k_fermi for t in trained) - 1e-9 <= d.k_fermi <= max(t.k_fermi for t in trained) + 1e-9)

    def training_settings(self, target: Nucleus, responses: bool = False) -> list[list[float]] | None:
        """The training settings [E, θ, ω_min, ω_max] that constrain the target nucleus: its own, or
        those of all trained nuclei for a nucleus the model was not trained on, and with ``responses``
        for every nucleus of a model of several (it learns the split into R_L and R_T jointly:
        ``enxs.coverage``); None when unknown."""
        coverage = self.manifest.coverage
        if coverage is None:
            return None
        every = [s for v in coverage.values() for s in v]
        return every if responses and self.manifest.nucleus is None else coverage.get(target.name, every)

    def everywhere_outside(self, target: Nucleus) -> str | None:
        """Why every point of ``target`` is an extrapolation (the coverage is unknown, or the nucleus lies
        outside the trained range of A and k_F), or None."""
        if not self.training_settings(target):
            return (f"the kinematic coverage of {self.name} is unknown (no training data recorded): every point is "
                    f"flagged as a possible extrapolation")
        if self.manifest.nucleus is None and self.outside_trained_nuclei(target):
            return (f"{target.name} lies outside the range of A and k_F of the nuclei {self.name} was trained on: "
                    f"every point is an extrapolation")
        return None

    def flag_coverage(self, target: Nucleus, outside: np.ndarray, what: str, stacklevel: int = 3) -> None:
        """Warn (:class:`ExtrapolationWarning`) about the points flagged ``outside`` (``what`` they
        are), flagging every point where ``everywhere_outside``; ``stacklevel`` as ``warnings.warn``'s,
        counted from here."""
        reason = self.everywhere_outside(target)
        if reason:
            outside[:] = True
            warnings.warn(reason, ExtrapolationWarning, stacklevel=stacklevel)
        elif outside.any():
            warnings.warn(f"{int(outside.sum())} of {len(outside)} point(s) {what}", ExtrapolationWarning,
                          stacklevel=stacklevel)

    def predict(self, energy, theta, omega, *, nucleus: str | Nucleus | None = None, check: bool = True) -> Prediction:
        """Cross sections at (E [GeV], θ [deg], ω [GeV]) (broadcast), in nb/sr/GeV, for the
        model's nucleus or (a model with nucleus inputs) any ``nucleus``.

        Raises :class:`enxs.kinematics.KinematicsError` for impossible kinematics and warns
        (:class:`ExtrapolationWarning`) for points outside the training coverage: for a
        nucleus the model was not trained on, the coverage of all its training nuclei, and
        every point when the nucleus lies outside their range of A or k_F.
        """
        target = self.target(nucleus)
        broadcast = kinematics.as_points(energy=energy, theta=theta, omega=omega)
        shape = broadcast[0].shape
        energy, theta, omega = (np.ravel(a) for a in broadcast)
        if check:
            kinematics.check_kinematics(energy, theta, omega)
        sigma = member_predictions(self.model, energy, theta, omega, target)
        if not np.all(np.isfinite(sigma)):
            bad = int(np.flatnonzero(~np.isfinite(sigma).all(0))[0])
            raise NonFiniteError(f"{self.name}: the network returned a non-finite cross section at E={energy[bad]:g} "
                                 f"GeV, θ={theta[bad]:g}°, ω={omega[bad]:g} GeV (a damaged or diverged model)")
        self.warn_zero_shot(target)
        settings = self.training_settings(target)
        below_elastic = omega < kinematics.omega_elastic(energy, theta, target.A)
        outside = outside_coverage(energy, theta, omega, settings) | below_elastic
        whose = (f"the {target.name} training data" if target.name in (self.manifest.coverage or {})
                 else f"the training data of all nuclei of {self.name} ({target.name} was not among them)")
        self.flag_coverage(target, outside, f"lie outside the kinematic coverage of {whose}: extrapolation")
        if below_elastic.any():
            warnings.warn(f"{int(below_elastic.sum())} point(s) lie below the elastic line ω_el ≈ Q²/2M_A of "
                          f"{target.name}, where the cross section is zero: the network's value there is "
                          f"meaningless", ExtrapolationWarning, stacklevel=2)
        q16, q84 = member_quantiles(sigma)
        per_point = (a.reshape(shape) for a in (energy, theta, omega, sigma.mean(0), member_spread(sigma), q16, q84,
                                                 outside))
        return Prediction(*per_point, sigma.reshape(len(sigma), *shape), self.zero_shot(target))
