"""What a model's outputs are (``model.output``): one ``Output`` class each in ``OUTPUTS``, to which
``network.EnsembleNet`` delegates the inputs its blocks see, its number of outputs, how they start,
and ln y (y = σ/S) and ln R_L, ln R_T from them: the published σ network (``sigmoid``, ``exp``), the
response network (``responses``) and the physics-structured model (``superscaling``, ``enxs.structured``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from enxs import kinematics, structured
from enxs.config import ModelConfig
from enxs.descriptors import N_KINEMATIC, VIEWS
from enxs.rosenbluth import response_kinematics, weights_over_scale

if TYPE_CHECKING:
    from enxs.network import EnsembleNet

#: R_L, R_T of a response network are R_UNIT · sigmoid(z) GeV⁻¹ (per nucleus, times the
#: model's output and nucleus factors): far above any measured response (≲ 100 GeV⁻¹ for
#: carbon), so the sigmoid works in its exponential regime as the published σ network does.
R_UNIT = 1000.0
N_RESPONSE_KINEMATIC = 6


class Output:
    """What a model's outputs are (``model.output``), one class each in ``OUTPUTS``: the inputs its
    blocks see, the number of outputs, how they start, and ln y (y = σ/S, the model's output factor
    included) and, for a model of responses, ln R_L, ln R_T from them. This one is the published σ
    network: y = sigmoid(z) (or exp(z)) on the published inputs and the nucleus' own. A new kind of
    output is a subclass here, its name in ``OUTPUTS`` (and in ``config.OUTPUTS``), and its tests."""

    gives_responses = False  # R_L, R_T of (q, ω) exist (``log_responses``)
    is_structured = False  # the physics-structured model: Coulomb distortion, ψ′ correction, traced ONNX

    def __init__(self, kind: str = "sigmoid"):
        self.kind = kind

    def n_inputs(self, config: ModelConfig) -> int:
        return N_KINEMATIC + VIEWS[config.nucleus_inputs].extra

    def n_outputs(self, config: ModelConfig) -> int:
        return 1

    def network_inputs(self, features: torch.Tensor, coulomb_on: bool) -> torch.Tensor:
        return features

    def prepare(self, net: EnsembleNet, features: torch.Tensor, coulomb_on: bool = True):
        """What ``log_y`` takes of the points: the features themselves (the structured model: its point physics)."""
        return features

    def output_bias(self, net: EnsembleNet, features: torch.Tensor, y: torch.Tensor) -> float:
        """The head's starting bias: the logit (or log) of the median y of the training points."""
        typical = float(y.median())
        return math.log(typical) if self.kind == "exp" else math.log(typical / (1 - typical))

    def log_y(self, net: EnsembleNet, features: torch.Tensor) -> torch.Tensor:
        z = net.logits(features)
        return (torch.nn.functional.logsigmoid(z) if self.kind == "sigmoid" else z) + torch.log(net.output_factor)

    def log_responses(self, net: EnsembleNet, features: torch.Tensor, terms: bool = False) -> torch.Tensor:
        raise TypeError("a σ network has no responses")


class Responses(Output):
    """A response network: blocks fed with functions of (q, ω) (``rosenbluth.response_kinematics``)
    and the nucleus' inputs; R_L, R_T = R_UNIT · sigmoid(z); y by the Rosenbluth formula."""

    gives_responses = True

    def n_inputs(self, config):
        return N_RESPONSE_KINEMATIC + VIEWS[config.nucleus_inputs].extra

    def n_outputs(self, config):
        return 2

    def network_inputs(self, features, coulomb_on):
        _, omega, _, big_q2, q = kinematics.from_features(features)
        return torch.cat([response_kinematics(q, omega, big_q2), features[..., N_KINEMATIC:]], dim=-1)

    def output_bias(self, net, features, y):
        """R_L = R_T at the median that gives the training points' y."""
        typical = float((y / weights_over_scale(features)[0].sum(-1)).median()) / R_UNIT / float(net.output_factor)
        return math.log(typical / (1 - typical))

    def log_y(self, net, features):
        return torch.logsumexp(self.log_responses(net, features) + torch.log(weights_over_scale(features)[0]), dim=-1)

    def log_responses(self, net, features, terms=False):
        if terms:
            raise TypeError("a response network's R_T is one term")
        return torch.nn.functional.logsigmoid(net.logits(features)) + math.log(R_UNIT) + torch.log(net.output_factor)


class Structured(Output):
    """The physics-structured model (``enxs.structured``): superscaling responses with bounded learned
    corrections, a learned inelastic transverse term, Coulomb distortion."""

    gives_responses = True
    is_structured = True

    def n_inputs(self, config):
        return structured.N_INPUTS

    def n_outputs(self, config):
        return structured.n_outputs(config)

    def network_inputs(self, features, coulomb_on):
        return structured.network_inputs(*structured.effective_q(features, coulomb_on),
                                         *structured.nucleus_columns(features)[2:4])

    def prepare(self, net, features, coulomb_on=True):
        which = None if net.parts is None else net.parts.which(features)
        return structured.point_physics(features, net.config, coulomb_on, which)

    def _log_responses(self, net, physics, terms=False):
        own = net.own_nuclei(physics.which)  # once per call: the hidden layers, the head and c_L's knots use it
        log_r = structured.log_responses(net.logits_at(physics.inputs, own), net.scaling, physics, net.config,
                                         net.own_knots(own), terms)
        return log_r + torch.log(net.output_factor)

    def log_y(self, net, physics):
        return torch.logsumexp(self._log_responses(net, physics) + physics.log_weights, dim=-1)

    def log_responses(self, net, features, terms=False):
        return self._log_responses(net, self.prepare(net, features, coulomb_on=False), terms)


OUTPUTS: dict[str, Output] = {"sigmoid": Output("sigmoid"), "exp": Output("exp"), "responses": Responses(),
                              "superscaling": Structured()}
