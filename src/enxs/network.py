"""The ensemble as one module: K members' weights stacked, run by batched matrix products.

Shapes: K members, B points, H hidden units. A layer holds weight [K, in, out] and bias
[K, 1, out]; activations are [K, B, H]. Member k of the stack computes exactly what the
same weights compute alone (``select([k])`` copies it out), and gradients never mix members.

Published architecture (Kowal et al., Phys. Rev. C 110, 025501 (2024)): 10 blocks of
[Linear 300 → BatchNorm → ReLU], Linear 1, sigmoid; σ = y · S(E, θ).

A response model (``model.output='responses'``) has the same blocks fed with functions of
(q, ω) only (``rosenbluth.response_kinematics``) plus the nucleus' inputs, and a head of two
outputs R_L, R_T = ``outputs.R_UNIT`` · sigmoid(z) ≥ 0; its y = σ/S follows from the Rosenbluth formula
(``rosenbluth.weights_over_scale``), so everything downstream of y is unchanged.

The physics-structured model (``model.output='superscaling'``) has the same blocks, two outputs,
a longitudinal correction of ψ′ alone (``structured.ScalingCorrection``) and the superscaling and
Coulomb structure of ``enxs.structured`` around them.

Each kind of output is one ``outputs.Output`` class in ``outputs.OUTPUTS``; the ensemble delegates to it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from enxs import structured
from enxs.config import ModelConfig
from enxs.outputs import OUTPUTS


class StackedLinear(nn.Module):
    """K independent affine maps ``x[k] @ weight[k] + bias[k]`` in one ``baddbmm``."""

    def __init__(self, members: int, fan_in: int, fan_out: int, init: str = "lecun"):
        super().__init__()
        self.scale = math.sqrt((2.0 if init == "he" else 1.0) / fan_in)  # He for ReLU; LeCun-normal as published
        self.weight = nn.Parameter(torch.randn(members, fan_in, fan_out) * self.scale)
        self.bias = nn.Parameter(torch.zeros(members, 1, fan_out))

    @torch.no_grad()
    def draw(self, k: int, generator: torch.Generator) -> None:
        """Member k's initial weights from its own generator (biases start at zero)."""
        self.weight[k] = torch.randn(self.weight.shape[1:], generator=generator) * self.scale
        self.bias[k] = 0.0

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """``shift`` [K, N, H] or [K, 1, H]: added to the output (the latter inside the one ``baddbmm``). One output is
        the first column of a product with a zero second one: a matrix-vector product rounds by K (1e-5 measured), a
        matrix product does not, so member k alone equals member k in any stack bit for bit."""
        weight, bias = self.weight, self.bias
        if one_output := weight.shape[2] == 1:
            weight, bias = nn.functional.pad(weight, (0, 1)), nn.functional.pad(bias, (0, 1))
        if shift is None or shift.shape[1] == 1:
            out = torch.baddbmm(bias if shift is None else bias + shift, x, weight)
        else:
            out = torch.baddbmm(bias, x, weight) + shift
        return out[..., :1] if one_output else out


