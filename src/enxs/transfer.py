"""Transfer learning from a pre-trained (carbon) ensemble (Graczyk et al.,
Phys. Rev. Lett. 135, 052502 (2025)).

- Every member k starts from parent member k; the output is multiplied by A/12 exactly
  once, through the model's ``output_factor`` buffer (A_target / A_parent in general).
- A structured base's own parts (``structured.NucleusParts``) are not carried: a fine-tuned model
  is its target's alone; where the base was trained on the target, its own part is folded into
  the hidden layers' biases, the universal output layer and longitudinal knots first
  (``without_own_parts``: exact, all enter linearly before an activation or the bound).
- Scenario ``all``: every parameter is trained.
- Scenario ``last2`` (the project's reading of "the last two layers"): the last two hidden
  blocks [Linear → (BatchNorm) → activation] *and* the output layer are trained; the
  output layer is not counted as a block, since training it alone is the scenario the
  paper reports as failing. Frozen blocks are a fixed function: their parameters are not
  optimized and their batch-norm layers stay in evaluation mode, so their running
  statistics never update (every frozen parameter and buffer stays bit-identical).
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from enxs.config import ModelConfig
from enxs.network import EnsembleNet
from enxs.nuclei import Nucleus


def a_factor(target: Nucleus, parent: Nucleus) -> float:
    """A_target/A_parent: how a one-nucleus model's cross section is carried to another nucleus by
    counting nucleons (A/12 from carbon). The one place this factor is written: fine-tuning starts
    from it (``scale_to_nucleus``), and the baseline "carbon × A/12" and ``evaluate --scale-a`` use it."""
    return target.A / parent.A


def scale_to_nucleus(model: EnsembleNet, target: Nucleus, parent: Nucleus) -> None:
    """Multiply the model's output by ``a_factor(target, parent)``."""
    model.output_factor.mul_(a_factor(target, parent))


def trainable_parts(model: EnsembleNet, scenario: str) -> tuple[set[str] | None, list[nn.Module]]:
    """(parameter names to train or None for all, modules to keep frozen in eval mode)."""
    if scenario == "all":
        return None, []
    if scenario != "last2":
        raise ValueError(f"unknown transfer scenario {scenario!r}: choose all or last2")
    n = len(model.blocks)
    trained = {f"blocks.{i}." for i in range(max(0, n - 2), n)} | {"head.", "scaling."}  # scaling: structured
    names = {name for name, _ in model.named_parameters() if any(name.startswith(t) for t in trained)}
    frozen = [model.blocks[i] for i in range(max(0, n - 2))]
    return names, frozen


def no_own_parts(config: ModelConfig) -> ModelConfig:
    """A fine-tuned model's architecture: its base's, without own parts (module docstring)."""
    return replace(config, nucleus_prior=0.0, own_nuclei="")


def without_own_parts(model: EnsembleNet, target: Nucleus) -> EnsembleNet:
    """The model with no own parts, ``target``'s (if it has one) folded in (module docstring)."""
    if model.parts is None:
        return model
    folded = EnsembleNet(no_own_parts(model.config), model.members)
    state = {name: t.clone() for name, t in model.state_dict().items() if not name.startswith("parts.")}
    for j, za in enumerate(model.parts.za.tolist()):
        if za == [target.Z, target.A - target.Z]:
            for i, shift in enumerate(model.parts.layers.detach()[:, j].unbind(1)):  # [K, H] each
                state[f"blocks.{i}.linear.bias"] += shift.unsqueeze(1)
            own = model.parts.head.detach()[:, j]  # [K, H + 1, 2]: weights, then the bias
            state["head.weight"] += own[:, :-1]
            state["head.bias"] += own[:, -1:]
            state["scaling.values"] += model.parts.longitudinal.detach()[:, j]
    folded.load_state_dict(state)
    return folded
