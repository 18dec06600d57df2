"""ONNX graphs traced from torch: one member of any enxs model as a small torch module that
calls the same physics functions as training and prediction (``kinematics``, ``superscaling.psi_prime``,
``rosenbluth.response_kinematics`` and ``weights_over_scale``, the structured model itself), traced
with ``torch.onnx.export``; nothing of the physics is written a second time as ONNX nodes.

- A σ or response network becomes NuWro's published chain: MatMul → Add (→ activation) per layer,
  the input standardization and batch norm (or the affine layer) folded into each layer's weights
  and bias (:func:`folded_layers`), a nucleus' constant inputs folded into the first bias, and the
  output 1/(1 + exp(−z)) rather than one ``Sigmoid`` node (onnxruntime's CPU ``Sigmoid`` kernel is
  a fast approximation, measured at up to 9e-4 relative error for y ∈ [1e-4, 1) and exactly 0 for
  z < −16; the composed form is within 2e-7), times every factor of the model in one final ``Mul``.
  ψ′ (``model.nucleus_inputs`` psi, scaling) and a response model's (q, ω) inputs and Rosenbluth
  sum are computed in the graph from the five inputs.
- The physics-structured model (``enxs.structured``) is traced whole, with the nucleus' constants
  (Z, N, k_F, E_s, V̄) and a zero-shot nucleus' member factor (``enxs.zeroshot``) folded in.

Interface (``enxs.onnx_io``): float32, input ``input`` [N, 5] = the published five, output [N, 1] = y
with σ = y · S(E, θ); or, for a model with responses, input [N, 2] = (q, ω) in GeV and output
[N, 2] = (R_L, R_T) in GeV⁻¹ per nucleus.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import onnx
import torch
from torch import nn

from enxs import kinematics, superscaling
from enxs.descriptors import N_KINEMATIC, describe, inputs, nucleus_factor
from enxs.network import ACTIVATIONS, EnsembleNet
from enxs.nuclei import Nucleus
from enxs.outputs import N_RESPONSE_KINEMATIC, R_UNIT
from enxs.rosenbluth import response_kinematics, weights_over_scale
from enxs.zeroshot import member_factors


def folded_layers(model: EnsembleNet, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Member k as affine maps (W [in, out], b [out]) in float64: standardization and norms folded."""
    state = {name: t.detach().double().numpy() for name, t in model.state_dict().items()}
    mean, std = state["feature_mean"], state["feature_std"]
    layers = []
    for i, block in enumerate(model.blocks):
        w, b = state[f"blocks.{i}.linear.weight"][k], state[f"blocks.{i}.linear.bias"][k, 0]
        if i == 0:  # x_std = (x − μ)/s  →  W' = W/s, b' = b − (μ/s)·W
            w, b = w / std[:, None], b - (mean / std) @ w
        if model.config.norm == "batch":
            scale = state[f"blocks.{i}.norm.weight"][k, 0] / np.sqrt(state[f"blocks.{i}.norm.running_var"][k, 0]
                                                                    + block.norm.eps)
            shift = state[f"blocks.{i}.norm.bias"][k, 0] - state[f"blocks.{i}.norm.running_mean"][k, 0] * scale
            w, b = w * scale, b * scale + shift
        elif model.config.norm == "affine":
            scale, shift = state[f"blocks.{i}.norm.weight"][k, 0], state[f"blocks.{i}.norm.bias"][k, 0]
            w, b = w * scale, b * scale + shift
        layers.append((w, b))
    layers.append((state["head.weight"][k], state["head.bias"][k, 0]))
    return layers


def _buffer(module: nn.Module, name: str, value) -> None:
    module.register_buffer(name, torch.as_tensor(np.asarray(value, np.float32)))


