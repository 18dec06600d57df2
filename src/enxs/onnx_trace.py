"""ONNX graphs traced from the torch module itself: the physics-structured model
(``enxs.structured``) is exported by tracing the same code that trains and predicts, with the
nucleus' constants (Z, N, k_F, E_s, V̄) folded in, so nothing of its physics is written twice;
a zero-shot nucleus' member factor (``enxs.zeroshot``) folded in too.

Same interface as every enxs export (``enxs.onnx_io``): float32, input ``input`` [N, 5] = the
published five, output ``Identity:0`` [N, 1] = y with σ = y · S(E, θ); or with ``responses``
input [N, 2] = (q, ω) in GeV and output ``responses`` [N, 2] = (R_L, R_T) in GeV⁻¹ per nucleus.
ONNX IR version 8, opset 17 (``onnx_io.IR_VERSION``, ``onnx_io.OPSET``).
"""

from __future__ import annotations

import io
import math
import warnings

import onnx
import torch
from torch import nn

from enxs.descriptors import inputs
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus
from enxs.zeroshot import member_factors


class _Member(nn.Module):
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
            q, omega = x[:, 0], x[:, 1]
            big_q2 = q * q - omega * omega
            energy = (omega + torch.sqrt(omega * omega + 2 * big_q2)) / 2
            x = torch.stack([energy / 20, omega / 20, torch.full_like(q, 0.5), torch.zeros_like(q), big_q2 / 100], -1)
        features = torch.cat([x, self.constants.expand(x.shape[0], -1)], dim=-1)
        if self.responses:
            return torch.exp(self.net.log_responses(features)[0]) * self.factor
        return self.net(features)[0].unsqueeze(-1) * self.factor


def member_graph(model: EnsembleNet, k: int, name: str, nucleus: Nucleus, responses: bool,
                 input_name: str, output_name: str, opset: int, ir_version: int) -> onnx.ModelProto:
    """Member k's traced graph (module docstring)."""
    member = _Member(model, k, nucleus, responses)
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