class StackedBatchNorm(nn.Module):
    """Batch normalization with per-member statistics over the batch axis of [K, B, H].

    Running statistics follow PyTorch's convention: running = (1 − m)·running + m·batch
    (the published Flax momentum 0.99 is m = 0.01); the running variance is unbiased. In
    eval mode the running statistics are used and never updated (frozen blocks in transfer).
    """

    def __init__(self, members: int, width: int, momentum: float = 0.01, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(members, 1, width))
        self.bias = nn.Parameter(torch.zeros(members, 1, width))
        self.register_buffer("running_mean", torch.zeros(members, 1, width))
        self.register_buffer("running_var", torch.ones(members, 1, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Per-member statistics over the batch = per-channel statistics of a [B, K·H] view,
        # so PyTorch's fused batch_norm kernel does the work (same numbers, far less memory
        # traffic than composing var_mean, mul and add).
        k, b, h = x.shape
        flat = x.transpose(0, 1).reshape(b, k * h)
        out = nn.functional.batch_norm(
            flat, self.running_mean.view(-1), self.running_var.view(-1), self.weight.reshape(-1),
            self.bias.reshape(-1), training=self.training, momentum=self.momentum, eps=self.eps)
        return out.view(b, k, h).transpose(0, 1)


class StackedAffine(nn.Module):
    """Per-unit scale and shift, x·γ + β, per member: a batch norm folded for inference, as in
    the published ONNX members (their Mul/Add after each MatMul); no batch statistics."""

    def __init__(self, members: int, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, 1, width))
        self.bias = nn.Parameter(torch.zeros(members, 1, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, x, self.weight)


#: ``model.activation`` → its torch module (also what the traced ONNX graphs use, ``enxs.onnx_trace``).
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}
#: Those that may overwrite their input: a block's pre-activations are needed by no backward pass but
#: the activation's own, so one [K, N, H] tensor less is allocated per layer.
IN_PLACE = {"relu", "silu"}


class Block(nn.Module):
    """[Linear → (BatchNorm) → activation (→ Dropout)] for K members."""

    def __init__(self, members: int, fan_in: int, config: ModelConfig):
        super().__init__()
        self.linear = StackedLinear(members, fan_in, config.width, config.init)
        norms = {"batch": lambda: StackedBatchNorm(members, config.width, config.bn_momentum, config.bn_eps),
                 "affine": lambda: StackedAffine(members, config.width), "none": nn.Identity}
        self.norm = norms[config.norm]()
        in_place = config.activation in IN_PLACE
        self.activation = ACTIVATIONS[config.activation](**({"inplace": True} if in_place else {}))
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """``shift`` [K, N, H] or [K, 1, H]: added to the linear map's output (a trained nucleus' own part)."""
        return self.dropout(self.activation(self.norm(self.linear(x, shift))))


class EnsembleNet(nn.Module):
    """K stacked networks mapping features [N, 5] (shared) or [K, N, 5] to y = σ/S, shape [K, N]
    (a response model: through R_L, R_T, module docstring).

    Inputs: the published five, then the nucleus' own (``descriptors.inputs``). Buffers
    ``feature_mean``/``feature_std`` hold the input standardization (one per input;
    zeros/ones for ``inputs='nuwro'``), set from the training points by
    :meth:`set_standardization` and stored with the weights; ``output_factor`` multiplies
    y (1, or A/12 for a model transferred from carbon).
    """

    def __init__(self, config: ModelConfig, members: int):
        super().__init__()
        self.config, self.members = config, members
        self.output = OUTPUTS[config.output]
        self.is_structured, self.is_response = self.output.is_structured, self.output.gives_responses
        n_inputs = self.output.n_inputs(config)
        widths = [n_inputs] + [config.width] * config.depth
        self.blocks = nn.ModuleList(Block(members, w, config) for w in widths[:-1])
        n_outputs = self.output.n_outputs(config)
        self.head = StackedLinear(members, config.width, n_outputs, "lecun")
        if self.is_structured:
            self.scaling = structured.ScalingCorrection(members, config.longitudinal_basis)
        self.parts = (structured.NucleusParts(members, config.own_nuclei, config.width, config.depth,
                                              config.nucleus_prior, n_outputs) if config.nucleus_prior > 0 else None)
        self.register_buffer("feature_mean", torch.zeros(n_inputs))
        self.register_buffer("feature_std", torch.ones(n_inputs))
        self.register_buffer("output_factor", torch.ones(()))  # A/12 after transfer (transfer.py)
        self.zero_shot = None  # a loaded structured model of several nuclei: enxs.zeroshot.ZeroShot

    def initialize(self, seeds: list[int]) -> None:
        """Draw member k's initial weights from ``seeds[k]`` alone, layer by layer, so that
        member k is the same whatever the number of members beside it."""
        layers = [block.linear for block in self.blocks] + [self.head]
        for k, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(seed)
            for layer in layers:
                layer.draw(k, generator)

    def network_inputs(self, features: torch.Tensor, coulomb_on: bool = True) -> torch.Tensor:
        """What the first block sees before standardization (``Output.network_inputs``; the structured
        model's at q with or without Coulomb distortion)."""
        return self.output.network_inputs(features, coulomb_on)

    def set_standardization(self, features: torch.Tensor) -> None:
        """Standardize inputs with these training features' mean and std (if configured)."""
        if self.config.inputs == "standardized":
            x = self.network_inputs(features)
            self.feature_mean.copy_(x.mean(0))
            self.feature_std.copy_(x.std(0).clamp_min(1e-6))

    def set_output_bias(self, features: torch.Tensor, y: torch.Tensor) -> None:
        """Start the output at the median of the training points' y = σ/S (``Output.output_bias``),
        so early steps learn shape; the structured model at its prior f₀ and a small inelastic term."""
        with torch.no_grad():
            if self.is_structured:
                self.head.bias.zero_()
                self.head.bias[..., structured.per_nucleon_outputs(self.config)] = math.log(0.05 / 0.95)
            elif self.config.output_bias_init == "data":
                self.head.bias.fill_(self.output.output_bias(self, features, y))

    def prepare(self, features: torch.Tensor, coulomb_on: bool = True):
        """What the output takes of the points that no parameter changes (``Output.prepare``), indexed like
        the features: a training run's once for all its points."""
        return self.output.prepare(self, features, coulomb_on)

    def logits(self, features: torch.Tensor, coulomb_on: bool = True, own: torch.Tensor | None = None) -> torch.Tensor:
        """The pre-activation output z, [K, N] (a response model: [K, N, 2], z_L and z_T; the
        structured model [K, N, 2], g_T and z_in); ``own``: the points' own nuclei (``own_nuclei``),
        whose own parts then act."""
        return self.logits_at(self.network_inputs(features, coulomb_on), own)

    def logits_at(self, inputs: torch.Tensor, own: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`logits` at the network's inputs (``network_inputs``). Without gradients the points go through
        the layers in chunks of :meth:`chunk_points` (what a prediction of any size costs: the physics of a
        structured model once for all points, the layers in cache-sized pieces)."""
        x = (inputs - self.feature_mean) / self.feature_std
        chunk = self.chunk_points()
        if torch.is_grad_enabled() or x.shape[-2] <= chunk:
            z = self._layers(x, own)
        else:
            rows = own is not None and own.shape[-2] > 1  # one row: every point the same nucleus
            z = torch.cat([self._layers(x[..., start : start + chunk, :],
                                        own[..., start : start + chunk, :] if rows else own)
                           for start in range(0, x.shape[-2], chunk)], dim=1)
        return z if self.is_response else z.squeeze(-1)

    def _layers(self, x: torch.Tensor, own: torch.Tensor | None) -> torch.Tensor:
        """The blocks and the head on standardized inputs [N, I] or [K, N, I]: [K, N, outputs]."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, -1, -1)
        for i, block in enumerate(self.blocks):
            x = block(x, None if own is None else self.parts.layer_shift(own, i))
        z = self.head(x)
        return z if own is None else z + self.parts.head_shift(x, own)

    def own_nuclei(self, which: torch.Tensor | None) -> torch.Tensor | None:
        """Which own nucleus each point is, [N, n], of ``which`` (``structured.NucleusParts.which``); one row
        [1, n] where every point is the same nucleus (a prediction: the parts then broadcast, at the cost of
        none); None where own parts cannot act (none, all zero and not trained, or no point of an own
        nucleus)."""
        if which is None or not self.parts.active():
            return None
        if not bool(which.any()):
            return None
        first = which.reshape(-1, which.shape[-1])[:1]  # [1, n]
        return first if bool((which == first).all()) else which

    def own_knots(self, own: torch.Tensor | None) -> torch.Tensor | None:
        """The own knot values of c_L [K, N, J] for the points' own nuclei ``own`` (``own_nuclei``), or None."""
        return None if own is None else self.parts.knot_shift(own)

    def prior_penalty(self) -> torch.Tensor | float:
        """The own parts' prior term per member [K] (``structured.NucleusParts.penalty``), or 0."""
        return 0.0 if self.parts is None else self.parts.penalty()

    def smoothness_penalty(self, generator: torch.Generator) -> torch.Tensor | float:
        """The structured model's prior against a dip at the top of f_T, per member [K]
        (``model.transverse_smoothness``; ``structured.smoothness_penalty``) at virtual points drawn with
        ``generator``, or 0 where it has none."""
        width = self.config.transverse_smoothness
        if not width:
            return 0.0
        inputs = structured.virtual_inputs(generator).to(self.feature_mean.device)
        g_t = self._layers((inputs - self.feature_mean) / self.feature_std, None)[..., 0]
        return structured.smoothness_penalty(g_t, inputs[:, 0], width)

    def forward(self, features) -> torch.Tensor:
        """y = σ/S, [K, N], at the points' features or what :meth:`prepare` made of them."""
        return self.forward_with_log(features)[0]

    def log_responses(self, features: torch.Tensor, terms: bool = False) -> torch.Tensor:
        """ln(R_L, R_T / GeV⁻¹) [K, N, 2] of a response model at the points' (q, ω), per
        nucleus divided by the nucleus factor (``descriptors.nucleus_factor``); without Coulomb
        distortion (the responses are defined without it). With ``terms`` (the structured model
        only) R_T's terms apart, [K, N, 1 + T] (``structured.log_responses``)."""
        return self.output.log_responses(self, features, terms)

    def forward_with_log(self, points) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, log y) at the points' features or what :meth:`prepare` made of them; log y computed from the
        logits (``logsigmoid``), so it never underflows; for a response model log y = logsumexp(ln w + ln R)
        over L and T."""
        log_y = self.output.log_y(self, self.prepare(points) if isinstance(points, torch.Tensor) else points)
        return torch.exp(log_y), log_y

    def is_stacked(self, name: str) -> bool:
        """Whether state entry ``name`` has a leading member axis (all but the shared buffers)."""
        return name not in ("feature_mean", "feature_std", "output_factor", "scaling.knots", "parts.za")

    def select(self, members: list[int]) -> EnsembleNet:
        """A sub-ensemble of copies of the given members, in that order."""
        sub = EnsembleNet(self.config, len(members))
        index = torch.as_tensor(members)
        sub.load_state_dict({name: (t[index].clone() if self.is_stacked(name) else t.clone())
                             for name, t in self.state_dict().items()})
        return sub

    @property
    def draws(self) -> int:
        """Predictions per point: members × Monte Carlo samples each (at least one)."""
        return self.members * max(self.config.mc_samples, 1)

    def chunk_points(self) -> int:
        """Points per pass through the layers that keep one layer's activations near 1M floats
        (cache-sized), at least 256. Measured for 20,000 points and 50 members (2026-12-05): the fast
        ensembles 1.15× (carbon) and 2× (the all-nuclei σ network) faster than at 4M floats; the
        paper-size members alike (compute-bound). An earlier measurement: 4× faster than 65,536 points."""
        return max(256, 2**20 // (self.draws * self.config.width))

    def parameter_count(self) -> int:
        """Parameters per member."""
        return sum(p.numel() for p in self.parameters()) // self.members