def _q_omega(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(q, ω) [GeV] of a response graph's inputs [N, 2] and Q² = (q − ω)(q + ω) [GeV²]: q − ω is exact in float32
    near the photon point, q² − ω² is not."""
    q, omega = x[:, 0], x[:, 1]
    return q, omega, (q - omega) * (q + omega)


class _Network(nn.Module):
    """Member k of a σ or response network for one nucleus (module docstring): the five inputs → y
    [N, 1], or (q, ω) → (R_L, R_T) [N, 2] with ``responses``."""

    def __init__(self, model: EnsembleNet, k: int, nucleus: Nucleus | None, responses: bool):
        super().__init__()
        self.is_response, self.responses = model.is_response, responses
        self.activation = ACTIVATIONS[model.config.activation]()
        self.sigmoid = model.config.output in ("sigmoid", "responses")
        mode = model.config.nucleus_inputs
        layers = folded_layers(model, k)
        n_kinematic = N_RESPONSE_KINEMATIC if model.is_response else N_KINEMATIC
        w, b = layers[0]
        self.psi = None
        if mode != "none":  # the nucleus' constant inputs into the first bias; ψ′ stays an input
            d = describe(nucleus)
            columns = inputs(mode, 1.0, 90.0, 0.1, nucleus)[0, N_KINEMATIC:]  # at any point; ψ′ is replaced
            self.psi = (d.k_fermi, d.e_shift) if mode in ("psi", "scaling") else None
            n_point = n_kinematic + (self.psi is not None)
            b = b + columns[n_point - n_kinematic:] @ w[n_point:]
            w = w[:n_point]
        for i, (wi, bi) in enumerate([(w, b), *layers[1:]]):
            _buffer(self, f"w{i}", wi)
            _buffer(self, f"b{i}", bi)
        self.depth = len(layers)
        factor = float(model.output_factor) * nucleus_factor(mode, nucleus) * (R_UNIT if model.is_response else 1.0)
        _buffer(self, "factor", factor * float(member_factors(model, nucleus)[k, 0]))
        _buffer(self, "one", 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.responses:
            q, omega, big_q2 = _q_omega(x)
        else:
            _, omega, _, big_q2, q = kinematics.from_features(x)
        h = response_kinematics(q, omega, big_q2) if self.is_response else x
        if self.psi is not None:
            h = torch.cat([h, superscaling.psi_prime(q, omega, *self.psi, big_q2=big_q2).unsqueeze(-1)], dim=-1)
        for i in range(self.depth):
            h = h @ getattr(self, f"w{i}") + getattr(self, f"b{i}")
            if i < self.depth - 1:
                h = self.activation(h)
        unit = torch.reciprocal(torch.exp(-h) + self.one) if self.sigmoid else torch.exp(h)
        out = unit * self.factor
        if self.is_response and not self.responses:  # y = Σ (σ_Mott v/S) R over L, T
            out = (weights_over_scale(x)[0] * out).sum(-1, keepdim=True)
        return out


class _Structured(nn.Module):
    """Member k of a structured model for one nucleus: the five inputs → y [N, 1], or (q, ω) →
    (R_L, R_T) [N, 2] with ``responses``."""

    def __init__(self, model: EnsembleNet, k: int, nucleus: Nucleus, responses: bool):
        super().__init__()
        self.net, self.responses = model.select([k]).eval(), responses
        constants = inputs("physics", 1.0, 90.0, 0.1, nucleus)[0, 5:]
        self.register_buffer("constants", torch.as_tensor(constants, dtype=torch.float32))
        self.register_buffer("factor", torch.tensor(float(member_factors(model, nucleus)[k, 0])))  # enxs.zeroshot

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.responses:  # the published inputs at θ = 90°, where E (E − ω) = Q²/2 gives q exactly
            q, omega, big_q2 = _q_omega(x)
            energy = (omega + torch.sqrt(omega * omega + 2 * big_q2)) / 2
            x = torch.stack([energy / 20, omega / 20, torch.full_like(q, 0.5), torch.zeros_like(q), big_q2 / 100], -1)
        features = torch.cat([x, self.constants.expand(x.shape[0], -1)], dim=-1)
        if self.responses:
            return torch.exp(self.net.log_responses(features)[0]) * self.factor
        return self.net(features)[0].unsqueeze(-1) * self.factor


def member_graph(model: EnsembleNet, k: int, name: str, nucleus: Nucleus | None, responses: bool,
                 input_name: str, output_name: str, opset: int, ir_version: int) -> onnx.ModelProto:
    """Member k's traced graph (module docstring)."""
    member = (_Structured if model.is_structured else _Network)(model, k, nucleus, responses)
    example = torch.tensor([[0.5, 0.2]] if responses else [[0.05, 0.01, 0.2, math.cos(0.2 * math.pi), 0.003]])
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(member, (example,), buffer, dynamo=False, opset_version=opset, input_names=[input_name],
                          output_names=[output_name], dynamic_axes={input_name: {0: "N"}, output_name: {0: "N"}})
    proto = onnx.load_from_string(buffer.getvalue())
    proto.ir_version = ir_version
    proto.graph.name = name
    onnx.checker.check_model(proto)
    return proto
